import Crypto
import Foundation
import PropertyBased
import Testing

@testable import Identity

@Suite("Id numbers")
struct IDNumberTests {
    @Test(
        "front-end spellings normalise to the digits",
        arguments: [
            ("030190012345", "030190012345"), (" 030190012345 ", "030190012345"), ("030 190 012 345", "030190012345"),
            ("030.190.012.345", "030190012345"), ("030-190-012-345", "030190012345"), ("030 - 190 - 012 - 345", "030190012345"),
            ("０３０１９００１２３４５", "030190012345"), ("０３０ １９０ ０１２ ３４５", "030190012345"), ("０３０．１９０．０１２．３４５", "030190012345"),
            ("123456789", "123456789"), ("123 456 789", "123456789"), ("123.456.789", "123456789"), ("\t123-456-789\n", "123456789"),
            ("030\u{00A0}190\u{00A0}012\u{00A0}345", "030190012345"), ("03０1９0０1２3４5", "030190012345"),
        ]
    )
    func normalises(_ raw: String, _ digits: String) {
        #expect(IDNumber.normalize(raw) == digits)
    }

    @Test(
        "anything else is refused",
        arguments: [
            "", "03019001234", "0301900123456", "12345678", "1234567890", "030190012345a", "O30190012345", "0301 9001 2345",
            "030190 012345", "030..190.012.345", "030.-190.012.345", "-030190012345", "030190012345-", "030 190 012 34 5",
            "+84 030190012345", "030_190_012_345", "٠٣٠١٩٠٠١٢٣٤٥", "030/190/012/345", "123 456 78 9",
        ]
    )
    func refuses(_ raw: String) {
        #expect(IDNumber.normalize(raw) == nil)
    }

    @Test("masking shows 3+3 of twelve digits and the last 3 of nine")
    func masking() {
        #expect(IDNumber.masked("030190012345") == "030******345")
        #expect(IDNumber.masked("123456789") == "******789")
        #expect(IDNumber.masked("12345678") == nil)
        #expect(IDNumber.masked("03019001234a") == nil)
        #expect(IDNumber.masked("０３０１９００１２３４５") == nil)
    }

    @Test("12-digit rules: region, serial, birth year")
    func twelveDigitRules() {
        let dob = PartialDate(year: 1990, month: 4, day: 12)
        #expect(IDNumber.ruleViolations("030190012345", dateOfBirth: dob).isEmpty)
        #expect(IDNumber.ruleViolations("030190012345", dateOfBirth: nil).isEmpty)
        #expect(IDNumber.ruleViolations("003190012345", dateOfBirth: dob) == [.unknownRegionCode])
        #expect(IDNumber.ruleViolations("000190012345", dateOfBirth: dob) == [.unknownRegionCode])
        #expect(IDNumber.ruleViolations("100190012345", dateOfBirth: dob) == [.unknownRegionCode])
        #expect(IDNumber.ruleViolations("101190012345", dateOfBirth: dob).isEmpty)
        #expect(IDNumber.ruleViolations("295190012345", dateOfBirth: dob).isEmpty)
        #expect(IDNumber.ruleViolations("296190012345", dateOfBirth: dob) == [.unknownRegionCode])
        #expect(IDNumber.ruleViolations("030190000000", dateOfBirth: dob) == [.invalidSerial])
        #expect(IDNumber.ruleViolations("030191012345", dateOfBirth: dob) == [.birthYearMismatch])
        #expect(IDNumber.ruleViolations("030290012345", dateOfBirth: dob) == [.birthYearMismatch])  // 2090
        #expect(IDNumber.ruleViolations("999291000000", dateOfBirth: dob) == [.unknownRegionCode, .invalidSerial, .birthYearMismatch])
        #expect(IDNumber.ruleViolations("079305000001", dateOfBirth: PartialDate(year: 2005, month: nil, day: nil)).isEmpty)
    }

    @Test("the century digit encodes 1900 to 2399", arguments: [(0, 1900), (1, 1900), (2, 2000), (3, 2000), (4, 2100), (5, 2100), (6, 2200), (7, 2200), (8, 2300), (9, 2300)])
    func centuries(_ digit: Int, _ century: Int) {
        #expect(IDNumber.encodedBirthYear("001\(digit)07123456") == century + 7)
    }

    @Test("9-digit CMND: not all the same digit")
    func nineDigitRules() {
        #expect(IDNumber.ruleViolations("123456789", dateOfBirth: nil).isEmpty)
        #expect(IDNumber.ruleViolations("000000000", dateOfBirth: nil) == [.invalidFormat])
        #expect(IDNumber.ruleViolations("777777777", dateOfBirth: nil) == [.invalidFormat])
        #expect(IDNumber.ruleViolations("777777778", dateOfBirth: PartialDate(year: 1950, month: nil, day: nil)).isEmpty)
    }

