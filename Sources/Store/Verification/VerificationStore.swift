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

    /// The session setting the worker's connections start with: each prepared statement of the hot
    /// path is planned once per connection (a generic plan), not at every call. Left to PostgreSQL's
    /// default (`auto`), a statement over arrays keeps being planned for each call's values, since
    /// its generic plan looks costlier than the custom ones. The hot path's statements are written
    /// so that their generic plan is the cheap one at any table size (``BatchLookupStatement``);
    /// the other statements of the worker's sessions either find rows by key, or set `auto` for
    /// their transaction (``RetentionStore``).
    public static let genericPlans = ("plan_cache_mode", "force_generic_plan")

    // MARK: Group commit

    /// Records decisions in one transaction, in order: each gets its dossier's state after it (a
    /// stale request leaves the state alone), a result row and an audit row; a decision that settles
    /// a parked check (``DecisionRecord/needsOutbox``) also gets an outbox row. A decision for a
    /// request decided before becomes a re-emission of the stored verdict. Returns one entry per
    /// record, in order.
    ///
    /// Four round trips per batch: `BEGIN`; one statement that locks the batch's existing dossiers
    /// and the audit chain head; one statement that writes the results, the new dossiers and the
    /// states of existing ones, the outbox rows, the settled parked checks, the audit rows and the
    /// chain head; `COMMIT`. A new dossier is inserted once, with its state after the batch (not
    /// created, then updated: one row version and one index entry).
    /// The first attempt trusts that the requests are new (the worker looked them up before
    /// deciding); when one was stored meanwhile (by another instance, or twice in a row), the result
    /// insert fails on the primary key, the transaction is rolled back and run again with a lookup
    /// first, which turns that decision into a re-emission. The inserts are plain `INSERT`s, not
    /// `ON CONFLICT`: a conflict is rare, and a speculative insertion costs every row an extra index
    /// probe and WAL record.
    public func record(_ records: [DecisionRecord], verdictTopic: String, cloudEventSource: String) async throws -> [RecordedVerdict] {
        if records.isEmpty { return [] }
        for attempt in 1...3 {
            do {
                return try await client.transaction(logger: logger) { connection in
                    try await recordOnce(
                        records, on: connection, lookUpStored: attempt > 1, verdictTopic: verdictTopic, cloudEventSource: cloudEventSource)
                }
            } catch let error where Self.isConcurrentDecision(error) && attempt < 3 {
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

    /// The transaction wraps what its body throws.
    private static func isConcurrentDecision(_ error: any Error) -> Bool {
        if error is ConcurrentDecision { return true }
        if let error = error as? PostgresTransactionError { return error.closureError is ConcurrentDecision }
        return false
    }

    /// The primary keys whose unique violation means "stored meanwhile by another transaction":
    /// a result (its request decided elsewhere) or a new dossier (created by `park` or another
    /// instance since the lock statement).
    static let concurrentlyStoredKeys: Set<String> = ["verification_results_pkey", "dossiers_pkey"]

    static func isConcurrentlyStored(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError, error.serverInfo?[.sqlState] == "23505",
            let constraint = error.serverInfo?[.constraintName]
        else { return false }
        return concurrentlyStoredKeys.contains(constraint)
    }

    struct DossierRow {
        var state: String
        var occurredAt: Date
        var lastRequest: String
        /// The row's `ctid`, read under its lock.
        var tid: String?
        var dirty = false
        /// Not stored yet: the group commit inserts it (`agencyCode` as stored).
        var newAgencyCode: String?

        /// A dossier no row exists for yet: the state `park` and the first decision start from.
        static func new(agencyCode: String) -> DossierRow {
            DossierRow(
                state: "awaiting_verification", occurredAt: Date(timeIntervalSince1970: 0), lastRequest: "", newAgencyCode: agencyCode)
        }
    }

    private func recordOnce(
        _ records: [DecisionRecord], on connection: PostgresConnection, lookUpStored: Bool, verdictTopic: String,
        cloudEventSource: String
    ) async throws -> [RecordedVerdict] {
        var stored: [String: (PublishableVerdict, String, String)] = [:]
        if lookUpStored {
            let storedRows = try await connection.query(
                """
                SELECT request_id, message_key, verdict, verdict_headers::text, outcome, channel
                FROM verification_results WHERE request_id = ANY(\(records.map(\.requestKey)))
                """, logger: logger)
            for try await (key, messageKey, verdict, headers, outcome, channel) in storedRows.decode(
                (String, ByteBuffer?, ByteBuffer, String, String, String).self)
            {
                stored[key] = (try Self.publishable(key, messageKey, verdict, headers), outcome, channel)
            }
        }

        // Lock the existing dossiers that fresh decisions touch, then the audit chain head: one
        // statement, in that order, as every instance takes them. Missing dossiers are inserted by
        // the write statement; one created meanwhile by another transaction makes it a conflict.
        var freshChanges: [DossierChange] = []
        var anyFresh = false
        records.withUnsafeBufferPointer { records in
            for record in records.indices.lazy.map({ records.baseAddress! + $0 })
            where stored.isEmpty || stored[record.pointee.requestKey] == nil {
                anyFresh = true
                if let change = record.pointee.dossier { freshChanges.append(change) }
            }
        }
        let (dossiers, chainHead) = try await lockDossiersAndChain(freshChanges, chain: anyFresh, on: connection)
        var dossierRows = dossiers

        enum Output {
            case fresh(Int)  // index into `fresh`
            case reemit(PublishableVerdict, outcome: String, channel: String)
        }
        var outputs: [Output] = []
        var fresh: [GroupCommitWrite.Fresh] = []
        var freshIndexByKey: [String: Int] = [:]
        outputs.reserveCapacity(records.count)
        fresh.reserveCapacity(records.count)
        var recorded: [RecordedVerdict] = []
        var outboxKeys: [String] = []
        recorded.reserveCapacity(records.count)
        // Read in place through a pointer: copying a record out of its array (even for one field)
        // retained and released every reference in it, which was measurable in a burst.
        records.withUnsafeBufferPointer { records in
            for recordIndex in records.indices {
                let record = records.baseAddress! + recordIndex
                let requestKey = record.pointee.requestKey
                if !stored.isEmpty, let (previous, outcome, channel) = stored[requestKey] {
                    outputs.append(.reemit(previous, outcome: outcome, channel: channel))
                    continue
                }
                if let index = freshIndexByKey[requestKey] {
                    // The same request twice in one batch: the second re-emits the first.
                    outputs.append(
                        .reemit(
                            PublishableVerdict(
                                requestKey: requestKey, messageKey: records[fresh[index].recordIndex].messageKey, value: fresh[index].value,
                                headers: fresh[index].headers),
                            outcome: fresh[index].verdict.outcome.rawValue, channel: fresh[index].verdict.channel.rawValue))
                    continue
                }
                var verdict = record.pointee.verdict
                if let change = record.pointee.dossier, var row = dossierRows[change.storedCode] {
                    // Compared in whole microseconds, PostgreSQL's precision: the same instant read
                    // back from the database can differ from the request's `Date` in the last bit.
                    if Self.microseconds(change.occurredAt) >= Self.microseconds(row.occurredAt) {
                        row.state = DossierState(after: verdict.outcome).rawValue
                        row.occurredAt = change.occurredAt
                        row.lastRequest = requestKey
                        row.dirty = true
                        dossierRows[change.storedCode] = row
                    }
                    verdict.dossier = VerdictDossier(code: change.code, state: DossierState(rawValue: row.state) ?? DossierState(after: verdict.outcome))
                }
                let headers = verdict.cloudEventHeaders(
                    source: cloudEventSource, traceparent: record.pointee.traceparent, tracestate: record.pointee.tracestate)
                freshIndexByKey[requestKey] = fresh.count
                outputs.append(.fresh(fresh.count))
                let value = verdict.encodedJSON()
                fresh.append(GroupCommitWrite.Fresh(recordIndex: recordIndex, verdict: verdict, value: value, headers: headers))
            }

            // Everything to publish, in order; each is either new or the stored verdict re-emitted.
            fresh.withUnsafeBufferPointer { fresh in
                for (recordIndex, output) in zip(records.indices, outputs) {
                    let record = records.baseAddress! + recordIndex
                    let result: RecordedVerdict
                    switch output {
                    case .fresh(let index):
                        let item = fresh.baseAddress! + index
                        result = RecordedVerdict(
                            verdict: PublishableVerdict(
                                requestKey: record.pointee.requestKey, messageKey: record.pointee.messageKey, value: item.pointee.value,
                                headers: item.pointee.headers),
                            isNew: true, outboxID: nil, outcome: item.pointee.verdict.outcome.rawValue,
                            channel: item.pointee.verdict.channel.rawValue)
                    case .reemit(let verdict, let outcome, let channel):
                        result = RecordedVerdict(verdict: verdict, isNew: false, outboxID: nil, outcome: outcome, channel: channel)
                    }
                    // Outbox rows only for verdicts no uncommitted offset stands for (parked checks').
                    if record.pointee.needsOutbox { outboxKeys.append(result.verdict.requestKey) }
                    recorded.append(result)
                }
            }
        }

        let created = dossierRows.filter { $0.value.newAgencyCode != nil }
        var chained: AuditTrail.Chained?
        // Drafts, kept answers and settled checks read in place too (`fresh[i]` and `records[i]` copied
        // a whole decision to read one field).
        var drafts: [AuditEntry] = []
        var kept: [KeptRegistryAnswer] = []
        var settled: [String] = []
        drafts.reserveCapacity(fresh.count)
        records.withUnsafeBufferPointer { records in
            fresh.withUnsafeBufferPointer { fresh in
                for item in fresh.indices.lazy.map({ fresh.baseAddress! + $0 }) {
                    let record = records.baseAddress! + item.pointee.recordIndex
                    drafts.append(Self.auditDraft(record.pointee.requestKey, record.pointee.audit, item.pointee.verdict))
                    if let answer = record.pointee.keptAnswer { kept.append(answer) }
                }
            }
            for record in records.indices.lazy.map({ records.baseAddress! + $0 }) where record.pointee.settlesParkedCheck {
                settled.append(record.pointee.requestKey)
            }
        }
        if !fresh.isEmpty, let chainHead {
            chained = try AuditTrail.chain(drafts, after: chainHead)
        }
        let write = GroupCommitWrite(
            records: records, fresh: fresh, dossiers: dossierRows, verdictTopic: verdictTopic, outboxKeys: outboxKeys,
            kept: kept,
            settled: settled,
            chained: chained ?? .nothing)
        var answer: GroupCommitWrite.Row?
        do {
            answer = try await connection.rows(write, logger: logger).first
        } catch let error where Self.isConcurrentlyStored(error) {
            throw ConcurrentDecision()
        }
        guard let answer else { throw StoreError(code: .corruptRow, operation: "record verdicts") }
        // Every row went in, or the statement failed above (a result stored since the lookup, or a
        // dossier created since the lock, by `park` or another instance: run again, which re-emits
        // that result, or locks that dossier and computes its state from the stored row).
        if answer.inserted != Int64(fresh.count) || answer.dossiersCreated != Int64(created.count) { throw ConcurrentDecision() }
        guard answer.outboxIDs.count == outboxKeys.count else { throw StoreError(code: .corruptRow, operation: "outbox insert") }
        guard chained == nil || answer.headMoved == 1 else { throw StoreError(code: .corruptRow, operation: "audit chain head") }

        var outboxIDs = answer.outboxIDs.makeIterator()
        for index in recorded.indices where records[index].needsOutbox { recorded[index].outboxID = outboxIDs.next() }
        return recorded
    }

    /// Locks the existing dossiers of `changes` (in code order), then, when `chain`, the audit chain
    /// head: one round trip. Returns the dossiers' rows (a missing one as ``DossierRow/new(agencyCode:)``,
    /// for the write statement to insert) and the head.
    private func lockDossiersAndChain(
        _ changes: [DossierChange], chain: Bool, on connection: PostgresConnection
    ) async throws -> ([String: DossierRow], AuditTrail.Head?) {
        if changes.isEmpty {
            return ([:], chain ? try await AuditTrail.lockHead(on: connection, logger: logger) : nil)
        }
        // Dossiers come only with fresh decisions, which are always chained.
        precondition(chain, "dossiers are locked only for fresh decisions, which are chained")
        // Codes and agencies as stored: see StorableText.
        var agencyByCode: [String: String] = [:]
        for change in changes where agencyByCode[change.storedCode] == nil {
            agencyByCode[change.storedCode] = StorableText.encode(change.agencyCode)
        }
        let codes = agencyByCode.keys.sorted()
        var dossiers: [String: DossierRow] = [:]
        var head: AuditTrail.Head?
        for (code, state, occurredAt, last, tid, seq, hash) in try await connection.rows(LockDossiersAndHead(codes: codes), logger: logger) {
            if let code, let state, let occurredAt, let last {
                dossiers[code] = DossierRow(state: state, occurredAt: occurredAt, lastRequest: last, tid: tid)
            } else if let seq, let hash {
                head = AuditTrail.Head(seq: seq, hash: Array(hash.readableBytesView))
            }
        }
        for code in codes where dossiers[code] == nil {
            dossiers[code] = .new(agencyCode: agencyByCode[code]!)
        }
        guard let head else { throw StoreError(code: .corruptRow, operation: "audit chain head") }
        return (dossiers, head)
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
        if let error = error as? PostgresTransactionError,
            let inner = error.closureError ?? error.beginError ?? error.commitError ?? error.rollbackError
        {
            return describe(inner)
        }
        guard let error = error as? PSQLError else { return String(describing: type(of: error)) }
        let state = error.serverInfo?[.sqlState] ?? "-"
        let message = error.serverInfo?[.message] ?? "\(error.code)"
        return "\(state) \(message)"
    }

    static func publishable(_ key: String, _ messageKey: ByteBuffer?, _ value: ByteBuffer, _ headers: String) throws -> PublishableVerdict {
        let bytes = Array(value.readableBytesView)
        guard let decoded = StoredHeaders.expand(headers, verdict: bytes) else {
            throw StoreError(code: .corruptRow, operation: "verdict headers")
        }
        return PublishableVerdict(requestKey: key, messageKey: messageKey.map { Array($0.readableBytesView) }, value: bytes, headers: decoded)
    }
}

extension VerificationStore {
    /// The audit row of a fresh decision (its `seq` and hashes are set when appended).
    static func auditDraft(_ requestKey: String, _ facts: AuditFacts, _ verdict: Verdict) -> AuditEntry {
        AuditEntry(
            seq: 0, decidedAtMicros: microseconds(verdict.decidedAt.date), requestID: requestKey,
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
