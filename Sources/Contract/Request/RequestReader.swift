import Foundation
import Identity

/// What one message on a request topic turned out to be: exactly one of these.
public enum ReadResult: Sendable, Hashable {
    /// A request that passed every local rule: ask the registry.
    case request(VerificationRequest)
    /// A usable request id but broken rules: publish an `invalid` verdict, no registry call.
    case invalid(InvalidRequest)
    /// Not a request at all: forward the message unchanged to the dead-letter topic.
    case deadLetter(DeadLetterReason)
}

/// Reads raw message values from the request topics (contract sections 2–4, identity rules).
///
/// Dead letter when the value is larger than 64 KiB, not UTF-8, not JSON, nested deeper than
/// 64 levels, not a JSON object, or without a usable `requestId`. Otherwise every field rule and
/// identity rule is checked and **all** broken rules are reported, each with its JSON path.
/// Unknown fields are ignored; `null` counts as absent.
public struct RequestReader: Sendable {
    /// The largest value read: 64 KiB.
    public static let maximumValueSize = 65_536

    public var rules: IdentityRules

    public init(policy: IdentityPolicy = IdentityPolicy()) {
        self.rules = IdentityRules(policy: policy)
    }

    /// Reads with the default policy.
    public static func read(value: [UInt8], topic channel: Channel, now: Date) -> ReadResult {
        RequestReader().read(value: value, topic: channel, now: now)
    }

    /// Reads one message value.
    ///
    /// - Parameters:
    ///   - channel: the channel of the topic the message came from (the body does not decide it).
    ///   - now: the instant "not in the future" is judged against.
    public func read(value: [UInt8], topic channel: Channel, now: Date) -> ReadResult {
        value.withUnsafeBufferPointer { self.read(value: $0, topic: channel, now: now) }
    }

    /// Reads one message value without copying it.
    public func read(value: UnsafeBufferPointer<UInt8>, topic channel: Channel, now: Date) -> ReadResult {
        guard value.count <= Self.maximumValueSize else { return .deadLetter(.tooLarge) }
        guard UTF8Validation.isValid(value) else { return .deadLetter(.notUTF8) }
        let json: JSONValue
        do {
            json = try JSONParser.parse(value)
        } catch {
            return .deadLetter(error.kind == .tooDeep ? .tooDeep : .notJSON)
        }
        guard case .object(let object) = json else { return .deadLetter(.notObject) }
        guard case .string(let requestId)? = object["requestId"], RequestID.isUsable(requestId) else {
            return .deadLetter(.missingRequestId)
        }
        return self.validate(object, requestId: requestId, channel: channel, now: now)
    }

    // MARK: Fields

    private func validate(_ object: JSONObject, requestId: String, channel: Channel, now: Date) -> ReadResult {
        var fields = FieldReader()

        let requestUUID = UUID(contractString: requestId)
        if requestUUID == nil { fields.fail("requestId", .invalidFormat) }
        let occurredAt = fields.timestamp(object, "occurredAt", path: "occurredAt", required: true)
        let agencyCode = fields.agencyCode(object, "agencyCode", path: "agencyCode")

        var actor: Actor?
        if let actorObject = fields.object(object, "actor", path: "actor") {
            let kind = fields.enumeration(actorObject, "kind", path: "actor.kind", as: Actor.Kind.self)
            let id = fields.boundedString(actorObject, "id", path: "actor.id", length: 1...128)
            if let kind, let id { actor = Actor(kind: kind, id: id) }
        }

        var check: SubjectCheck?
        if let subjectObject = fields.object(object, "subject", path: "subject") {
            let fullName = fields.string(subjectObject, "fullName", path: "subject.fullName")
            let idNumber = fields.string(subjectObject, "idNumber", path: "subject.idNumber")
            let dateOfBirth = fields.string(subjectObject, "dateOfBirth", path: "subject.dateOfBirth")
            let subjectCheck = self.rules.checkSubject(
                fullName: fullName,
                idNumber: idNumber,
                dateOfBirth: dateOfBirth,
                now: now
            )
            fields.reasons += subjectCheck.reasons
            check = subjectCheck
        }

        var details: ChannelDetails?
        var dossierCode: String?
        switch channel {
        case .counter:
            let autofill = fields.optionalBool(object, "autofill", path: "autofill") ?? false
            let key = fields.recipientKey(object, "recipientKey", path: "recipientKey", required: autofill)
            details = .counter(autofillRecipientKey: autofill ? key : nil)
        case .registration:
            if let accountId = fields.boundedString(object, "accountId", path: "accountId", length: 1...128) {
                details = .registration(accountId: accountId)
            }
        case .submission:
            let accountId = fields.boundedString(object, "accountId", path: "accountId", length: 1...128)
            if let dossierObject = fields.object(object, "dossier", path: "dossier") {
                let code = fields.boundedString(dossierObject, "code", path: "dossier.code", length: 1...64)
                let procedureCode = fields.boundedString(
                    dossierObject,
                    "procedureCode",
                    path: "dossier.procedureCode",
                    length: 1...64
                )
                let receivedAt = fields.timestamp(dossierObject, "receivedAt", path: "dossier.receivedAt", required: true)
                let dueAt = fields.timestamp(dossierObject, "dueAt", path: "dossier.dueAt", required: false)
                dossierCode = code
                if let accountId, let code, let procedureCode, let receivedAt {
                    details = .submission(
                        accountId: accountId,
                        dossier: DossierReference(code: code, procedureCode: procedureCode, receivedAt: receivedAt, dueAt: dueAt)
                    )
                }
            }
        }

        guard fields.reasons.isEmpty, let requestUUID, let occurredAt, let agencyCode, let actor, let check,
            let fullName = check.fullName, let idNumber = check.idNumber, let dateOfBirth = check.dateOfBirth,
            let details
        else {
            return .invalid(
                InvalidRequest(
                    requestId: requestId,
                    channel: channel,
                    agencyCode: agencyCode ?? "",
                    occurredAt: occurredAt,
                    idNumber: check?.idNumber,
                    dossierCode: dossierCode,
                    reasons: fields.reasons
                )
            )
        }
        return .request(
            VerificationRequest(
                requestUUID: requestUUID,
                requestId: requestId,
                occurredAt: occurredAt,
                agencyCode: agencyCode,
                actor: actor,
                subject: Subject(fullName: fullName, idNumber: idNumber, dateOfBirth: dateOfBirth),
                details: details,
                warnings: check.warnings
            )
        )
    }
}

