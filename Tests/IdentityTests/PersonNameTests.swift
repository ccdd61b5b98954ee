import Foundation
import PropertyBased
import Testing

@testable import Identity

@Suite("Person names")
struct PersonNameTests {
    @Test("normalize gives NFC, trimmed, inner white space collapsed")
    func normalize() {
        let nfd = "Nguyễn Thị Thuỷ".decomposedStringWithCanonicalMapping
        #expect(nfd.unicodeScalars.count > "Nguyễn Thị Thuỷ".unicodeScalars.count)
        #expect(Array(PersonName.normalize(nfd).unicodeScalars) == Array("Nguyễn Thị Thuỷ".unicodeScalars))
        #expect(PersonName.normalize("  Nguyễn \t Văn\u{00A0}\u{00A0}An\n") == "Nguyễn Văn An")
        #expect(PersonName.normalize("Lê\u{3000}Lợi") == "Lê Lợi")
        #expect(PersonName.normalize("Trần  Hưng   Đạo") == "Trần Hưng Đạo")
        #expect(PersonName.normalize("") == "")
        #expect(PersonName.normalize(" \t ") == "")
        #expect(PersonName.normalize("Ho Chi Minh") == "Ho Chi Minh")
    }

    @Test("the fast NFC check agrees with Foundation on every scalar it lets through")
    func fastNFCAgreesWithFoundation() {
        var ranges: [ClosedRange<UInt32>] = [0x20...0x2FF, 0x1E00...0x1EFF]
        ranges.append(0x300...0x36F)  // must be refused
        for range in ranges {
            for value in range {
                guard let scalar = Unicode.Scalar(value) else { continue }
                let text = "a" + String(Character(scalar)) + "b"
                if PersonName.isSimplyNFC(text) {
                    #expect(Array(text.precomposedStringWithCanonicalMapping.unicodeScalars) == Array(text.unicodeScalars), "U+\(String(value, radix: 16))")
                }
            }
        }
        #expect(!PersonName.isSimplyNFC("e\u{0302}"))
        #expect(!PersonName.isSimplyNFC("\u{212B}"))  // Angstrom sign, a singleton decomposition
        #expect(PersonName.isSimplyNFC("Nguyễn Thị Thuỷ Đức"))
    }

    @Test("property: the fast composition of decomposed Vietnamese agrees with Foundation's NFC")
    func fastCompositionAgrees() async {
        let alphabet: [Unicode.Scalar] = Array("aeiouyAEIOUYdđĐnghtrqxâêôơưăáàảãạ '-".unicodeScalars)
            + [0x0300, 0x0301, 0x0302, 0x0303, 0x0306, 0x0309, 0x031B, 0x0323, 0x0308, 0x0340].map { Unicode.Scalar($0)! }
        await propertyCheck(count: 2000, input: Gen.int(in: 0...(alphabet.count - 1)).array(of: 0...12)) { indices in
            var scalars = String.UnicodeScalarView()
            scalars.append(contentsOf: indices.map { alphabet[$0] })
            let text = String(scalars)
            if let composed = VietnameseComposition.compose(text) {
                #expect(Array(composed.unicodeScalars) == Array(text.precomposedStringWithCanonicalMapping.unicodeScalars), "\(text.unicodeScalars.map { String($0.value, radix: 16) })")
            }
        }
    }

    @Test("decomposed Vietnamese names take the fast composition")
    func fastCompositionCovers() {
        for name in ["Nguyễn Thị Thuỷ", "Trần Văn Hoà", "Phạm Đức Anh", "Lê Thị Khoẻ", "Huỳnh Ngọc Phượng", "Đặng Quốc Việt", "ƯỚC ỨNG"] {
            let nfd = name.decomposedStringWithCanonicalMapping
            #expect(VietnameseComposition.compose(nfd) == name)
            // Marks in non-canonical order (tone before quality mark) too.
            let swapped = String(String.UnicodeScalarView(nfd.unicodeScalars.reduce(into: [Unicode.Scalar]()) { result, scalar in
                if let last = result.last, [0x0302, 0x0306, 0x031B].contains(scalar.value), [0x0300, 0x0301, 0x0303, 0x0309].contains(last.value) {
                    result.insert(scalar, at: result.count - 1)
                } else {
                    result.append(scalar)
                }
            }))
            #expect(PersonName.normalize(swapped) == swapped.precomposedStringWithCanonicalMapping)
        }
    }

