/// Deployment choices the identity rules allow (identity-rules.md).
public struct IdentityPolicy: Sendable, Hashable {
    /// Accept names of one word. Default: `false` (reason `single_word`).
    public var allowSingleWordNames: Bool
    /// Report a 12-digit number whose century and year digits disagree with the date of birth as a
    /// warning (the registry is asked anyway) instead of reason `birth_year_mismatch`.
    /// Default: `false`.
    public var birthYearMismatchIsWarning: Bool
    /// UTC offset, in seconds, of the calendar day against which "not in the future" is judged.
    /// Default: `25200` (+07:00, Asia/Ho_Chi_Minh, which has no daylight saving time).
    public var calendarUTCOffsetSeconds: Int
    /// The earliest year of birth accepted. Default: `1900`.
    public var earliestBirthYear: Int

    public init(
        allowSingleWordNames: Bool = false,
        birthYearMismatchIsWarning: Bool = false,
        calendarUTCOffsetSeconds: Int = 7 * 3600,
        earliestBirthYear: Int = 1900
    ) {
        self.allowSingleWordNames = allowSingleWordNames
        self.birthYearMismatchIsWarning = birthYearMismatchIsWarning
        self.calendarUTCOffsetSeconds = calendarUTCOffsetSeconds
        self.earliestBirthYear = earliestBirthYear
    }
}
