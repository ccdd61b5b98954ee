import Foundation
import Identity

@testable import Contract

/// A JSON document built in tests, rendered with full control over its bytes.
indirect enum J: Sendable, Hashable {
    case s(String)
    case n(String)
    case b(Bool)
    case null
    case a([J])
    case o([(String, J)])

    static func == (lhs: J, rhs: J) -> Bool { lhs.text == rhs.text }
    func hash(into hasher: inout Hasher) { hasher.combine(self.text) }

    var text: String {
        switch self {
        case .s(let value): return Self.quote(value)
        case .n(let value): return value
        case .b(let value): return value ? "true" : "false"
        case .null: return "null"
        case .a(let elements): return "[" + elements.map(\.text).joined(separator: ",") + "]"
        case .o(let members): return "{" + members.map { Self.quote($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
        }
    }

    var bytes: [UInt8] { Array(self.text.utf8) }

    static func quote(_ text: String) -> String {
        var output = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case _ where scalar.value < 0x20: output += String(format: "\\u%04x", scalar.value)
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output + "\""
    }

    /// Replaces (or with `nil` removes) the member at a dotted path; adds it when absent.
    func setting(_ path: String, _ value: J?) -> J {
        let parts = path.split(separator: ".", maxSplits: 1).map(String.init)
        guard case .o(var members) = self else { return self }
        let name = parts[0]
        if parts.count == 1 {
            if let index = members.firstIndex(where: { $0.0 == name }) {
                if let value { members[index].1 = value } else { members.remove(at: index) }
            } else if let value {
                members.append((name, value))
            }
        } else if let index = members.firstIndex(where: { $0.0 == name }) {
            members[index].1 = members[index].1.setting(parts[1], value)
        }
        return .o(members)
    }
}

enum Fixtures {
    /// 2026-11-29T09:15:00+07:00.
    static let now = Date(timeIntervalSince1970: 1_795_918_500)
    static let refKey = SubjectRefKey(keyBytes: Array("test-subject-key-0123456789abcdef".utf8))
    static let recipientKeyBase64 = "9xJY1U5Xr+6mYlC/0Xt8y6aI0FeIdk0ZcRk4m9Gq3xQ="

    static let common: [(String, J)] = [
        ("requestId", .s("4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a10")),
        ("occurredAt", .s("2026-11-29T09:15:00+07:00")),
        ("agencyCode", .s("H23.45.10")),
        ("actor", .o([("kind", .s("citizen")), ("id", .s("acc-88121"))])),
        ("subject", .o([("fullName", .s("Nguyễn Thị Thuỷ")), ("idNumber", .s("030190012345")), ("dateOfBirth", .s("1990-04-12"))])),
    ]

    /// The contract's own example (section 2).
    static let submission = J.o(
        common + [
            ("accountId", .s("acc-88121")),
            (
                "dossier",
                .o([
                    ("code", .s("H23.45.10-241129-0007")), ("procedureCode", .s("1.001234")),
                    ("receivedAt", .s("2026-11-29T09:15:00+07:00")), ("dueAt", .s("2026-12-04T17:00:00+07:00")),
                ])
            ),
        ]
    )

    static let registration = J.o(common + [("accountId", .s("acc-88121"))])

    static let counter = J.o(
        common.map { $0.0 == "actor" ? ("actor", .o([("kind", .s("officer")), ("id", .s("desk-07"))])) : $0 }
            + [("autofill", .b(true)), ("recipientKey", .s(recipientKeyBase64))]
    )

    /// One broken field each: path, value (`nil` removes the field), channel, and the reasons
    /// the reader must give. Shared by the reader tests and the schema-agreement corpus.
    static let fieldCases: [(String, J?, Channel, [String])] = [
        // path, value (nil = remove), channel, expected reasons
        ("occurredAt", nil, Channel.registration, ["occurredAt:missing"]),
        ("occurredAt", J.n("1"), .registration, ["occurredAt:invalid_type"]),
        ("occurredAt", J.s("2026-11-29T09:15:00"), .registration, ["occurredAt:invalid_format"]),
        ("occurredAt", J.s("2026-11-29 09:15:00+07:00"), .registration, ["occurredAt:invalid_format"]),
        ("occurredAt", J.s("2026-02-30T09:15:00Z"), .registration, ["occurredAt:invalid_format"]),
        ("occurredAt", J.s("2026-11-29T24:00:00Z"), .registration, ["occurredAt:invalid_format"]),
        ("occurredAt", J.s("2026-11-29T23:59:60Z"), .registration, ["occurredAt:invalid_format"]),
        ("occurredAt", J.s("2026-11-29T09:15:00+0700"), .registration, ["occurredAt:invalid_format"]),
        ("agencyCode", nil, .registration, ["agencyCode:missing"]),
        ("agencyCode", J.b(true), .registration, ["agencyCode:invalid_type"]),
        ("agencyCode", J.s(""), .registration, ["agencyCode:invalid_length"]),
        ("agencyCode", J.s(String(repeating: "A", count: 65)), .registration, ["agencyCode:invalid_length"]),
        ("agencyCode", J.s("H23 45"), .registration, ["agencyCode:invalid_format"]),
        ("agencyCode", J.s("Sở Tư pháp"), .registration, ["agencyCode:invalid_format"]),
        ("agencyCode", J.s(String(repeating: "/", count: 65)), .registration, ["agencyCode:invalid_length", "agencyCode:invalid_format"]),
        ("actor", nil, .registration, ["actor:missing"]),
        ("actor", J.s("citizen"), .registration, ["actor:invalid_type"]),
        ("actor.kind", nil, .registration, ["actor.kind:missing"]),
        ("actor.kind", J.s("robot"), .registration, ["actor.kind:invalid_value"]),
        ("actor.kind", J.s("Citizen"), .registration, ["actor.kind:invalid_value"]),
        ("actor.kind", J.n("0"), .registration, ["actor.kind:invalid_type"]),
        ("actor.id", J.s(""), .registration, ["actor.id:invalid_length"]),
        ("actor.id", J.s(String(repeating: "ả", count: 129)), .registration, ["actor.id:invalid_length"]),
        ("subject", nil, .registration, ["subject:missing"]),
        ("subject", J.a([]), .registration, ["subject:invalid_type"]),
        ("subject.fullName", nil, .registration, ["subject.fullName:missing"]),
        ("subject.fullName", J.a([.s("Nguyễn")]), .registration, ["subject.fullName:invalid_type"]),
        ("subject.fullName", J.s("Thuỷ"), .registration, ["subject.fullName:single_word"]),
        ("subject.fullName", J.s(" T "), .registration, ["subject.fullName:invalid_length", "subject.fullName:single_word"]),
        ("subject.fullName", J.s("Nguyễn Thị Thuỷ 2"), .registration, ["subject.fullName:invalid_characters"]),
        ("subject.idNumber", nil, .registration, ["subject.idNumber:missing"]),
        ("subject.idNumber", J.n("30190012345"), .registration, ["subject.idNumber:invalid_type"]),
        ("subject.idNumber", J.s("03019001234"), .registration, ["subject.idNumber:invalid_format"]),
        ("subject.idNumber", J.s("999999999"), .registration, ["subject.idNumber:invalid_format"]),
        ("subject.idNumber", J.s("003190012345"), .registration, ["subject.idNumber:unknown_region_code"]),
        ("subject.idNumber", J.s("030190000000"), .registration, ["subject.idNumber:invalid_serial"]),
        ("subject.idNumber", J.s("030191012345"), .registration, ["subject.idNumber:birth_year_mismatch"]),
        ("subject.dateOfBirth", nil, .registration, ["subject.dateOfBirth:missing"]),
        ("subject.dateOfBirth", J.n("1990"), .registration, ["subject.dateOfBirth:invalid_type"]),
        ("subject.dateOfBirth", J.s("1990-02-29"), .registration, ["subject.dateOfBirth:invalid_date"]),
        ("subject.dateOfBirth", J.s("2090-04-12"), .registration, ["subject.idNumber:birth_year_mismatch", "subject.dateOfBirth:out_of_range"]),
        ("accountId", nil, .registration, ["accountId:missing"]),
        ("accountId", J.s(""), .registration, ["accountId:invalid_length"]),
        ("accountId", J.n("88121"), .registration, ["accountId:invalid_type"]),
        ("accountId", nil, .submission, ["accountId:missing"]),
        ("dossier", nil, .submission, ["dossier:missing"]),
        ("dossier", J.s("H23"), .submission, ["dossier:invalid_type"]),
        ("dossier.code", nil, .submission, ["dossier.code:missing"]),
        ("dossier.code", J.s(String(repeating: "c", count: 65)), .submission, ["dossier.code:invalid_length"]),
        ("dossier.procedureCode", J.s(""), .submission, ["dossier.procedureCode:invalid_length"]),
        ("dossier.procedureCode", J.n("1.001234"), .submission, ["dossier.procedureCode:invalid_type"]),
        ("dossier.receivedAt", nil, .submission, ["dossier.receivedAt:missing"]),
        ("dossier.receivedAt", J.s("yesterday"), .submission, ["dossier.receivedAt:invalid_format"]),
        ("dossier.dueAt", J.s("2026-12-04"), .submission, ["dossier.dueAt:invalid_format"]),
        ("dossier.dueAt", J.b(false), .submission, ["dossier.dueAt:invalid_type"]),
        ("autofill", J.s("true"), .counter, ["autofill:invalid_type"]),
        ("recipientKey", nil, .counter, ["recipientKey:missing"]),
        ("recipientKey", J.n("1"), .counter, ["recipientKey:invalid_type"]),
        ("recipientKey", J.s("9xJY1U5Xr+6mYlC/0Xt8y6aI0FeIdk0ZcRk4m9Gq3xQ"), .counter, ["recipientKey:invalid_format"]),
        ("recipientKey", J.s("9xJY1U5Xr-6mYlC_0Xt8y6aI0FeIdk0ZcRk4m9Gq3xQ="), .counter, ["recipientKey:invalid_format"]),
        ("recipientKey", J.s("9xJY1U5Xr+6mYlC/0Xt8y6aI0FeIdk0ZcRk4m9Gq3xR="), .counter, ["recipientKey:invalid_format"]),
        ("recipientKey", J.s("AAAA"), .counter, ["recipientKey:invalid_format"]),
    ]

    static func fixture(_ channel: Channel) -> J {
        switch channel {
        case .counter: return counter
        case .registration: return registration
        case .submission: return submission
        }
    }

    static func read(_ json: J, _ channel: Channel, policy: IdentityPolicy = IdentityPolicy()) -> ReadResult {
        RequestReader(policy: policy).read(value: json.bytes, topic: channel, now: now)
    }

    static func read(_ bytes: [UInt8], _ channel: Channel) -> ReadResult {
        RequestReader().read(value: bytes, topic: channel, now: now)
    }

    /// The reasons as `path:code`, or `nil` when the result is not `invalid`.
    static func reasons(_ result: ReadResult) -> [String]? {
        guard case .invalid(let invalid) = result else { return nil }
        return invalid.reasons.map { "\($0.field):\($0.code.rawValue)" }
    }
}

extension ReadResult {
    var request: VerificationRequest? {
        if case .request(let request) = self { return request }
        return nil
    }

    var invalidRequest: InvalidRequest? {
        if case .invalid(let invalid) = self { return invalid }
        return nil
    }

    var deadLetterReason: DeadLetterReason? {
        if case .deadLetter(let reason) = self { return reason }
        return nil
    }

    var kind: String {
        switch self {
        case .request: return "request"
        case .invalid: return "invalid"
        case .deadLetter: return "deadLetter"
        }
    }
}
