import Foundation
import NIOCore
import PostgresNIO

/// A check whose quick retries were spent while the registry was unavailable:
/// kept durably and retried until its deadline. The request is sealed by the
/// worker before it gets here; the store never sees it in clear.
public struct ParkedCheck: Sendable {
    public var requestKey: String
    /// Verdicts of one lane (message key) come out in order: the lane's parked
    /// checks are settled in `sequence` order.
    public var laneKey: String
    public var messageKey: [UInt8]?
    public var traceparent: String?
    /// The request's `tracestate`, continued with its `traceparent`.
    public var tracestate: String?
    public var channel: String
    public var agencyCode: String
    public var sealedRequest: [UInt8]
    public var source: SourcePosition
    public var consumedAt: Date
    public var deadline: Date
    public var nextAttemptAt: Date
    /// Registry calls made so far.
    public var attempts: Int
    /// For a submission: its dossier goes to `awaiting_verification` (unless a newer request moved it).
    /// A leased check carries it back (when parked since migration 7), for a verdict without the request.
    public var dossier: DossierChange?
    /// ``Identity/SubjectRefKey/keyID`` of the key that sealed the request; `nil` for checks parked
    /// before migration 7.
    public var sealedKeyID: String?

    public init(
        requestKey: String, laneKey: String, messageKey: [UInt8]?, traceparent: String?, channel: String, agencyCode: String,
        sealedRequest: [UInt8], source: SourcePosition, consumedAt: Date, deadline: Date, nextAttemptAt: Date, attempts: Int,
        dossier: DossierChange?, tracestate: String? = nil, sealedKeyID: String? = nil
    ) {
        self.sealedKeyID = sealedKeyID
        self.requestKey = requestKey
        self.tracestate = tracestate
        self.laneKey = laneKey
        self.messageKey = messageKey
        self.traceparent = traceparent
        self.channel = channel
        self.agencyCode = agencyCode
        self.sealedRequest = sealedRequest
        self.source = source
        self.consumedAt = consumedAt
        self.deadline = deadline
        self.nextAttemptAt = nextAttemptAt
        self.attempts = attempts
        self.dossier = dossier
    }
}

extension VerificationStore {
    /// Parks checks (a request already parked or decided is left alone).
    public func park(_ checks: [ParkedCheck]) async throws {
        if checks.isEmpty { return }
        do {
            try await client.transaction(logger: logger) { connection in
                for check in checks {
                    let key = check.messageKey.map { ByteBuffer(bytes: $0) }
                    let sealed = ByteBuffer(bytes: check.sealedRequest)
                    try await connection.query(
                        """
                        INSERT INTO parked_checks (request_id, lane_key, message_key, traceparent, tracestate, channel, agency_code,
                            sealed_request, source_topic, source_partition, source_offset, consumed_at, deadline_at,
                            next_attempt_at, attempts, sealed_key_id, dossier_code, dossier_occurred_at)
                        SELECT \(check.requestKey), \(check.laneKey), \(key), \(check.traceparent), \(check.tracestate), \(check.channel),
                            \(StorableText.encode(check.agencyCode)), \(sealed), \(check.source.topic), \(check.source.partition),
                            \(check.source.offset), \(check.consumedAt), \(check.deadline), \(check.nextAttemptAt),
                            \(Int32(check.attempts)), \(check.sealedKeyID), \(check.dossier?.storedCode), \(check.dossier?.occurredAt)
                        WHERE NOT EXISTS (SELECT 1 FROM verification_results WHERE request_id = \(check.requestKey))
                        ON CONFLICT (request_id) DO NOTHING
                        """, logger: logger)
                    if let dossier = check.dossier {
                        try await connection.query(
                            """
                            INSERT INTO dossiers (code, agency_code, state, state_occurred_at, last_request_id)
                            VALUES (\(dossier.storedCode), \(StorableText.encode(dossier.agencyCode)), 'awaiting_verification', \(dossier.occurredAt), \(check.requestKey))
                            ON CONFLICT (code) DO UPDATE SET state = EXCLUDED.state, state_occurred_at = EXCLUDED.state_occurred_at,
                                last_request_id = EXCLUDED.last_request_id, updated_at = now()
                            WHERE dossiers.state_occurred_at <= EXCLUDED.state_occurred_at
                            """, logger: logger)
                    }
                }
            }
        } catch {
            throw StoreError.classifying(error, operation: "park checks")
        }
    }

