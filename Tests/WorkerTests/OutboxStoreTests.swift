import Contract
import Foundation
import Logging
import PostgresNIO
import Store
import Testing
import Worker

/// The outbox on a real PostgreSQL: rows name their verdict (migration 5), and rows written by
/// value before the upgrade are still published from their own copy.
@Suite struct OutboxStoreTests {
    static func decision(_ requestId: String, messageKey: [UInt8]?, offset: Int64) -> DecisionRecord {
        let verdict = Verdict(
            verdictId: UUID(), requestId: requestId, channel: .registration, agencyCode: "H23.45", decidedAt: Timestamp(Date()),
            outcome: .verified, attempts: 1)
        return DecisionRecord(
            verdict: verdict, requestKey: requestId, dossier: nil,
            source: SourcePosition(topic: "tthc.registration.requests.v1", partition: 0, offset: offset), consumedAt: Date(),
            messageKey: messageKey, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", tracestate: "vendor=1",
            settlesParkedCheck: true)  // a parked check's verdict: the kind that goes through the outbox
    }

    @Test("outbox rows name their verdict; rows from before the upgrade publish their own copy")
    func byReference() async throws {
        let logger = Logger(label: "outbox-test")
        let client = PostgresClient(
            configuration: try DatabaseURL.parse(try await freshDatabase("store_outbox")), backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }

            // Before the upgrade: a row that carries its verdict.
            _ = try await MigrationRunner(client: client, migrations: Array(Migration.all.prefix(4)), logger: logger).run()
            // Stored then: every header, from `ce_specversion` on (see `StoredHeaders`).
            let legacyHeaders = [MessageHeader(name: "ce_specversion", value: "1.0"), MessageHeader(name: "ce_id", value: "legacy-1")]
            try await client.query(
                """
                INSERT INTO verdict_outbox (request_id, topic, message_key, verdict, verdict_headers)
                VALUES ('legacy-1', 'tthc.verdicts.v1', \(ByteBuffer(string: "k-legacy")), \(ByteBuffer(string: "{\"legacy\":1}")),
                    \(MessageHeader.jsonPairs(legacyHeaders))::jsonb)
                """, logger: logger)
            #expect(try await MigrationRunner(client: client, logger: logger).run() == Array(5...Migration.all.count))

            let store = VerificationStore(client: client, logger: logger)
            let recorded = try await store.record(
                [Self.decision("r-1", messageKey: Array("k-1".utf8), offset: 1), Self.decision("r-2", messageKey: nil, offset: 2)],
                verdictTopic: "tthc.verdicts.v1", cloudEventSource: "/test")
            // A request seen again re-emits the stored verdict through the outbox as well.
            let again = try await store.record(
                [Self.decision("r-1", messageKey: Array("k-other".utf8), offset: 3)], verdictTopic: "tthc.verdicts.v1",
                cloudEventSource: "/test")
            #expect(again.map(\.isNew) == [false])

            let copies = try await client.query("SELECT count(*) FROM verdict_outbox WHERE verdict IS NOT NULL", logger: logger)
            for try await count in copies.decode(Int64.self) { #expect(count == 1, "only the legacy row holds a copy") }

            let pending = try await store.pendingOutbox(olderThan: .zero, limit: 10)
            #expect(pending.map(\.verdict.requestKey) == ["legacy-1", "r-1", "r-2", "r-1"])
            #expect(pending.map(\.topic) == Array(repeating: "tthc.verdicts.v1", count: 4))
            #expect(pending[0].verdict.value == Array("{\"legacy\":1}".utf8))
            #expect(pending[0].verdict.messageKey == Array("k-legacy".utf8))
            #expect(pending[0].verdict.headers == legacyHeaders)
            #expect(pending[1].verdict == recorded[0].verdict)
            #expect(pending[2].verdict == recorded[1].verdict)
            #expect(pending[2].verdict.messageKey == nil)
            #expect(pending[3].verdict == recorded[0].verdict, "the re-emission is the stored verdict, key included")
            #expect(pending[1].verdict.headers.contains { $0.name == "tracestate" })

            try await store.clearOutbox(pending.map(\.id))
            #expect(try await store.pendingOutbox(olderThan: .zero, limit: 10).isEmpty)
        }
    }
}
