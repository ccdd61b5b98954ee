import NIOCore

/// The registry call's JSON without Foundation's coders on the hot path: the query written by hand
/// (the same bytes `JSONEncoder` would give, keys in a fixed order), and the two verify answers
/// that carry nothing but `match` recognised byte for byte. Every other answer goes through
/// `JSONDecoder`.
enum RegistryJSON {
    static func body(_ query: RegistryQuery) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(64 + query.idNumber.utf8.count + query.fullName.utf8.count + query.dateOfBirth.utf8.count)
        buffer.writeStaticString(#"{"idNumber":"#)
        self.writeQuoted(query.idNumber, into: &buffer)
        buffer.writeStaticString(#","fullName":"#)
        self.writeQuoted(query.fullName, into: &buffer)
        buffer.writeStaticString(#","dateOfBirth":"#)
        self.writeQuoted(query.dateOfBirth, into: &buffer)
        buffer.writeStaticString("}")
        return buffer
    }

    /// A JSON string: quotes, backslashes and control characters escaped, everything else as UTF-8.
    static func writeQuoted(_ text: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            var start = 0
            for index in bytes.indices {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                buffer.writeBytes(UnsafeBufferPointer(rebasing: bytes[start..<index]))
                switch byte {
                case UInt8(ascii: "\""): buffer.writeStaticString(#"\""#)
                case UInt8(ascii: "\\"): buffer.writeStaticString(#"\\"#)
                case 0x0A: buffer.writeStaticString(#"\n"#)
                case 0x0D: buffer.writeStaticString(#"\r"#)
                case 0x09: buffer.writeStaticString(#"\t"#)
                default:
                    buffer.writeStaticString(#"\u00"#)
                    buffer.writeInteger(Self.hexDigit(byte >> 4))
                    buffer.writeInteger(Self.hexDigit(byte & 0x0F))
                }
                start = index + 1
            }
            buffer.writeBytes(UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }

    private static let matchTrue = Array(#"{"match":true}"#.utf8)
    private static let matchFalse = Array(#"{"match":false}"#.utf8)

    /// `{"match":true}` or `{"match":false}` exactly; `nil` for anything else (decode it fully).
    static func plainVerifyAnswer(_ body: ByteBuffer) -> VerifyResult? {
        body.withUnsafeReadableBytes { bytes in
            if bytes.elementsEqual(self.matchTrue) { return VerifyResult(match: true) }
            if bytes.elementsEqual(self.matchFalse) { return VerifyResult(match: false) }
            return nil
        }
    }
}
