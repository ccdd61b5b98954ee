import Foundation
import Identity

/// A dossier lifecycle change from the back office, on `tthc.dossier.events` (contract section 6),
/// keyed by dossier code. Events are idempotent by `eventId`.
public struct DossierEvent: Sendable, Hashable, Codable {
    public enum EventType: String, Sendable, Hashable, Codable, CaseIterable {
        case received
        case processing
        /// Closes the dossier (counts in the month of this event).
        case resolved
        /// Closes the dossier (counts in the month of this event).
        case returned
        case withdrawn

        /// Whether this event closes the dossier for the statistics.
        public var closesDossier: Bool { self == .resolved || self == .returned }
    }

    public var eventId: UUID
    /// 1–64 characters.
    public var dossierCode: String
    /// 1–64 of `A-Z a-z 0-9 . _ -`.
    public var agencyCode: String
    public var type: EventType
    public var occurredAt: Timestamp
    /// Carried on `received`; a later event may carry it again (a changed due date).
    public var dueAt: Timestamp?

    public init(
        eventId: UUID,
        dossierCode: String,
        agencyCode: String,
        type: EventType,
        occurredAt: Timestamp,
        dueAt: Timestamp? = nil
    ) {
        self.eventId = eventId
        self.dossierCode = dossierCode
        self.agencyCode = agencyCode
        self.type = type
        self.occurredAt = occurredAt
        self.dueAt = dueAt
    }

    enum CodingKeys: String, CodingKey {
        case eventId, dossierCode, agencyCode, type, occurredAt, dueAt
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard let eventId = UUID(contractString: try container.decode(String.self, forKey: .eventId)) else {
            throw DecodingError.dataCorruptedError(forKey: .eventId, in: container, debugDescription: "Expected a UUID.")
        }
        self.init(
            eventId: eventId,
            dossierCode: try container.decode(String.self, forKey: .dossierCode),
            agencyCode: try container.decode(String.self, forKey: .agencyCode),
            type: try container.decode(EventType.self, forKey: .type),
            occurredAt: try container.decode(Timestamp.self, forKey: .occurredAt),
            dueAt: try container.decodeIfPresent(Timestamp.self, forKey: .dueAt)
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.eventId.lowercaseString, forKey: .eventId)
        try container.encode(self.dossierCode, forKey: .dossierCode)
        try container.encode(self.agencyCode, forKey: .agencyCode)
        try container.encode(self.type, forKey: .type)
        try container.encode(self.occurredAt, forKey: .occurredAt)
        try container.encodeIfPresent(self.dueAt, forKey: .dueAt)
    }

    /// The event's JSON with a fixed field order (`eventId`, `dossierCode`, `agencyCode`, `type`,
    /// `occurredAt`, `dueAt`).
    public func encodedJSON() -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writer.beginObject()
        writer.field("eventId", self.eventId.lowercaseString)
        writer.field("dossierCode", self.dossierCode)
        writer.field("agencyCode", self.agencyCode)
        writer.field("type", self.type.rawValue)
        writer.field("occurredAt", self.occurredAt.text)
        if let dueAt = self.dueAt { writer.field("dueAt", dueAt.text) }
        writer.endObject()
        return writer.bytes
    }
}

/// What one message on `tthc.dossier.events` turned out to be.
public enum DossierEventReadResult: Sendable, Hashable {
    case event(DossierEvent)
    /// A JSON object that broke field rules: dead-letter it with reason `invalid_event`; the
    /// reasons are for logs (paths and codes only).
    case invalid(reasons: [ValidationReason])
    /// Not an event at all: dead-letter it with this reason.
    case deadLetter(DeadLetterReason)
}

/// Reads dossier events with the same limits as requests (64 KiB, UTF-8, JSON, depth 64),
/// reporting every broken field rule.
public enum DossierEventReader {
    public static func read(value: [UInt8]) -> DossierEventReadResult {
        value.withUnsafeBufferPointer { read(value: $0) }
    }

    public static func read(value: UnsafeBufferPointer<UInt8>) -> DossierEventReadResult {
        guard value.count <= RequestReader.maximumValueSize else { return .deadLetter(.tooLarge) }
        guard UTF8Validation.isValid(value) else { return .deadLetter(.notUTF8) }
        let json: JSONValue
        do {
            json = try JSONParser.parse(value)
        } catch {
            return .deadLetter(error.kind == .tooDeep ? .tooDeep : .notJSON)
        }
        guard case .object(let object) = json else { return .deadLetter(.notObject) }

        var fields = FieldReader()
        var eventId: UUID?
        if let text = fields.string(object[.eventId].scanned, path: "eventId") {
            eventId = UUID(contractString: text)
            if eventId == nil { fields.fail("eventId", .invalidFormat) }
        }
        let dossierCode = fields.boundedString(object[.dossierCode].scanned, path: "dossierCode", length: 1...64)
        let agencyCode = fields.agencyCode(object[.agencyCode].scanned, path: "agencyCode")
        let type = fields.enumeration(object[.type].scanned, path: "type", as: DossierEvent.EventType.self)
        let occurredAt = fields.timestamp(object[.occurredAt].scanned, path: "occurredAt", required: true)
        let dueAt = fields.timestamp(object[.dueAt].scanned, path: "dueAt", required: false)
        guard fields.reasons.isEmpty, let eventId, let dossierCode, let agencyCode, let type, let occurredAt else {
            return .invalid(reasons: fields.reasons)
        }
        return .event(
            DossierEvent(
                eventId: eventId,
                dossierCode: dossierCode,
                agencyCode: agencyCode,
                type: type,
                occurredAt: occurredAt,
                dueAt: dueAt
            )
        )
    }
}
