import Identity

/// The registry's match rules (contract section 5), applied to the synthetic population.
extension SyntheticPopulation {
    /// What the registry decides for one query.
    public enum MatchResult: Sendable, Hashable {
        /// The person exists and name and date of birth agree.
        case match(index: Int, personalIdNumber: String, byFormerIdNumber: Bool)
        /// Unknown number, or name or date of birth differ (the answer never says which).
        case noMatch
    }

    /// Matches a query the way the registry does: the number is a 12-digit personal id or a 9-digit
    /// former CMND; names compare by `PersonName.comparisonKey` (NFC, trimmed, white space
    /// collapsed, case folded, tone marks on one canonical vowel); dates by
    /// `PartialDate.recordMatches(request:)` (at the precision the registry holds).
    public func match(idNumber: String, fullName: String, dateOfBirth: PartialDate) -> MatchResult {
        guard let person = self.core(idNumber: idNumber) else { return .noMatch }
        guard person.dateOfBirth.recordMatches(request: dateOfBirth) else { return .noMatch }
        guard Self.sameName(fullName, person) else { return .noMatch }
        return .match(index: person.index, personalIdNumber: person.personalIdNumber, byFormerIdNumber: idNumber.utf8.count == 9)
    }

    /// `PersonName.comparisonKey(name) == comparisonKey(person.fullName)`, with cheap answers first:
    /// a name spelled as held, or in the other tone style, has the same key without computing it.
    static func sameName(_ name: String, _ person: Core) -> Bool {
        let normalized = PersonName.normalize(name)
        if normalized == person.fullName || normalized == person.fullNameOtherToneStyle { return true }
        return PersonName.comparisonKey(normalized) == person.nameKey
    }
}
