import Contract
import NIOCore

/// The registry call's JSON without Foundation's coders on the hot path: the query through the
/// contract's `JSONWriter` (keys in a fixed order, strings escaped as JSON requires), and the two
/// verify answers that carry nothing but `match` recognised byte for byte. Every other answer goes
/// through `JSONDecoder`.
enum RegistryJSON {
    static func body(_ query: RegistryQuery) -> ByteBuffer {
        var writer = JSONWriter(capacity: 64 + query.fullName.utf8.count)
        writer.beginObject()
        writer.field("idNumber", query.idNumber)
        writer.field("fullName", query.fullName)
        writer.field("dateOfBirth", query.dateOfBirth)
        writer.endObject()
        return ByteBuffer(bytes: writer.bytes)
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
