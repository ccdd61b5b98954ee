import Contract
import Foundation
import NIOCore
import PostgresNIO

/// Locks a batch's existing dossiers (in code order: `codes` is sorted, and each is probed on its
/// own, as ``BatchLookupStatement`` explains), then the audit chain head, as every instance takes
/// them. The Append node reads its inputs in order: dossiers first, then the head. Each dossier's
/// `ctid` comes back with it: locked, the row cannot move before the write statement updates it.
struct LockDossiersAndHead: PostgresPreparedStatement {
    static let sql = """
        WITH locked AS (
            SELECT d.code, d.state, d.state_occurred_at, d.last_request_id, d.ctid
            FROM unnest($1::text[]) AS k(code),
                LATERAL (SELECT code, state, state_occurred_at, last_request_id, ctid FROM dossiers WHERE code = k.code FOR UPDATE) AS d
        ), head AS (
            SELECT last_seq, last_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE
        )
        SELECT code, state, state_occurred_at, last_request_id, ctid::text, NULL::int8, NULL::bytea FROM locked
        UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, last_seq, last_hash FROM head
        """
    typealias Row = (String?, String?, Date?, String?, String?, Int64?, ByteBuffer?)

    var codes: [String]

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(codes)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// The audit chain head under its row lock.
struct LockAuditHead: PostgresPreparedStatement {
    static let sql = "SELECT last_seq, last_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE"
    typealias Row = (Int64, ByteBuffer)

    func makeBindings() throws -> PostgresBindings { PostgresBindings() }
    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// The group commit's one write: results, new dossiers and the states of existing ones, outbox
/// rows, kept registry answers, settled parked checks, audit rows and the chain head.
///
/// Its text is the same for every batch (each part runs over an array that may be empty), so it
/// is prepared once per connection. The text and the bindings are built by the same code
/// (``compose``), so a placeholder can never name the wrong value; ``sql`` is that text for an
/// empty batch.
struct GroupCommitWrite: PostgresPreparedStatement {
    /// A new decision: its record's index in the batch, the verdict as stored, its bytes and headers.
    /// A struct, not a tuple: read through a pointer, a tuple's field was copied with the whole tuple.
    struct Fresh {
        var recordIndex: Int
        var verdict: Verdict
        var value: [UInt8]
        var headers: [MessageHeader]
    }
    typealias Row = (inserted: Int64, outboxIDs: [Int64], headMoved: Int64, dossiersCreated: Int64)

    static let sql = compose(
        records: [], fresh: [], dossiers: [:], verdictTopic: "", outboxKeys: [], kept: [], settled: [], chained: .nothing
    ).sql

    private let bindings: PostgresBindings

    init(
        records: [DecisionRecord], fresh: [Fresh], dossiers: [String: VerificationStore.DossierRow], verdictTopic: String, outboxKeys: [String],
        kept: [KeptRegistryAnswer], settled: [String], chained: AuditTrail.Chained
    ) {
        let query = Self.compose(
            records: records, fresh: fresh, dossiers: dossiers, verdictTopic: verdictTopic, outboxKeys: outboxKeys, kept: kept, settled: settled,
            chained: chained)
        assert(query.sql == Self.sql, "the group commit's text depends on its values")
        bindings = query.binds
    }

    func makeBindings() throws -> PostgresBindings { bindings }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        let (inserted, outboxIDs, headMoved, created) = try row.decode((Int64, [Int64], Int64, Int64).self)
        return (inserted, outboxIDs, headMoved, created)
    }