    /// Leases parked checks that are due and first in their lane, so that no
    /// other worker takes them for `lease`.
    public func leaseDueParkedChecks(limit: Int, lease: Duration) async throws -> [ParkedCheck] {
        let leaseSeconds = Double(lease.components.seconds)
        do {
            let rows = try await client.query(
                """
                UPDATE parked_checks SET lease_until = now() + make_interval(secs => \(leaseSeconds))
                WHERE request_id IN (
                    SELECT p.request_id FROM parked_checks p
                    WHERE p.next_attempt_at <= now() AND (p.lease_until IS NULL OR p.lease_until < now())
                      AND NOT EXISTS (SELECT 1 FROM parked_checks q WHERE q.lane_key = p.lane_key AND q.sequence < p.sequence)
                    ORDER BY p.next_attempt_at LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED)
                RETURNING request_id, lane_key, message_key, traceparent, channel, agency_code, sealed_request,
                    source_topic, source_partition, source_offset, consumed_at, deadline_at, next_attempt_at, attempts, tracestate,
                    sealed_key_id, dossier_code, dossier_occurred_at
                """, logger: logger)
            var checks: [ParkedCheck] = []
            for try await row in rows {
                let (key, lane, messageKey, traceparent, channel, agency, sealed, topic, partition, offset, consumed, deadline, next, attempts, tracestate) = try row.decode(
                    (String, String, ByteBuffer?, String?, String, String, ByteBuffer, String, Int32, Int64, Date, Date, Date, Int32, String?).self)
                let columns = row.makeRandomAccess()
                let keyID = try columns["sealed_key_id"].decode(String?.self)
                let dossierCode = try columns["dossier_code"].decode(String?.self)
                let dossierAt = try columns["dossier_occurred_at"].decode(Date?.self)
                checks.append(
                    ParkedCheck(
                        requestKey: key, laneKey: lane, messageKey: messageKey.map { Array($0.readableBytesView) },
                        traceparent: traceparent, channel: channel, agencyCode: agency,
                        sealedRequest: Array(sealed.readableBytesView),
                        source: SourcePosition(topic: topic, partition: partition, offset: offset), consumedAt: consumed,
                        deadline: deadline, nextAttemptAt: next, attempts: Int(attempts),
                        dossier: dossierCode.map { DossierChange(code: $0, agencyCode: agency, occurredAt: dossierAt ?? consumed) },
                        tracestate: tracestate, sealedKeyID: keyID))
            }
            return checks
        } catch {
            throw StoreError(code: .query, operation: "lease parked checks", cause: error)
        }
    }

    /// A parked check that is still unanswered: try again later.
    public func reschedule(requestKey: String, nextAttemptAt: Date, attempts: Int) async throws {
        do {
            try await client.query(
                """
                UPDATE parked_checks SET next_attempt_at = \(nextAttemptAt), attempts = \(Int32(attempts)), lease_until = NULL
                WHERE request_id = \(requestKey)
                """, logger: logger)
        } catch {
            throw StoreError(code: .query, operation: "reschedule parked check", cause: error)
        }
    }

    /// How many parked checks each key sealed (`nil`: parked before key ids were recorded), so that
    /// an operator knows when a previous `SUBJECT_REF_KEY` can be dropped.
    public func parkedCountByKey() async throws -> [String?: Int] {
        do {
            let rows = try await client.query(
                "SELECT sealed_key_id, count(*) FROM parked_checks GROUP BY sealed_key_id", logger: logger)
            var counts: [String?: Int] = [:]
            for try await (keyID, count) in rows.decode((String?, Int64).self) { counts[keyID] = Int(count) }
            return counts
        } catch {
            throw StoreError(code: .query, operation: "count parked checks by key", cause: error)
        }
    }

    /// How many checks are parked (for metrics and the dev summary).
    public func parkedCount() async throws -> Int {
        do {
            let rows = try await client.query("SELECT count(*) FROM parked_checks", logger: logger)
            for try await count in rows.decode(Int64.self) { return Int(count) }
            return 0
        } catch {
            throw StoreError(code: .query, operation: "count parked checks", cause: error)
        }
    }
}
