import Foundation

/// What the identity rules made of a subject: the normalised values that passed, the reasons
/// (each with its JSON path) for what did not, and warnings the policy relaxed.
///
/// `description` prints paths and codes only.
public struct SubjectCheck: Sendable, CustomStringConvertible {
    /// The normalised name (``PersonName/normalize(_:)``), when the name was given.
    public var fullName: String?
    /// The normalised digits, when the number normalises to 9 or 12 digits (even if another
    /// identity rule failed): what masking and the subject ref need.
    public var idNumber: String?
    /// The date of birth, when it is a real date (even if out of range).
    public var dateOfBirth: PartialDate?
    /// Every broken rule.
    public var reasons: [ValidationReason]
    /// Rules the policy relaxed to warnings (logged and counted, registry asked anyway).
    public var warnings: [ValidationReason]

    public var description: String {
        "SubjectCheck(reasons: \(self.reasons), warnings: \(self.warnings))"
    }
}

/// The rules of identity-rules.md, checked before the registry is asked.
public struct IdentityRules: Sendable {
    public var policy: IdentityPolicy

    public init(policy: IdentityPolicy = IdentityPolicy()) {
        self.policy = policy
    }

    /// Checks the three subject fields. A `nil` argument means the field was missing or not a
    /// string: the caller reports that, and rules needing it are skipped.
    ///
    /// - Parameters:
    ///   - fieldPrefix: prepended to each reason's field (`"subject."` gives `subject.idNumber`).
    ///   - now: the instant "not in the future" is judged against (on the calendar day of
    ///     ``IdentityPolicy/calendarUTCOffsetSeconds``).
    public func checkSubject(
        fullName: String?,
        idNumber: String?,
        dateOfBirth: String?,
        now: Date,
        fieldPrefix: String = "subject."
    ) -> SubjectCheck {
        var check = SubjectCheck(reasons: [], warnings: [])
        // Paths are built only when a reason needs one (most requests have none).
        func path(_ name: String) -> String { fieldPrefix.isEmpty ? name : fieldPrefix + name }

        if let fullName {
            let normalized = PersonName.normalize(fullName)
            check.fullName = normalized
            for code in PersonName.ruleViolations(
                normalized: normalized,
                allowSingleWord: self.policy.allowSingleWordNames
            ) {
                check.reasons.append(ValidationReason(field: path("fullName"), code: code))
            }
        }

        // The date is read first (the id number's rules need its year), reported last.
        var dateReasons: [ValidationReason] = []
        if let dateOfBirth {
            if let date = PartialDate(dateOfBirth) {
                check.dateOfBirth = date
                if !self.isInRange(date, now: now) {
                    dateReasons.append(ValidationReason(field: path("dateOfBirth"), code: .outOfRange))
                }
            } else {
                dateReasons.append(ValidationReason(field: path("dateOfBirth"), code: .invalidDate))
            }
        }

        if let idNumber {
            if let digits = IDNumber.normalize(idNumber) {
                check.idNumber = digits
                for code in IDNumber.ruleViolations(digits, dateOfBirth: check.dateOfBirth) {
                    let reason = ValidationReason(field: path("idNumber"), code: code)
                    if code == .birthYearMismatch && self.policy.birthYearMismatchIsWarning {
                        check.warnings.append(reason)
                    } else {
                        check.reasons.append(reason)
                    }
                }
            } else {
                check.reasons.append(ValidationReason(field: path("idNumber"), code: .invalidFormat))
            }
        }
        check.reasons += dateReasons
        return check
    }

    /// Not before ``IdentityPolicy/earliestBirthYear`` and not after today.
    public func isInRange(_ date: PartialDate, now: Date) -> Bool {
        guard date.year >= self.policy.earliestBirthYear else { return false }
        let today = PartialDate.day(
            secondsSince1970: now.timeIntervalSince1970,
            utcOffsetSeconds: self.policy.calendarUTCOffsetSeconds
        )
        return !date.isAfter(today)
    }
}
