import Foundation
import Logging
import PostgresNIO
@testable import Store
import Testing

/// Migration 9 (issue 12): the per-verdict tables keep only the indexes something reads, and the
/// queries that read them still find their rows through an index on a seeded table.
@Suite("Lean indexes (migration 9)", .serialized)
struct LeanIndexesTests {
    static let logger = Logger(label: "lean-indexes-test")

    static func withMigrated(_ name: String, _ body: @Sendable (PostgresClient) async throws -> Void) async throws {
        let client = PostgresClient(configuration: try DatabaseURL.parse(try await freshDatabase(name)), backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await MigrationRunner(client: client, logger: logger).run()
            try await body(client)
        }
    }

    static func strings(_ client: PostgresClient, _ sql: String) async throws -> [String] {
        var result: [String] = []
        for try await value in try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(String.self) {
            result.append(value)
        }
        return result
    }

    /// The plan of `query`, as text (one line per node).
    static func plan(_ client: PostgresClient, _ query: PostgresQuery) async throws -> String {
        let explain = PostgresQuery(unsafeSQL: "EXPLAIN " + query.sql, binds: query.binds)
        var lines: [String] = []
        for try await line in try await client.query(explain, logger: logger).decode(String.self) { lines.append(line) }
        return lines.joined(separator: "\n")
    }

