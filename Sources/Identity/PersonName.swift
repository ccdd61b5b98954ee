import Foundation

/// Full names as entered (Vietnamese with diacritics) and as the registry compares them.
///
/// Names are personal data: never log what goes in or comes out.
public enum PersonName {
    /// The normalised form the registry is sent: Unicode NFC, trimmed, inner white space
    /// (any Unicode `White_Space`, tabs and no-break spaces included) collapsed to one space.
    public static func normalize(_ raw: String) -> String {
        let nfc: String
        if isSimplyNFC(raw) {
            nfc = raw
        } else if let composed = VietnameseComposition.compose(raw) {
            nfc = composed
        } else {
            nfc = raw.precomposedStringWithCanonicalMapping
        }
        return collapsingWhiteSpace(nfc)
    }

    /// The key names are matched by: ``normalize(_:)``, then case folding, then each tone mark
    /// moved to one canonical vowel of its syllable, so "Hoà" and "Hòa", "Thuỷ" and "Thủy",
    /// "Khoẻ" and "Khỏe" give the same key. Other diacritics count: "Đức" and "Duc" differ.
    ///
    /// The key is NFC and places tones by the "new" rule (`hoà`, `thuỷ`, `khoẻ`, `quả`,
    /// `nguyễn`); what matters is only that both spellings give one key.
    public static func comparisonKey(_ raw: String) -> String {
        let folded = normalize(raw).lowercased()
        let decomposed = folded.decomposedStringWithCanonicalMapping
        var output = String.UnicodeScalarView()
        var syllable: [Letter] = []

        func flushSyllable() {
            placeTones(in: &syllable)
            for letter in syllable {
                output.append(letter.base)
                output.append(contentsOf: letter.marks)
                output.append(contentsOf: letter.tones)
            }
            syllable.removeAll(keepingCapacity: true)
        }

        for scalar in decomposed.unicodeScalars {
            if isCombiningMark(scalar) {
                if syllable.isEmpty {
                    output.append(scalar)  // a mark with no letter before it stays where it is
                } else if toneMarks.contains(scalar.value) {
                    syllable[syllable.count - 1].tones.append(scalar)
                } else {
                    syllable[syllable.count - 1].marks.append(scalar)
                }
            } else if scalar.properties.isAlphabetic {
                syllable.append(Letter(base: scalar))
            } else {
                flushSyllable()
                output.append(scalar)
            }
        }
        flushSyllable()
        return String(output).precomposedStringWithCanonicalMapping
    }

    /// The name rules for an already normalised name, as reason codes: 2 to 100 characters
    /// (`invalid_length`), at least two words unless `allowSingleWord` (`single_word`, also for
    /// an empty name), only
    /// Latin letters with their diacritics, spaces, apostrophes and hyphens (`invalid_characters`).
    ///
    /// A character is a letter with its combining marks, so NFC and NFD spellings count alike.
    public static func ruleViolations(normalized name: String, allowSingleWord: Bool = false) -> [ReasonCode] {
        var length = 0
        var words = name.isEmpty ? 0 : 1
        var invalidCharacters = false
        var previousIsLetter = false
        for scalar in name.unicodeScalars {
            let value = scalar.value
            if value == 0x20 {
                words += 1
                length += 1
                previousIsLetter = false
            } else if isLatinLetter(value) {
                length += 1
                previousIsLetter = true
            } else if (0x0300...0x036F).contains(value) {
                // A combining mark left over after NFC belongs to the letter before it.
                if !previousIsLetter { invalidCharacters = true }
            } else if value == 0x27 || value == 0x2019 || value == 0x02BC || value == 0x2D || value == 0x2010 {
                length += 1
                previousIsLetter = false
            } else {
                length += 1
                invalidCharacters = true
                previousIsLetter = false
            }
        }
        var reasons: [ReasonCode] = []
        if length < 2 || length > 100 { reasons.append(.invalidLength) }
        if words < 2 && !allowSingleWord { reasons.append(.singleWord) }  // an empty name has no word at all
        if invalidCharacters { reasons.append(.invalidCharacters) }
        return reasons
    }

    // MARK: Normalisation

    /// Whether the string is certainly NFC without asking Foundation: every scalar is below the
    /// combining marks (U+0300) or a precomposed letter of Latin Extended Additional
    /// (U+1E00–U+1EFF). No such scalar has a canonical decomposition that NFC would undo, and
    /// without combining marks nothing can compose.
    static func isSimplyNFC(_ text: String) -> Bool {
        text.withUTF8Bytes { bytes in
            var index = 0
            let count = bytes.count
            while index < count {
                let byte = bytes[index]
                if byte < 0x80 {
                    index += 1
                } else if byte < 0xCC {
                    // Two-byte sequences C2..CB encode U+0080...U+02FF.
                    index += 2
                } else if byte == 0xE1 && index + 1 < count && (bytes[index + 1] == 0xB8 || bytes[index + 1] == 0xB9
                    || bytes[index + 1] == 0xBA || bytes[index + 1] == 0xBB)
                {
                    // E1 B8 80 ... E1 BB BF encode U+1E00...U+1EFF.
                    index += 3
                } else {
                    return false
                }
            }
            return true
        }
    }

