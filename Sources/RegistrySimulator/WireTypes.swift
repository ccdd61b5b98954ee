import Identity

/// The request body of verify and lookup: `{ "idNumber", "fullName", "dateOfBirth" }`.
struct CitizenQuery: Sendable, Hashable {
    var idNumber: String
    var fullName: String
    var dateOfBirth: String
}

/// The lookup record exactly as contract section 5 spells it (`formerIdNumber` is `null`, not absent).
struct CitizenRecordBody: Sendable {
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

extension CitizenRecordBody {
    /// The lookup answer `{"match":true,"citizen":{...}}`, written directly (the simulator's hot path
    /// does without an encoder); same content as encoding ``LookupAnswer``.
    var lookupAnswerJSON: String {
        var json = #"{"match":true,"citizen":{"fullName":"#
        JSONText.appendString(self.fullName, to: &json)
        json += #","dateOfBirth":"#
        JSONText.appendString(self.dateOfBirth, to: &json)
        json += #","gender":"#
        JSONText.appendString(self.gender, to: &json)
        json += #","nationality":"#
        JSONText.appendString(self.nationality, to: &json)
        json += #","ethnicity":"#
        JSONText.appendString(self.ethnicity, to: &json)
        json += #","religion":"#
        JSONText.appendString(self.religion, to: &json)
        json += #","placeOfOrigin":"#
        JSONText.appendString(self.placeOfOrigin, to: &json)
        json += #","permanentAddress":"#
        JSONText.appendString(self.permanentAddress, to: &json)
        json += #","currentAddress":"#
        JSONText.appendString(self.currentAddress, to: &json)
        json += #","personalIdNumber":"#
        JSONText.appendString(self.personalIdNumber, to: &json)
        json += #","formerIdNumber":"#
        if let former = self.formerIdNumber { JSONText.appendString(former, to: &json) } else { json += "null" }
        json += "}}"
        return json
    }
}

/// Minimal JSON writing.
enum JSONText {
    /// Appends `value` as a JSON string literal (quotes, backslashes and control characters escaped).
    static func appendString(_ value: String, to json: inout String) {
        json.append("\"")
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": json += "\\\""
            case "\\": json += "\\\\"
            case "\n": json += "\\n"
            case "\r": json += "\\r"
            case "\t": json += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                json += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: json.unicodeScalars.append(scalar)
            }
        }
        json.append("\"")
    }
}
