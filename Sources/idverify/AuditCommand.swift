import ArgumentParser
import CommandSupport
import Foundation
import Identity
import Store

/// `idverify audit ...`: the audit trail, for auditors and operators.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Query the audit trail, verify its hash chain, or count parked checks per subject key.",
        subcommands: [AuditQueryCommand.self, AuditVerifyCommand.self, AuditKeysCommand.self],
        defaultSubcommand: AuditQueryCommand.self
    )
}

/// `idverify audit [query] --subject-ref R --actor A --agency G --since T --until T`.
struct AuditQueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "List audit rows matching every filter given, oldest first (no raw id number, name or birth date is stored).")

    @Option(help: "Only checks of this subject ref (the verdict's subject.ref).") var subjectRef: String?
    @Option(help: "Only checks asked by this actor id (actor.id).") var actor: String?
    @Option(help: "Only checks made for this agency code.") var agency: String?
    @Option(help: "Only checks decided at or after this time: RFC 3339, YYYY-MM-DD (Viet Nam midnight), or an age such as 30m, 6h, 7d.")
    var since: String?
    @Option(help: "Only checks decided before this time (same forms as --since).") var until: String?
    @Option(help: "At most this many rows.") var limit: Int = 1_000

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        _ = try self.query(now: Date())
        guard self.limit > 0 else { throw ValidationError("--limit must be positive") }
    }

    func query(now: Date) throws -> AuditTrail.Query {
        AuditTrail.Query(
            subjectRef: self.subjectRef, actorID: self.actor, agencyCode: self.agency,
            since: try self.since.map { try DeadLetterSelection.instant($0, flag: "--since", now: now) },
            until: try self.until.map { try DeadLetterSelection.instant($0, flag: "--until", now: now) }, limit: self.limit)
    }

    func run() async throws {
        let logger = operatorLogger("idverify.audit")
        let query = try self.query(now: Date())
        let entries = try await self.database.withPostgres(logger: logger) { client in
            try await AuditTrail(client: client, logger: logger).entries(query)
        }
        for entry in entries { print(Self.describe(entry)) }
        if entries.isEmpty { print("no audit rows match") }
    }

    static func describe(_ entry: AuditEntry) -> String {
        var parts = [
            "#\(entry.seq)", vietnamTime(entry.decidedAt), "request \(entry.requestID)", "agency \(entry.agencyCode)", entry.channel,
            "actor \(entry.actorKind ?? "?"):\(entry.actorID ?? "?")",
        ]
        if let account = entry.accountID { parts.append("account \(account)") }
        parts.append("subject \(entry.idNumberMasked ?? "-") ref \(entry.subjectRef ?? "-")")
        parts.append(entry.outcome)
        if let source = entry.reusedFrom { parts.append("no registry call: answer of \(source) reused") }
        if let fields = entry.autofillFields {
            parts.append("autofill [\(fields)] to key \(entry.recipientFingerprint ?? "?")")
        }
        return parts.joined(separator: "  ")
    }
}

/// `idverify audit verify`: recomputes the hash chain.
struct AuditVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the audit trail's hash chain: exits 1 and names the first row where a row was changed or deleted.")

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let logger = operatorLogger("idverify.audit")
        let result = try await self.database.withPostgres(logger: logger) { client in
            try await AuditTrail(client: client, logger: logger).verify()
        }
        let anchor = result.anchorSeq > 0 ? " (rows up to #\(result.anchorSeq) deleted by retention)" : ""
        if let problem = result.problem {
            print("audit chain BROKEN at row #\(result.brokenAt ?? 0): \(problem); \(result.rows) rows checked before it\(anchor)")
            throw ExitCode(1)
        }
        print("audit chain intact: \(result.rows) rows\(anchor)")
    }
}

/// `idverify audit keys`: parked checks per sealing key, to know when an old key can be dropped.
struct AuditKeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Count parked checks per subject key id; names SUBJECT_REF_KEY and SUBJECT_REF_KEY_PREVIOUS entries when set.")

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let logger = operatorLogger("idverify.audit")
        let counts = try await self.database.withPostgres(logger: logger) { client in
            try await VerificationStore(client: client, logger: logger).parkedCountByKey()
        }
        let environment = ProcessInfo.processInfo.environment
        var names: [String: String] = [:]
        if let current = environment["SUBJECT_REF_KEY"].flatMap({ Data(base64Encoded: $0.trimmingCharacters(in: .whitespaces)) }) {
            names[SubjectRefKey.keyID(of: Array(current))] = "SUBJECT_REF_KEY"
        }
        for (index, item) in (environment["SUBJECT_REF_KEY_PREVIOUS"] ?? "").split(separator: ",").enumerated() {
            if let key = Data(base64Encoded: item.trimmingCharacters(in: .whitespaces)) {
                names[SubjectRefKey.keyID(of: Array(key))] = "SUBJECT_REF_KEY_PREVIOUS[\(index + 1)]"
            }
        }
        for id in names.keys.sorted() where counts[id] == nil {
            print("key \(id) (\(names[id]!)): 0 parked checks")
        }
        for (id, count) in counts.sorted(by: { ($0.key ?? "") < ($1.key ?? "") }) {
            let label = id.map { "key \($0)" + (names[$0].map { " (\($0))" } ?? "") } ?? "key unknown (parked before key ids were recorded)"
            print("\(label): \(count) parked check\(count == 1 ? "" : "s")")
        }
        if counts.isEmpty { print("no parked checks: every previous key can be dropped") }
    }
}
