import Foundation
import Identity

/// A request that passed every local rule: what the worker sends to the registry.
///
/// `description` shows the request id, channel, agency and the masked id number; never the
/// name, the full number or the date of birth.
public struct VerificationRequest: Sendable, Hashable, CustomStringConvertible {
    /// The `requestId` exactly as sent.
    public var requestId: String
    /// `requestId` as a UUID.
    public var requestUUID: UUID
    public var occurredAt: Timestamp
    public var agencyCode: String
    public var actor: Actor
    public var subject: Subject
    /// What only one channel carries; it decides ``channel``.
    public var details: ChannelDetails
    /// Rules that the policy relaxed to warnings (for example `birth_year_mismatch`): log and
    /// count them, and ask the registry anyway.
    public var warnings: [ValidationReason]

    public init(
        requestUUID: UUID,
        requestId: String? = nil,
        occurredAt: Timestamp,
        agencyCode: String,
        actor: Actor,
        subject: Subject,
        details: ChannelDetails,
        warnings: [ValidationReason] = []
    ) {
        self.requestUUID = requestUUID
        self.requestId = requestId ?? requestUUID.lowercaseString
        self.occurredAt = occurredAt
        self.agencyCode = agencyCode
        self.actor = actor
        self.subject = subject
        self.details = details
        self.warnings = warnings
    }

    public var channel: Channel { self.details.channel }

    /// The key that makes a request id seen before: see ``RequestID/idempotencyKey(for:)``.
    public var idempotencyKey: String { self.requestUUID.lowercaseString }

    /// The verdict id every verdict for this request carries.
    public var verdictId: UUID { VerdictID.derive(fromRequestId: self.requestId) }

    public var description: String {
        "VerificationRequest(requestId: \(self.requestId), channel: \(self.channel), agencyCode: \(self.agencyCode), "
            + "subject: \(self.subject.idNumberMasked))"
    }
}

/// Who asks: an officer at a counter or a citizen on the portal.
public struct Actor: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case officer
        case citizen
    }

    public var kind: Kind
    /// 1–128 characters.
    public var id: String

    public init(kind: Kind, id: String) {
        self.kind = kind
        self.id = id
    }
}

/// The person to verify, normalised: the name as ``PersonName/normalize(_:)`` gives it, the id
/// number as digits only. Personal data: `description` shows the masked number only.
public struct Subject: Sendable, Hashable, CustomStringConvertible {
    /// NFC, trimmed, inner white space collapsed: what the registry is sent.
    public var fullName: String
    /// 9 or 12 ASCII digits.
    public var idNumber: String
    public var dateOfBirth: PartialDate

    public init(fullName: String, idNumber: String, dateOfBirth: PartialDate) {
        self.fullName = fullName
        self.idNumber = idNumber
        self.dateOfBirth = dateOfBirth
    }

    /// `030******345` or `******789`.
    public var idNumberMasked: String { IDNumber.masked(self.idNumber) ?? "" }

    /// The verdict's `subject` part for this person.
    public func verdictSubject(key: SubjectRefKey) -> VerdictSubject {
        VerdictSubject(idNumberMasked: self.idNumberMasked, ref: key.ref(for: self.idNumber))
    }

    public var description: String { "Subject(\(self.idNumberMasked))" }
}

/// The fields that only one channel carries.
public enum ChannelDetails: Sendable, Hashable {
    /// `autofill`: the recipient key when autofill was asked, `nil` otherwise.
    case counter(autofillRecipientKey: AutofillRecipientKey?)
    case registration(accountId: String)
    case submission(accountId: String, dossier: DossierReference)

    public var channel: Channel {
        switch self {
        case .counter: return .counter
        case .registration: return .registration
        case .submission: return .submission
        }
    }
}

/// The raw 32-byte X25519 public key a counter front end sent as `recipientKey`.
public struct AutofillRecipientKey: Sendable, Hashable, CustomStringConvertible {
    public let rawRepresentation: [UInt8]

