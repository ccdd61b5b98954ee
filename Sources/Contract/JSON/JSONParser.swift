/// A strict RFC 8259 parser building a ``JSONValue`` tree (for messages off the hot path:
/// verdicts read back, dossier events). The request reader uses ``RequestScanner`` instead.
///
/// Recursion is bounded by `maximumDepth`, so hostile nesting cannot overflow the stack. Lone
/// surrogates in `\u` escapes are rejected (they cannot be represented in a Swift string).
/// Numbers are checked for syntax and kept as text.
struct JSONParser {
    /// Deep enough for any message of the contract (which nests three levels) with room for
    /// unknown fields; shallow enough to keep the stack small.
    static let defaultMaximumDepth = 64

    private var lexer: JSONLexer
    private let maximumDepth: Int

    private init(bytes: UnsafeBufferPointer<UInt8>, maximumDepth: Int) {
        self.lexer = JSONLexer(bytes: bytes)
        self.maximumDepth = maximumDepth
    }

    /// Parses one JSON text (any value, surrounded by optional white space).
    static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>,
        maximumDepth: Int = defaultMaximumDepth
    ) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, maximumDepth: maximumDepth)
        let value = try parser.parseValue(depth: 0)
        parser.lexer.skipWhitespace()
        guard parser.lexer.isAtEnd else { throw parser.lexer.error(.syntax) }
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

    private mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        self.lexer.skipWhitespace()
        guard !self.lexer.isAtEnd else { throw self.lexer.error(.syntax) }
        switch self.lexer.current {
        case UInt8(ascii: "{"):
            guard depth < self.maximumDepth else { throw self.lexer.error(.tooDeep) }
            return .object(try self.parseObject(depth: depth + 1))
        case UInt8(ascii: "["):
            guard depth < self.maximumDepth else { throw self.lexer.error(.tooDeep) }
            return .array(try self.parseArray(depth: depth + 1))
        case UInt8(ascii: "\""):
            return .string(try self.lexer.parseString())
        case UInt8(ascii: "t"):
            try self.lexer.expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try self.lexer.expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try self.lexer.expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try self.lexer.parseNumber())
        default:
            throw self.lexer.error(.syntax)
        }
    }

    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONObject {
        self.lexer.index += 1  // {
        var members: [JSONObject.Member] = []
        self.lexer.skipWhitespace()
        if !self.lexer.isAtEnd && self.lexer.current == UInt8(ascii: "}") {
            self.lexer.index += 1
            return JSONObject(members: members)
        }
        members.reserveCapacity(8)
        while true {
            self.lexer.skipWhitespace()
            guard !self.lexer.isAtEnd, self.lexer.current == UInt8(ascii: "\"") else { throw self.lexer.error(.syntax) }
            let (name, field) = try self.lexer.parseName()
            try self.lexer.expect(UInt8(ascii: ":"))
            let value = try self.parseValue(depth: depth)
            members.append(field.map { JSONObject.Member(field: $0, value: value) } ?? JSONObject.Member(name: name, value: value))
            self.lexer.skipWhitespace()
            guard !self.lexer.isAtEnd else { throw self.lexer.error(.syntax) }
            switch self.lexer.current {
            case UInt8(ascii: ","):
                self.lexer.index += 1
            case UInt8(ascii: "}"):
                self.lexer.index += 1
                return JSONObject(members: members)
            default:
                throw self.lexer.error(.syntax)
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> [JSONValue] {
        self.lexer.index += 1  // [
        var elements: [JSONValue] = []
        self.lexer.skipWhitespace()
        if !self.lexer.isAtEnd && self.lexer.current == UInt8(ascii: "]") {
            self.lexer.index += 1
            return elements
        }
        while true {
            elements.append(try self.parseValue(depth: depth))
            self.lexer.skipWhitespace()
            guard !self.lexer.isAtEnd else { throw self.lexer.error(.syntax) }
            switch self.lexer.current {
            case UInt8(ascii: ","):
                self.lexer.index += 1
            case UInt8(ascii: "]"):
                self.lexer.index += 1
                return elements
            default:
                throw self.lexer.error(.syntax)
            }
        }
    }
}
