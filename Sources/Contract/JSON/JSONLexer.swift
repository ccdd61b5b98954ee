/// Why a JSON text could not be parsed. Carries a byte offset, never any content.
struct JSONParseError: Error, Sendable, CustomStringConvertible {
    enum Kind: Sendable {
        /// Not JSON (RFC 8259), or a `\u` escape that is a lone surrogate.
        case syntax
        /// Objects and arrays nested deeper than the parser's limit.
        case tooDeep
    }

    var kind: Kind
    var offset: Int

    var description: String {
        switch self.kind {
        case .syntax: return "invalid JSON at byte \(self.offset)"
        case .tooDeep: return "JSON nested too deeply at byte \(self.offset)"
        }
    }
}

/// The lexical layer shared by the tree parser and the request scanner: strict RFC 8259 tokens
/// over bytes already known to be valid UTF-8.
struct JSONLexer {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { self.index >= self.bytes.count }

    /// The byte at the current position; check ``isAtEnd`` first.
    var current: UInt8 { self.bytes[self.index] }

    func error(_ kind: JSONParseError.Kind) -> JSONParseError {
        JSONParseError(kind: kind, offset: self.index)
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while self.index < self.bytes.count {
            switch self.bytes[self.index] {
            case 0x20, 0x0A, 0x0D, 0x09: self.index += 1
            default: return
            }
        }
    }

    /// Skips white space, then requires `byte` and steps over it.
    @inline(__always)
    mutating func expect(_ byte: UInt8) throws(JSONParseError) {
        self.skipWhitespace()
        guard self.index < self.bytes.count, self.bytes[self.index] == byte else { throw self.error(.syntax) }
        self.index += 1
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        guard self.index + count <= self.bytes.count else { throw self.error(.syntax) }
        let start = literal.utf8Start
        for offset in 0..<count where self.bytes[self.index + offset] != start[offset] {
            throw self.error(.syntax)
        }
        self.index += count
    }

    // MARK: Numbers

    /// Checks a number's syntax and steps over it; returns where it started.
    @discardableResult
    mutating func skipNumber() throws(JSONParseError) -> Int {
        let start = self.index
        if self.bytes[self.index] == UInt8(ascii: "-") { self.index += 1 }
        guard self.index < self.bytes.count else { throw self.error(.syntax) }
        if self.bytes[self.index] == UInt8(ascii: "0") {
            self.index += 1
        } else {
            guard self.skipDigits() > 0 else { throw self.error(.syntax) }
        }
        if self.index < self.bytes.count && self.bytes[self.index] == UInt8(ascii: ".") {
            self.index += 1
            guard self.skipDigits() > 0 else { throw self.error(.syntax) }
        }
        if self.index < self.bytes.count && (self.bytes[self.index] | 0x20) == UInt8(ascii: "e") {
            self.index += 1
            if self.index < self.bytes.count
                && (self.bytes[self.index] == UInt8(ascii: "+") || self.bytes[self.index] == UInt8(ascii: "-"))
            {
                self.index += 1
            }
            guard self.skipDigits() > 0 else { throw self.error(.syntax) }
        }
        return start
    }

    mutating func parseNumber() throws(JSONParseError) -> String {
        let start = try self.skipNumber()
        return String(decoding: UnsafeBufferPointer(rebasing: self.bytes[start..<self.index]), as: UTF8.self)
    }

    private mutating func skipDigits() -> Int {
        let start = self.index
        while self.index < self.bytes.count
            && self.bytes[self.index] >= UInt8(ascii: "0") && self.bytes[self.index] <= UInt8(ascii: "9")
        {
            self.index += 1
        }
        return self.index - start
    }

    // MARK: Strings