    private static func compose(
        records: [DecisionRecord], fresh f: [Fresh], dossiers: [String: VerificationStore.DossierRow], verdictTopic: String, outboxKeys: [String],
        kept: [KeptRegistryAnswer], settled: [String], chained: AuditTrail.Chained
    ) -> PostgresQuery {
        var b = StatementBuilder()
        // Results. A unique violation means the request was stored since it was looked up: see `record`.
        let c = ResultColumns(records, f)
        let results = """
            results AS (
                INSERT INTO verification_results (request_id, verdict_id, channel, agency_code, outcome, attempts,
                    id_number_masked, subject_ref, dossier_code, dossier_state, source_topic, source_partition, source_offset,
                    consumed_at, decided_at, message_key, verdict, verdict_headers)
                SELECT r, v, c, a, o, n, NULLIF(m, ''), NULLIF(s, ''), NULLIF(dc, ''), NULLIF(ds, ''), t, p, off, ca, da,
                    CASE WHEN hk THEN mk END, val, h::jsonb
                FROM unnest(\(b.bind(c.requestKeys))::text[], \(b.bind(c.verdictIDs))::uuid[], \(b.bind(c.channels))::text[],
                    \(b.bind(c.agencyCodes))::text[], \(b.bind(c.outcomes))::text[], \(b.bind(c.attempts))::int4[],
                    \(b.bind(c.maskedIDs))::text[], \(b.bind(c.subjectRefs))::text[], \(b.bind(c.dossierCodes))::text[],
                    \(b.bind(c.dossierStates))::text[], \(b.bind(c.topics))::text[], \(b.bind(c.partitions))::int4[],
                    \(b.bind(c.offsets))::int8[], \(b.bind(c.consumedAt))::timestamptz[], \(b.bind(c.decidedAt))::timestamptz[],
                    \(b.bind(c.hasKey))::bool[], \(b.bind(c.messageKeys))::bytea[], \(b.bind(c.values))::bytea[],
                    \(b.bind(c.headers))::text[])
                    AS x(r, v, c, a, o, n, m, s, dc, ds, t, p, off, ca, da, hk, mk, val, h)
                RETURNING 1
            )
            """
        // New dossiers, in code order (as every writer inserts and locks them), inserted once with
        // their state after the batch.
        let created = dossiers.filter { $0.value.newAgencyCode != nil }
        let codes = created.keys.sorted()
        let dossiersCreated = """
            dossiers_created AS (
                INSERT INTO dossiers (code, agency_code, state, state_occurred_at, last_request_id)
                SELECT c, a, s, t, l FROM unnest(\(b.bind(codes))::text[], \(b.bind(codes.map { created[$0]!.newAgencyCode! }))::text[],
                    \(b.bind(codes.map { created[$0]!.state }))::text[], \(b.bind(codes.map { created[$0]!.occurredAt }))::timestamptz[],
                    \(b.bind(codes.map { created[$0]!.lastRequest }))::text[]) AS x(c, a, s, t, l)
                RETURNING 1
            )
            """
        // Existing dossiers were locked by the lock statement, which read their `ctid`s: matching on
        // them keeps a generic plan from scanning the table (see ``LockDossiersAndHead``).
        let dirty = dossiers.filter { $0.value.dirty && $0.value.newAgencyCode == nil }
        let dirtyCodes = dirty.keys.sorted()
        let dossierStates = """
            dossier_states AS (
                UPDATE dossiers d SET state = x.s, state_occurred_at = x.t, last_request_id = x.l, updated_at = now()
                FROM unnest(\(b.bind(dirtyCodes))::text[], \(b.bind(dirtyCodes.map { dirty[$0]!.state }))::text[],
                    \(b.bind(dirtyCodes.map { dirty[$0]!.occurredAt }))::timestamptz[], \(b.bind(dirtyCodes.map { dirty[$0]!.lastRequest }))::text[])
                    AS x(c, s, t, l)
                WHERE d.ctid = ANY(\(b.bind(dirtyCodes.map { dirty[$0]!.tid ?? "(0,0)" }))::tid[]) AND d.code = x.c
                RETURNING 1
            )
            """
        // Each outbox row names its verdict: the bytes, headers and key are those of the request's
        // `verification_results` row (a re-emission publishes exactly what is stored).
        let outbox = """
            outbox AS (
                INSERT INTO verdict_outbox (request_id, topic)
                SELECT r, \(b.bind(verdictTopic)) FROM unnest(\(b.bind(outboxKeys))::text[]) WITH ORDINALITY AS x(r, n)
                ORDER BY n
                RETURNING id
            )
            """
        let answers = VerificationStore.keptAnswersCTE(kept, &b)
        let settledChecks = "settled AS (DELETE FROM parked_checks WHERE request_id = ANY(\(b.bind(settled))::text[]) RETURNING 1)"
        let audit = chained.appendingCTEs(&b)
        return b.query(
            """
            WITH \(results),
            \(dossiersCreated),
            \(dossierStates),
            \(outbox),
            \(answers),
            \(settledChecks),
            \(audit)
            SELECT (SELECT count(*) FROM results), COALESCE((SELECT array_agg(id ORDER BY id) FROM outbox), '{}'),
                (SELECT count(*) FROM audit_head_moved), (SELECT count(*) FROM dossiers_created)
            """)
    }
}

/// The result rows' columns, one array each, filled in one pass over the batch.
private struct ResultColumns {
    var requestKeys: [String] = [], verdictIDs: [UUID] = [], channels: [String] = [], agencyCodes: [String] = []
    var outcomes: [String] = [], attempts: [Int32] = [], maskedIDs: [String] = [], subjectRefs: [String] = []
    var dossierCodes: [String] = [], dossierStates: [String] = [], topics: [String] = [], partitions: [Int32] = []
    var offsets: [Int64] = [], consumedAt: [Date] = [], decidedAt: [Date] = [], hasKey: [Bool] = []
    var messageKeys: [[UInt8]] = [], values: [[UInt8]] = [], headers: [String] = []

