import Identity

/// One person of the synthetic population, generated on demand.
///
/// Synthetic, but personal data in shape: never log it.
public struct SimulatedCitizen: Sendable, Hashable {
    public enum Gender: String, Sendable, Hashable, Codable {
        case male, female
    }

    /// The person's number in the population, `0..<population`.
    public let index: Int
    /// The name as the registry holds it, in the person's ``toneStyle``.
    public let fullName: String
    /// The same name written in the other tone style (identical when no syllable differs).
    public let fullNameOtherToneStyle: String
    public let toneStyle: ToneStyle
    /// At the precision the registry holds (a few per cent year-only or month-only).
    public let dateOfBirth: PartialDate
    public let gender: Gender
    /// `PPP G YY NNNNNN`, consistent with the identity rules.
    public let personalIdNumber: String
    /// The former 9-digit CMND, for about one in ten people born before 2007.
    public let formerIdNumber: String?
    public let nationality: String
    public let ethnicity: String
    public let religion: String
    public let placeOfOrigin: String
    public let permanentAddress: String
    public let currentAddress: String
}