    @Test("property: grouped, dotted, dashed and full-width spellings normalise to the digits")
    func spellings() async {
        await propertyCheck(count: 300, input: Gen.number.array(of: 12), Gen.bool, Gen.int(in: 0...3)) { digits, nine, separatorKind in
            let plain = String(nine ? Array(digits.prefix(9)) : digits)
            let fullWidth = String(plain.map { Character(Unicode.Scalar(0xFF10 + UInt32(String($0))!)!) })
            let separator = [" ", ".", "-", " - "][separatorKind]
            let grouped = stride(from: 0, to: plain.count, by: 3).map { start in
                String(Array(plain)[start..<(start + 3)])
            }.joined(separator: separator)
            #expect(IDNumber.normalize(plain) == plain)
            #expect(IDNumber.normalize(fullWidth) == plain)
            #expect(IDNumber.normalize(grouped) == plain)
            #expect(IDNumber.normalize("  " + grouped + "\t") == plain)
            let masked = IDNumber.masked(plain)!
            #expect(masked.count == plain.count)
            #expect(masked.filter(\.isNumber).count == (nine ? 3 : 6))
        }
    }
}

@Suite("Region codes")
struct RegionCodesTests {
    @Test("all 63 provinces of Circular 07/2016")
    func provinces() {
        #expect(RegionCodes.provinces.count == 63)
        #expect(RegionCodes.provinces["001"] == "Hà Nội")
        #expect(RegionCodes.provinces["079"] == "Hồ Chí Minh")
        #expect(RegionCodes.provinces["096"] == "Cà Mau")
        #expect(RegionCodes.provinces["003"] == nil)
        #expect(RegionCodes.provinces.keys.allSatisfy { $0.count == 3 && RegionCodes.isKnown($0) })
    }

    @Test("country codes 101 to 295")
    func countries() {
        #expect(RegionCodes.isKnown("101"))
        #expect(RegionCodes.isKnown("200"))
        #expect(RegionCodes.isKnown("295"))
        #expect(!RegionCodes.isKnown("100"))
        #expect(!RegionCodes.isKnown("296"))
        #expect(!RegionCodes.isKnown("097"))
        #expect(!RegionCodes.isKnown("1"))
        #expect(!RegionCodes.isKnown("0010"))
        #expect(!RegionCodes.isKnown("０01"))
        #expect(!RegionCodes.isKnown("abc"))
    }
}

@Suite("Subject refs")
struct SubjectRefKeyTests {
    let key = SubjectRefKey(keyBytes: Array("test-subject-key-0123456789abcdef".utf8))

    @Test("base64url HMAC-SHA256 without padding, as Python's hmac computes it")
    func knownValues() {
        #expect(self.key.ref(for: "030190012345") == "806XRJQIZ03zPwT4FYIjJESWAKIAuFEn43qoNt9AUtg")
        #expect(self.key.ref(for: "123456789") == "76gwAtymKlnbr062Wdz-sEUlNhXdhqycE34tuxVpJ3g")
    }

    @Test("the once-keyed HMAC shared by concurrent callers gives each the one-shot HMAC of its own number, again and again")
    func sharedKeyedHMAC() async {
        let numbers = (0..<64).map { String(format: "0301900%05d", $0) }
        let expected = numbers.map { number in
            let mac = HMAC<SHA256>.authenticationCode(
                for: Array(number.utf8), using: SymmetricKey(data: Array("test-subject-key-0123456789abcdef".utf8)))
            return Base64URL.encode(Array(mac))
        }
        let key = self.key
        let mismatches = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var wrong = 0
                    for (index, number) in numbers.enumerated().shuffled() where key.ref(for: number) != expected[index] {
                        wrong += 1
                    }
                    return wrong
                }
            }
            return await group.reduce(0, +)
        }
        #expect(mismatches == 0)
        // The first value again: no state left over from earlier codes.
        #expect(self.key.ref(for: "030190012345") == "806XRJQIZ03zPwT4FYIjJESWAKIAuFEn43qoNt9AUtg")
    }

    @Test("another key gives another ref; the description hides the key")
    func keyMatters() {
        let other = SubjectRefKey(keyBytes: Array("another-key".utf8))
        #expect(other.ref(for: "030190012345") != self.key.ref(for: "030190012345"))
        #expect(!self.key.description.contains("test-subject"))
    }

    @Test("base64url encoding of every length")
    func base64url() {
        #expect(Base64URL.encode([]) == "")
        #expect(Base64URL.encode([0xFB]) == "-w")
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
        #expect(Base64URL.encode([0xFB, 0xFF, 0xBF]) == "-_-_")
        #expect(Base64URL.encode(Array("hello".utf8)) == "aGVsbG8")
    }
}
