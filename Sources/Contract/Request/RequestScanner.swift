/// What a known field held. Only strings and booleans are kept: the contract has no other scalar.
enum ScannedValue: Equatable {
    case absent
    case null
    case string(String)
    case bool(Bool)
    case number
    case array
    case object
}

extension JSONValue {
    /// The same value as the request scanner would have kept it.
    var scanned: ScannedValue {
        switch self {
        case .null: return .null
        case .bool(let flag): return .bool(flag)
        case .number: return .number
        case .string(let text): return .string(text)
        case .array: return .array
        case .object: return .object
        }
    }
}

extension Optional where Wrapped == JSONValue {
    var scanned: ScannedValue { self?.scanned ?? .absent }
}

/// One pass over a request value that keeps only what the contract reads: the known fields, each
/// in its slot, with no tree, no member arrays and no strings for unknown fields (which are still
/// checked for syntax and depth). This is the hot path of ``RequestReader``.
struct RequestScanner {
    /// Where a known value sits in a request.
    enum Path: Int, CaseIterable {
        case requestId, occurredAt, agencyCode, actor, actorKind, actorId
        case subject, subjectFullName, subjectIdNumber, subjectDateOfBirth
        case autofill, recipientKey, accountId
        case dossier, dossierCode, dossierProcedureCode, dossierReceivedAt, dossierDueAt

        /// The JSON path reasons name.
        var jsonPath: String {
            switch self {
            case .requestId: return "requestId"
            case .occurredAt: return "occurredAt"
            case .agencyCode: return "agencyCode"
            case .actor: return "actor"
            case .actorKind: return "actor.kind"
            case .actorId: return "actor.id"
            case .subject: return "subject"
            case .subjectFullName: return "subject.fullName"
            case .subjectIdNumber: return "subject.idNumber"
            case .subjectDateOfBirth: return "subject.dateOfBirth"
            case .autofill: return "autofill"
            case .recipientKey: return "recipientKey"
            case .accountId: return "accountId"
            case .dossier: return "dossier"
            case .dossierCode: return "dossier.code"
            case .dossierProcedureCode: return "dossier.procedureCode"
            case .dossierReceivedAt: return "dossier.receivedAt"
            case .dossierDueAt: return "dossier.dueAt"
            }
        }

        /// The slots inside an object that has its own known fields.
        var children: ClosedRange<Int>? {
            switch self {
            case .actor: return Path.actorKind.rawValue...Path.actorId.rawValue
            case .subject: return Path.subjectFullName.rawValue...Path.subjectDateOfBirth.rawValue
            case .dossier: return Path.dossierCode.rawValue...Path.dossierDueAt.rawValue
            default: return nil
            }
        }
    }

    typealias Value = ScannedValue

    /// Which object the scanner is in.
    private enum Context {
        case top, actor, subject, dossier, other

        func path(_ field: FieldName) -> Path? {
            switch (self, field) {
            case (.top, .requestId): return .requestId
            case (.top, .occurredAt): return .occurredAt
            case (.top, .agencyCode): return .agencyCode
            case (.top, .actor): return .actor
            case (.top, .subject): return .subject
            case (.top, .autofill): return .autofill
            case (.top, .recipientKey): return .recipientKey
            case (.top, .accountId): return .accountId
            case (.top, .dossier): return .dossier
            case (.actor, .kind): return .actorKind
            case (.actor, .id): return .actorId
            case (.subject, .fullName): return .subjectFullName
            case (.subject, .idNumber): return .subjectIdNumber
            case (.subject, .dateOfBirth): return .subjectDateOfBirth
            case (.dossier, .code): return .dossierCode
            case (.dossier, .procedureCode): return .dossierProcedureCode
            case (.dossier, .receivedAt): return .dossierReceivedAt
            case (.dossier, .dueAt): return .dossierDueAt
            default: return nil
            }
        }

        static func nested(_ path: Path) -> Context {
            switch path {
            case .actor: return .actor
            case .subject: return .subject
            case .dossier: return .dossier
            default: return .other
            }
        }
    }

    /// What the value turned out to be.
    enum Outcome {
        /// A JSON object; its known fields are in `slots`.
        case object([Value])
        /// Valid JSON, but not an object.
        case notObject
    }

    private var lexer: JSONLexer
    private let maximumDepth: Int
    private var slots: [Value]

    private init(bytes: UnsafeBufferPointer<UInt8>, maximumDepth: Int) {
        self.lexer = JSONLexer(bytes: bytes)
        self.maximumDepth = maximumDepth
        self.slots = []
    }

    /// Scans one JSON text (valid UTF-8 already), with the tree parser's rules and limits.
    static func scan(
        _ bytes: UnsafeBufferPointer<UInt8>,
        maximumDepth: Int = JSONParser.defaultMaximumDepth
    ) throws(JSONParseError) -> Outcome {
        var scanner = RequestScanner(bytes: bytes, maximumDepth: maximumDepth)
        scanner.lexer.skipWhitespace()
        guard !scanner.lexer.isAtEnd else { throw scanner.lexer.error(.syntax) }
        let isObject = scanner.lexer.current == UInt8(ascii: "{")
        if isObject {
            scanner.slots = [Value](repeating: .absent, count: Path.allCases.count)
            try scanner.scanObject(.top, depth: 1)
        } else {
            try scanner.skipValue(depth: 0)
        }
        scanner.lexer.skipWhitespace()
        guard scanner.lexer.isAtEnd else { throw scanner.lexer.error(.syntax) }
        return isObject ? .object(scanner.slots) : .notObject
    }