    @Test("each verdict writes two index entries for its result and three for its audit row")
    func indexSet() async throws {
        try await Self.withMigrated("lean_index_set") { client in
            let results = try await Self.strings(
                client, "SELECT indexname FROM pg_indexes WHERE tablename = 'verification_results' ORDER BY indexname")
            #expect(results == ["verification_results_decided_at_brin", "verification_results_pkey"])
            let audit = try await Self.strings(client, "SELECT indexname FROM pg_indexes WHERE tablename = 'audit_trail' ORDER BY indexname")
            #expect(audit == ["audit_trail_decided_at_brin", "audit_trail_pkey", "audit_trail_subject_ref_hash"])
            let methods = try await Self.strings(
                client,
                """
                SELECT c.relname || ':' || a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
                WHERE c.relname IN ('verification_results_decided_at_brin', 'audit_trail_decided_at_brin', 'audit_trail_subject_ref_hash')
                ORDER BY 1
                """)
            #expect(
                methods == [
                    "audit_trail_decided_at_brin:brin", "audit_trail_subject_ref_hash:hash", "verification_results_decided_at_brin:brin",
                ])
            let options = try await Self.strings(client, "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'dossiers'")
            #expect(options == ["fillfactor=50"])
        }
    }

    @Test("`idverify audit` by subject or time window, retention and the prior-verdict lookup use an index on a seeded table")
    func plansUseIndexes() async throws {
        try await Self.withMigrated("lean_index_plans") { client in
            // 60 days of rows in insertion (= chain) order, 2,000 a day; 200 subjects.
            try await client.query(
                """
                INSERT INTO audit_trail (seq, decided_at, request_id, agency_code, channel, actor_kind, actor_id, subject_ref,
                    outcome, prev_hash, row_hash)
                SELECT g, timestamptz '2026-10-01' + g * interval '43 seconds', 'req-' || g, 'H23.' || (g % 7), 'counter',
                    'officer', 'o-' || (g % 50), 'ref-' || (g % 20000), 'verified', '\\x00', '\\x00'
                FROM generate_series(1, 120000) AS g
                """, logger: Self.logger)
            try await client.query(
                """
                INSERT INTO verification_results (request_id, verdict_id, channel, agency_code, outcome, attempts, source_topic,
                    source_partition, source_offset, consumed_at, decided_at, verdict, verdict_headers)
                SELECT 'req-' || g, gen_random_uuid(), 'counter', 'H23', 'verified', 1, 't', 0, g,
                    timestamptz '2026-10-01' + g * interval '43 seconds', timestamptz '2026-10-01' + g * interval '43 seconds',
                    '\\x7b7d', '[]'
                FROM generate_series(1, 120000) AS g
                """, logger: Self.logger)
            try await client.query("ANALYZE audit_trail", logger: Self.logger)
            try await client.query("ANALYZE verification_results", logger: Self.logger)
            let start = try await Self.strings(client, "SELECT (extract(epoch FROM timestamptz '2026-10-01'))::int8::text")
            let base = Double(start.first ?? "0") ?? 0
            let at = { (d: Double) in Date(timeIntervalSince1970: base + d * 86_400) }

            let subject = try await Self.plan(client, AuditTrail.statement(.init(subjectRef: "ref-4242")))
            #expect(subject.contains("audit_trail_subject_ref_hash"), "\(subject)")
            let subjectWindow = try await Self.plan(client, AuditTrail.statement(.init(subjectRef: "ref-4242", since: at(10), until: at(20))))
            #expect(subjectWindow.contains("audit_trail_subject_ref_hash"), "\(subjectWindow)")
            let window = try await Self.plan(client, AuditTrail.statement(.init(actorID: "o-7", since: at(50), until: at(51))))
            #expect(window.contains("audit_trail_decided_at_brin"), "\(window)")

            let retention = try await Self.plan(
                client,
                """
                SELECT r.request_id FROM verification_results r
                WHERE r.decided_at < \(at(2))
                  AND NOT EXISTS (SELECT 1 FROM verdict_outbox o WHERE o.request_id = r.request_id)
                ORDER BY r.decided_at LIMIT 1000 FOR UPDATE SKIP LOCKED
                """)
            #expect(retention.contains("verification_results_decided_at_brin"), "\(retention)")
            let prior = try await Self.plan(
                client, "SELECT request_id FROM verification_results WHERE request_id = ANY(\(["req-5", "req-77"]))")
            #expect(prior.contains("verification_results_pkey"), "\(prior)")
        }
    }

    @Test("`idverify audit` filters as before with only the given conditions in its statement")
    func filters() async throws {
        try await Self.withMigrated("lean_index_filters") { client in
            try await client.query(
                """
                INSERT INTO audit_trail (seq, decided_at, request_id, agency_code, channel, actor_kind, actor_id, subject_ref,
                    outcome, prev_hash, row_hash)
                SELECT g, timestamptz '2026-11-01' + g * interval '1 hour', 'req-' || g, 'H' || (g % 2), 'counter',
                    'officer', 'o-' || (g % 3), CASE WHEN g % 4 = 0 THEN NULL ELSE 'ref-' || (g % 5) END, 'verified', '\\x00', '\\x00'
                FROM generate_series(1, 60) AS g
                """, logger: Self.logger)
            let trail = AuditTrail(client: client, logger: Self.logger)
            let november = ISO8601DateFormatter().date(from: "2026-11-01T00:00:00Z")!
            func seqs(_ query: AuditTrail.Query) async throws -> [Int64] { try await trail.entries(query).map(\.seq) }
            let all = Array(Int64(1)...60)
            #expect(try await seqs(.init()) == all)
            #expect(try await seqs(.init(limit: 5)) == Array(1...5))
            #expect(try await seqs(.init(subjectRef: "ref-1")) == all.filter { $0 % 4 != 0 && $0 % 5 == 1 })
            #expect(try await seqs(.init(actorID: "o-2", agencyCode: "H0")) == all.filter { $0 % 3 == 2 && $0 % 2 == 0 })
            let since = november.addingTimeInterval(10 * 3600)
            let until = november.addingTimeInterval(20 * 3600)
            #expect(try await seqs(.init(since: since, until: until)) == Array(10...19))
            #expect(
                try await seqs(.init(subjectRef: "ref-2", actorID: "o-1", since: since))
                    == all.filter { $0 >= 10 && $0 % 4 != 0 && $0 % 5 == 2 && $0 % 3 == 1 })
        }
    }
}
