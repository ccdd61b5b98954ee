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

/// A strict RFC 8259 parser over bytes already known to be valid UTF-8.
///
/// Recursion is bounded by `maximumDepth`, so hostile nesting cannot overflow the stack. Lone
/// surrogates in `\u` escapes are rejected (they cannot be represented in a Swift string).
/// Numbers are checked for syntax and kept as text.
struct JSONParser {
    /// Deep enough for any message of the contract (which nests three levels) with room for
    /// unknown fields; shallow enough to keep the stack small.
    static let defaultMaximumDepth = 64

    private let bytes: UnsafeBufferPointer<UInt8>
    private let maximumDepth: Int
    private var index = 0

    private init(bytes: UnsafeBufferPointer<UInt8>, maximumDepth: Int) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    /// Parses one JSON text (any value, surrounded by optional white space).
    static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>,
        maximumDepth: Int = defaultMaximumDepth
    ) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, maximumDepth: maximumDepth)
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.error(.syntax) }
        return value
    }

    static func parse(_ bytes: [UInt8], maximumDepth: Int = defaultMaximumDepth) throws(JSONParseError) -> JSONValue {
        // `withUnsafeBufferPointer` does not forward typed throws, so carry the result out.
        let result: Result<JSONValue, JSONParseError> = bytes.withUnsafeBufferPointer { buffer in
            do throws(JSONParseError) {
                return .success(try parse(buffer, maximumDepth: maximumDepth))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    // MARK: Values

    private func error(_ kind: JSONParseError.Kind) -> JSONParseError {
        JSONParseError(kind: kind, offset: self.index)
    }

    @inline(__always)
    private mutating func skipWhitespace() {
        while self.index < self.bytes.count {
            switch self.bytes[self.index] {
            case 0x20, 0x0A, 0x0D, 0x09: self.index += 1
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        self.skipWhitespace()
        guard self.index < self.bytes.count else { throw self.error(.syntax) }
        switch self.bytes[self.index] {
        case UInt8(ascii: "{"):
            guard depth < self.maximumDepth else { throw self.error(.tooDeep) }
            return .object(try self.parseObject(depth: depth + 1))
        case UInt8(ascii: "["):
            guard depth < self.maximumDepth else { throw self.error(.tooDeep) }
            return .array(try self.parseArray(depth: depth + 1))
        case UInt8(ascii: "\""):
            return .string(try self.parseString())
        case UInt8(ascii: "t"):
            try self.expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try self.expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try self.expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try self.parseNumber())
        default:
            throw self.error(.syntax)
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        guard self.index + count <= self.bytes.count else { throw self.error(.syntax) }
        let start = literal.utf8Start
        for offset in 0..<count where self.bytes[self.index + offset] != start[offset] {
            throw self.error(.syntax)
        }
        self.index += count
    }

    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONObject {
        self.index += 1  // {
        var members: [(name: String, value: JSONValue)] = []
        self.skipWhitespace()
        if self.index < self.bytes.count && self.bytes[self.index] == UInt8(ascii: "}") {
            self.index += 1
            return JSONObject(members: members)
        }
        members.reserveCapacity(8)
        while true {
            self.skipWhitespace()
            guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\"") else {
                throw self.error(.syntax)
            }
            let name = try self.parseString()
            self.skipWhitespace()
            guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: ":") else {
                throw self.error(.syntax)
            }
            self.index += 1
            let value = try self.parseValue(depth: depth)
            members.append((name, value))
            self.skipWhitespace()
            guard self.index < self.bytes.count else { throw self.error(.syntax) }
            switch self.bytes[self.index] {
            case UInt8(ascii: ","):
                self.index += 1
            case UInt8(ascii: "}"):
                self.index += 1
                return JSONObject(members: members)
            default:
                throw self.error(.syntax)
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> [JSONValue] {
        self.index += 1  // [
        var elements: [JSONValue] = []
        self.skipWhitespace()
        if self.index < self.bytes.count && self.bytes[self.index] == UInt8(ascii: "]") {
            self.index += 1
            return elements
        }
        while true {
            elements.append(try self.parseValue(depth: depth))
            self.skipWhitespace()
            guard self.index < self.bytes.count else { throw self.error(.syntax) }
            switch self.bytes[self.index] {
            case UInt8(ascii: ","):
                self.index += 1
            case UInt8(ascii: "]"):
                self.index += 1
                return elements
            default:
                throw self.error(.syntax)
            }
        }
    }

    // MARK: Numbers

    private mutating func parseNumber() throws(JSONParseError) -> String {
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

    private mutating func parseString() throws(JSONParseError) -> String {
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
    private mutating func parseUnicodeEscape() throws(JSONParseError) -> Unicode.Scalar {
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