    /// At `{` of an object at nesting level `depth` (the top object is level 1).
    private mutating func scanObject(_ context: Context, depth: Int) throws(JSONParseError) {
        self.lexer.index += 1  // {
        self.lexer.skipWhitespace()
        if !self.lexer.isAtEnd && self.lexer.current == UInt8(ascii: "}") {
            self.lexer.index += 1
            return
        }
        while true {
            self.lexer.skipWhitespace()
            guard !self.lexer.isAtEnd, self.lexer.current == UInt8(ascii: "\"") else { throw self.lexer.error(.syntax) }
            let (name, known) = try self.lexer.parseName()
            let field = known ?? (name.isEmpty ? nil : FieldName(rawValue: name))
            try self.lexer.expect(UInt8(ascii: ":"))
            self.lexer.skipWhitespace()
            if let field, let path = context.path(field) {
                try self.scanKnown(path, depth: depth)
            } else {
                try self.skipValue(depth: depth)
            }
            self.lexer.skipWhitespace()
            guard !self.lexer.isAtEnd else { throw self.lexer.error(.syntax) }
            switch self.lexer.current {
            case UInt8(ascii: ","):
                self.lexer.index += 1
            case UInt8(ascii: "}"):
                self.lexer.index += 1
                return
            default:
                throw self.lexer.error(.syntax)
            }
        }
    }

    /// A known field's value; `depth` is the level of the object holding it.
    private mutating func scanKnown(_ path: Path, depth: Int) throws(JSONParseError) {
        guard !self.lexer.isAtEnd else { throw self.lexer.error(.syntax) }
        let value: Value
        switch self.lexer.current {
        case UInt8(ascii: "\""):
            value = .string(try self.lexer.parseString())
        case UInt8(ascii: "{"):
            guard depth < self.maximumDepth else { throw self.lexer.error(.tooDeep) }
            if let children = path.children {
                // A repeated member replaces the earlier one entirely (the last one wins).
                for index in children { self.slots[index] = .absent }
                try self.scanObject(Context.nested(path), depth: depth + 1)
            } else {
                try self.skipObject(depth: depth + 1)
            }
            value = .object
        case UInt8(ascii: "["):
            try self.skipValue(depth: depth)
            value = .array
        case UInt8(ascii: "t"):
            try self.lexer.expectLiteral("true")
            value = .bool(true)
        case UInt8(ascii: "f"):
            try self.lexer.expectLiteral("false")
            value = .bool(false)
        case UInt8(ascii: "n"):
            try self.lexer.expectLiteral("null")
            value = .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try self.lexer.skipNumber()
            value = .number
        default:
            throw self.lexer.error(.syntax)
        }
        if let children = path.children, value != .object {
            for index in children { self.slots[index] = .absent }
        }
        self.slots[path.rawValue] = value
    }

    /// Checks any value and steps over it; `depth` is the level of the container holding it.
    private mutating func skipValue(depth: Int) throws(JSONParseError) {
        self.lexer.skipWhitespace()
        guard !self.lexer.isAtEnd else { throw self.lexer.error(.syntax) }
        switch self.lexer.current {
        case UInt8(ascii: "{"):
            guard depth < self.maximumDepth else { throw self.lexer.error(.tooDeep) }
            try self.skipObject(depth: depth + 1)
        case UInt8(ascii: "["):
            guard depth < self.maximumDepth else { throw self.lexer.error(.tooDeep) }
            try self.skipArray(depth: depth + 1)
        case UInt8(ascii: "\""):
            try self.lexer.skipString()
        case UInt8(ascii: "t"):
            try self.lexer.expectLiteral("true")
        case UInt8(ascii: "f"):
            try self.lexer.expectLiteral("false")
        case UInt8(ascii: "n"):
            try self.lexer.expectLiteral("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try self.lexer.skipNumber()
        default:
            throw self.lexer.error(.syntax)
        }
    }

    private mutating func skipObject(depth: Int) throws(JSONParseError) {
        self.lexer.index += 1  // {
        self.lexer.skipWhitespace()
        if !self.lexer.isAtEnd && self.lexer.current == UInt8(ascii: "}") {
            self.lexer.index += 1
            return
        }
        while true {
            self.lexer.skipWhitespace()
            guard !self.lexer.isAtEnd, self.lexer.current == UInt8(ascii: "\"") else { throw self.lexer.error(.syntax) }
            try self.lexer.skipString()
            try self.lexer.expect(UInt8(ascii: ":"))
            try self.skipValue(depth: depth)
            self.lexer.skipWhitespace()
            guard !self.lexer.isAtEnd else { throw self.lexer.error(.syntax) }
            switch self.lexer.current {
            case UInt8(ascii: ","):
                self.lexer.index += 1
            case UInt8(ascii: "}"):
                self.lexer.index += 1
                return
            default:
                throw self.lexer.error(.syntax)
            }
        }
    }

    private mutating func skipArray(depth: Int) throws(JSONParseError) {
        self.lexer.index += 1  // [
        self.lexer.skipWhitespace()
        if !self.lexer.isAtEnd && self.lexer.current == UInt8(ascii: "]") {
            self.lexer.index += 1
            return
        }
        while true {
            try self.skipValue(depth: depth)
            self.lexer.skipWhitespace()
            guard !self.lexer.isAtEnd else { throw self.lexer.error(.syntax) }
            switch self.lexer.current {
            case UInt8(ascii: ","):
                self.lexer.index += 1
            case UInt8(ascii: "]"):
                self.lexer.index += 1
                return
            default:
                throw self.lexer.error(.syntax)
            }
        }
    }
}
