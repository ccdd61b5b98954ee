/// Reads the body of a verify or lookup call without a general JSON decoder: one pass over the
/// bytes of a JSON object, keeping the string values of `idNumber`, `fullName` and `dateOfBirth`
/// and skipping any other member, whatever its value. Anything that is not a well-formed JSON
/// object, or a wanted member that is not a string, is `nil` (400).
enum QueryParser {
    static func parse(_ bytes: UnsafeRawBufferPointer) -> CitizenQuery? {
        var scanner = Scanner(bytes: bytes)
        var idNumber: String?
        var fullName: String?
        var dateOfBirth: String?
        guard scanner.skipWhitespace(), scanner.consume(UInt8(ascii: "{")) else { return nil }
        guard scanner.skipWhitespace() else { return nil }
        if !scanner.consume(UInt8(ascii: "}")) {
            while true {
                guard scanner.skipWhitespace(), let key = scanner.string(), scanner.skipWhitespace(),
                    scanner.consume(UInt8(ascii: ":")), scanner.skipWhitespace()
                else { return nil }
                switch key {
                case "idNumber", "fullName", "dateOfBirth":
                    guard let value = scanner.string() else { return nil }
                    if key == "idNumber" { idNumber = value } else if key == "fullName" { fullName = value } else { dateOfBirth = value }
                default:
                    guard scanner.skipValue(depth: 0) else { return nil }
                }
                guard scanner.skipWhitespace() else { return nil }
                if scanner.consume(UInt8(ascii: ",")) { continue }
                guard scanner.consume(UInt8(ascii: "}")) else { return nil }
                break
            }
        }
        // Nothing but white space may follow the object.
        _ = scanner.skipWhitespace()
        guard scanner.atEnd, let idNumber, let fullName, let dateOfBirth else { return nil }
        return CitizenQuery(idNumber: idNumber, fullName: fullName, dateOfBirth: dateOfBirth)
    }

    private struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var index = 0

        var atEnd: Bool { self.index >= self.bytes.count }

        var current: UInt8? { self.index < self.bytes.count ? self.bytes[self.index] : nil }

        /// Skips JSON white space; `false` only at the end of input (so callers can chain it).
        mutating func skipWhitespace() -> Bool {
            while let byte = self.current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { self.index += 1 }
            return !self.atEnd
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            guard self.current == byte else { return false }
            self.index += 1
            return true
        }

        /// A string literal, unescaped; `nil` if malformed.
        mutating func string() -> String? {
            guard self.consume(UInt8(ascii: "\"")) else { return nil }
            let start = self.index
            // Fast path: no escapes.
            while let byte = self.current {
                if byte == UInt8(ascii: "\"") {
                    let value = String(validating: UnsafeRawBufferPointer(rebasing: self.bytes[start..<self.index]), as: UTF8.self)
                    self.index += 1
                    return value
                }
                if byte == UInt8(ascii: "\\") { break }
                if byte < 0x20 { return nil }
                self.index += 1
            }
            guard !self.atEnd else { return nil }
            var utf8 = Array(self.bytes[start..<self.index])
            while let byte = self.current {
                self.index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(validating: utf8, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let escaped = self.current else { return nil }
                    self.index += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escaped)
                    case UInt8(ascii: "b"): utf8.append(0x08)
                    case UInt8(ascii: "f"): utf8.append(0x0C)
                    case UInt8(ascii: "n"): utf8.append(0x0A)
                    case UInt8(ascii: "r"): utf8.append(0x0D)
                    case UInt8(ascii: "t"): utf8.append(0x09)
                    case UInt8(ascii: "u"):
                        guard let scalar = self.unicodeEscape() else { return nil }
                        utf8.append(contentsOf: String(Character(scalar)).utf8)
                    default:
                        return nil
                    }
                case 0..<0x20:
                    return nil
                default:
                    utf8.append(byte)
                }
            }
            return nil
        }

        /// After `\u`: four hex digits, and a low surrogate's `\uXXXX` when the first is a high one.
        mutating func unicodeEscape() -> Unicode.Scalar? {
            guard let first = self.hex4() else { return nil }
            if (0xD800...0xDBFF).contains(first) {
                guard self.consume(UInt8(ascii: "\\")), self.consume(UInt8(ascii: "u")), let second = self.hex4(),
                    (0xDC00...0xDFFF).contains(second)
                else { return nil }
                return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
            }
            return Unicode.Scalar(first)
        }

        mutating func hex4() -> UInt32? {
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let byte = self.current else { return nil }
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                value = value << 4 | UInt32(digit)
                self.index += 1
            }
            return value
        }

        /// Skips any JSON value; `false` if malformed (or nested beyond 64 levels).
        mutating func skipValue(depth: Int) -> Bool {
            guard depth < 64, let byte = self.current else { return false }
            switch byte {
            case UInt8(ascii: "\""):
                return self.string() != nil
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let isObject = byte == UInt8(ascii: "{")
                let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                self.index += 1
                guard self.skipWhitespace() else { return false }
                if self.consume(close) { return true }
                while true {
                    guard self.skipWhitespace() else { return false }
                    if isObject {
                        guard self.string() != nil, self.skipWhitespace(), self.consume(UInt8(ascii: ":")), self.skipWhitespace()
                        else { return false }
                    }
                    guard self.skipValue(depth: depth + 1), self.skipWhitespace() else { return false }
                    if self.consume(UInt8(ascii: ",")) { continue }
                    return self.consume(close)
                }
            case UInt8(ascii: "t"): return self.literal("true")
            case UInt8(ascii: "f"): return self.literal("false")
            case UInt8(ascii: "n"): return self.literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return self.number()
            default:
                return false
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard self.index + count <= self.bytes.count else { return false }
            for offset in 0..<count where self.bytes[self.index + offset] != word.utf8Start[offset] { return false }
            self.index += count
            return true
        }

        /// A JSON number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
        mutating func number() -> Bool {
            _ = self.consume(UInt8(ascii: "-"))
            guard let first = self.current, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else { return false }
            self.index += 1
            if first != UInt8(ascii: "0") { self.digits() }
            if self.consume(UInt8(ascii: ".")) {
                guard self.digits() > 0 else { return false }
            }
            if self.consume(UInt8(ascii: "e")) || self.consume(UInt8(ascii: "E")) {
                if !self.consume(UInt8(ascii: "+")) { _ = self.consume(UInt8(ascii: "-")) }
                guard self.digits() > 0 else { return false }
            }
            return true
        }

        @discardableResult
        mutating func digits() -> Int {
            var count = 0
            while let byte = self.current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                self.index += 1
                count += 1
            }
            return count
        }
    }
}
