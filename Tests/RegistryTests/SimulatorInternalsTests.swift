import Foundation
import Identity
import Testing

@testable import RegistrySimulator

/// The simulator's shortcuts agree with what they replace.
@Suite struct SimulatorInternalsTests {
    private func parse(_ text: String) -> CitizenQuery? {
        Array(text.utf8).withUnsafeBytes(QueryParser.parse)
    }

    @Test func queryParserReadsWhatJSONSays() {
        #expect(
            self.parse(#"{"idNumber":"030190012345","fullName":"Nguyễn Thị Thuỷ","dateOfBirth":"1990-04-12"}"#)
                == CitizenQuery(idNumber: "030190012345", fullName: "Nguyễn Thị Thuỷ", dateOfBirth: "1990-04-12"))
        // White space, other members of any type, any order, escapes.
        let text = """
             { "extra": {"a": [1, -2.5e3, true, false, null, {"b": "c\\"d"}]}, "dateOfBirth" : "1990",
               "fullName": "Nguy\\u1ec5n \\"A\\" \\\\ \\ud83d\\ude00\\tB", "idNumber": "123456789", "n": 0 }\n
            """
        #expect(self.parse(text) == CitizenQuery(idNumber: "123456789", fullName: "Nguyễn \"A\" \\ 😀\tB", dateOfBirth: "1990"))
    }

    @Test func queryParserRefusesWhatJSONRefuses() {
        for text in [
            "", "[]", "null", #"{"idNumber":"1","fullName":"x"}"#,
            #"{"idNumber":1,"fullName":"x","dateOfBirth":"1990"}"#,
            #"{"idNumber":"1","fullName":"x","dateOfBirth":"1990",}"#,
            #"{"idNumber":"1","fullName":"x","dateOfBirth":"1990"} x"#,
            #"{"idNumber":"1","fullName":"x\u","dateOfBirth":"1990"}"#,
            #"{"idNumber":"1","fullName":"\ud83d","dateOfBirth":"1990"}"#,
            #"{"idNumber":"1","fullName":"x","dateOfBirth":"1990","n":01}"#,
            #"{"idNumber":"1","fullName":"x","dateOfBirth":"1990","n":tru}"#,
            "{\"idNumber\":\"1\",\"fullName\":\"a\nb\",\"dateOfBirth\":\"1990\"}",
            #"{"idNumber":"1" "fullName":"x","dateOfBirth":"1990"}"#,
        ] {
            #expect(self.parse(text) == nil, "accepted \(text)")
        }
        // Invalid UTF-8.
        var bytes = Array(#"{"idNumber":"1","fullName":"x","dateOfBirth":"1990"}"#.utf8)
        bytes[28] = 0xFF  // the "x" of the name
        #expect(bytes.withUnsafeBytes(QueryParser.parse) == nil)
    }

    @Test func cachedNameKeysEqualComputedOnes() {
        let population = SyntheticPopulation(seed: 3, size: 1_000_000)
        for index in stride(from: 0, to: 1_000_000, by: 331) {
            let core = population.core(at: index)
            #expect(core.nameKey == PersonName.comparisonKey(core.fullName))
            #expect(core.nameKey == PersonName.comparisonKey(core.fullNameOtherToneStyle))
        }
    }

    @Test func lookupAnswerIsTheContractsJSON() throws {
        let citizen = SyntheticPopulation(seed: 3, size: 1_000).citizen(at: 7)
        var body = CitizenRecordBody(citizen)
        body.currentAddress = "Số 1 \"Đường\" \\ 2\n\u{1}"
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(body.lookupAnswerJSON.utf8)) as? [String: Any])
        #expect(object["match"] as? Bool == true)
        let record = try #require(object["citizen"] as? [String: Any])
        #expect(record["currentAddress"] as? String == body.currentAddress)
        #expect(record["fullName"] as? String == citizen.fullName)
        #expect(record.keys.sorted() == [
            "currentAddress", "dateOfBirth", "ethnicity", "formerIdNumber", "fullName", "gender", "nationality",
            "permanentAddress", "personalIdNumber", "placeOfOrigin", "religion",
        ])
        #expect(citizen.formerIdNumber != nil || record["formerIdNumber"] is NSNull)
    }
}
