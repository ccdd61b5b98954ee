/// A parsed JSON value. Numbers keep their text: no field of the contract is a number, so
/// numbers are only checked for syntax and never converted (huge numbers cost nothing).
enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

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
    var members: [(name: String, value: JSONValue)]

    init(members: [(name: String, value: JSONValue)] = []) {
        self.members = members
    }

    subscript(name: String) -> JSONValue? {
        for member in self.members.reversed() where member.name == name {
            return member.value
        }
        return nil
    }

    static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.members.count == rhs.members.count
            && zip(lhs.members, rhs.members).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(self.members.count)
        for member in self.members {
            hasher.combine(member.name)
            hasher.combine(member.value)
        }
    }
}
