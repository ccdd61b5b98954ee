import Contract
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Results, dossiers, the outbox and parked checks in PostgreSQL.
///
/// `record` is the group commit: many decisions, their dossier states and
/// their outbox rows in one transaction. The request id (its idempotency key)
/// is the primary key of `verification_results`, so a redelivered request can
/// never get a second result: it gets the stored verdict, byte for byte.
public struct VerificationStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    // MARK: Reading before deciding

    /// Stored verdicts of requests decided before, by idempotency key.
    public func priorVerdicts(_ requestKeys: [String]) async throws -> [String: PublishableVerdict] {
        if requestKeys.isEmpty { return [:] }
        do {
            let rows = try await client.query(
                """
                SELECT request_id, message_key, verdict, verdict_headers::text
                FROM verification_results WHERE request_id = ANY(\(requestKeys))
                """, logger: logger)
            var result: [String: PublishableVerdict] = [:]
            for try await (key, messageKey, verdict, headers) in rows.decode((String, ByteBuffer?, ByteBuffer, String).self) {
                result[key] = try Self.publishable(key, messageKey, verdict, headers)
            }
            return result
        } catch {
            throw StoreError.classifying(error, operation: "read prior verdicts")
        }
    }

    /// The lanes (message keys) that have checks parked: a new request of such a
    /// lane is parked behind them, so that verdicts of one key keep their order.
    public func lanesWithParkedChecks(_ laneKeys: [String]) async throws -> Set<String> {
        if laneKeys.isEmpty { return [] }
        do {
            let rows = try await client.query(
                "SELECT DISTINCT lane_key FROM parked_checks WHERE lane_key = ANY(\(laneKeys))", logger: logger)
            var lanes: Set<String> = []
            for try await lane in rows.decode(String.self) { lanes.insert(lane) }
            return lanes
        } catch {
            throw StoreError.classifying(error, operation: "read parked lanes")
        }
    }

    // MARK: Group commit

    /// Records decisions in one transaction, in order: each gets its dossier's
    /// state after it (a stale request leaves the state alone), a result row and
    /// an outbox row. A decision for a request decided before becomes a
    /// re-emission of the stored verdict. Returns one entry per record, in order.
    public func record(_ records: [DecisionRecord], verdictTopic: String, cloudEventSource: String) async throws -> [RecordedVerdict] {
        if records.isEmpty { return [] }
        // A concurrent instance may insert the same request between our read and
        // our insert; then the transaction is rolled back and run once more,
        // which finds that row and re-emits it.
        for attempt in 1...3 {
            do {
                return try await client.withTransaction(logger: logger) { connection in
                    try await recordOnce(records, on: connection, verdictTopic: verdictTopic, cloudEventSource: cloudEventSource)
                }
            } catch is ConcurrentDecision where attempt < 3 {
                continue
            } catch let error as StoreError {
                throw error
            } catch {
                // PostgreSQL's own message names the constraint or column, never bound values.
                logger.warning("verdict group commit failed", metadata: ["store.error": "\(Self.describe(error))"])
                throw StoreError.classifying(error, operation: "record verdicts")
            }
        }
        throw StoreError(code: .query, operation: "record verdicts (concurrent decisions)")
    }

    private struct ConcurrentDecision: Error {}

    private struct DossierRow {
        var state: String
        var occurredAt: Date
        var lastRequest: String
        var dirty = false
    }

    private func recordOnce(
        _ records: [DecisionRecord], on connection: PostgresConnection, verdictTopic: String, cloudEventSource: String
    ) async throws -> [RecordedVerdict] {
        let keys = records.map(\.requestKey)
        var stored: [String: (PublishableVerdict, String, String)] = [:]
        let storedRows = try await connection.query(
            """
            SELECT request_id, message_key, verdict, verdict_headers::text, outcome, channel
            FROM verification_results WHERE request_id = ANY(\(keys))
            """, logger: logger)
        for try await (key, messageKey, verdict, headers, outcome, channel) in storedRows.decode(
            (String, ByteBuffer?, ByteBuffer, String, String, String).self)
        {
            stored[key] = (try Self.publishable(key, messageKey, verdict, headers), outcome, channel)
        }

        // Lock the dossiers that fresh decisions touch, creating missing ones first.
        var dossiers: [String: DossierRow] = [:]
        let changes = records.filter { stored[$0.requestKey] == nil }.compactMap(\.dossier)
        if !changes.isEmpty {
            // Codes and agencies as stored: see StorableText.
            var agencyByCode: [String: String] = [:]
            for change in changes where agencyByCode[change.storedCode] == nil {
                agencyByCode[change.storedCode] = StorableText.encode(change.agencyCode)
            }
            let codes = agencyByCode.keys.sorted()
            let agencies = codes.map { agencyByCode[$0]! }
            try await connection.query(
                """
                INSERT INTO dossiers (code, agency_code, state, state_occurred_at, last_request_id)
                SELECT code, agency, 'awaiting_verification', 'epoch', '' FROM unnest(\(codes)::text[], \(agencies)::text[]) AS t(code, agency)
                ON CONFLICT (code) DO NOTHING
                """, logger: logger)
            let rows = try await connection.query(
                "SELECT code, state, state_occurred_at, last_request_id FROM dossiers WHERE code = ANY(\(codes)) ORDER BY code FOR UPDATE",
                logger: logger)
            for try await (code, state, occurredAt, last) in rows.decode((String, String, Date, String).self) {
                dossiers[code] = DossierRow(state: state, occurredAt: occurredAt, lastRequest: last)
            }
        }

        enum Output {
            case fresh(Int)  // index into `fresh`
            case reemit(PublishableVerdict, outcome: String, channel: String)
        }
        var outputs: [Output] = []
        var fresh: [(record: DecisionRecord, verdict: Verdict, value: [UInt8], headers: [MessageHeader])] = []
        var freshIndexByKey: [String: Int] = [:]
        for record in records {
            if let (previous, outcome, channel) = stored[record.requestKey] {
                outputs.append(.reemit(previous, outcome: outcome, channel: channel))
                continue
            }
            if let index = freshIndexByKey[record.requestKey] {
                // The same request twice in one batch: the second re-emits the first.
                let first = fresh[index]
                outputs.append(
                    .reemit(
                        PublishableVerdict(requestKey: record.requestKey, messageKey: first.record.messageKey, value: first.value, headers: first.headers),
                        outcome: first.verdict.outcome.rawValue, channel: first.verdict.channel.rawValue))
                continue
            }
            var verdict = record.verdict
            if let change = record.dossier, var row = dossiers[change.storedCode] {
                // Compared in whole microseconds, PostgreSQL's precision: the same instant read
                // back from the database can differ from the request's `Date` in the last bit.
                if Self.microseconds(change.occurredAt) >= Self.microseconds(row.occurredAt) {
                    row.state = DossierState(after: verdict.outcome).rawValue
                    row.occurredAt = change.occurredAt
                    row.lastRequest = record.requestKey
                    row.dirty = true
                    dossiers[change.storedCode] = row
                }
                verdict.dossier = VerdictDossier(code: change.code, state: DossierState(rawValue: row.state) ?? DossierState(after: verdict.outcome))
            }
            let headers = verdict.cloudEventHeaders(
                source: cloudEventSource, traceparent: record.traceparent, tracestate: record.tracestate)
            freshIndexByKey[record.requestKey] = fresh.count
            outputs.append(.fresh(fresh.count))
            fresh.append((record, verdict, verdict.encodedJSON(), headers))
        }

        if !fresh.isEmpty {
            let f = fresh
            let requestIDs = f.map(\.record.requestKey)
            let verdictIDs = f.map(\.verdict.verdictId)
            let channels = f.map(\.verdict.channel.rawValue)
            let agencies = f.map { StorableText.encode($0.verdict.agencyCode) }
            let outcomes = f.map(\.verdict.outcome.rawValue)
            let attempts = f.map { Int32($0.verdict.attempts) }
            let masked = f.map { $0.verdict.subject?.idNumberMasked ?? "" }
            let refs = f.map { $0.verdict.subject?.ref ?? "" }
            let dossierCodes = f.map { $0.verdict.dossier.map { StorableText.encode($0.code) } ?? "" }
            let dossierStates = f.map { $0.verdict.dossier?.state.rawValue ?? "" }
            let topics = f.map(\.record.source.topic)
            let partitions = f.map(\.record.source.partition)
            let offsets = f.map(\.record.source.offset)
            let consumed = f.map(\.record.consumedAt)
            let decided = f.map(\.verdict.decidedAt.date)
            let hasKey = f.map { $0.record.messageKey != nil }
            let messageKeys = f.map { ByteBuffer(bytes: $0.record.messageKey ?? []) }
            let values = f.map { ByteBuffer(bytes: $0.value) }
            let headers = f.map { MessageHeader.jsonPairs($0.headers) }
            let inserted = try await connection.query(
                """
                INSERT INTO verification_results (request_id, verdict_id, channel, agency_code, outcome, attempts,
                    id_number_masked, subject_ref, dossier_code, dossier_state, source_topic, source_partition, source_offset,
                    consumed_at, decided_at, message_key, verdict, verdict_headers)
                SELECT r, v, c, a, o, n, NULLIF(m, ''), NULLIF(s, ''), NULLIF(dc, ''), NULLIF(ds, ''), t, p, off, ca, da,
                    CASE WHEN hk THEN mk END, val, h::jsonb
                FROM unnest(\(requestIDs)::text[], \(verdictIDs)::uuid[], \(channels)::text[], \(agencies)::text[],
                    \(outcomes)::text[], \(attempts)::int4[], \(masked)::text[], \(refs)::text[], \(dossierCodes)::text[],
                    \(dossierStates)::text[], \(topics)::text[], \(partitions)::int4[], \(offsets)::int8[],
                    \(consumed)::timestamptz[], \(decided)::timestamptz[], \(hasKey)::bool[], \(messageKeys)::bytea[],
                    \(values)::bytea[], \(headers)::text[])
                    AS x(r, v, c, a, o, n, m, s, dc, ds, t, p, off, ca, da, hk, mk, val, h)
                ON CONFLICT (request_id) DO NOTHING
                RETURNING request_id
                """, logger: logger)
            var insertedCount = 0
            for try await _ in inserted.decode(String.self) { insertedCount += 1 }
            if insertedCount != fresh.count { throw ConcurrentDecision() }
        }

        let dirty = dossiers.filter(\.value.dirty)
        if !dirty.isEmpty {
            let codes = Array(dirty.keys)
            let states = codes.map { dirty[$0]!.state }
            let times = codes.map { dirty[$0]!.occurredAt }
            let lasts = codes.map { dirty[$0]!.lastRequest }
            try await connection.query(
                """
                UPDATE dossiers d SET state = x.s, state_occurred_at = x.t, last_request_id = x.l, updated_at = now()
                FROM unnest(\(codes)::text[], \(states)::text[], \(times)::timestamptz[], \(lasts)::text[]) AS x(c, s, t, l)
                WHERE d.code = x.c
                """, logger: logger)
        }

        // Outbox rows for everything to publish, in order. Each names its verdict: the bytes,
        // headers and key are those of the request's `verification_results` row (a re-emission
        // publishes exactly what is stored), so they are not written a second time.
        var publishables: [(PublishableVerdict, String, String, Bool)] = []
        for output in outputs {
            switch output {
            case .fresh(let index):
                let item = fresh[index]
                publishables.append((
                    PublishableVerdict(requestKey: item.record.requestKey, messageKey: item.record.messageKey, value: item.value, headers: item.headers),
                    item.verdict.outcome.rawValue, item.verdict.channel.rawValue, true))
            case .reemit(let verdict, let outcome, let channel):
                publishables.append((verdict, outcome, channel, false))
            }
        }
        let outboxKeys = publishables.map(\.0.requestKey)
        let outboxRows = try await connection.query(
            """
            INSERT INTO verdict_outbox (request_id, topic)
            SELECT r, \(verdictTopic) FROM unnest(\(outboxKeys)::text[]) WITH ORDINALITY AS x(r, n)
            ORDER BY n
            RETURNING id
            """, logger: logger)
        var ids: [Int64] = []
        for try await id in outboxRows.decode(Int64.self) { ids.append(id) }
        ids.sort()
        guard ids.count == publishables.count else { throw StoreError(code: .corruptRow, operation: "outbox insert") }

        try await Self.keepAnswers(fresh.compactMap(\.record.keptAnswer), on: connection, logger: logger)

        let settled = records.filter(\.settlesParkedCheck).map(\.requestKey)
        if !settled.isEmpty {
            try await connection.query("DELETE FROM parked_checks WHERE request_id = ANY(\(settled))", logger: logger)
        }

        // Last, so that the chain head's lock (which serialises every instance's commits) is held briefly.
        try await AuditTrail.append(fresh.map { Self.auditDraft($0.record, $0.verdict) }, on: connection, logger: logger)

        return zip(publishables, ids).map { item, id in
            RecordedVerdict(verdict: item.0, isNew: item.3, outboxID: id, outcome: item.1, channel: item.2)
        }
    }

    // MARK: Outbox

    /// Clears outbox rows whose verdicts were delivered.
    public func clearOutbox(_ ids: [Int64]) async throws {
        if ids.isEmpty { return }
        do {
            try await client.query("DELETE FROM verdict_outbox WHERE id = ANY(\(ids))", logger: logger)
        } catch {
            throw StoreError(code: .query, operation: "clear outbox", cause: error)
        }
    }

    /// Outbox rows older than `age` (left by a crash or a failed delivery), oldest first.
    public func pendingOutbox(olderThan age: Duration, limit: Int) async throws -> [(id: Int64, topic: String, verdict: PublishableVerdict)] {
        let seconds = Double(age.components.seconds) + Double(age.components.attoseconds) / 1e18
        do {
            // Rows from before migration 5 carry their own copy; newer ones name the stored verdict.
            let rows = try await client.query(
                """
                SELECT o.id, o.topic, o.request_id,
                    CASE WHEN o.verdict IS NULL THEN r.message_key ELSE o.message_key END,
                    COALESCE(o.verdict, r.verdict), COALESCE(o.verdict_headers, r.verdict_headers)::text
                FROM verdict_outbox o LEFT JOIN verification_results r ON r.request_id = o.request_id
                WHERE o.created_at <= now() - make_interval(secs => \(seconds)) ORDER BY o.id LIMIT \(limit)
                """, logger: logger)
            var result: [(id: Int64, topic: String, verdict: PublishableVerdict)] = []
            for try await (id, topic, key, messageKey, value, headers) in rows.decode(
                (Int64, String, String, ByteBuffer?, ByteBuffer?, String?).self)
            {
                guard let value, let headers else { throw StoreError(code: .corruptRow, operation: "outbox row without a verdict") }
                result.append((id, topic, try Self.publishable(key, messageKey, value, headers)))
            }
            return result
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(code: .query, operation: "read outbox", cause: error)
        }
    }

    /// The SQL state and server message of a PostgreSQL error (no bound values).
    static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return String(describing: type(of: error)) }
        let state = error.serverInfo?[.sqlState] ?? "-"
        let message = error.serverInfo?[.message] ?? "\(error.code)"
        return "\(state) \(message)"
    }

    static func publishable(_ key: String, _ messageKey: ByteBuffer?, _ value: ByteBuffer, _ headers: String) throws -> PublishableVerdict {
        guard let decoded = MessageHeader.fromJSONPairs(headers) else {
            throw StoreError(code: .corruptRow, operation: "verdict headers")
        }
        return PublishableVerdict(
            requestKey: key, messageKey: messageKey.map { Array($0.readableBytesView) },
            value: Array(value.readableBytesView), headers: decoded)
    }
}

extension VerificationStore {
    /// The audit row of a fresh decision (its `seq` and hashes are set when appended).
    static func auditDraft(_ record: DecisionRecord, _ verdict: Verdict) -> AuditEntry {
        let facts = record.audit
        return AuditEntry(
            seq: 0, decidedAtMicros: microseconds(verdict.decidedAt.date), requestID: record.requestKey,
            agencyCode: StorableText.encode(verdict.agencyCode), channel: verdict.channel.rawValue, actorKind: facts.actorKind,
            actorID: facts.actorID.map(StorableText.encode), accountID: facts.accountID.map(StorableText.encode),
            subjectRef: verdict.subject?.ref, idNumberMasked: verdict.subject?.idNumberMasked, outcome: verdict.outcome.rawValue,
            autofillFields: verdict.autofill == nil ? nil : facts.autofillFields.map { $0.sorted().joined(separator: ",") },
            recipientFingerprint: verdict.autofill == nil ? nil : facts.recipientFingerprint,
            reusedFrom: verdict.reusedFrom.map(StorableText.encode))
    }

    /// An instant in whole microseconds since 1970, as PostgreSQL's `timestamptz` holds it.
    static func microseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }
}
