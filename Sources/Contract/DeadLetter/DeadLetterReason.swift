/// Why a message went to the dead-letter topic: the `dlq_reason` header.
///
/// An extensible struct over the snake_case code, so codes can be added without breaking anyone
/// who switches over the known ones. The codes this module produces are the static members.
public struct DeadLetterReason: Sendable, Hashable, Codable, RawRepresentable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public init(from decoder: any Decoder) throws {
        self.rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.rawValue)
    }

    public var description: String { self.rawValue }

    /// The value is larger than 64 KiB (65,536 bytes).
    public static let tooLarge = DeadLetterReason(rawValue: "too_large")
    /// The value is not valid UTF-8.
    public static let notUTF8 = DeadLetterReason(rawValue: "not_utf8")
    /// The value is not JSON (RFC 8259), or a `\u` escape is a lone surrogate.
    public static let notJSON = DeadLetterReason(rawValue: "not_json")
    /// The value is JSON nested deeper than 64 levels.
    public static let tooDeep = DeadLetterReason(rawValue: "too_deep")
    /// The value is JSON but not an object.
    public static let notObject = DeadLetterReason(rawValue: "not_object")
    /// The object has no usable `requestId` (a JSON string of 1–128 characters).
    public static let missingRequestId = DeadLetterReason(rawValue: "missing_request_id")
    /// A dossier event broke a field rule (section 6); events get no verdict.
    public static let invalidEvent = DeadLetterReason(rawValue: "invalid_event")
    /// The value is null (a tombstone), which is not a request; the dead letter keeps it null.
    public static let tombstone = DeadLetterReason(rawValue: "tombstone")
    /// A request the service read but could not record, because the database refused one of its
    /// values. A safety net (values are made storable first): kept here, with the message
    /// unchanged, rather than holding up its partition.
    public static let unprocessable = DeadLetterReason(rawValue: "unprocessable")
}
