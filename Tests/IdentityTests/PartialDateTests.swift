import Foundation
import PropertyBased
import Testing

@testable import Identity

@Suite("Partial dates of birth")
struct PartialDateTests {
    @Test("year-only, month-only and full dates parse")
    func parses() throws {
        let year = try #require(PartialDate("1985"))
        #expect(year.year == 1985 && year.month == nil && year.day == nil)
        let month = try #require(PartialDate("1985-03"))
        #expect(month.year == 1985 && month.month == 3 && month.day == nil)
        let day = try #require(PartialDate("1985-03-04"))
        #expect(day.year == 1985 && day.month == 3 && day.day == 4)
        #expect(PartialDate("2000-02-29") != nil)
        #expect(PartialDate("2024-02-29") != nil)
    }

    @Test(
        "malformed text or a day that does not exist is refused",
        arguments: [
            "", "85", "198", "19850", "1985-3", "1985-03-4", "1985-13", "1985-00", "1985-02-29", "1900-02-29",
            "1985-04-31", "1985-03-00", "0000", "1985/03/04", "１９８５", " 1985", "1985-03-04T00:00:00Z", "1985-03-04 ",
            "+1985", "-985",
        ]
    )
    func refuses(_ text: String) {
        #expect(PartialDate(text) == nil)
    }

    @Test("description gives back the text")
    func description() {
        #expect(PartialDate("0985-01")?.description == "0985-01")
        #expect(PartialDate(year: 1985, month: 3, day: 4).description == "1985-03-04")
        #expect(PartialDate(year: 1985, month: nil, day: 4).description == "1985")
        #expect(PartialDate(year: 7, month: 12, day: nil).description == "0007-12")
        // Parts outside the text form's widths (never parsed, only built) are still written whole.
        #expect(PartialDate(year: 12345, month: 1, day: 2).description == "12345-01-02")
        #expect(PartialDate(year: 1985, month: 123, day: 2).description == "1985-123-02")
    }

    @Test("property: text round-trips for every real date")
    func roundTrip() async {
        await propertyCheck(count: 500, input: Gen.int(in: 1...9999), Gen.int(in: 0...12), Gen.int(in: 0...31)) { year, month, day in
            let date = PartialDate(year: year, month: month == 0 ? nil : month, day: day == 0 ? nil : day)
            if date.isRealDate {
                #expect(PartialDate(date.description) == date)
            } else {
                #expect(PartialDate(date.description) == nil)
            }
        }
    }

    @Test("Codable uses the text form")
    func codable() throws {
        let data = try JSONEncoder().encode([PartialDate(year: 1985, month: 3, day: nil)])
        #expect(String(decoding: data, as: UTF8.self) == #"["1985-03"]"#)
        #expect(try JSONDecoder().decode([PartialDate].self, from: data) == [PartialDate(year: 1985, month: 3, day: nil)])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([PartialDate].self, from: Data(#"["1985-02-30"]"#.utf8)) }
    }

    @Test("a record held at lower precision matches a request agreeing on what it holds")
    func recordMatching() throws {
        func matches(_ record: String, _ request: String) throws -> Bool {
            try #require(PartialDate(record)).recordMatches(request: try #require(PartialDate(request)))
        }
        #expect(try matches("1985", "1985-03-04"))
        #expect(try matches("1985", "1985-03"))
        #expect(try matches("1985", "1985"))
        #expect(try matches("1985-03", "1985-03-04"))
        #expect(try matches("1985-03", "1985-03"))
        #expect(try matches("1985-03-04", "1985-03-04"))
        #expect(try !matches("1985-03-04", "1985"))
        #expect(try !matches("1985-03-04", "1985-03"))
        #expect(try !matches("1985-03", "1985"))
        #expect(try !matches("1985", "1986-03-04"))
        #expect(try !matches("1985-03", "1985-04-01"))
        #expect(try !matches("1985-03-04", "1985-03-05"))
    }

    @Test("the future is judged at the date's precision")
    func future() {
        let today = PartialDate(year: 2026, month: 11, day: 29)
        #expect(!PartialDate(year: 2026, month: nil, day: nil).isAfter(today))
        #expect(!PartialDate(year: 2026, month: 11, day: nil).isAfter(today))
        #expect(!PartialDate(year: 2026, month: 11, day: 29).isAfter(today))
        #expect(PartialDate(year: 2026, month: 11, day: 30).isAfter(today))
        #expect(PartialDate(year: 2026, month: 12, day: nil).isAfter(today))
        #expect(PartialDate(year: 2027, month: nil, day: nil).isAfter(today))
        #expect(!PartialDate(year: 1999, month: 12, day: 31).isAfter(today))
    }

    @Test("calendar days come from the epoch correctly")
    func civilDays() {
        #expect(PartialDate.day(secondsSince1970: 0, utcOffsetSeconds: 0) == PartialDate(year: 1970, month: 1, day: 1))
        #expect(PartialDate.day(secondsSince1970: -1, utcOffsetSeconds: 0) == PartialDate(year: 1969, month: 12, day: 31))
        // 2026-11-29T18:00:00Z is already 30 November in Hanoi.
        #expect(PartialDate.day(secondsSince1970: 1_795_975_200, utcOffsetSeconds: 25_200) == PartialDate(year: 2026, month: 11, day: 30))
        #expect(PartialDate.day(secondsSince1970: 951_782_400, utcOffsetSeconds: 0) == PartialDate(year: 2000, month: 2, day: 29))
    }
}
