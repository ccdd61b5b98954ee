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
        let slots: [ScannedValue]
        do {
            switch try RequestScanner.scan(value) {
            case .object(let scanned): slots = scanned
            case .notObject: return .deadLetter(.notObject)
            }
        } catch {
            return .deadLetter(error.kind == .tooDeep ? .tooDeep : .notJSON)
        }
        guard case .string(let requestId) = slots[RequestScanner.Path.requestId.rawValue], RequestID.isUsable(requestId) else {
            return .deadLetter(.missingRequestId)
        }
        return self.validate(slots, requestId: requestId, channel: channel, now: now)
    }

    // MARK: Fields

    private func validate(_ slots: [ScannedValue], requestId: String, channel: Channel, now: Date) -> ReadResult {
        typealias Path = RequestScanner.Path
        var fields = FieldReader()
        func slot(_ path: Path) -> ScannedValue { slots[path.rawValue] }

        let requestUUID = UUID(contractString: requestId)
        if requestUUID == nil { fields.fail("requestId", .invalidFormat) }
        let occurredAt = fields.timestamp(slot(.occurredAt), path: "occurredAt", required: true)
        let agencyCode = fields.agencyCode(slot(.agencyCode), path: "agencyCode")

        var actor: Actor?
        if fields.object(slot(.actor), path: "actor") {
            let kind = fields.enumeration(slot(.actorKind), path: "actor.kind", as: Actor.Kind.self)
            let id = fields.boundedString(slot(.actorId), path: "actor.id", length: 1...128)
            if let kind, let id { actor = Actor(kind: kind, id: id) }
        }

        var check: SubjectCheck?
        if fields.object(slot(.subject), path: "subject") {
            let fullName = fields.string(slot(.subjectFullName), path: "subject.fullName")
            let idNumber = fields.string(slot(.subjectIdNumber), path: "subject.idNumber")
            let dateOfBirth = fields.string(slot(.subjectDateOfBirth), path: "subject.dateOfBirth")
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
        var validAccountId: String?
        switch channel {
        case .counter:
            let autofill = fields.optionalBool(slot(.autofill), path: "autofill") ?? false
            let key = fields.recipientKey(slot(.recipientKey), path: "recipientKey", required: autofill)
            details = .counter(autofillRecipientKey: autofill ? key : nil)
        case .registration:
            if let accountId = fields.boundedString(slot(.accountId), path: "accountId", length: 1...128) {
                validAccountId = accountId
                details = .registration(accountId: accountId)
            }
        case .submission:
            let accountId = fields.boundedString(slot(.accountId), path: "accountId", length: 1...128)
            validAccountId = accountId
            if fields.object(slot(.dossier), path: "dossier") {
                let code = fields.boundedString(slot(.dossierCode), path: "dossier.code", length: 1...64)
                let procedureCode = fields.boundedString(slot(.dossierProcedureCode), path: "dossier.procedureCode", length: 1...64)
                let receivedAt = fields.timestamp(slot(.dossierReceivedAt), path: "dossier.receivedAt", required: true)
                let dueAt = fields.timestamp(slot(.dossierDueAt), path: "dossier.dueAt", required: false)
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
                    reasons: fields.reasons,
                    actor: actor,
                    accountId: validAccountId
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

/// Reads typed fields (as the scanner or the tree parser found them) and collects a reason for
/// each broken rule.
struct FieldReader {
    var reasons: [ValidationReason] = []

    mutating func fail(_ path: String, _ code: ReasonCode) {
        self.reasons.append(ValidationReason(field: path, code: code))
    }

    /// Whether a required value is there; reports `missing` (absent or `null`) otherwise.
    private mutating func isPresent(_ value: ScannedValue, path: String) -> Bool {
        switch value {
        case .absent, .null:
            self.fail(path, .missing)
            return false
        default:
            return true
        }
    }

    mutating func string(_ value: ScannedValue, path: String) -> String? {
        guard self.isPresent(value, path: path) else { return nil }
        guard case .string(let text) = value else {
            self.fail(path, .invalidType)
            return nil
        }
        return text
    }

    /// Whether a required object is there (its fields are read separately).
    mutating func object(_ value: ScannedValue, path: String) -> Bool {
        guard self.isPresent(value, path: path) else { return false }
        guard value == .object else {
            self.fail(path, .invalidType)
            return false
        }
        return true
    }

    /// A string of `length` characters (Unicode scalars, as JSON Schema counts them).
    mutating func boundedString(_ value: ScannedValue, path: String, length: ClosedRange<Int>) -> String? {
        guard let text = self.string(value, path: path) else { return nil }
        guard length.contains(text.scalarCount) else {
            self.fail(path, .invalidLength)
            return nil
        }
        return text
    }

    mutating func enumeration<Value: RawRepresentable<String>>(_ value: ScannedValue, path: String, as type: Value.Type) -> Value? {
        guard let text = self.string(value, path: path) else { return nil }
        guard let value = Value(rawValue: text) else {
            self.fail(path, .invalidValue)
            return nil
        }
        return value
    }

    /// An RFC 3339 date-time with offset; an absent optional one gives `nil` without a reason.
    mutating func timestamp(_ value: ScannedValue, path: String, required: Bool) -> Timestamp? {
        if !required, value == .absent || value == .null { return nil }
        guard let text = self.string(value, path: path) else { return nil }
        guard let timestamp = Timestamp(rfc3339: text) else {
            self.fail(path, .invalidFormat)
            return nil
        }
        return timestamp
    }

    /// 1–64 of `A-Z a-z 0-9 . _ -`: `invalid_length` and `invalid_format` are reported separately.
    mutating func agencyCode(_ value: ScannedValue, path: String) -> String? {
        guard let text = self.string(value, path: path) else { return nil }
        let lengthOK = (1...64).contains(text.scalarCount)
        let formatOK = AgencyCode.hasValidCharacters(text)
        if !lengthOK { self.fail(path, .invalidLength) }
        if !formatOK { self.fail(path, .invalidFormat) }
        return lengthOK && formatOK ? text : nil
    }

    /// An optional boolean; absent or `null` gives `nil`.
    mutating func optionalBool(_ value: ScannedValue, path: String) -> Bool? {
        switch value {
        case .absent, .null:
            return nil
        case .bool(let flag):
            return flag
        default:
            self.fail(path, .invalidType)
            return nil
        }
    }

    /// Padded standard base64 of 32 bytes. Checked whenever present; required when `required`.
    mutating func recipientKey(_ value: ScannedValue, path: String, required: Bool) -> AutofillRecipientKey? {
        if !required, value == .absent || value == .null { return nil }
        guard let text = self.string(value, path: path) else { return nil }
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
        code.withUTF8Bytes { bytes in
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                    continue
                default:
                    return false
                }
            }
            return true
        }
    }
}
