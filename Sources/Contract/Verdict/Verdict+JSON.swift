import Foundation
import Identity

extension Verdict: Codable {
    enum CodingKeys: String, CodingKey {
        case verdictId, requestId, channel, agencyCode, decidedAt, outcome, reasons, subject, attempts, reusedFrom, autofill, dossier
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let idText = try container.decode(String.self, forKey: .verdictId)
        guard let verdictId = UUID(contractString: idText) else {
            throw DecodingError.dataCorruptedError(forKey: .verdictId, in: container, debugDescription: "Expected a UUID.")
        }
        self.init(
            verdictId: verdictId,
            requestId: try container.decode(String.self, forKey: .requestId),
            channel: try container.decode(Channel.self, forKey: .channel),
            agencyCode: try container.decode(String.self, forKey: .agencyCode),
            decidedAt: try container.decode(Timestamp.self, forKey: .decidedAt),
            outcome: try container.decode(Outcome.self, forKey: .outcome),
            reasons: try container.decodeIfPresent([ValidationReason].self, forKey: .reasons),
            subject: try container.decodeIfPresent(VerdictSubject.self, forKey: .subject),
            attempts: try container.decode(Int.self, forKey: .attempts),
            reusedFrom: try container.decodeIfPresent(String.self, forKey: .reusedFrom),
            autofill: try container.decodeIfPresent(SealedAutofill.self, forKey: .autofill),
            dossier: try container.decodeIfPresent(VerdictDossier.self, forKey: .dossier)
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.verdictId.lowercaseString, forKey: .verdictId)
        try container.encode(self.requestId, forKey: .requestId)
        try container.encode(self.channel, forKey: .channel)
        try container.encode(self.agencyCode, forKey: .agencyCode)
        try container.encode(self.decidedAt, forKey: .decidedAt)
        try container.encode(self.outcome, forKey: .outcome)
        try container.encodeIfPresent(self.reasons, forKey: .reasons)
        try container.encodeIfPresent(self.subject, forKey: .subject)
        try container.encode(self.attempts, forKey: .attempts)
        try container.encodeIfPresent(self.reusedFrom, forKey: .reusedFrom)
        try container.encodeIfPresent(self.autofill, forKey: .autofill)
        try container.encodeIfPresent(self.dossier, forKey: .dossier)
    }
}

extension Verdict {
    /// The verdict's canonical JSON: fields in the order of contract section 3
    /// (`verdictId`, `requestId`, `channel`, `agencyCode`, `decidedAt`, `outcome`, `reasons`,
    /// `subject`, `attempts`, `reusedFrom`, `autofill`, `dossier`), absent optional fields left out, no white
    /// space, non-ASCII as UTF-8. Store these bytes and re-emit them unchanged.
    public func encodedJSON() -> [UInt8] {
        var writer = JSONWriter(capacity: 384)
        writer.beginObject()
        writer.field("verdictId", self.verdictId.lowercaseString)
        writer.field("requestId", self.requestId)
        writer.field("channel", self.channel.rawValue)
        writer.field("agencyCode", self.agencyCode)
        writer.field("decidedAt", self.decidedAt.text)
        writer.field("outcome", self.outcome.rawValue)
        if let reasons = self.reasons {
            writer.key("reasons")
            writer.beginArray()
            for reason in reasons {
                writer.beginObject()
                writer.field("field", reason.field)
                writer.field("code", reason.code.rawValue)
                writer.endObject()
            }
            writer.endArray()
        }
        if let subject = self.subject {
            writer.key("subject")
            writer.beginObject()
            writer.field("idNumberMasked", subject.idNumberMasked)
            writer.field("ref", subject.ref)
            writer.endObject()
        }
        writer.field("attempts", self.attempts)
        if let reusedFrom = self.reusedFrom { writer.field("reusedFrom", reusedFrom) }
        if let autofill = self.autofill {
            writer.key("autofill")
            writer.beginObject()
            writer.field("encapsulatedKey", autofill.encapsulatedKey)
            writer.field("ciphertext", autofill.ciphertext)
            writer.endObject()
        }
        if let dossier = self.dossier {
            writer.key("dossier")
            writer.beginObject()
            writer.field("code", dossier.code)
            writer.field("state", dossier.state.rawValue)
            writer.endObject()
        }
        writer.endObject()
        return writer.bytes
    }