    /// A member name at the opening quote: a known one is recognised without allocating.
    mutating func parseName() throws(JSONParseError) -> (String, FieldName?) {
        let start = self.index + 1
        var end = start
        while end < self.bytes.count {
            let byte = self.bytes[end]
            if byte == UInt8(ascii: "\"") {
                if let field = FieldName.match(UnsafeBufferPointer(rebasing: self.bytes[start..<end])) {
                    self.index = end + 1
                    return ("", field)
                }
                break
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { break }
            end += 1
        }
        let name = try self.parseString()
        return (name, nil)
    }

    /// Checks a string at its opening quote and steps over it, without building it.
    mutating func skipString() throws(JSONParseError) {
        self.index += 1  // "
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            switch byte {
            case UInt8(ascii: "\""):
                self.index += 1
                return
            case UInt8(ascii: "\\"):
                self.index += 1
                guard self.index < self.bytes.count else { throw self.error(.syntax) }
                let escape = self.bytes[self.index]
                self.index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    continue
                case UInt8(ascii: "u"):
                    _ = try self.parseUnicodeEscape()
                default:
                    throw self.error(.syntax)
                }
            default:
                guard byte >= 0x20 else { throw self.error(.syntax) }
                self.index += 1
            }
        }
        throw self.error(.syntax)
    }

    mutating func parseString() throws(JSONParseError) -> String {
        self.index += 1  // "
        let start = self.index
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            if byte == UInt8(ascii: "\"") {
                let text = String(
                    decoding: UnsafeBufferPointer(rebasing: self.bytes[start..<self.index]),
                    as: UTF8.self
                )
                self.index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") {
                return try self.parseEscapedString(start: start)
            }
            guard byte >= 0x20 else { throw self.error(.syntax) }
            self.index += 1
        }
        throw self.error(.syntax)
    }

    /// The slow path: the string holds escapes. `index` is at the first backslash.
    private mutating func parseEscapedString(start: Int) throws(JSONParseError) -> String {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(self.index - start + 16)
        decoded.append(contentsOf: UnsafeBufferPointer(rebasing: self.bytes[start..<self.index]))
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            switch byte {
            case UInt8(ascii: "\""):
                self.index += 1
                return String(decoding: decoded, as: UTF8.self)
            case UInt8(ascii: "\\"):
                self.index += 1
                guard self.index < self.bytes.count else { throw self.error(.syntax) }
                let escape = self.bytes[self.index]
                self.index += 1
                switch escape {
                case UInt8(ascii: "\""): decoded.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): decoded.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "/"): decoded.append(UInt8(ascii: "/"))
                case UInt8(ascii: "b"): decoded.append(0x08)
                case UInt8(ascii: "f"): decoded.append(0x0C)
                case UInt8(ascii: "n"): decoded.append(0x0A)
                case UInt8(ascii: "r"): decoded.append(0x0D)
                case UInt8(ascii: "t"): decoded.append(0x09)
                case UInt8(ascii: "u"):
                    let scalar = try self.parseUnicodeEscape()
                    decoded.append(contentsOf: UTF8.encode(scalar)!)
                default:
                    throw self.error(.syntax)
                }
            default:
                guard byte >= 0x20 else { throw self.error(.syntax) }
                decoded.append(byte)
                self.index += 1
            }
        }
        throw self.error(.syntax)
    }

    /// After `\u`: four hex digits, and for a high surrogate the `\uDC00`–`\uDFFF` that must follow.
    mutating func parseUnicodeEscape() throws(JSONParseError) -> Unicode.Scalar {
        let unit = try self.parseHex4()
        switch unit {
        case 0xD800...0xDBFF:
            guard self.index + 2 <= self.bytes.count,
                self.bytes[self.index] == UInt8(ascii: "\\"),
                self.bytes[self.index + 1] == UInt8(ascii: "u")
            else { throw self.error(.syntax) }
            self.index += 2
            let low = try self.parseHex4()
            guard (0xDC00...0xDFFF).contains(low) else { throw self.error(.syntax) }
            let value = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            return Unicode.Scalar(value)!
        case 0xDC00...0xDFFF:
            throw self.error(.syntax)
        default:
            return Unicode.Scalar(unit)!
        }
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard self.index + 4 <= self.bytes.count else { throw self.error(.syntax) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = self.bytes[self.index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw self.error(.syntax)
            }
            value = value << 4 | digit
            self.index += 1
        }
        return value
    }
}
