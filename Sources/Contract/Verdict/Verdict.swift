import Foundation
import Identity

/// The one final answer to a request, published on `tthc.identity.verdicts` (contract section 3).
///
/// Encode it once with ``encodedJSON()``, store those bytes and re-emit them unchanged: the
/// field order is fixed, so the same verdict always gives the same bytes. `description` holds
/// no personal data (the subject appears masked and as a ref only).
public struct Verdict: Sendable, Hashable, CustomStringConvertible {
    public enum Outcome: String, Sendable, Hashable, Codable, CaseIterable {
        /// The registry confirmed that name, date of birth and id number belong together.
        case verified
        /// The registry did not confirm (an unknown number included).
        case mismatch
        /// A local rule was broken (the registry was not called), or the registry answered 400.
        case invalid
        /// The registry could not answer before the channel's deadline.
        case unavailable
    }

    /// UUID v5 of the request id (``VerdictID``): a re-emitted verdict keeps it.
    public var verdictId: UUID
    public var requestId: String
    public var channel: Channel
    /// The request's agency, `""` when an `invalid` request had no valid agency code.
    public var agencyCode: String
    public var decidedAt: Timestamp
    public var outcome: Outcome
    /// Present exactly when the outcome is `invalid`.
    public var reasons: [ValidationReason]?
    /// Present when the id number was 9 or 12 digits.
    public var subject: VerdictSubject?
    /// Registry calls actually made for this request.
    public var attempts: Int
    /// Set when no call was made because a recent registry answer for the same person (same
    /// normalised id number, name key and birth date) was reused: the `requestId` of the verdict
    /// whose answer it was. `attempts` is then 0.
    public var reusedFrom: String?
    /// Counter, `verified`, autofill asked: the sealed citizen record.
    public var autofill: SealedAutofill?
    /// Submission: the dossier's state after this verdict.
    public var dossier: VerdictDossier?

    public init(
        verdictId: UUID,
        requestId: String,
        channel: Channel,
        agencyCode: String,
        decidedAt: Timestamp,
        outcome: Outcome,
        reasons: [ValidationReason]? = nil,
        subject: VerdictSubject? = nil,
        attempts: Int,
        reusedFrom: String? = nil,
        autofill: SealedAutofill? = nil,
        dossier: VerdictDossier? = nil
    ) {
        self.verdictId = verdictId
        self.requestId = requestId
        self.channel = channel
        self.agencyCode = agencyCode
        self.decidedAt = decidedAt
        self.outcome = outcome
        self.reasons = reasons
        self.subject = subject
        self.attempts = attempts
        self.reusedFrom = reusedFrom
        self.autofill = autofill
        self.dossier = dossier
    }

    /// The verdict for a request that broke local rules: outcome `invalid`, no registry call,
    /// and for a submission with a valid dossier code, the dossier `needs_correction` (unless
    /// `dossierState` says otherwise, when a newer request already set it).
    public init(invalid request: InvalidRequest, subjectRefKey: SubjectRefKey, decidedAt: Timestamp, dossierState: DossierState? = nil) {
        self.init(
            verdictId: request.verdictId,
            requestId: request.requestId,
            channel: request.channel,
            agencyCode: request.agencyCode,
            decidedAt: decidedAt,
            outcome: .invalid,
            reasons: request.reasons,
            subject: request.verdictSubject(key: subjectRefKey),
            attempts: 0,
            dossier: request.dossierCode.map {
                VerdictDossier(code: $0, state: dossierState ?? DossierState(after: .invalid))
            }
        )
    }