    @Test(
        "old and new tone-mark styles give one comparison key",
        arguments: [
            ("Hoà", "Hòa"), ("Thuỷ", "Thủy"), ("Khoẻ", "Khỏe"), ("Hoá", "Hóa"), ("Thuý", "Thúy"),
            ("Xoè", "Xòe"), ("Tuỳ", "Tùy"), ("Hoạ", "Họa"), ("Loã", "Lõa"), ("Nguyễn Thị Thuỷ", "Nguyễn Thị Thủy"),
            ("Lê Thị Hoà", "Lê Thị Hòa"), ("Quý", "Qúy"), ("Quỳnh", "Qùynh"), ("Khuỷu", "Khủyu"), ("Ngoài", "Ngòai"),
            ("Giữa", "GIỮA"), ("Quả", "QUẢ"),
        ]
    )
    func toneStyles(_ new: String, _ old: String) {
        #expect(PersonName.comparisonKey(new) == PersonName.comparisonKey(old))
    }

    @Test("case, NFC/NFD and spacing do not change the key")
    func caseAndForm() {
        let key = PersonName.comparisonKey("Nguyễn Thị Thuỷ")
        #expect(PersonName.comparisonKey("NGUYỄN THỊ THỦY") == key)
        #expect(PersonName.comparisonKey("nguyễn thị thuỷ") == key)
        #expect(PersonName.comparisonKey("  nGuYễN\tThị   THUỶ ") == key)
        #expect(PersonName.comparisonKey("Nguyễn Thị Thủy".decomposedStringWithCanonicalMapping) == key)
        #expect(PersonName.comparisonKey("NGUYỄN THỊ THUỶ".decomposedStringWithCanonicalMapping) == key)
        #expect(key == "nguyễn thị thuỷ")
    }

    @Test("other diacritics count", arguments: [("Đức", "Duc"), ("Đức", "Dức"), ("Đức", "Đuc"), ("Lê", "Le"), ("Lê", "Lế"), ("Hoà", "Hoa"), ("Ân", "Ấn"), ("Ơn", "On"), ("Hưng", "Hung"), ("Trăm", "Trâm")])
    func diacriticsCount(_ left: String, _ right: String) {
        #expect(PersonName.comparisonKey(left) != PersonName.comparisonKey(right))
    }

    @Test("the key is stable: taking it twice changes nothing")
    func keyIsIdempotent() async {
        await propertyCheck(input: NameGen.name) { name in
            let key = PersonName.comparisonKey(name.canonical)
            #expect(PersonName.comparisonKey(key) == key)
        }
    }

    @Test("property: any spelling of a name (tone style, case, NFD, spacing) gives the canonical key")
    func spellingsAgree() async {
        await propertyCheck(count: 300, input: NameGen.name) { name in
            #expect(PersonName.comparisonKey(name.spelled) == PersonName.comparisonKey(name.canonical), "\(name)")
        }
    }