    /// Trims and collapses white space; returns `text` itself when nothing changes.
    static func collapsingWhiteSpace(_ text: String) -> String {
        let needsWork = text.withUTF8Bytes { bytes -> Bool in
            guard let first = bytes.first, let last = bytes.last else { return false }
            if first == 0x20 || last == 0x20 { return true }
            var previousSpace = false
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                let next = index + 1 < bytes.count ? bytes[index + 1] : 0
                index += 1
                if byte == 0x20 {
                    if previousSpace { return true }
                    previousSpace = true
                    continue
                }
                previousSpace = false
                switch byte {
                case 0x09...0x0D: return true  // tab, line feed, vertical tab, form feed, return
                case 0xC2 where next == 0x85 || next == 0xA0: return true  // U+0085, U+00A0
                case 0xE1 where next == 0x9A: return true  // U+1680
                case 0xE2 where next == 0x80 || next == 0x81: return true  // U+2000...U+205F
                case 0xE3 where next == 0x80: return true  // U+3000
                default: continue
                }
            }
            return false
        }
        guard needsWork else { return text }
        var output = String.UnicodeScalarView()
        var pendingSpace = false
        for scalar in text.unicodeScalars {
            if UnicodeHelpers.isWhiteSpace(scalar.value) {
                pendingSpace = !output.isEmpty
            } else {
                if pendingSpace {
                    output.append(" ")
                    pendingSpace = false
                }
                output.append(scalar)
            }
        }
        return String(output)
    }

    // MARK: Letters

    /// Latin letters, including every Vietnamese letter in NFC: A–Z, a–z, Latin-1 letters,
    /// Latin Extended-A and -B, and Latin Extended Additional.
    static func isLatinLetter(_ value: UInt32) -> Bool {
        switch value {
        case 0x41...0x5A, 0x61...0x7A: return true
        case 0xC0...0x24F: return value != 0xD7 && value != 0xF7
        case 0x1E00...0x1EFF: return true
        default: return false
        }
    }

    // MARK: Tone placement

    /// The five tone marks (huyền, sắc, ngã, hỏi, nặng) as combining characters.
    static let toneMarks: Set<UInt32> = [0x0300, 0x0301, 0x0303, 0x0309, 0x0323]

    private struct Letter {
        var base: Unicode.Scalar
        var marks: [Unicode.Scalar] = []
        var tones: [Unicode.Scalar] = []

        var isVowel: Bool {
            switch self.base {
            case "a", "e", "i", "o", "u", "y": return true
            default: return false
            }
        }

        /// Circumflex, breve or horn: â ă ê ô ơ ư.
        var hasQualityMark: Bool {
            self.marks.contains { $0.value == 0x0302 || $0.value == 0x0306 || $0.value == 0x031B }
        }
    }

    private static func isCombiningMark(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.canonicalCombiningClass != .notReordered
            || scalar.properties.generalCategory == .nonspacingMark
    }

    /// Collects every tone mark of the syllable and puts them on its canonical vowel.
    private static func placeTones(in syllable: inout [Letter]) {
        guard syllable.contains(where: { !$0.tones.isEmpty }) else { return }
        let tones = syllable.flatMap(\.tones)
        for index in syllable.indices { syllable[index].tones.removeAll() }
        syllable[toneIndex(syllable)].tones = tones
    }

    /// Where the "new" rule puts the tone: on the vowel with a quality mark (the last one, as
    /// in `ươ`); else on the only vowel; else, for two vowels, on the second when a consonant
    /// follows or the pair is `oa`, `oe` or `uy`, otherwise on the first; for three, on the
    /// middle one. The `u` of `qu` and the `i` of `gi` before a vowel are consonants.
    private static func toneIndex(_ syllable: [Letter]) -> Int {
        guard var start = syllable.firstIndex(where: \.isVowel) else { return syllable.count - 1 }
        var end = start
        while end < syllable.count && syllable[end].isVowel { end += 1 }
        if end - start >= 2 && start >= 1 {
            let previous = syllable[start - 1].base
            let first = syllable[start]
            if (previous == "q" && first.base == "u") || (previous == "g" && first.base == "i" && first.marks.isEmpty) {
                start += 1
            }
        }
        if let quality = syllable[start..<end].lastIndex(where: \.hasQualityMark) {
            return quality
        }
        switch end - start {
        case 1:
            return start
        case 2:
            if end < syllable.count { return start + 1 }
            let pair = (syllable[start].base, syllable[start + 1].base)
            switch pair {
            case ("o", "a"), ("o", "e"), ("u", "y"): return start + 1
            default: return start
            }
        default:
            return start + 1
        }
    }
}
