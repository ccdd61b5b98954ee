import Identity

/// The request body of verify and lookup: `{ "idNumber", "fullName", "dateOfBirth" }`.
struct CitizenQuery: Decodable, Sendable {
    var idNumber: String
    var fullName: String
    var dateOfBirth: String
}

struct LookupAnswer: Encodable, Sendable {
    var match: Bool
    var citizen: CitizenRecordBody?
}

/// The lookup record exactly as contract section 5 spells it (`formerIdNumber` is `null`, not absent).
struct CitizenRecordBody: Encodable, Sendable {
    var fullName: String
    var dateOfBirth: String
    var gender: String
    var nationality: String
    var ethnicity: String
    var religion: String
    var placeOfOrigin: String
    var permanentAddress: String
    var currentAddress: String
    var personalIdNumber: String
    var formerIdNumber: String?

    init(_ citizen: SimulatedCitizen) {
        self.fullName = citizen.fullName
        self.dateOfBirth = citizen.dateOfBirth.description
        self.gender = citizen.gender.rawValue
        self.nationality = citizen.nationality
        self.ethnicity = citizen.ethnicity
        self.religion = citizen.religion
        self.placeOfOrigin = citizen.placeOfOrigin
        self.permanentAddress = citizen.permanentAddress
        self.currentAddress = citizen.currentAddress
        self.personalIdNumber = citizen.personalIdNumber
        self.formerIdNumber = citizen.formerIdNumber
    }

    private enum CodingKeys: String, CodingKey {
        case fullName, dateOfBirth, gender, nationality, ethnicity, religion
        case placeOfOrigin, permanentAddress, currentAddress, personalIdNumber, formerIdNumber
    }

    func encode(to encoder: any Encoder) throws {
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
        try container.encode(self.formerIdNumber, forKey: .formerIdNumber)
    }
}

/// The validated form of a query: 400 for anything else.
struct ValidQuery: Sendable {
    var idNumber: String
    var fullName: String
    var dateOfBirth: PartialDate

    /// `nil` when the query is malformed: a number that is not 9 or 12 ASCII digits, an empty
    /// name, or a date that is not `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    init?(_ query: CitizenQuery) {
        let count = query.idNumber.utf8.count
        guard count == 9 || count == 12, query.idNumber.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        guard !query.fullName.allSatisfy(\.isWhitespace), query.fullName.utf8.count <= 1_000 else { return nil }
        guard let date = PartialDate(query.dateOfBirth) else { return nil }
        self.idNumber = query.idNumber
        self.fullName = query.fullName
        self.dateOfBirth = date
    }
}
