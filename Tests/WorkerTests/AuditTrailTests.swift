import Contract
import Crypto
import Foundation
import Identity
import Logging
import PostgresNIO
import RegistrySimulator
import Store
import Testing
import Worker

/// The audit trail on a real PostgreSQL: one chained row per stored result, written in the same
/// transaction, none for a redelivery, intact under concurrent writers, and a changed or deleted
/// row is found by `verify`.
@Suite("Audit trail", .serialized)
struct AuditTrailTests {
    static func decision(_ requestId: String, actor: String = "officer-7", account: String? = nil) -> DecisionRecord {
        let verdict = Verdict(
            verdictId: UUID(), requestId: requestId, channel: .registration, agencyCode: "H23.45", decidedAt: Timestamp(Date()),
            outcome: .verified, subject: VerdictSubject(idNumberMasked: "030******345", ref: "ref-\(requestId)"), attempts: 1)
        return DecisionRecord(
            verdict: verdict, requestKey: requestId, dossier: nil,
            source: SourcePosition(topic: "tthc.registration.requests.v1", partition: 0, offset: 1), consumedAt: Date(),
            messageKey: nil, traceparent: nil,
            audit: AuditFacts(actorKind: "officer", actorID: actor, accountID: account))
    }

    static func withStore(_ name: String, _ body: @Sendable (PostgresClient, VerificationStore, AuditTrail) async throws -> Void) async throws {
        let logger = Logger(label: "audit-test")
        let client = PostgresClient(configuration: try DatabaseURL.parse(try await freshDatabase(name)), backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await MigrationRunner(client: client, logger: logger).run()
            try await body(client, VerificationStore(client: client, logger: logger), AuditTrail(client: client, logger: logger))
        }
    }

    @Test("one row per result, none for a redelivery; a changed, deleted or trailing-deleted row breaks the chain")
    func chain() async throws {
        try await Self.withStore("audit_chain") { client, store, trail in
            let logger = Logger(label: "audit-test")
            _ = try await store.record((1...5).map { Self.decision("r-\($0)", account: "acc-\($0)") }, verdictTopic: "v", cloudEventSource: "/t")
            // Redelivered: re-emitted, no second audit row.
            let again = try await store.record([Self.decision("r-2")], verdictTopic: "v", cloudEventSource: "/t")
            #expect(again.map(\.isNew) == [false])
            let all = try await trail.entries(.init())
            #expect(all.map(\.seq) == [1, 2, 3, 4, 5])
            #expect(all.map(\.requestID) == ["r-1", "r-2", "r-3", "r-4", "r-5"])
            #expect(all[1].actorID == "officer-7" && all[1].accountID == "acc-2" && all[1].actorKind == "officer")
            #expect(all[1].subjectRef == "ref-r-2" && all[1].idNumberMasked == "030******345" && all[1].outcome == "verified")
            #expect(try await trail.entries(.init(subjectRef: "ref-r-3")).map(\.requestID) == ["r-3"])
            #expect(try await trail.entries(.init(actorID: "nobody")).isEmpty)
            #expect(try await trail.entries(.init(agencyCode: "H23.45", since: Date().addingTimeInterval(-60))).count == 5)
            #expect(try await trail.entries(.init(until: Date().addingTimeInterval(-60))).isEmpty)
            #expect(try await trail.verify().isIntact)
            #expect(try await trail.verify(pageSize: 2).rows == 5, "paging walks the whole chain")

            // Autofill released with an empty field list (AUTOFILL_FIELDS=","): stored as NULL, hashed alike.
            var autofill = Self.decision("r-6")
            autofill.verdict.autofill = SealedAutofill(encapsulatedKey: "a2V5", ciphertext: "Y2lwaGVy")
            autofill.audit.autofillFields = []
            autofill.audit.recipientFingerprint = "ab12"
            _ = try await store.record([autofill], verdictTopic: "v", cloudEventSource: "/t")
            let sixth = try await trail.entries(.init(subjectRef: "ref-r-6"))
            #expect(sixth.first?.autofillFields == nil && sixth.first?.recipientFingerprint == "ab12")
            #expect(try await trail.verify().rows == 6)

            // A changed row.
            try await client.query("UPDATE audit_trail SET outcome = 'mismatch' WHERE seq = 3", logger: logger)
            var result = try await trail.verify()
            #expect(result.brokenAt == 3)
            try await client.query("UPDATE audit_trail SET outcome = 'verified' WHERE seq = 3", logger: logger)
            #expect(try await trail.verify().isIntact)

            // A deleted row in the middle, then one at the end.
            try await client.query("DELETE FROM audit_trail WHERE seq = 2", logger: logger)
            result = try await trail.verify()
            #expect(result.brokenAt == 2)
            #expect(result.problem?.contains("missing") == true)
        }
        try await Self.withStore("audit_chain_tail") { client, store, trail in
            _ = try await store.record((1...3).map { Self.decision("t-\($0)") }, verdictTopic: "v", cloudEventSource: "/t")
            try await client.query("DELETE FROM audit_trail WHERE seq = 3", logger: Logger(label: "audit-test"))
            let result = try await trail.verify()
            #expect(result.brokenAt == 3)
            #expect(result.problem?.contains("deleted") == true)
        }
    }