/// Reads typed fields out of JSON objects and collects a reason for each broken rule.
struct FieldReader {
    var reasons: [ValidationReason] = []

    mutating func fail(_ path: String, _ code: ReasonCode) {
        self.reasons.append(ValidationReason(field: path, code: code))
    }

    /// A present, non-null value; reports `missing` otherwise.
    private mutating func required(_ object: JSONObject, _ name: String, path: String) -> JSONValue? {
        guard let value = object[name], value != .null else {
            self.fail(path, .missing)
            return nil
        }
        return value
    }

    mutating func string(_ object: JSONObject, _ name: String, path: String) -> String? {
        guard let value = self.required(object, name, path: path) else { return nil }
        guard case .string(let text) = value else {
            self.fail(path, .invalidType)
            return nil
        }
        return text
    }

    mutating func object(_ object: JSONObject, _ name: String, path: String) -> JSONObject? {
        guard let value = self.required(object, name, path: path) else { return nil }
        guard case .object(let nested) = value else {
            self.fail(path, .invalidType)
            return nil
        }
        return nested
    }

    /// A string of `length` characters (Unicode scalars, as JSON Schema counts them).
    mutating func boundedString(_ object: JSONObject, _ name: String, path: String, length: ClosedRange<Int>) -> String? {
        guard let text = self.string(object, name, path: path) else { return nil }
        guard length.contains(text.scalarCount) else {
            self.fail(path, .invalidLength)
            return nil
        }
        return text
    }

    mutating func enumeration<Value: RawRepresentable<String>>(
        _ object: JSONObject,
        _ name: String,
        path: String,
        as type: Value.Type
    ) -> Value? {
        guard let text = self.string(object, name, path: path) else { return nil }
        guard let value = Value(rawValue: text) else {
            self.fail(path, .invalidValue)
            return nil
        }
        return value
    }

    /// An RFC 3339 date-time with offset; an absent optional one gives `nil` without a reason.
    mutating func timestamp(_ object: JSONObject, _ name: String, path: String, required: Bool) -> Timestamp? {
        if !required, object[name] == nil || object[name] == .null { return nil }
        guard let text = self.string(object, name, path: path) else { return nil }
        guard let timestamp = Timestamp(rfc3339: text) else {
            self.fail(path, .invalidFormat)
            return nil
        }
        return timestamp
    }

    /// 1–64 of `A-Z a-z 0-9 . _ -`: `invalid_length` and `invalid_format` are reported separately.
    mutating func agencyCode(_ object: JSONObject, _ name: String, path: String) -> String? {
        guard let text = self.string(object, name, path: path) else { return nil }
        let lengthOK = (1...64).contains(text.scalarCount)
        let formatOK = AgencyCode.hasValidCharacters(text)
        if !lengthOK { self.fail(path, .invalidLength) }
        if !formatOK { self.fail(path, .invalidFormat) }
        return lengthOK && formatOK ? text : nil
    }

    /// An optional boolean; absent or `null` gives `nil`.
    mutating func optionalBool(_ object: JSONObject, _ name: String, path: String) -> Bool? {
        guard let value = object[name], value != .null else { return nil }
        guard case .bool(let flag) = value else {
            self.fail(path, .invalidType)
            return nil
        }
        return flag
    }

    /// Padded standard base64 of 32 bytes. Checked whenever present; required when `required`.
    mutating func recipientKey(_ object: JSONObject, _ name: String, path: String, required: Bool) -> AutofillRecipientKey? {
        if !required, object[name] == nil || object[name] == .null { return nil }
        guard let text = self.string(object, name, path: path) else { return nil }
        guard let bytes = Base64.decode(text), let key = AutofillRecipientKey(rawRepresentation: bytes) else {
            self.fail(path, .invalidFormat)
            return nil
        }
        return key
    }
}

/// Agency codes: 1–64 of `A-Z a-z 0-9 . _ -`.
public enum AgencyCode {
    public static func isValid(_ code: String) -> Bool {
        (1...64).contains(code.utf8.count) && hasValidCharacters(code)
    }

    static func hasValidCharacters(_ code: String) -> Bool {
        code.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
    }
}
