import Foundation

/// A citizen as the registry's `lookup` returns it (contract section 5). Personal data:
/// `description` shows nothing of it.
public struct CitizenRecord: Sendable, Hashable, Codable, CustomStringConvertible {
    public var fullName: String
    /// `YYYY-MM-DD`, `YYYY-MM` or `YYYY`, as the registry holds it.
    public var dateOfBirth: String
    /// `male` or `female`.
    public var gender: String
    public var nationality: String
    public var ethnicity: String
    public var religion: String
    public var placeOfOrigin: String
    public var permanentAddress: String
    public var currentAddress: String
    /// The 12-digit personal identification number.
    public var personalIdNumber: String
    /// The 9-digit CMND it replaced, if any.
    public var formerIdNumber: String?

    public init(
        fullName: String,
        dateOfBirth: String,
        gender: String,
        nationality: String,
        ethnicity: String,
        religion: String,
        placeOfOrigin: String,
        permanentAddress: String,
        currentAddress: String,
        personalIdNumber: String,
        formerIdNumber: String?
    ) {
        self.fullName = fullName
        self.dateOfBirth = dateOfBirth
        self.gender = gender
        self.nationality = nationality
        self.ethnicity = ethnicity
        self.religion = religion
        self.placeOfOrigin = placeOfOrigin
        self.permanentAddress = permanentAddress
        self.currentAddress = currentAddress
        self.personalIdNumber = personalIdNumber
        self.formerIdNumber = formerIdNumber
    }

    public var description: String { "CitizenRecord(redacted)" }

    /// A field's value (`nil` only for an absent `formerIdNumber`).
    public subscript(field: AutofillField) -> String? {
        switch field {
        case .fullName: return self.fullName
        case .dateOfBirth: return self.dateOfBirth
        case .gender: return self.gender
        case .nationality: return self.nationality
        case .ethnicity: return self.ethnicity
        case .religion: return self.religion
        case .placeOfOrigin: return self.placeOfOrigin
        case .permanentAddress: return self.permanentAddress
        case .currentAddress: return self.currentAddress
        case .personalIdNumber: return self.personalIdNumber
        case .formerIdNumber: return self.formerIdNumber
        }
    }

    enum CodingKeys: String, CodingKey {
        case fullName, dateOfBirth, gender, nationality, ethnicity, religion, placeOfOrigin
        case permanentAddress, currentAddress, personalIdNumber, formerIdNumber
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.fullName, forKey: .fullName)
        try container.encode(self.dateOfBirth, forKey: .dateOfBirth)
        try container.encode(self.gender, forKey: .gender)
        try container.encode(self.nationality, forKey: .nationality)
        try container.encode(self.ethnicity, forKey: .ethnicity)
        try container.encode(self.religion, forKey: .religion)
        try container.encode(self.placeOfOrigin, forKey: .placeOfOrigin)
        try container.encode(self.permanentAddress, forKey: .permanentAddress)
        try container.encode(self.currentAddress, forKey: .currentAddress)
        try container.encode(self.personalIdNumber, forKey: .personalIdNumber)
        try container.encode(self.formerIdNumber, forKey: .formerIdNumber)  // null when absent, as the registry sends it
    }
}

/// The fields of a citizen record that autofill may carry.
public enum AutofillField: String, Sendable, Hashable, Codable, CaseIterable {
    case fullName, dateOfBirth, gender, nationality, ethnicity, religion, placeOfOrigin
    case permanentAddress, currentAddress, personalIdNumber, formerIdNumber

    /// Every field but `ethnicity` and `religion`, which the personal-data law (Decree 13/2023)
    /// treats as sensitive.
    public static let defaultFields: Set<AutofillField> = Set(allCases).subtracting([.ethnicity, .religion])

    /// Parses a comma-separated list (`fullName,dateOfBirth,...`) for configuration; `nil` names
    /// the first unknown field through `unknown`.
    public static func parseList(_ text: String) -> Result<Set<AutofillField>, AutofillFieldListError> {
        var fields = Set<AutofillField>()
        for part in text.split(separator: ",") {
            let name = part.trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else { continue }
            guard let field = AutofillField(rawValue: name) else { return .failure(AutofillFieldListError(unknownField: name)) }
            fields.insert(field)
        }
        return .success(fields)
    }
}

/// A configured autofill field list named a field that does not exist.
public struct AutofillFieldListError: Error, Sendable, Hashable, CustomStringConvertible {
    public var unknownField: String
    public var description: String {
        "unknown autofill field '\(self.unknownField)'; known: \(AutofillField.allCases.map(\.rawValue).joined(separator: ", "))"
    }
}