    @Test("name rules report each broken rule")
    func rules() {
        #expect(PersonName.ruleViolations(normalized: "Nguyễn Văn An").isEmpty)
        #expect(PersonName.ruleViolations(normalized: "Ksor H'Bia").isEmpty)
        #expect(PersonName.ruleViolations(normalized: "H’Hen Niê").isEmpty)
        #expect(PersonName.ruleViolations(normalized: "Nguyễn-Trần Bảo Anh").isEmpty)
        #expect(PersonName.ruleViolations(normalized: "Jean-Pierre Müller").isEmpty)
        #expect(PersonName.ruleViolations(normalized: "Nguyễn") == [.singleWord])
        #expect(PersonName.ruleViolations(normalized: "Nguyễn", allowSingleWord: true).isEmpty)
        #expect(PersonName.ruleViolations(normalized: "A") == [.invalidLength, .singleWord])
        #expect(PersonName.ruleViolations(normalized: "") == [.invalidLength, .singleWord])
        #expect(PersonName.ruleViolations(normalized: "", allowSingleWord: true) == [.invalidLength])
        #expect(PersonName.ruleViolations(normalized: "Lê An").isEmpty)
        let long = Array(repeating: "Nguyễn", count: 15).joined(separator: " ")  // 104 characters
        #expect(PersonName.ruleViolations(normalized: long) == [.invalidLength])
        let hundred = String(repeating: "a", count: 49) + " " + String(repeating: "b", count: 50)
        #expect(PersonName.ruleViolations(normalized: hundred).isEmpty)
        #expect(PersonName.ruleViolations(normalized: "Nguyễn Văn 3") == [.invalidCharacters])
        #expect(PersonName.ruleViolations(normalized: "Nguyễn Văn An 😀") == [.invalidCharacters])
        #expect(PersonName.ruleViolations(normalized: "<b>Nguyễn</b> An") == [.invalidCharacters])
        #expect(PersonName.ruleViolations(normalized: "Nguyễn\u{0007} An") == [.invalidCharacters])
        #expect(PersonName.ruleViolations(normalized: "Nguyễn\u{200B}Văn An") == [.invalidCharacters])
        #expect(PersonName.ruleViolations(normalized: "Иван Петров") == [.invalidCharacters])
        #expect(PersonName.ruleViolations(normalized: "\u{0301}An Bình") == [.invalidCharacters])
    }

    @Test("a character is a letter with its marks: NFD spelling counts like NFC")
    func lengthCountsLetters() {
        let nfdName = "x\u{0302}\u{0301} Yên"  // x with circumflex and acute, no precomposed form
        #expect(PersonName.ruleViolations(normalized: PersonName.normalize(nfdName)).isEmpty)
    }
}

/// A name, its canonical spelling (new tone style, title case, NFC, single spaces) and one
/// random other spelling of it.
struct SpelledName: Sendable, CustomStringConvertible {
    var canonical: String
    var spelled: String
    var description: String { "\(self.canonical) spelled as \(self.spelled.debugDescription)" }
}

enum NameGen {
    /// Syllables with the new-style and old-style placement of their tone.
    static let syllables: [(new: String, old: String)] = [
        ("Hoà", "Hòa"), ("Thuỷ", "Thủy"), ("Khoẻ", "Khỏe"), ("Hoá", "Hóa"), ("Thuý", "Thúy"), ("Tuỳ", "Tùy"),
        ("Loã", "Lõa"), ("Hoạ", "Họa"), ("Nguyễn", "Nguyễn"), ("Thị", "Thị"), ("Văn", "Văn"), ("Đức", "Đức"),
        ("Trường", "Trường"), ("Quý", "Qúy"), ("Ngọc", "Ngọc"), ("Thuỳ", "Thùy"), ("Xuân", "Xuân"), ("Hương", "Hương"),
        ("Toàn", "Toàn"), ("Khuê", "Khuê"), ("Nguyệt", "Nguyệt"), ("Phượng", "Phượng"), ("Huỳnh", "Huỳnh"), ("Đặng", "Đặng"),
    ]

    static var name: Generator<SpelledName, some SendableSequenceType> {
        zip(
        Gen.int(in: 0...(syllables.count - 1)).array(of: 2...4),
        Gen.bool.array(of: 4),
        Gen.int(in: 0...3),
        Gen.int(in: 0...3)
    ).map { indices, oldStyle, caseStyle, spacing in
        let chosen = indices.map { syllables[$0] }
        let canonical = chosen.map(\.new).joined(separator: " ")
        var words = chosen.enumerated().map { index, syllable in oldStyle[index % 4] ? syllable.old : syllable.new }
        words = words.map { word in
            switch caseStyle {
            case 0: return word.uppercased()
            case 1: return word.lowercased()
            case 2: return word.decomposedStringWithCanonicalMapping
            default: return word
            }
        }
        let separator = [" ", "  ", "\t", " \u{00A0}"][spacing]
        let spelled = (spacing == 3 ? " " : "") + words.joined(separator: separator) + (spacing >= 2 ? "\n" : "")
        return SpelledName(canonical: canonical, spelled: spelled)
        }
    }
}
