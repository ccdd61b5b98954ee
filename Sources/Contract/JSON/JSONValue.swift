/// A parsed JSON value. Numbers keep their text: no field of the contract is a number, so
/// numbers are only checked for syntax and never converted (huge numbers cost nothing).
enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The JSON type name used in messages to developers (never the value).
    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

/// A JSON object's members in document order. When a name occurs more than once, the last
/// occurrence wins, as in ECMAScript's `JSON.parse`.
struct JSONObject: Sendable, Hashable {
    struct Member: Sendable, Hashable {
        /// The name when it is not a known field (known ones are in `field`).
        private var otherName: String
        /// The name as a known field, recognised by the parser.
        var field: FieldName?
        var value: JSONValue

        /// A member with a known name.
        init(field: FieldName, value: JSONValue) {
            self.otherName = ""
            self.field = field
            self.value = value
        }

        init(name: String, value: JSONValue) {
            self.field = FieldName(rawValue: name)
            self.otherName = self.field == nil ? name : ""
            self.value = value
        }

        var name: String { self.field?.rawValue ?? self.otherName }
    }

    var members: [Member]

    init(members: [Member] = []) {
        self.members = members
    }

    init(members: [(name: String, value: JSONValue)]) {
        self.members = members.map { Member(name: $0.name, value: $0.value) }
    }

    subscript(field: FieldName) -> JSONValue? {
        var index = self.members.count
        while index > 0 {
            index -= 1
            if self.members[index].field == field { return self.members[index].value }
        }
        return nil
    }

    subscript(name: String) -> JSONValue? {
        self.members.last { $0.name == name }?.value
    }
}