    /// The verdict for a request the registry was asked about.
    ///
    /// - Parameters:
    ///   - reasons: for outcome `invalid` (the registry answered 400). Default:
    ///     `[{ "field": "subject", "code": "registry_rejected" }]` when the outcome is `invalid`.
    ///   - dossierState: a submission's state after this verdict. Default: the state the outcome
    ///     leads to; pass the stored state when an older request must not move it back.
    ///   - autofill: only kept for a `verified` counter verdict.
    public init(
        request: VerificationRequest,
        outcome: Outcome,
        attempts: Int,
        decidedAt: Timestamp,
        subjectRefKey: SubjectRefKey,
        reasons: [ValidationReason]? = nil,
        autofill: SealedAutofill? = nil,
        dossierState: DossierState? = nil
    ) {
        var dossier: VerdictDossier?
        if case .submission(_, let reference) = request.details {
            dossier = VerdictDossier(code: reference.code, state: dossierState ?? DossierState(after: outcome))
        }
        var keptAutofill: SealedAutofill?
        if case .counter = request.details, outcome == .verified { keptAutofill = autofill }
        self.init(
            verdictId: request.verdictId,
            requestId: request.requestId,
            channel: request.channel,
            agencyCode: request.agencyCode,
            decidedAt: decidedAt,
            outcome: outcome,
            reasons: outcome == .invalid ? (reasons ?? [ValidationReason(field: "subject", code: .registryRejected)]) : nil,
            subject: request.subject.verdictSubject(key: subjectRefKey),
            attempts: attempts,
            autofill: keptAutofill,
            dossier: dossier
        )
    }

    public var description: String {
        var text = "Verdict(verdictId: \(self.verdictId.lowercaseString), requestId: \(self.requestId), "
        text += "channel: \(self.channel), outcome: \(self.outcome.rawValue), attempts: \(self.attempts)"
        if let reusedFrom = self.reusedFrom { text += ", reusedFrom: \(reusedFrom)" }
        if let reasons = self.reasons { text += ", reasons: \(reasons)" }
        if let subject = self.subject { text += ", subject: \(subject.idNumberMasked)" }
        return text + ")"
    }
}

/// The verdict's view of the subject: never the number itself.
public struct VerdictSubject: Sendable, Hashable, Codable {
    /// `030******345` or `******789`.
    public var idNumberMasked: String
    /// base64url (no padding) HMAC-SHA256 of the normalised number under the subject key.
    public var ref: String

    public init(idNumberMasked: String, ref: String) {
        self.idNumberMasked = idNumberMasked
        self.ref = ref
    }
}

/// A submission verdict's dossier and its state after the verdict.
public struct VerdictDossier: Sendable, Hashable, Codable {
    public var code: String
    public var state: DossierState

    public init(code: String, state: DossierState) {
        self.code = code
        self.state = state
    }
}

/// The sealed citizen record of a `verified` counter verdict (HPKE, see ``AutofillSealer``).
public struct SealedAutofill: Sendable, Hashable, Codable {
    /// Padded standard base64 of the HPKE encapsulated key (32 bytes for X25519).
    public var encapsulatedKey: String
    /// Padded standard base64 of the ciphertext (with its 16-byte tag).
    public var ciphertext: String

    public init(encapsulatedKey: String, ciphertext: String) {
        self.encapsulatedKey = encapsulatedKey
        self.ciphertext = ciphertext
    }
}

/// Verdict ids: name-based UUIDs (version 5, SHA-1) of the request id in a fixed namespace.
public enum VerdictID {
    /// The namespace of every verdict id. Fixed for ever: changing it would change the id of
    /// every re-emitted verdict. Documented in `docs/contract.md`.
    public static let namespace = UUID(uuidString: "88bf9d40-eeb6-4394-b014-4ae72b68a749")!

    /// `uuid5(namespace, idempotencyKey(requestId))`: a request id that is a UUID is taken in
    /// lowercase (so case variants of one UUID share one verdict id); any other usable id as sent,
    /// as UTF-8.
    public static func derive(fromRequestId requestId: String) -> UUID {
        UUID.nameBased(namespace: self.namespace, name: RequestID.idempotencyKey(for: requestId).utf8)
    }
}
