import Contract
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Store
import Testing
import Worker

/// Retention on a real PostgreSQL, with rows whose timestamps are set in the past: old rows go in
/// bounded batches, recent ones and unpublished verdicts stay, and the audit chain still verifies.
@Suite("Retention", .serialized)
struct RetentionTests {
    static let logger = Logger(label: "retention-test")

    static func decision(_ requestId: String, decidedAt: Date) -> DecisionRecord {
        let verdict = Verdict(
            verdictId: UUID(), requestId: requestId, channel: .registration, agencyCode: "H23.45", decidedAt: Timestamp(decidedAt),
            outcome: .verified, attempts: 1)
        return DecisionRecord(
            verdict: verdict, requestKey: requestId, dossier: nil,
            source: SourcePosition(topic: "tthc.registration.requests.v1", partition: 0, offset: 1), consumedAt: decidedAt,
            messageKey: nil, traceparent: nil,
            // Parked checks' verdicts: they go through the outbox, whose rows retention must respect.
            settlesParkedCheck: true, audit: AuditFacts(actorKind: "citizen", actorID: "acc-1", accountID: "acc-1"))
    }

    static func count(_ client: PostgresClient, _ table: String) async throws -> Int {
        let rows = try await client.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)"), logger: logger)
        for try await n in rows.decode(Int64.self) { return Int(n) }
        return 0
    }

    @Test("old results, dossier events and audit rows are deleted in batches; the chain keeps verifying from its new anchor")
    func deletesOldRows() async throws {
        let client = PostgresClient(
            configuration: try DatabaseURL.parse(try await freshDatabase("retention_rows")), backgroundLogger: Self.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await MigrationRunner(client: client, logger: Self.logger).run()
            let store = VerificationStore(client: client, logger: Self.logger)
            let old = Date().addingTimeInterval(-40 * 86_400)
            // 25 old decisions (the oldest audit rows), then 5 recent ones.
            let recorded = try await store.record((0..<25).map { Self.decision("old-\($0)", decidedAt: old) }, verdictTopic: "v", cloudEventSource: "/t")
            _ = try await store.record((0..<5).map { Self.decision("new-\($0)", decidedAt: Date()) }, verdictTopic: "v", cloudEventSource: "/t")
            // Every verdict delivered but one old one, which still waits in the outbox.
            try await store.clearOutbox(recorded.dropFirst().compactMap(\.outboxID))
            let pending = try await client.query("SELECT id FROM verdict_outbox WHERE request_id LIKE 'new-%'", logger: Self.logger)
            var newIDs: [Int64] = []
            for try await id in pending.decode(Int64.self) { newIDs.append(id) }
            try await store.clearOutbox(newIDs)

            try await client.query(
                """
                INSERT INTO dossier_events (event_id, dossier_code, agency_code, type, occurred_at, recorded_at)
                SELECT gen_random_uuid(), 'D-' || n, 'H23.45', 'submitted', now(), CASE WHEN n <= 12 THEN now() - interval '40 days' ELSE now() END
                FROM generate_series(1, 15) AS n
                """, logger: Self.logger)

            var configuration = RetentionConfiguration()
            configuration.resultsDays = 30
            configuration.dossierEventsDays = 30
            configuration.auditDays = 30
            configuration.batchSize = 10
            configuration.pause = .milliseconds(1)
            let retention = RetentionService(store: RetentionStore(client: client, logger: Self.logger), configuration: configuration, logger: Self.logger)
            let pass = try await retention.runOnce()
            #expect(pass.results == 24, "the old result whose verdict is still in the outbox stays")
            #expect(pass.dossierEvents == 12)
            #expect(pass.auditRows == 25)
            #expect(try await Self.count(client, "verification_results") == 6)
            #expect(try await Self.count(client, "dossier_events") == 3)
            #expect(try await Self.count(client, "audit_trail") == 5)

            let trail = AuditTrail(client: client, logger: Self.logger)
            let verification = try await trail.verify()
            #expect(verification.isIntact, "\(verification.problem ?? "")")
            #expect(verification.anchorSeq == 25 && verification.rows == 5)
            // Appending after retention chains on; a second pass deletes nothing.
            _ = try await store.record([Self.decision("later", decidedAt: Date())], verdictTopic: "v", cloudEventSource: "/t")
            #expect(try await retention.runOnce() == RetentionService.PassResult())
            #expect(try await trail.verify().rows == 6)
            // Deleting a kept row by hand is still found.
            try await client.query("DELETE FROM audit_trail WHERE seq = 26", logger: Self.logger)
            #expect(try await trail.verify().brokenAt == 26)
        }
    }

    @Test("as a Service: deletes in the background every interval and returns at graceful shutdown")
    func backgroundService() async throws {
        let client = PostgresClient(
            configuration: try DatabaseURL.parse(try await freshDatabase("retention_service")), backgroundLogger: Self.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await MigrationRunner(client: client, logger: Self.logger).run()
            let store = VerificationStore(client: client, logger: Self.logger)
            let recorded = try await store.record(
                (0..<3).map { Self.decision("old-\($0)", decidedAt: Date().addingTimeInterval(-10 * 86_400)) }, verdictTopic: "v",
                cloudEventSource: "/t")
            try await store.clearOutbox(recorded.compactMap(\.outboxID))
            var configuration = RetentionConfiguration()
            configuration.resultsDays = 1
            configuration.auditDays = 1
            configuration.interval = .milliseconds(100)
            let service = RetentionService(
                store: RetentionStore(client: client, logger: Self.logger), configuration: configuration, logger: Self.logger)
            let serviceGroup = ServiceGroup(configuration: .init(services: [service], logger: Self.logger))
            let running = Task { try await serviceGroup.run() }
            try await withTimeout(20, "the background pass") {
                while true {
                    let left = try await Self.count(client, "verification_results") + Self.count(client, "audit_trail")
                    if left == 0 { return }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            await serviceGroup.triggerGracefulShutdown()
            try await withTimeout(5, "the service to stop") { try await running.value }
            #expect(try await AuditTrail(client: client, logger: Self.logger).verify().anchorSeq == 3)
        }
    }

    @Test("0 days keeps rows for ever; the settings are read and named when malformed")
    func keepForever() async throws {
        let complete = [
            "KAFKA_BROKERS": "127.0.0.1:9092", "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
            "REGISTRY_URL": "http://127.0.0.1:8089", "REGISTRY_TOKEN": "t", "SUBJECT_REF_KEY": "MDEyMzQ1Njc4OWFiY2RlZg==",
        ]
        #expect(try ServiceSettings.fromEnvironment(complete).retention == RetentionConfiguration())
        let settings = try ServiceSettings.fromEnvironment(
            complete.merging(["RETENTION_RESULTS_DAYS": "0", "RETENTION_DOSSIER_EVENTS_DAYS": "90", "RETENTION_AUDIT_DAYS": "3650"]) { $1 })
        #expect(settings.retention.resultsDays == 0 && settings.retention.dossierEventsDays == 90 && settings.retention.auditDays == 3650)
        for name in ["RETENTION_RESULTS_DAYS", "RETENTION_DOSSIER_EVENTS_DAYS", "RETENTION_AUDIT_DAYS"] {
            #expect {
                _ = try ServiceSettings.fromEnvironment(complete.merging([name: "-1"]) { $1 })
            } throws: { ($0 as? SettingsError)?.setting == name }
        }

        let client = PostgresClient(
            configuration: try DatabaseURL.parse(try await freshDatabase("retention_forever")), backgroundLogger: Self.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await MigrationRunner(client: client, logger: Self.logger).run()
            let store = VerificationStore(client: client, logger: Self.logger)
            let recorded = try await store.record(
                [Self.decision("ancient", decidedAt: Date().addingTimeInterval(-3_000 * 86_400))], verdictTopic: "v", cloudEventSource: "/t")
            try await store.clearOutbox(recorded.compactMap(\.outboxID))
            var configuration = RetentionConfiguration()
            configuration.resultsDays = 0
            configuration.dossierEventsDays = 0
            configuration.auditDays = 0
            let retention = RetentionService(store: RetentionStore(client: client, logger: Self.logger), configuration: configuration, logger: Self.logger)
            #expect(try await retention.runOnce() == RetentionService.PassResult())
            #expect(try await Self.count(client, "verification_results") == 1)
            #expect(try await Self.count(client, "audit_trail") == 1)
        }
    }
}
