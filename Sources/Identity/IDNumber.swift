/// Personal identification numbers: the 12-digit CCCD and the 9-digit CMND.
///
/// Every function here takes or returns personal data: never log what goes in or comes out,
/// except ``masked(_:)``.
public enum IDNumber {
    /// Normalises what a front end let through: surrounding white space is trimmed, full-width
    /// digits (`０`–`９`) become ASCII digits, and separators between groups of three digits
    /// (spaces, dots, dashes, also in their full-width forms) are removed.
    ///
    /// Returns `nil` if anything else remains, if separated groups are not all three digits
    /// long, or if the length is not 9 or 12 digits.
    public static func normalize(_ raw: String) -> String? {
        raw.withUTF8Bytes { bytes -> String? in
            // Fast path: already nine or twelve ASCII digits.
            if (bytes.count == 12 || bytes.count == 9) && bytes.allSatisfy(isASCIIDigit) {
                return raw
            }
            guard let digits = normalizedDigits(raw) else { return nil }
            return String(decoding: digits, as: UTF8.self)
        }
    }

    /// The masked form shown in verdicts: 12 digits keep the first and last three
    /// (`030******345`), 9 digits keep the last three (`******789`).
    /// Returns `nil` unless `digits` is 9 or 12 ASCII digits.
    public static func masked(_ digits: String) -> String? {
        digits.withUTF8Bytes { bytes -> String? in
            guard bytes.allSatisfy(isASCIIDigit) else { return nil }
            // Written in place (once per verdict): the three pieces cost three strings and two appends.
            let hidden: Range<Int>
            switch bytes.count {
            case 12: hidden = 3..<9
            case 9: hidden = 0..<6
            default: return nil
            }
            return String(unsafeUninitializedCapacity: bytes.count) { out in
                for index in 0..<bytes.count {
                    out[index] = hidden.contains(index) ? UInt8(ascii: "*") : bytes[bytes.startIndex + index]
                }
                return bytes.count
            }
        }
    }

    /// The identity rules for a normalised number (9 or 12 ASCII digits), as reason codes.
    ///
    /// - 12 digits: region code known (`unknown_region_code`), serial not `000000`
    ///   (`invalid_serial`), and, when `dateOfBirth` is given, century and year digits agreeing
    ///   with its year (`birth_year_mismatch`).
    /// - 9 digits: not all the same digit (`invalid_format`).
    /// - anything else: `invalid_format`.
    public static func ruleViolations(_ digits: String, dateOfBirth: PartialDate?) -> [ReasonCode] {
        digits.withUTF8Bytes { bytes -> [ReasonCode] in
            guard bytes.allSatisfy(isASCIIDigit) else { return [.invalidFormat] }
            switch bytes.count {
            case 9:
                let first = bytes[0]
                return bytes.allSatisfy({ $0 == first }) ? [.invalidFormat] : []
            case 12:
                var reasons: [ReasonCode] = []
                if !RegionCodes.isKnown(value: value(bytes, 0..<3)) {
                    reasons.append(.unknownRegionCode)
                }
                if value(bytes, 6..<12) == 0 {
                    reasons.append(.invalidSerial)
                }
                if let dateOfBirth, birthYear(bytes) != dateOfBirth.year {
                    reasons.append(.birthYearMismatch)
                }
                return reasons
            default:
                return [.invalidFormat]
            }
        }
    }

    /// The birth year a normalised 12-digit number encodes (century digit and two year digits),
    /// or `nil` for anything else.
    public static func encodedBirthYear(_ digits: String) -> Int? {
        digits.withUTF8Bytes { bytes -> Int? in
            guard bytes.count == 12, bytes.allSatisfy(isASCIIDigit) else { return nil }
            return birthYear(bytes)
        }
    }

    // MARK: Internals

    private static func birthYear(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        // G: 0/1 = 1900-1999, 2/3 = 2000-2099, ..., 8/9 = 2300-2399.
        let century = 1900 + value(bytes, 3..<4) / 2 * 100
        return century + value(bytes, 4..<6)
    }

    private static func value(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int {
        var value = 0
        for index in range {
            value = value * 10 + Int(bytes[index] &- UInt8(ascii: "0"))
        }
        return value
    }

    static func isASCIIDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private enum Token {
        case digit(UInt8)
        case space
        case mark  // a dot or a dash
        case other
    }

    private static func classify(_ scalar: Unicode.Scalar) -> Token {
        switch scalar.value {
        case 0x30...0x39: return .digit(UInt8(scalar.value))
        case 0xFF10...0xFF19: return .digit(UInt8(scalar.value - 0xFF10) + UInt8(ascii: "0"))
        case 0x20, 0xA0, 0x3000, 0x2007, 0x202F: return .space
        case 0x2E, 0xFF0E: return .mark  // . and full-width .
        case 0x2D, 0x2010, 0x2011, 0x2012, 0x2013, 0x2212, 0xFF0D: return .mark  // - and its look-alikes
        default: return .other
        }
    }

    /// The slow path of ``normalize(_:)``.
    private static func normalizedDigits(_ raw: String) -> [UInt8]? {
        let scalars = raw.unicodeScalars
        var start = scalars.startIndex
        var end = scalars.endIndex
        while start < end, UnicodeHelpers.isWhiteSpace(scalars[start].value) { start = scalars.index(after: start) }
        while end > start, UnicodeHelpers.isWhiteSpace(scalars[scalars.index(before: end)].value) {
            end = scalars.index(before: end)
        }
        var digits: [UInt8] = []
        digits.reserveCapacity(12)
        var groupLength = 0
        var separated = false
        var inSeparator = false
        var marksInSeparator = 0
        for scalar in scalars[start..<end] {
            switch classify(scalar) {
            case .digit(let digit):
                if inSeparator {
                    // A separator run is white space with at most one dot or dash.
                    guard groupLength == 3, marksInSeparator <= 1 else { return nil }
                    groupLength = 0
                    inSeparator = false
                    marksInSeparator = 0
                }
                guard digits.count < 12 else { return nil }
                digits.append(digit)
                groupLength += 1
            case .space, .mark:
                guard groupLength > 0 else { return nil }  // nothing before the first separator
                if case .mark = classify(scalar) { marksInSeparator += 1 }
                inSeparator = true
                separated = true
            case .other:
                return nil
            }
        }
        guard !inSeparator else { return nil }
        if separated, groupLength != 3 { return nil }
        guard digits.count == 9 || digits.count == 12 else { return nil }
        return digits
    }
}
