import Contract
import Foundation
import Logging
import PostgresNIO
import Store
import Testing

/// The group commit's dossier writes (issue 12): a new dossier is inserted once, with its state
/// after the batch; one created by another transaction meanwhile turns the write into a retry
/// that reads and orders against it.
@Suite("Dossier writes of the group commit", .serialized)
struct DossierWriteTests {
    static let logger = Logger(label: "dossier-write-test")

    static func decision(_ requestId: String, dossier: String, occurredAt: Date, outcome: Verdict.Outcome = .verified) -> DecisionRecord {
        let verdict = Verdict(
            verdictId: UUID(), requestId: requestId, channel: .submission, agencyCode: "H23.45", decidedAt: Timestamp(Date()),
            outcome: outcome, subject: VerdictSubject(idNumberMasked: "030******345", ref: "ref-\(requestId)"), attempts: 1)
        return DecisionRecord(
            verdict: verdict, requestKey: requestId, dossier: DossierChange(code: dossier, agencyCode: "H23.45", occurredAt: occurredAt),
            source: SourcePosition(topic: "tthc.submission.requests.v1", partition: 0, offset: 1), consumedAt: Date(),
            messageKey: nil, traceparent: nil)
    }

    static func withStore(_ name: String, _ body: @Sendable (PostgresClient, VerificationStore) async throws -> Void) async throws {
        let client = PostgresClient(configuration: try DatabaseURL.parse(try await freshDatabase(name)), backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await MigrationRunner(client: client, logger: logger).run()
            try await body(client, VerificationStore(client: client, logger: logger))
        }
    }

    static func dossierRows(_ client: PostgresClient) async throws -> [(ctid: String, code: String, state: String, last: String)] {
        var rows: [(String, String, String, String)] = []
        let result = try await client.query(
            "SELECT ctid::text, code, state, last_request_id FROM dossiers ORDER BY code", logger: logger)
        for try await row in result.decode((String, String, String, String).self) { rows.append(row) }
        return rows
    }

    static func dossierState(_ recorded: RecordedVerdict) throws -> String? {
        let object = try JSONSerialization.jsonObject(with: Data(recorded.verdict.value)) as? [String: Any]
        return (object?["dossier"] as? [String: Any])?["state"] as? String
    }

    @Test("a new dossier is written once, with its state after the batch: one row version, no update")
    func insertedOnce() async throws {
        try await Self.withStore("dossier_insert_once") { client, store in
            let t0 = Date(timeIntervalSince1970: 1_790_000_000)
            let recorded = try await store.record(
                [
                    Self.decision("r-1", dossier: "D-1", occurredAt: t0, outcome: .mismatch),
                    Self.decision("r-2", dossier: "D-1", occurredAt: t0.addingTimeInterval(60)),
                    Self.decision("r-3", dossier: "D-2", occurredAt: t0),
                ], verdictTopic: "v", cloudEventSource: "test")
            #expect(try recorded.map(Self.dossierState) == ["needs_correction", "accepted", "accepted"])
            let rows = try await Self.dossierRows(client)
            // The first row versions of a fresh table's first page: nothing was inserted, then updated.
            #expect(rows.map(\.ctid) == ["(0,1)", "(0,2)"])
            #expect(rows.map(\.state) == ["accepted", "accepted"])
            #expect(rows.map(\.last) == ["r-2", "r-3"])

            // An existing dossier is updated; an older request leaves it alone.
            let later = try await store.record(
                [
                    Self.decision("r-4", dossier: "D-1", occurredAt: t0.addingTimeInterval(120), outcome: .mismatch),
                    Self.decision("r-5", dossier: "D-2", occurredAt: t0.addingTimeInterval(-60), outcome: .mismatch),
                ], verdictTopic: "v", cloudEventSource: "test")
            #expect(try later.map(Self.dossierState) == ["needs_correction", "accepted"])
            #expect(try await Self.dossierRows(client).map(\.state) == ["needs_correction", "accepted"])
        }
    }

    @Test("a dossier created by another transaction while the group commit waits for it: retried, ordered against it")
    func createdMeanwhile() async throws {
        try await Self.withStore("dossier_created_meanwhile") { client, store in
            let t0 = Date(timeIntervalSince1970: 1_790_000_000)
            let inserted = AsyncStream<Void>.makeStream()
            // Another writer (as `park` does) creates D-9 with a later change and holds it uncommitted.
            let other = Task {
                try await client.withTransaction(logger: Self.logger) { connection in
                    try await connection.query(
                        """
                        INSERT INTO dossiers (code, agency_code, state, state_occurred_at, last_request_id)
                        VALUES ('D-9', 'H23.45', 'awaiting_verification', \(t0.addingTimeInterval(300)), 'other')
                        """, logger: Self.logger)
                    inserted.continuation.yield()
                    try await Task.sleep(for: .milliseconds(500))
                }
            }
            var iterator = inserted.stream.makeAsyncIterator()
            _ = await iterator.next()
            let recorded = try await store.record(
                [Self.decision("r-1", dossier: "D-9", occurredAt: t0)], verdictTopic: "v", cloudEventSource: "test")
            try await other.value
            #expect(recorded.map(\.isNew) == [true])
            // Older than the stored change: the state stays, and the verdict says so.
            #expect(try recorded.map(Self.dossierState) == ["awaiting_verification"])
            let rows = try await Self.dossierRows(client)
            #expect(rows.map(\.state) == ["awaiting_verification"])
            #expect(rows.map(\.last) == ["other"])
            let results = try await client.query("SELECT count(*)::int8 FROM verification_results", logger: Self.logger)
            for try await count in results.decode(Int64.self) { #expect(count == 1) }
        }
    }
}
