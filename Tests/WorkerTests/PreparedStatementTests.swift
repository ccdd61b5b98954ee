import Foundation
import Logging
import PostgresNIO
@testable import Store
import Testing

/// The hot path's prepared statements (issue 12): planned once per session, generically, their
/// plans stay index probes when the tables grow after they were prepared; and a statement whose
/// preparation failed does not poison its connection.
@Suite("Prepared statements", .serialized)
struct PreparedStatementTests {
    static let logger = Logger(label: "prepared-statements-test")

    /// A client whose sessions plan as the worker's do.
    static func withWorkerClient(_ name: String, maximumConnections: Int = 2, _ body: @Sendable (PostgresClient) async throws -> Void)
        async throws
    {
        var configuration = try DatabaseURL.parse(try await freshDatabase(name))
        configuration.options.additionalStartupParameters.append(VerificationStore.genericPlans)
        configuration.options.maximumConnections = maximumConnections
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await MigrationRunner(client: client, logger: logger).run()
            try await body(client)
        }
    }

    static func lines(_ rows: PostgresRowSequence) async throws -> String {
        var lines: [String] = []
        for try await line in rows.decode(String.self) { lines.append(line) }
        return lines.joined(separator: "\n")
    }

    @Test("prepared on empty tables, the lookup and the lock still probe indexes once the tables have grown")
    func plansStayIndexProbes() async throws {
        try await Self.withWorkerClient("prepared_plans", maximumConnections: 1) { client in
            try await client.withConnection { connection in
                let setting = try await Self.lines(try await connection.query("SHOW plan_cache_mode", logger: Self.logger))
                #expect(setting == "force_generic_plan")
                // Prepared (and planned) while every table is empty, as on a fresh deployment.
                let lookup = BatchLookupStatement(requestKeys: ["r-1"], laneKeys: ["l-1"], answerKeys: [ByteBuffer(bytes: [1])])
                _ = try await connection.rows(lookup, logger: Self.logger)
                try await connection.query("BEGIN", logger: Self.logger)
                _ = try await connection.rows(LockDossiersAndHead(codes: ["d-1"]), logger: Self.logger)
                try await connection.query("COMMIT", logger: Self.logger)
                // Then the tables grow, with no ANALYZE (autovacuum's comes a minute later at best).
                try await connection.query(
                    """
                    INSERT INTO verification_results (request_id, verdict_id, channel, agency_code, outcome, attempts, source_topic,
                        source_partition, source_offset, consumed_at, decided_at, verdict, verdict_headers)
                    SELECT 'r-' || g, gen_random_uuid(), 'counter', 'A', 'verified', 1, 't', 0, g, now(), now(), '\\x00', '[]'
                    FROM generate_series(1, 20000) AS g
                    """, logger: Self.logger)
                try await connection.query(
                    """
                    INSERT INTO dossiers (code, agency_code, state, state_occurred_at, last_request_id)
                    SELECT 'd-' || g, 'A', 'awaiting_verification', now(), 'r-' || g FROM generate_series(1, 20000) AS g
                    """, logger: Self.logger)
                let lookupPlan = try await Self.lines(
                    try await connection.query(
                        #"EXPLAIN EXECUTE "Store.BatchLookupStatement"('{r-5,r-77}', '{l-1}', '{}')"#, logger: Self.logger))
                #expect(lookupPlan.contains("Index Scan using verification_results_pkey"), "\(lookupPlan)")
                #expect(!lookupPlan.contains("Seq Scan on verification_results"), "\(lookupPlan)")
                let lockPlan = try await Self.lines(
                    try await connection.query(#"EXPLAIN EXECUTE "Store.LockDossiersAndHead"('{d-5,d-77}')"#, logger: Self.logger))
                #expect(lockPlan.contains("Index Scan using dossiers_pkey"), "\(lockPlan)")
                #expect(!lockPlan.contains("Seq Scan on dossiers"), "\(lockPlan)")
            }
        }
    }

    @Test("a statement whose preparation failed is prepared again on a fresh connection, not failed for the pool's life")
    func failedPreparationDoesNotPoison() async throws {
        try await Self.withWorkerClient("prepared_poison", maximumConnections: 2) { client in
            let lookup = BatchLookupStatement(requestKeys: ["r-1"], laneKeys: [], answerKeys: [])
            // Prepared for the first time inside an aborted transaction: the server refuses to parse it.
            await #expect(throws: (any Error).self) {
                try await client.transaction(logger: Self.logger) { connection in
                    _ = try? await connection.query("SELECT * FROM no_such_table", logger: Self.logger)
                    _ = try await connection.rows(lookup, logger: Self.logger)
                }
            }
            // The only connection of the pool: without a fresh one, PostgresNIO would answer with
            // the remembered failure for as long as the connection lives.
            let rows = try await client.rows(lookup, logger: Self.logger)
            #expect(rows.isEmpty)
        }
    }
}