    @Test("the row hash is the documented encoding (docs/operations.md), so a verifier outside the service can recompute it")
    func documentedEncoding() {
        let entry = AuditEntry(
            seq: 7, decidedAtMicros: 1_764_400_000_123_456, requestID: "r-1", agencyCode: "H23.45", channel: "counter",
            actorKind: "officer", actorID: "o-1", outcome: "verified", autofillFields: "fullName", recipientFingerprint: "ab")
        var bytes = Array("tthc.audit.v1".utf8) + [UInt8](repeating: 9, count: 32)
        for value in [Int64(7), 1_764_400_000_123_456] { bytes += withUnsafeBytes(of: value.bigEndian) { Array($0) } }
        let texts: [String?] = ["r-1", "H23.45", "counter", "officer", "o-1", nil, nil, nil, "verified", "fullName", "ab"]
        for text in texts {
            guard let text else {
                bytes.append(0)
                continue
            }
            bytes.append(1)
            bytes += withUnsafeBytes(of: UInt32(text.utf8.count).bigEndian) { Array($0) } + Array(text.utf8)
        }
        #expect(entry.chainHash(previous: [UInt8](repeating: 9, count: 32)) == Array(SHA256.hash(data: bytes)))
    }

    @Test("concurrent writers (separate connections, as several instances) keep one gapless chain")
    func concurrentWriters() async throws {
        try await Self.withStore("audit_concurrent") { client, _, trail in
            let logger = Logger(label: "audit-test")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<4 {
                    group.addTask {
                        let store = VerificationStore(client: client, logger: logger)
                        for batch in 0..<10 {
                            _ = try await store.record(
                                (0..<5).map { Self.decision("w\(writer)-b\(batch)-\($0)") }, verdictTopic: "v", cloudEventSource: "/t")
                        }
                    }
                }
                try await group.waitForAll()
            }
            let result = try await trail.verify()
            #expect(result.isIntact, "\(result.problem ?? "")")
            #expect(result.rows == 200)
        }
    }

    @Test("the worker records actor, account, masked number and autofill recipient; invalid requests too; nothing raw")
    func throughTheWorker() async throws {
        try await RegistrySimulator.withRunning(configuration: .init(port: 0, population: 20_000)) { simulator in
            let harness = try await WorkerHarness(name: "worker_audit", simulator: simulator)
            let population = harness.population()
            let match = Requests.sample(population) { $0.expectMatch && $0.variant == "exact" && $0.idNumber.count == 12 }
            let privateKey = Curve25519.KeyAgreement.PrivateKey()
            let recipientBytes = Array(privateKey.publicKey.rawRepresentation)
            let recipient = AutofillRecipientKey(rawRepresentation: recipientBytes)!
            let autofill = Requests.make(.counter, sample: match, recipientKey: recipient)
            let registration = Requests.make(.registration, sample: match)
            let broken = #"{"requestId":"4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a12","occurredAt":"yesterday","agencyCode":"H23.45.10","actor":{"kind":"citizen","id":"acc-55"},"accountId":"acc-55","subject":{"fullName":"Nguyễn","idNumber":"030190000000","dateOfBirth":"1991-04-12"}}"#
            try await harness.withWorker {
                try await harness.send(autofill, key: "desk-1")
                try await harness.send(registration, key: "acc-1")
                try await harness.send(.registration, key: "acc-55", value: Array(broken.utf8))
                _ = try await harness.verdicts(count: 3)
                // Redelivered: its stored verdict is re-emitted, no second audit row.
                try await harness.send(registration, key: "acc-1")
                _ = try await harness.verdicts(count: 4)
            }
            let logger = Logger(label: "audit-test")
            let client = PostgresClient(configuration: try DatabaseURL.parse(harness.settings.databaseURL), backgroundLogger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                let trail = AuditTrail(client: client, logger: logger)
                let rows = try await trail.entries(.init())
                #expect(rows.count == 3)
                let byRequest = Dictionary(uniqueKeysWithValues: rows.map { ($0.requestID, $0) })
                let counter = try #require(byRequest[autofill.idempotencyKey])
                #expect(counter.outcome == "verified" && counter.channel == "counter" && counter.actorKind == "officer")
                #expect(counter.actorID == "actor-1" && counter.accountID == nil)
                #expect(counter.recipientFingerprint == SHA256.hash(data: recipientBytes).map { String(format: "%02x", $0) }.joined())
                #expect(counter.autofillFields == AutofillField.defaultFields.map(\.rawValue).sorted().joined(separator: ","))
                #expect(counter.idNumberMasked == IDNumber.masked(match.idNumber))
                #expect(counter.subjectRef == SubjectRefKey(keyBytes: harness.settings.subjectRefKey).ref(for: match.idNumber))
                let registered = try #require(byRequest[registration.idempotencyKey])
                #expect(registered.accountID == "acc-1" && registered.recipientFingerprint == nil && registered.autofillFields == nil)
                let invalid = try #require(byRequest["4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a12"])
                #expect(invalid.outcome == "invalid" && invalid.actorKind == "citizen" && invalid.actorID == "acc-55")
                #expect(invalid.accountID == "acc-55" && invalid.idNumberMasked == "030******000")
                #expect(try await trail.verify().isIntact)
                // No raw id number, name or birth date in any column.
                let dump = try await client.query("SELECT audit_trail::text FROM audit_trail", logger: logger)
                for try await text in dump.decode(String.self) {
                    #expect(!text.contains(match.idNumber) && !text.contains("030190000000"))
                    #expect(!text.contains(match.fullName) && !text.contains(match.dateOfBirth))
                }
            }
        }
    }
}
