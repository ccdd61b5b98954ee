/// A date of birth as the registry holds it: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
///
/// Some people are registered with the year only, or year and month only. `description` gives
/// the date back in the same text form; it is personal data, so never log it.
public struct PartialDate: Sendable, Hashable, Codable, CustomStringConvertible {
    public let year: Int
    public let month: Int?
    public let day: Int?

    /// Parses `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (ASCII digits, year 0001–9999).
    /// Returns `nil` when the text is malformed or not a real date of the Gregorian calendar.
    public init?(_ text: String) {
        guard let parsed = text.withUTF8Bytes(PartialDate.parse) else { return nil }
        self = parsed
    }

    /// A date from its parts. A `day` without a `month` is dropped.
    /// The parts are not checked: use ``isRealDate`` or ``init(_:)`` for input.
    public init(year: Int, month: Int?, day: Int?) {
        self.year = year
        self.month = month
        self.day = month == nil ? nil : day
    }

    /// Whether the parts name a real calendar date (year 1–9999).
    public var isRealDate: Bool {
        guard (1...9999).contains(self.year) else { return false }
        guard let month = self.month else { return true }
        guard (1...12).contains(month) else { return false }
        guard let day = self.day else { return true }
        return day >= 1 && day <= PartialDate.daysInMonth(year: self.year, month: month)
    }

    public var description: String {
        let month = self.month, day = self.month == nil ? nil : self.day
        if (0...9999).contains(self.year), (0...99).contains(month ?? 0), (0...99).contains(day ?? 0) {
            // Written into one buffer (at most `YYYY-MM-DD`): the concatenated pieces allocated a
            // string each, and every registry query formats the date.
            return String(unsafeUninitializedCapacity: 10) { out in
                DecimalDigits.write(self.year, width: 4, into: out, at: 0)
                guard let month else { return 4 }
                out[4] = UInt8(ascii: "-")
                DecimalDigits.write(month, width: 2, into: out, at: 5)
                guard let day else { return 7 }
                out[7] = UInt8(ascii: "-")
                DecimalDigits.write(day, width: 2, into: out, at: 8)
                return 10
            }
        }
        var text = PartialDate.padded(self.year, width: 4)
        if let month = self.month {
            text += "-" + PartialDate.padded(month, width: 2)
            if let day = self.day {
                text += "-" + PartialDate.padded(day, width: 2)
            }
        }
        return text
    }

    /// Registry semantics: a record held at a lower precision matches a request that agrees on
    /// everything the record holds. A record of `1985` matches a request of `1985-03-04`; a record
    /// of `1985-03-04` does not match a request of `1985`.
    public func recordMatches(request: PartialDate) -> Bool {
        guard self.year == request.year else { return false }
        if let month = self.month {
            guard request.month == month else { return false }
            if let day = self.day {
                guard request.day == day else { return false }
            }
        }
        return true
    }

    /// Whether any day this date may denote lies after `today`, compared at this date's precision:
    /// `2026` is not in the future during 2026, `2026-12` is not during December 2026.
    public func isAfter(_ today: PartialDate) -> Bool {
        if self.year != today.year { return self.year > today.year }
        guard let month = self.month, let todayMonth = today.month else { return false }
        if month != todayMonth { return month > todayMonth }
        guard let day = self.day, let todayDay = today.day else { return false }
        return day > todayDay
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let date = PartialDate(text) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "Expected YYYY, YYYY-MM or YYYY-MM-DD (a real date)."
            )
        }
        self = date
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.description)
    }

    // MARK: Calendar

    static func isLeapYear(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// The civil date of a day counted from 1970-01-01 (Howard Hinnant's algorithm).
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

    /// The calendar day that `secondsSince1970` falls on at the given UTC offset.
    static func day(secondsSince1970: Double, utcOffsetSeconds: Int) -> PartialDate {
        let local = secondsSince1970 + Double(utcOffsetSeconds)
        let days = Int((local / 86_400).rounded(.down))
        let civil = civil(fromDays: days)
        return PartialDate(year: civil.year, month: civil.month, day: civil.day)
    }

    // MARK: Parsing

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> PartialDate? {
        let count = bytes.count
        guard count == 4 || count == 7 || count == 10 else { return nil }
        guard let year = digits(bytes, 0, 4), year >= 1 else { return nil }
        guard count > 4 else { return PartialDate(year: year, month: nil, day: nil) }
        guard bytes[4] == UInt8(ascii: "-"), let month = digits(bytes, 5, 2), (1...12).contains(month) else {
            return nil
        }
        guard count > 7 else { return PartialDate(year: year, month: month, day: nil) }
        guard bytes[7] == UInt8(ascii: "-"), let day = digits(bytes, 8, 2),
            day >= 1, day <= daysInMonth(year: year, month: month)
        else { return nil }
        return PartialDate(year: year, month: month, day: day)
    }

    private static func digits(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ length: Int) -> Int? {
        var value = 0
        for index in start..<(start + length) {
            let byte = bytes[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte &- UInt8(ascii: "0"))
        }
        return value
    }

    private static func padded(_ value: Int, width: Int) -> String {
        let digits = String(value)
        guard digits.utf8.count < width, value >= 0 else { return digits }
        return String(repeating: "0", count: width - digits.utf8.count) + digits
    }
}
