import Foundation

/// NFC for the decomposed spelling of Vietnamese without asking Foundation each time: a vowel
/// (a e i o u y, either case) followed by up to two of the eight Vietnamese combining marks
/// (grave, acute, circumflex, tilde, breve, hook above, horn, dot below), the rest of the text
/// being already-NFC Latin. That is how macOS, iOS and older Vietnamese input methods write a
/// name. Anything else returns `nil`, and the caller asks Foundation.
///
/// The table of compositions is computed once, by Foundation itself, so the two always agree.
enum VietnameseComposition {
    /// The marks, in a fixed order (index = position).
    private static let marks: [UInt32] = [0x0300, 0x0301, 0x0302, 0x0303, 0x0306, 0x0309, 0x031B, 0x0323]
    private static let vowels = Array("aeiouyAEIOUY".unicodeScalars)

    @inline(__always)
    private static func markIndex(_ value: UInt32) -> Int? {
        switch value {
        case 0x0300: return 0
        case 0x0301: return 1
        case 0x0302: return 2
        case 0x0303: return 3
        case 0x0306: return 4
        case 0x0309: return 5
        case 0x031B: return 6
        case 0x0323: return 7
        default: return nil
        }
    }

    @inline(__always)
    private static func key(base: UInt32, first: Int, second: Int?) -> UInt32 {
        base << 8 | UInt32(first + 1) << 4 | UInt32((second ?? -1) + 1)
    }

    /// NFC of every vowel with one mark or an ordered pair of marks.
    private static let table: [UInt32: String] = {
        var table: [UInt32: String] = [:]
        for vowel in vowels {
            for first in marks.indices {
                var single = String.UnicodeScalarView()
                single.append(vowel)
                single.append(Unicode.Scalar(marks[first])!)
                table[key(base: vowel.value, first: first, second: nil)] = String(single).precomposedStringWithCanonicalMapping
                for second in marks.indices {
                    var pair = single
                    pair.append(Unicode.Scalar(marks[second])!)
                    table[key(base: vowel.value, first: first, second: second)] = String(pair).precomposedStringWithCanonicalMapping
                }
            }
        }
        return table
    }()

    @inline(__always)
    private static func isVowel(_ value: UInt32) -> Bool {
        switch value {
        case 0x61, 0x65, 0x69, 0x6F, 0x75, 0x79, 0x41, 0x45, 0x49, 0x4F, 0x55, 0x59: return true
        default: return false
        }
    }

    static func compose(_ text: String) -> String? {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        var base: Unicode.Scalar?
        var first: Int?
        var second: Int?

        func flush() -> Bool {
            guard let pending = base else { return true }
            base = nil
            guard let first else {
                output.unicodeScalars.append(pending)
                return true
            }
            guard let composed = table[key(base: pending.value, first: first, second: second)] else { return false }
            output += composed
            return true
        }

        for scalar in text.unicodeScalars {
            let value = scalar.value
            if let mark = markIndex(value) {
                guard base != nil else { return nil }  // a mark after something other than a vowel
                if first == nil {
                    first = mark
                } else if second == nil {
                    second = mark
                } else {
                    return nil  // three marks on one letter
                }
                continue
            }
            guard flush() else { return nil }
            first = nil
            second = nil
            if isVowel(value) {
                base = scalar
            } else if value < 0x0300 || (0x1E00...0x1EFF).contains(value) {
                output.unicodeScalars.append(scalar)
            } else {
                return nil
            }
        }
        guard flush() else { return nil }
        return output
    }
}
