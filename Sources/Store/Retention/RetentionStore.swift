import Foundation
import Logging
import PostgresNIO

/// Deletes rows past their retention in bounded batches: each call is one short statement (or,
/// for the audit trail, one short transaction) over at most `limit` rows found by an indexed
/// column, so no table is locked for long and writers go on meanwhile.
public struct RetentionStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Deletes up to `limit` results decided before `cutoff` (by `verification_results_decided_at_brin`),
    /// except those whose verdict still waits in the outbox. Returns how many it deleted.
    public func deleteResults(decidedBefore cutoff: Date, limit: Int) async throws -> Int {
        try await count(
            operation: "delete old results",
            """
            DELETE FROM verification_results WHERE request_id IN (
                SELECT r.request_id FROM verification_results r
                WHERE r.decided_at < \(cutoff)
                  AND NOT EXISTS (SELECT 1 FROM verdict_outbox o WHERE o.request_id = r.request_id)
                ORDER BY r.decided_at LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING 1
            """)
    }

    /// Deletes up to `limit` dossier events recorded before `cutoff` (by `dossier_events_recorded_at`).
    public func deleteDossierEvents(recordedBefore cutoff: Date, limit: Int) async throws -> Int {
        try await count(
            operation: "delete old dossier events",
            """
            DELETE FROM dossier_events WHERE event_id IN (
                SELECT event_id FROM dossier_events WHERE recorded_at < \(cutoff)
                ORDER BY recorded_at LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING 1
            """)
    }

    /// Deletes up to `limit` registry answers that expired before `now` (by `registry_answers_expires_at`).
    public func deleteExpiredAnswers(before now: Date, limit: Int) async throws -> Int {
        try await count(
            operation: "delete expired registry answers",
            """
            DELETE FROM registry_answers WHERE answer_key IN (
                SELECT answer_key FROM registry_answers WHERE expires_at <= \(now)
                ORDER BY expires_at LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING 1
            """)
    }

    /// Deletes the oldest audit rows, up to `limit`, in chain order and only while they were decided
    /// before `cutoff`; the last one deleted becomes the chain's anchor (its `seq` and hash, in the
    /// same transaction), so that `verify` still checks what is kept. Returns how many it deleted.
    public func deleteAuditRows(decidedBefore cutoff: Date, limit: Int) async throws -> Int {
        do {
            return try await client.withTransaction(logger: logger) { connection in
                // The chain's oldest rows, by primary key; stop at the first one that is to be kept.
                let rows = try await connection.query(
                    "SELECT seq, row_hash, decided_at < \(cutoff) FROM audit_trail ORDER BY seq LIMIT \(limit)", logger: logger)
                var last: (Int64, ByteBuffer)?
                var expired = 0
                var done = false
                for try await (seq, hash, old) in rows.decode((Int64, ByteBuffer, Bool).self) {
                    if done || !old {
                        done = true
                        continue
                    }
                    last = (seq, hash)
                    expired += 1
                }
                guard let (lastSeq, lastHash) = last else { return 0 }
                try await connection.query("DELETE FROM audit_trail WHERE seq <= \(lastSeq)", logger: logger)
                // Another instance's retention may have gone further meanwhile: the anchor only moves forward.
                try await connection.query(
                    "UPDATE audit_chain_head SET anchor_seq = \(lastSeq), anchor_hash = \(lastHash) WHERE id = 1 AND anchor_seq < \(lastSeq)",
                    logger: logger)
                return expired
            }
        } catch {
            throw StoreError.classifying(error, operation: "delete old audit rows")
        }
    }

    private func count(operation: String, _ query: PostgresQuery) async throws -> Int {
        do {
            return try await client.withTransaction(logger: logger) { connection in
                // The worker's sessions plan generically (``VerificationStore/genericPlans``); a
                // batch found by a cutoff is planned for that cutoff, to use its index.
                try await connection.query("SET LOCAL plan_cache_mode = auto", logger: logger)
                let rows = try await connection.query(query, logger: logger)
                var deleted = 0
                for try await _ in rows { deleted += 1 }
                return deleted
            }
        } catch {
            throw StoreError.classifying(error, operation: operation)
        }
    }
}
