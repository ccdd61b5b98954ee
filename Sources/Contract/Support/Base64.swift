/// Base64 with the standard alphabet and padding (RFC 4648 section 4), as the contract's base64
/// fields use. Decoding is strict: no white space, padding required, unused bits zero.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    static func encode<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        let input = Array(bytes)
        var output: [UInt8] = []
        output.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index < input.count {
            let rest = input.count - index
            let b0 = UInt32(input[index])
            let b1 = rest > 1 ? UInt32(input[index + 1]) : 0
            let b2 = rest > 2 ? UInt32(input[index + 2]) : 0
            let chunk = b0 << 16 | b1 << 8 | b2
            output.append(alphabet[Int(chunk >> 18 & 63)])
            output.append(alphabet[Int(chunk >> 12 & 63)])
            output.append(rest > 1 ? alphabet[Int(chunk >> 6 & 63)] : UInt8(ascii: "="))
            output.append(rest > 2 ? alphabet[Int(chunk & 63)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The decoded bytes, or `nil` unless `text` is canonical padded base64.
    static func decode(_ text: String) -> [UInt8]? {
        text.withUTF8Bytes { bytes -> [UInt8]? in
            guard bytes.count % 4 == 0 else { return nil }
            var output: [UInt8] = []
            output.reserveCapacity(bytes.count / 4 * 3)
            var index = 0
            while index < bytes.count {
                let isLast = index + 4 == bytes.count
                let padding = isLast ? (bytes[index + 3] == UInt8(ascii: "=") ? (bytes[index + 2] == UInt8(ascii: "=") ? 2 : 1) : 0) : 0
                var chunk: UInt32 = 0
                for offset in 0..<(4 - padding) {
                    let value = decodeTable[Int(bytes[index + offset])]
                    guard value != 0xFF else { return nil }
                    chunk = chunk << 6 | UInt32(value)
                }
                chunk <<= UInt32(6 * padding)
                output.append(UInt8(chunk >> 16 & 0xFF))
                if padding < 2 { output.append(UInt8(chunk >> 8 & 0xFF)) }
                if padding < 1 { output.append(UInt8(chunk & 0xFF)) }
                // Canonical: the bits below the last encoded byte are zero.
                if padding == 1 && chunk & 0xFF != 0 { return nil }
                if padding == 2 && chunk & 0xFFFF != 0 { return nil }
                index += 4
            }
            return output
        }
    }
}