    /// `nil` unless exactly 32 bytes.
    public init?(rawRepresentation: [UInt8]) {
        guard rawRepresentation.count == 32 else { return nil }
        self.rawRepresentation = rawRepresentation
    }

    /// Padded standard base64, as on the wire.
    public var base64: String { Base64.encode(self.rawRepresentation) }

    public var description: String { "AutofillRecipientKey(\(self.base64))" }
}

/// A submission's dossier as the request names it.
public struct DossierReference: Sendable, Hashable {
    /// 1–64 characters; the dossier's key (hồ sơ code).
    public var code: String
    /// 1–64 characters.
    public var procedureCode: String
    public var receivedAt: Timestamp
    public var dueAt: Timestamp?

    public init(code: String, procedureCode: String, receivedAt: Timestamp, dueAt: Timestamp? = nil) {
        self.code = code
        self.procedureCode = procedureCode
        self.receivedAt = receivedAt
        self.dueAt = dueAt
    }
}

/// A request that broke rules: everything a verdict `invalid` needs, and nothing personal
/// beyond the normalised id number (for masking and the subject ref).
public struct InvalidRequest: Sendable, Hashable, CustomStringConvertible {
    /// The usable `requestId` exactly as sent (1–128 characters, maybe not a UUID).
    public var requestId: String
    public var channel: Channel
    /// The `agencyCode` when it is a valid agency code, else `""` (unknown agency).
    public var agencyCode: String
    /// `occurredAt` when it was valid (orders dossier state changes).
    public var occurredAt: Timestamp?
    /// The normalised id number when it normalises to 9 or 12 digits (personal data).
    public var idNumber: String?
    /// The dossier code of a submission when it was valid: its state becomes `needs_correction`.
    public var dossierCode: String?
    /// Every broken rule, in the order of the contract's fields.
    public var reasons: [ValidationReason]
    /// `actor` when it was valid (for the audit trail).
    public var actor: Actor?
    /// `accountId` when it was valid (for the audit trail).
    public var accountId: String?

    public init(
        requestId: String,
        channel: Channel,
        agencyCode: String,
        occurredAt: Timestamp? = nil,
        idNumber: String? = nil,
        dossierCode: String? = nil,
        reasons: [ValidationReason],
        actor: Actor? = nil,
        accountId: String? = nil
    ) {
        self.actor = actor
        self.accountId = accountId
        self.requestId = requestId
        self.channel = channel
        self.agencyCode = agencyCode
        self.occurredAt = occurredAt
        self.idNumber = idNumber
        self.dossierCode = dossierCode
        self.reasons = reasons
    }

    /// See ``RequestID/idempotencyKey(for:)``.
    public var idempotencyKey: String { RequestID.idempotencyKey(for: self.requestId) }

    /// The verdict id every verdict for this request carries.
    public var verdictId: UUID { VerdictID.derive(fromRequestId: self.requestId) }

    /// The verdict's `subject` part, when the number normalised to 9 or 12 digits.
    public func verdictSubject(key: SubjectRefKey) -> VerdictSubject? {
        guard let idNumber = self.idNumber, let masked = IDNumber.masked(idNumber) else { return nil }
        return VerdictSubject(idNumberMasked: masked, ref: key.ref(for: idNumber))
    }

    public var description: String {
        "InvalidRequest(requestId: \(self.requestId), channel: \(self.channel), reasons: \(self.reasons))"
    }
}

/// Request ids.
public enum RequestID {
    /// What makes two request ids the same request: a UUID compares case-insensitively (RFC
    /// 9562), so the key is its lowercase form; any other usable id is its own key.
    public static func idempotencyKey(for requestId: String) -> String {
        if let uuid = UUID(contractString: requestId) { return uuid.lowercaseString }
        return requestId
    }

    /// Whether a string is a usable request id (1–128 characters): without one a message is a
    /// dead letter.
    public static func isUsable(_ requestId: String) -> Bool {
        let count = requestId.scalarCount
        return count >= 1 && count <= 128
    }
}