    init(_ records: [DecisionRecord], _ fresh: [GroupCommitWrite.Fresh]) {
        let n = fresh.count
        requestKeys.reserveCapacity(n); verdictIDs.reserveCapacity(n); channels.reserveCapacity(n); agencyCodes.reserveCapacity(n)
        outcomes.reserveCapacity(n); attempts.reserveCapacity(n); maskedIDs.reserveCapacity(n); subjectRefs.reserveCapacity(n)
        dossierCodes.reserveCapacity(n); dossierStates.reserveCapacity(n); topics.reserveCapacity(n); partitions.reserveCapacity(n)
        offsets.reserveCapacity(n); consumedAt.reserveCapacity(n); decidedAt.reserveCapacity(n); hasKey.reserveCapacity(n)
        messageKeys.reserveCapacity(n); values.reserveCapacity(n); headers.reserveCapacity(n)
        // Read in place through pointers: copying a record or a tuple out of its array, even for
        // one field, retained and released every reference in it.
        records.withUnsafeBufferPointer { records in
            fresh.withUnsafeBufferPointer { fresh in
                for index in fresh.indices {
                    let item = fresh.baseAddress! + index
                    append(item, records.baseAddress! + item.pointee.recordIndex)
                }
            }
        }
    }

    private mutating func append(_ item: UnsafePointer<GroupCommitWrite.Fresh>, _ record: UnsafePointer<DecisionRecord>) {
        requestKeys.append(record.pointee.requestKey)
        verdictIDs.append(item.pointee.verdict.verdictId)
        channels.append(item.pointee.verdict.channel.rawValue)
        agencyCodes.append(StorableText.encode(item.pointee.verdict.agencyCode))
        outcomes.append(item.pointee.verdict.outcome.rawValue)
        attempts.append(Int32(item.pointee.verdict.attempts))
        maskedIDs.append(item.pointee.verdict.subject?.idNumberMasked ?? "")
        subjectRefs.append(item.pointee.verdict.subject?.ref ?? "")
        dossierCodes.append(item.pointee.verdict.dossier.map { StorableText.encode($0.code) } ?? "")
        dossierStates.append(item.pointee.verdict.dossier?.state.rawValue ?? "")
        topics.append(record.pointee.source.topic)
        partitions.append(record.pointee.source.partition)
        offsets.append(record.pointee.source.offset)
        consumedAt.append(record.pointee.consumedAt)
        decidedAt.append(item.pointee.verdict.decidedAt.date)
        hasKey.append(record.pointee.messageKey != nil)
        messageKeys.append(record.pointee.messageKey ?? [])
        values.append(item.pointee.value)
        headers.append(StoredHeaders.compact(item.pointee.headers))
    }
}
