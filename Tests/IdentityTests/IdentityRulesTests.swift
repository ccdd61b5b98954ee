import Foundation
import Testing

@testable import Identity

@Suite("Identity rules")
struct IdentityRulesTests {
    /// 2026-11-29T09:15:00+07:00.
    static let now = Date(timeIntervalSince1970: 1_795_918_500)

    func check(
        _ fullName: String? = "Nguyễn Thị Thuỷ",
        idNumber: String? = "030190012345",
        dateOfBirth: String? = "1990-04-12",
        policy: IdentityPolicy = IdentityPolicy(),
        now: Date = IdentityRulesTests.now
    ) -> SubjectCheck {
        IdentityRules(policy: policy).checkSubject(fullName: fullName, idNumber: idNumber, dateOfBirth: dateOfBirth, now: now)
    }

    func codes(_ check: SubjectCheck) -> [String] {
        check.reasons.map { "\($0.field):\($0.code.rawValue)" }
    }

    @Test("a good subject passes, normalised")
    func good() {
        let result = self.check("  Nguyễn   Thị Thuỷ ", idNumber: "030 190 012 345", dateOfBirth: "1990-04")
        #expect(result.reasons.isEmpty)
        #expect(result.warnings.isEmpty)
        #expect(result.fullName == "Nguyễn Thị Thuỷ")
        #expect(result.idNumber == "030190012345")
        #expect(result.dateOfBirth == PartialDate(year: 1990, month: 4, day: nil))
    }

    @Test("each identity reason code, with its path")
    func everyCode() {
        #expect(self.codes(self.check(idNumber: "03019001234")) == ["subject.idNumber:invalid_format"])
        #expect(self.codes(self.check(idNumber: "111111111")) == ["subject.idNumber:invalid_format"])
        #expect(self.codes(self.check(idNumber: "003190012345")) == ["subject.idNumber:unknown_region_code"])
        #expect(self.codes(self.check(idNumber: "030190000000")) == ["subject.idNumber:invalid_serial"])
        #expect(self.codes(self.check(idNumber: "030185012345")) == ["subject.idNumber:birth_year_mismatch"])
        #expect(self.codes(self.check("Thuỷ")) == ["subject.fullName:single_word"])
        #expect(self.codes(self.check("T")) == ["subject.fullName:invalid_length", "subject.fullName:single_word"])
        #expect(self.codes(self.check("Nguyễn Thị 7")) == ["subject.fullName:invalid_characters"])
        #expect(self.codes(self.check(dateOfBirth: "1990-02-30")) == ["subject.dateOfBirth:invalid_date"])
        #expect(self.codes(self.check(dateOfBirth: "12/04/1990")) == ["subject.dateOfBirth:invalid_date"])
        #expect(self.codes(self.check(idNumber: "030099012345", dateOfBirth: "1999-02-29")) == ["subject.dateOfBirth:invalid_date"])
        // 1899 cannot be encoded (the century digit starts at 1900), so the number disagrees too.
        #expect(self.codes(self.check(idNumber: "030099012345", dateOfBirth: "1899")) == ["subject.idNumber:birth_year_mismatch", "subject.dateOfBirth:out_of_range"])
        #expect(self.codes(self.check(idNumber: "030227012345", dateOfBirth: "2027")) == ["subject.dateOfBirth:out_of_range"])
    }

    @Test("all reasons are reported together, in field order")
    func allTogether() {
        let result = self.check("X", idNumber: "999185000000", dateOfBirth: "1990-13-01")
        #expect(
            self.codes(result) == [
                "subject.fullName:invalid_length", "subject.fullName:single_word", "subject.idNumber:unknown_region_code",
                "subject.idNumber:invalid_serial", "subject.dateOfBirth:invalid_date",
            ]
        )
        #expect(result.idNumber == "999185000000")  // still masked and ref'd in the verdict
        let mismatch = self.check("X", idNumber: "999185000000", dateOfBirth: "1990")
        #expect(self.codes(mismatch).contains("subject.idNumber:birth_year_mismatch"))
    }

    @Test("missing fields skip their rules (the contract layer reports them)")
    func missing() {
        let result = self.check(nil, idNumber: nil, dateOfBirth: nil)
        #expect(result.reasons.isEmpty)
        #expect(result.fullName == nil && result.idNumber == nil && result.dateOfBirth == nil)
        // Without a date there is no birth-year check.
        #expect(self.check(idNumber: "030185012345", dateOfBirth: nil).reasons.isEmpty)
    }

    @Test("policy: single-word names allowed")
    func singleWordPolicy() {
        #expect(self.check("Thuỷ", policy: IdentityPolicy(allowSingleWordNames: true)).reasons.isEmpty)
    }

    @Test("policy: birth-year mismatch as a warning")
    func birthYearWarning() {
        let result = self.check(idNumber: "030185012345", policy: IdentityPolicy(birthYearMismatchIsWarning: true))
        #expect(result.reasons.isEmpty)
        #expect(result.warnings == [ValidationReason(field: "subject.idNumber", code: .birthYearMismatch)])
    }

    @Test("not in the future, judged on the Vietnamese calendar day of the injected now")
    func future() {
        // 2026-11-29T18:00:00Z is 2026-11-30 01:00 in Hanoi.
        let evening = Date(timeIntervalSince1970: 1_795_975_200)
        #expect(self.check(idNumber: "030226012345", dateOfBirth: "2026-11-30", now: evening).reasons.isEmpty)
        #expect(self.codes(self.check(idNumber: "030226012345", dateOfBirth: "2026-12-01", now: evening)) == ["subject.dateOfBirth:out_of_range"])
        let utc = IdentityPolicy(calendarUTCOffsetSeconds: 0)
        #expect(self.codes(self.check(idNumber: "030226012345", dateOfBirth: "2026-11-30", policy: utc, now: evening)) == ["subject.dateOfBirth:out_of_range"])
        #expect(self.check(idNumber: "030226012345", dateOfBirth: "2026", now: evening).reasons.isEmpty)
        #expect(self.check(idNumber: "030000012345", dateOfBirth: "1900").reasons.isEmpty)
    }

    @Test("descriptions carry paths and codes, never values")
    func noPersonalData() {
        let result = self.check("Nguyễn Thị 7", idNumber: "030185012345", dateOfBirth: "1990-04-12")
        #expect(!result.description.contains("Nguyễn"))
        #expect(!result.description.contains("030185012345"))
        #expect(!result.description.contains("1990"))
        #expect(result.description.contains("subject.fullName: invalid_characters"))
    }

    @Test("reason codes are the contract's strings")
    func codeStrings() {
        let all: [ReasonCode] = [
            .missing, .invalidType, .invalidFormat, .invalidValue, .invalidLength, .unknownRegionCode, .invalidSerial,
            .birthYearMismatch, .singleWord, .invalidCharacters, .invalidDate, .outOfRange, .registryRejected,
        ]
        #expect(
            all.map(\.rawValue) == [
                "missing", "invalid_type", "invalid_format", "invalid_value", "invalid_length", "unknown_region_code",
                "invalid_serial", "birth_year_mismatch", "single_word", "invalid_characters", "invalid_date", "out_of_range",
                "registry_rejected",
            ]
        )
        #expect(ReasonCode(rawValue: "something_new").rawValue == "something_new")
    }
}
