import Contract
import Crypto
import Foundation
import Identity
import Store

/// Reuse of recent registry answers: the same person checked again (at registration, then at each
/// submission and correction) within the answer's expiry gets the earlier answer, without a call.
///
/// An answer is keyed by an HMAC-SHA256 of what the registry is asked, normalised: the id number's
/// digits, the name's comparison key (``PersonName/comparisonKey(_:)``: the registry matches names
/// by exactly that key, so spellings it treats as one name share one answer) and the birth date as
/// sent. The HMAC key is derived from `SUBJECT_REF_KEY` with HKDF-SHA256 and its own label, so the
/// table is no dictionary of id numbers and the subject refs are no answer keys. A new
/// `SUBJECT_REF_KEY` starts a fresh set of answers (old rows are no longer found and expire).
struct AnswerReuse: Sendable {
    /// The HMAC under the derived key, keyed once.
    private let keyed: KeyedHMAC
    /// How long a `verified` and a `mismatch` answer are reused; zero: not at all.
    let verifiedFor: Duration
    let mismatchFor: Duration

    /// HKDF info of the answer key. Changing it starts a fresh set of answers.
    static let label = Array("tthc.identity.registry-answer.v1".utf8)

    init(subjectRefKey: [UInt8], verifiedFor: Duration, mismatchFor: Duration) {
        self.keyed = KeyedHMAC(
            key: HKDF<SHA256>.deriveKey(
                inputKeyMaterial: SymmetricKey(data: subjectRefKey), info: Self.label, outputByteCount: 32
            ).withUnsafeBytes { Array($0) })
        self.verifiedFor = verifiedFor
        self.mismatchFor = mismatchFor
    }

    /// Whether any outcome is reused at all (when not, no key is computed and nothing is stored).
    var isEnabled: Bool { verifiedFor > .zero || mismatchFor > .zero }

    /// How long an answer with this outcome is reused; `nil` when it is not (never `invalid`, which
    /// a 400 gives, nor `unavailable`, which is no answer).
    func expiry(for outcome: Verdict.Outcome) -> Duration? {
        switch outcome {
        case .verified: verifiedFor > .zero ? verifiedFor : nil
        case .mismatch: mismatchFor > .zero ? mismatchFor : nil
        case .invalid, .unavailable: nil
        }
    }

    /// The answer key of a request's subject; `nil` when reuse is off.
    func key(for request: VerificationRequest) -> [UInt8]? {
        guard isEnabled else { return nil }
        var message: [UInt8] = []
        for part in [
            request.subject.idNumber, PersonName.comparisonKey(request.subject.fullName), request.subject.dateOfBirth.description,
        ] {
            let bytes = Array(part.utf8)
            withUnsafeBytes(of: UInt32(bytes.count).bigEndian) { message.append(contentsOf: $0) }
            message.append(contentsOf: bytes)
        }
        return keyed.authenticationCode(for: message)
    }

    /// Whether a request may take a kept answer: all but a counter asking for autofill, which needs
    /// the citizen record itself (never stored) and so always calls.
    static func mayReuse(_ request: VerificationRequest) -> Bool {
        if case .counter(let recipient) = request.details, recipient != nil { return false }
        return true
    }

    /// The verdict of a request that takes a kept answer: that outcome, no call, and the request
    /// whose answer it was.
    func verdict(_ request: VerificationRequest, reusing answer: RegistryAnswer, subjectRefKey: SubjectRefKey) -> Verdict {
        var verdict = Verdict(
            request: request, outcome: answer.outcome, attempts: 0, decidedAt: Timestamp(Date()), subjectRefKey: subjectRefKey)
        verdict.reusedFrom = answer.sourceRequestID
        return verdict
    }

    /// What to keep of a fresh verdict: its answer, when the registry gave one (attempts made, not
    /// itself reused) with an outcome that is reused.
    func answerToKeep(_ verdict: Verdict, key: [UInt8]?) -> KeptRegistryAnswer? {
        guard let key, verdict.reusedFrom == nil, verdict.attempts > 0, let expiry = expiry(for: verdict.outcome) else { return nil }
        let answeredAt = verdict.decidedAt.date
        return KeptRegistryAnswer(
            key: key,
            answer: RegistryAnswer(
                outcome: verdict.outcome, sourceRequestID: verdict.requestId, expiresAt: answeredAt.addingTimeInterval(expiry.seconds)),
            answeredAt: answeredAt)
    }
}
