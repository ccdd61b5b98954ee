/// A submitted dossier's verification state (contract section 3).
public enum DossierState: String, Sendable, Hashable, Codable, CaseIterable {
    /// The check is open.
    case awaitingVerification = "awaiting_verification"
    /// Verified.
    case accepted
    /// Mismatch or invalid: the citizen edits "Thông tin cá nhân" and submits again with a new
    /// request id and the same dossier code.
    case needsCorrection = "needs_correction"
    /// The registry could not answer before the deadline.
    case verificationUnavailable = "verification_unavailable"

    /// The state a verdict's outcome leads to.
    public init(after outcome: Verdict.Outcome) {
        switch outcome {
        case .verified: self = .accepted
        case .mismatch, .invalid: self = .needsCorrection
        case .unavailable: self = .verificationUnavailable
        }
    }
}
