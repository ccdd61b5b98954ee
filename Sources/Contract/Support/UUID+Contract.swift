import Crypto
import Foundation

extension UUID {
    /// Parses the 36-character hyphenated form (`8-4-4-4-12` hex digits, either case): the only
    /// form the contract accepts, and the one JSON Schema's `uuid` format checks.
    init?(contractString text: String) {
        let parsed: (UInt64, UInt64)? = text.withUTF8Bytes { bytes -> (UInt64, UInt64)? in
            guard bytes.count == 36, bytes[8] == UInt8(ascii: "-"), bytes[13] == UInt8(ascii: "-"),
                bytes[18] == UInt8(ascii: "-"), bytes[23] == UInt8(ascii: "-")
            else { return nil }
            // 8-4-4 hex digits, then 4-12.
            guard let a = UUID.hex(bytes, 0, 8), let b = UUID.hex(bytes, 9, 4), let c = UUID.hex(bytes, 14, 4),
                let d = UUID.hex(bytes, 19, 4), let e = UUID.hex(bytes, 24, 12)
            else { return nil }
            return (a << 32 | b << 16 | c, d << 48 | e)
        }
        guard let (high, low) = parsed else { return nil }
        func byte(_ word: UInt64, _ index: Int) -> UInt8 { UInt8(truncatingIfNeeded: word >> (56 - 8 * index)) }
        self.init(
            uuid: (
                byte(high, 0), byte(high, 1), byte(high, 2), byte(high, 3), byte(high, 4), byte(high, 5), byte(high, 6), byte(high, 7),
                byte(low, 0), byte(low, 1), byte(low, 2), byte(low, 3), byte(low, 4), byte(low, 5), byte(low, 6), byte(low, 7)
            )
        )
    }

    @inline(__always)
    private static func hex(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ count: Int) -> UInt64? {
        var value: UInt64 = 0
        for index in start..<(start + count) {
            guard let digit = self.hexValue(bytes[index]) else { return nil }
            value = value << 4 | UInt64(digit)
        }
        return value
    }

    /// The lowercase hyphenated form (RFC 9562 section 4 recommends lowercase on output).
    /// Written digit by digit: `uuidString` formats with `sprintf` and `lowercased()` copies again,
    /// about 1.5 % of the worker's CPU in a burst (three per request).
    var lowercaseString: String {
        withUnsafeBytes(of: self.uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { text in
                let digits: StaticString = "0123456789abcdef"
                var position = 0
                for (index, byte) in bytes.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        text[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    text[position] = digits.utf8Start[Int(byte >> 4)]
                    text[position + 1] = digits.utf8Start[Int(byte & 0x0F)]
                    position += 2
                }
                return position
            }
        }
    }

    /// A name-based UUID, version 5 (SHA-1), RFC 9562 section 5.5.
    static func nameBased(namespace: UUID, name: some Sequence<UInt8>) -> UUID {
        var hasher = Insecure.SHA1()
        withUnsafeBytes(of: namespace.uuid) { hasher.update(bufferPointer: $0) }
        hasher.update(data: Array(name))
        var bytes = Array(hasher.finalize().prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50  // version 5
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // variant 10
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            )
        )
    }

    @inline(__always)
    private static func hexValue(_ byte: UInt8) -> UInt8? {
        let digit = byte &- UInt8(ascii: "0")
        if digit < 10 { return digit }
        let letter = (byte | 0x20) &- UInt8(ascii: "a")  // either case
        if letter < 6 { return letter + 10 }
        return nil
    }
}
