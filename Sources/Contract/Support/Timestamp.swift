import Foundation
import Identity

/// An RFC 3339 timestamp with an offset (`2026-11-29T09:15:00+07:00`, `...Z`), as it travels:
/// the text is kept exactly as received, and the instant is derived from it.
///
/// Accepted: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, `T` and `Z` in either case, year
/// 0001–9999, a real calendar day, hours 00–23, no leap second (`:60`): the same set as JSON
/// Schema's `date-time` format as checked by python-jsonschema.
///
/// Equal when the text is equal; ordered by instant, then by text.
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The text exactly as received or written.
    public let text: String
    /// The instant the text denotes (sub-microsecond digits are rounded).
    public let date: Date

    /// Parses an RFC 3339 date-time with offset; `nil` when malformed or not a real instant.
    public init?(rfc3339 text: String) {
        guard let seconds = text.withUTF8Bytes(Timestamp.parse) else { return nil }
        self.text = text
        self.date = Date(timeIntervalSince1970: seconds)
    }

    /// Formats `date` in UTC with millisecond precision (`2026-11-29T02:15:00.123Z`), truncating
    /// what is below a millisecond so that the text and the instant agree exactly.
    public init(_ date: Date) {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var days = milliseconds / 86_400_000
        var rest = milliseconds % 86_400_000
        if rest < 0 {
            rest += 86_400_000
            days -= 1
        }
        let civil = Timestamp.civil(fromDays: Int(days))
        let hour = Int(rest / 3_600_000)
        let minute = Int(rest / 60_000 % 60)
        let second = Int(rest / 1000 % 60)
        let millisecond = Int(rest % 1000)
        if (0...9999).contains(civil.year) {
            // Written into one buffer: the concatenated pieces allocated about a dozen strings, once per verdict.
            self.text = String(unsafeUninitializedCapacity: 24) { out in
                var index = 0
                func digits(_ value: Int, _ width: Int, then separator: UInt8) {
                    DecimalDigits.write(value, width: width, into: out, at: index)
                    out[index + width] = separator
                    index += width + 1
                }
                digits(civil.year, 4, then: UInt8(ascii: "-"))
                digits(civil.month, 2, then: UInt8(ascii: "-"))
                digits(civil.day, 2, then: UInt8(ascii: "T"))
                digits(hour, 2, then: UInt8(ascii: ":"))
                digits(minute, 2, then: UInt8(ascii: ":"))
                digits(second, 2, then: UInt8(ascii: "."))
                digits(millisecond, 3, then: UInt8(ascii: "Z"))
                return index
            }
        } else {
            var text = Timestamp.pad(civil.year, 4) + "-" + Timestamp.pad(civil.month, 2) + "-"
            text += Timestamp.pad(civil.day, 2) + "T" + Timestamp.pad(hour, 2) + ":" + Timestamp.pad(minute, 2)
            text += ":" + Timestamp.pad(second, 2) + "." + Timestamp.pad(millisecond, 3) + "Z"
            self.text = text
        }
        self.date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    public var description: String { self.text }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        if lhs.date != rhs.date { return lhs.date < rhs.date }
        return lhs.text < rhs.text
    }

    public static func == (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.text == rhs.text
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.text)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let timestamp = Timestamp(rfc3339: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "Expected an RFC 3339 date-time with offset.")
        }
        self = timestamp
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.text)
    }

    // MARK: Parsing

    /// Seconds since 1970 for a valid RFC 3339 date-time, else `nil`.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        let count = bytes.count
        guard count >= 20 else { return nil }
        func digits(_ start: Int, _ length: Int) -> Int? {
            var value = 0
            for index in start..<(start + length) {
                let byte = bytes[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte &- UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = digits(0, 4), year >= 1, bytes[4] == UInt8(ascii: "-"),
            let month = digits(5, 2), (1...12).contains(month), bytes[7] == UInt8(ascii: "-"),
            let day = digits(8, 2), day >= 1, day <= Timestamp.daysInMonth(year: year, month: month),
            bytes[10] | 0x20 == UInt8(ascii: "t"),
            let hour = digits(11, 2), hour <= 23, bytes[13] == UInt8(ascii: ":"),
            let minute = digits(14, 2), minute <= 59, bytes[16] == UInt8(ascii: ":"),
            let second = digits(17, 2), second <= 59
        else { return nil }
        var index = 19
        var fraction = 0.0
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            let start = index
            while index < count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                fraction += Double(bytes[index] &- UInt8(ascii: "0")) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < count else { return nil }
        var offsetSeconds = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == count, let offsetHour = digits(index + 1, 2), offsetHour <= 23,
                bytes[index + 3] == UInt8(ascii: ":"), let offsetMinute = digits(index + 4, 2), offsetMinute <= 59
            else { return nil }
            offsetSeconds = (offsetHour * 3600 + offsetMinute * 60) * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
            index += 6
        default:
            return nil
        }
        guard index == count else { return nil }
        let days = Timestamp.days(fromCivil: year, month, day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Double(seconds) + fraction
    }

    // MARK: Calendar (proleptic Gregorian, Howard Hinnant's algorithms)

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func days(fromCivil year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        let missing = width - digits.utf8.count
        return missing > 0 ? String(repeating: "0", count: missing) + digits : digits
    }
}
