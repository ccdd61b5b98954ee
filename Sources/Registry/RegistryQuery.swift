/// The body of a verify or lookup call: `{ "idNumber", "fullName", "dateOfBirth" }`.
///
/// Holds personal data, so ``description`` prints nothing of it: a query that slips into a log line
/// or an error message leaks no name, number or date.
public struct RegistryQuery: Sendable, Hashable, Codable, CustomStringConvertible {
    /// 12-digit personal identification number (CCCD) or 9-digit former CMND, digits only.
    public var idNumber: String
    /// The full name, normalised (NFC, trimmed, inner white space collapsed).
    public var fullName: String
    /// `YYYY-MM-DD`, `YYYY-MM` or `YYYY`.
    public var dateOfBirth: String

    public init(idNumber: String, fullName: String, dateOfBirth: String) {
        self.idNumber = idNumber
        self.fullName = fullName
        self.dateOfBirth = dateOfBirth
    }

    public var description: String {
        "RegistryQuery(idNumber: <\(self.idNumber.count) digits>, fullName: <redacted>, dateOfBirth: <redacted>)"
    }
}

/// The answer to `POST /v1/citizens/verify`.
public struct VerifyResult: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Whether the registry confirmed that name, date of birth and id number belong together.
    public var match: Bool
    /// On a match for a 9-digit CMND: the 12-digit number that replaced it. Otherwise `nil`.
    public var personalIdNumber: String?

    public init(match: Bool, personalIdNumber: String? = nil) {
        self.match = match
        self.personalIdNumber = personalIdNumber
    }

    public var description: String {
        "VerifyResult(match: \(self.match), personalIdNumber: \(self.personalIdNumber == nil ? "nil" : "<redacted>"))"
    }
}

/// The answer to `POST /v1/citizens/lookup`.
public struct LookupResult: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Whether the registry confirmed the query.
    public var match: Bool
    /// The citizen's record, present exactly when ``match`` is `true`.
    public var citizen: CitizenRecord?

    public init(match: Bool, citizen: CitizenRecord? = nil) {
        self.match = match
        self.citizen = citizen
    }

    public var description: String {
        "LookupResult(match: \(self.match), citizen: \(self.citizen == nil ? "nil" : "<redacted>"))"
    }
}

/// A citizen's record as the registry returns it from a lookup (contract section 5).
public struct CitizenRecord: Sendable, Hashable, Codable, CustomStringConvertible {
    public var fullName: String
    /// At the precision the registry holds: `YYYY-MM-DD`, `YYYY-MM` or `YYYY`.
    public var dateOfBirth: String
    /// `"male"` or `"female"`.
    public var gender: String
    public var nationality: String
    public var ethnicity: String
    public var religion: String
    public var placeOfOrigin: String
    public var permanentAddress: String
    public var currentAddress: String
    /// The 12-digit personal identification number.
    public var personalIdNumber: String
    /// The former 9-digit CMND, or `nil` (encoded as JSON `null`).
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

    private enum CodingKeys: String, CodingKey {
        case fullName, dateOfBirth, gender, nationality, ethnicity, religion
        case placeOfOrigin, permanentAddress, currentAddress, personalIdNumber, formerIdNumber
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
        // The contract says "CMND or null": write the null rather than omitting the key.
        try container.encode(self.formerIdNumber, forKey: .formerIdNumber)
    }

    public var description: String { "CitizenRecord(<redacted>)" }
}

/// What ``ResilientRegistryClient`` returns: the registry's answer and how many calls it took.
public struct RegistryReply<Value: Sendable>: Sendable {
    /// The registry's answer.
    public var value: Value
    /// Registry calls actually made for this answer, retries included (the verdict's `attempts`).
    public var attempts: Int

    public init(value: Value, attempts: Int) {
        self.value = value
        self.attempts = attempts
    }
}

extension RegistryReply: Equatable where Value: Equatable {}
extension RegistryReply: Hashable where Value: Hashable {}
