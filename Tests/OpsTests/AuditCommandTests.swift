import Contract
import Foundation
import PostgresNIO
import Store
import Testing

/// `idverify audit`, run as the built executable against a real PostgreSQL.
@Suite("idverify audit")
struct AuditCommandTests {
    static func decision(_ requestId: String, ref: String, actor: String) -> DecisionRecord {
        let verdict = Verdict(
            verdictId: UUID(), requestId: requestId, channel: .counter, agencyCode: "H23.45.10", decidedAt: Timestamp(Date()),
            outcome: .verified, subject: VerdictSubject(idNumberMasked: "030******345", ref: ref), attempts: 1)
        return DecisionRecord(
            verdict: verdict, requestKey: requestId, dossier: nil,
            source: SourcePosition(topic: "tthc.identity.counter.requests.v1", partition: 0, offset: 1), consumedAt: Date(),
            messageKey: nil, traceparent: nil, audit: AuditFacts(actorKind: "officer", actorID: actor))
    }

    @Test("queries by subject ref, actor, agency and time; verify exits 1 on a changed row; keys counts parked checks")
    func audit() async throws {
        try await OpsTestEnvironment.withDatabase { client, url in
            let store = VerificationStore(client: client, logger: OpsTestEnvironment.logger)
            _ = try await store.record(
                [Self.decision("a-1", ref: "REF-A", actor: "o-1"), Self.decision("a-2", ref: "REF-B", actor: "o-2"),
                 Self.decision("a-3", ref: "REF-A", actor: "o-2")],
                verdictTopic: "v", cloudEventSource: "/t")
            let environment = ["DATABASE_URL": url]

            let byRef = try await OpsTestEnvironment.runIDVerify(["audit", "--subject-ref", "REF-A"], environment: environment)
            #expect(byRef.status == 0, "\(byRef.stderr)")
            let lines = byRef.stdout.split(separator: "\n")
            #expect(lines.count == 2)
            #expect(lines.first?.contains("request a-1") == true && lines.last?.contains("request a-3") == true)
            #expect(lines.first?.contains("actor officer:o-1") == true && lines.first?.contains("030******345") == true)

            let byActor = try await OpsTestEnvironment.runIDVerify(
                ["audit", "query", "--actor", "o-2", "--agency", "H23.45.10", "--since", "1h"], environment: environment)
            #expect(byActor.stdout.split(separator: "\n").count == 2, "\(byActor.stdout)\(byActor.stderr)")
            let none = try await OpsTestEnvironment.runIDVerify(["audit", "--until", "1h"], environment: environment)
            #expect(none.stdout.contains("no audit rows match"))

            let intact = try await OpsTestEnvironment.runIDVerify(["audit", "verify"], environment: environment)
            #expect(intact.status == 0 && intact.stdout.contains("audit chain intact: 3 rows"), "\(intact.stdout)\(intact.stderr)")
            try await client.query("UPDATE audit_trail SET actor_id = 'o-9' WHERE seq = 2", logger: OpsTestEnvironment.logger)
            let broken = try await OpsTestEnvironment.runIDVerify(["audit", "verify"], environment: environment)
            #expect(broken.status == 1)
            #expect(broken.stdout.contains("BROKEN at row #2"), "\(broken.stdout)")

            let keys = try await OpsTestEnvironment.runIDVerify(["audit", "keys"], environment: environment)
            #expect(keys.status == 0 && keys.stdout.contains("no parked checks"), "\(keys.stdout)\(keys.stderr)")
        }
    }
}