    /// Reads a verdict back from its JSON (a stored or consumed verdict).
    public init(json: [UInt8]) throws(ContractDecodingError) {
        let value: JSONValue
        do {
            value = try JSONParser.parse(json)
        } catch {
            throw ContractDecodingError(path: "", code: .invalidFormat)
        }
        guard case .object(let object) = value else { throw ContractDecodingError(path: "", code: .invalidType) }
        let fields = StrictFields()
        let verdictId = try fields.uuid(object, .verdictId)
        let requestId = try fields.string(object, .requestId)
        let channel = try fields.enumeration(object, .channel, Channel.self)
        let agencyCode = try fields.string(object, .agencyCode)
        let decidedAt = try fields.timestamp(object, .decidedAt)
        let outcome = try fields.enumeration(object, .outcome, Outcome.self)
        var reasons: [ValidationReason]?
        if let list = try fields.optionalArray(object, .reasons) {
            reasons = try list.enumerated().map { index, element throws(ContractDecodingError) in
                let path = "reasons[\(index)]"
                guard case .object(let reason) = element else { throw ContractDecodingError(path: path, code: .invalidType) }
                return ValidationReason(
                    field: try fields.string(reason, .field, prefix: path + "."),
                    code: ReasonCode(rawValue: try fields.string(reason, .code, prefix: path + "."))
                )
            }
        }
        var subject: VerdictSubject?
        if let object = try fields.optionalObject(object, .subject) {
            subject = VerdictSubject(
                idNumberMasked: try fields.string(object, .idNumberMasked, prefix: "subject."),
                ref: try fields.string(object, .ref, prefix: "subject.")
            )
        }
        let attempts = try fields.integer(object, .attempts)
        let reusedFrom = try fields.optionalString(object, .reusedFrom)
        var autofill: SealedAutofill?
        if let object = try fields.optionalObject(object, .autofill) {
            autofill = SealedAutofill(
                encapsulatedKey: try fields.string(object, .encapsulatedKey, prefix: "autofill."),
                ciphertext: try fields.string(object, .ciphertext, prefix: "autofill.")
            )
        }
        var dossier: VerdictDossier?
        if let object = try fields.optionalObject(object, .dossier) {
            dossier = VerdictDossier(
                code: try fields.string(object, .code, prefix: "dossier."),
                state: try fields.enumeration(object, .state, DossierState.self, prefix: "dossier.")
            )
        }
        self.init(
            verdictId: verdictId,
            requestId: requestId,
            channel: channel,
            agencyCode: agencyCode,
            decidedAt: decidedAt,
            outcome: outcome,
            reasons: reasons,
            subject: subject,
            attempts: attempts,
            reusedFrom: reusedFrom,
            autofill: autofill,
            dossier: dossier
        )
    }
}

/// Why a message this service wrote (a verdict, a dossier event) could not be read back.
/// Carries the JSON path and a reason code, never a value.
public struct ContractDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var code: ReasonCode

    public init(path: String, code: ReasonCode) {
        self.path = path
        self.code = code
    }

    public var description: String { "ContractDecodingError(\(self.path.isEmpty ? "$" : self.path): \(self.code))" }
}

/// Typed field access that throws on the first problem (for messages we wrote ourselves).
struct StrictFields {
    func value(_ object: JSONObject, _ name: FieldName, prefix: String) throws(ContractDecodingError) -> JSONValue {
        guard let value = object[name], !value.isNull else {
            throw ContractDecodingError(path: prefix + name.rawValue, code: .missing)
        }
        return value
    }

    func string(_ object: JSONObject, _ name: FieldName, prefix: String = "") throws(ContractDecodingError) -> String {
        guard case .string(let text) = try self.value(object, name, prefix: prefix) else {
            throw ContractDecodingError(path: prefix + name.rawValue, code: .invalidType)
        }
        return text
    }

    func uuid(_ object: JSONObject, _ name: FieldName, prefix: String = "") throws(ContractDecodingError) -> UUID {
        guard let uuid = UUID(contractString: try self.string(object, name, prefix: prefix)) else {
            throw ContractDecodingError(path: prefix + name.rawValue, code: .invalidFormat)
        }
        return uuid
    }

    func timestamp(_ object: JSONObject, _ name: FieldName, prefix: String = "") throws(ContractDecodingError) -> Timestamp {
        guard let timestamp = Timestamp(rfc3339: try self.string(object, name, prefix: prefix)) else {
            throw ContractDecodingError(path: prefix + name.rawValue, code: .invalidFormat)
        }
        return timestamp
    }

    func enumeration<Value: RawRepresentable<String>>(
        _ object: JSONObject,
        _ name: FieldName,
        _ type: Value.Type,
        prefix: String = ""
    ) throws(ContractDecodingError) -> Value {
        guard let value = Value(rawValue: try self.string(object, name, prefix: prefix)) else {
            throw ContractDecodingError(path: prefix + name.rawValue, code: .invalidValue)
        }
        return value
    }

    func integer(_ object: JSONObject, _ name: FieldName, prefix: String = "") throws(ContractDecodingError) -> Int {
        guard case .number(let text) = try self.value(object, name, prefix: prefix), let number = Int(text) else {
            throw ContractDecodingError(path: prefix + name.rawValue, code: .invalidType)
        }
        return number
    }

    func optionalString(_ object: JSONObject, _ name: FieldName) throws(ContractDecodingError) -> String? {
        guard let value = object[name], !value.isNull else { return nil }
        guard case .string(let text) = value else { throw ContractDecodingError(path: name.rawValue, code: .invalidType) }
        return text
    }

    func optionalObject(_ object: JSONObject, _ name: FieldName) throws(ContractDecodingError) -> JSONObject? {
        guard let value = object[name], !value.isNull else { return nil }
        guard case .object(let nested) = value else { throw ContractDecodingError(path: name.rawValue, code: .invalidType) }
        return nested
    }

    func optionalArray(_ object: JSONObject, _ name: FieldName) throws(ContractDecodingError) -> [JSONValue]? {
        guard let value = object[name], !value.isNull else { return nil }
        guard case .array(let elements) = value else { throw ContractDecodingError(path: name.rawValue, code: .invalidType) }
        return elements
    }
}
