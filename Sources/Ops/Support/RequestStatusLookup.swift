import Contract
import Foundation
import Logging
import PostgresNIO
import Store

/// What happened to one request, for support staff (`idverify verdict REQUEST_ID`), from the
/// store: its result, or its parked check, or nothing. Never personal data: outcomes, counts,
/// timings and the dossier's code and state.
public enum RequestStatus: Sendable, Hashable {
    /// A verdict was decided and stored.
    case decided(DecidedRequest)
    /// The registry was unavailable; the check waits in `parked_checks` for its next attempt.
    case parked(ParkedRequest)
    /// The store has no trace of it (never consumed, or not yet).
    case notSeen

    public struct DecidedRequest: Sendable, Hashable {
        public var verdictId: UUID
        public var channel: String
        public var agencyCode: String
        public var outcome: String
        public var attempts: Int
        public var consumedAt: Date
        public var decidedAt: Date
        public var dossierCode: String?
        public var dossierState: String?
        public var sourceTopic: String
        public var sourcePartition: Int32
        public var sourceOffset: Int64
        /// The verdict still waits in the outbox: decided but not yet confirmed published.
        public var awaitingPublication: Bool
    }

    public struct ParkedRequest: Sendable, Hashable {
        public var channel: String
        public var agencyCode: String
        public var attempts: Int
        public var consumedAt: Date
        public var nextAttemptAt: Date
        public var deadlineAt: Date
    }
}

/// Reads ``RequestStatus`` from `verification_results`, `verdict_outbox` and `parked_checks`
/// (migration 2).
public struct RequestStatusLookup: Sendable {
    private let client: PostgresClient
    private let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// - Parameter requestId: as the request carried it; looked up by its idempotency key as stored.
    public func status(requestId: String) async throws -> RequestStatus {
        let requestId = StorableText.encode(RequestID.idempotencyKey(for: requestId))
        let decided = try await self.client.query(
            """
            SELECT r.verdict_id, r.channel, r.agency_code, r.outcome, r.attempts, r.consumed_at, r.decided_at,
                   r.dossier_code, r.dossier_state, r.source_topic, r.source_partition, r.source_offset,
                   EXISTS (SELECT 1 FROM verdict_outbox o WHERE o.request_id = r.request_id)
            FROM verification_results r WHERE r.request_id = \(requestId)
            """,
            logger: self.logger)
        for try await row in decided {
            let columns = row.makeRandomAccess()
            return .decided(
                .init(
                    verdictId: try columns[0].decode(UUID.self),
                    channel: try columns[1].decode(String.self),
                    agencyCode: try columns[2].decode(String.self),
                    outcome: try columns[3].decode(String.self),
                    attempts: try columns[4].decode(Int.self),
                    consumedAt: try columns[5].decode(Date.self),
                    decidedAt: try columns[6].decode(Date.self),
                    dossierCode: try columns[7].decode(String?.self),
                    dossierState: try columns[8].decode(String?.self),
                    sourceTopic: try columns[9].decode(String.self),
                    sourcePartition: try columns[10].decode(Int32.self),
                    sourceOffset: try columns[11].decode(Int64.self),
                    awaitingPublication: try columns[12].decode(Bool.self)))
        }
        let parked = try await self.client.query(
            """
            SELECT channel, agency_code, attempts, consumed_at, next_attempt_at, deadline_at
            FROM parked_checks WHERE request_id = \(requestId)
            """,
            logger: self.logger)
        for try await (channel, agency, attempts, consumedAt, nextAttemptAt, deadlineAt)
            in parked.decode((String, String, Int, Date, Date, Date).self)
        {
            return .parked(
                .init(
                    channel: channel, agencyCode: agency, attempts: attempts, consumedAt: consumedAt,
                    nextAttemptAt: nextAttemptAt, deadlineAt: deadlineAt))
        }
        return .notSeen
    }
}
