import Foundation
import Logging
import PostgresNIO

/// The audit trail in PostgreSQL: appended by the group commit (``VerificationStore/record(_:verdictTopic:cloudEventSource:)``)
/// in the transaction that stores the results, read by `idverify audit`, checked by `idverify audit verify`.
public struct AuditTrail: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The chain head as read under its row lock: the last row's `seq` and hash.
    struct Head: Sendable {
        var seq: Int64
        var hash: [UInt8]
    }

    /// Rows chained after a head: each gets the next `seq` and its hash; `head` is the chain's new head.
    struct Chained: Sendable {
        var entries: [AuditEntry]
        var hashes: [[UInt8]]
        var start: Head
        var head: Head

        /// No rows: appending it changes nothing (the head moves only when rows went in).
        static let nothing = Chained(entries: [], hashes: [], start: Head(seq: 0, hash: []), head: Head(seq: 0, hash: []))
    }

    /// Assigns `seq` and hashes to `drafts`, chaining them after `head`.
    static func chain(_ drafts: [AuditEntry], after head: Head) throws -> Chained {
        guard head.hash.count == 32 else { throw StoreError(code: .corruptRow, operation: "audit chain head") }
        var lastSeq = head.seq
        var lastHash = head.hash
        var entries = drafts
        var hashes: [[UInt8]] = []
        hashes.reserveCapacity(entries.count)
        for index in entries.indices {
            lastSeq += 1
            entries[index].seq = lastSeq
            entries[index].dropEmptyOptionals()
            let hash = entries[index].chainHash(previous: lastHash)
            hashes.append(hash)
            lastHash = hash
        }
        return Chained(entries: entries, hashes: hashes, start: head, head: Head(seq: lastSeq, hash: lastHash))
    }

    /// Reads the chain head under its row lock, inside the caller's transaction.
    ///
    /// The lock (`SELECT ... FOR UPDATE`) serialises appenders of every instance until their
    /// transaction ends, so each row chains to the one committed before it. Callers take it as
    /// late in their transaction as they can, to hold it briefly.
    static func lockHead(on connection: PostgresConnection, logger: Logger) async throws -> Head {
        guard let (seq, hash) = try await connection.rows(LockAuditHead(), logger: logger).first else {
            throw StoreError(code: .corruptRow, operation: "audit chain head")
        }
        return Head(seq: seq, hash: Array(hash.readableBytesView))
    }

    /// Appends rows (their `seq` is assigned here) on a connection inside the caller's transaction:
    /// the head's lock, then one statement that inserts the rows and moves the head.
    static func append(_ drafts: [AuditEntry], on connection: PostgresConnection, logger: Logger) async throws {
        if drafts.isEmpty { return }
        let chained = try chain(drafts, after: try await lockHead(on: connection, logger: logger))
        var builder = StatementBuilder()
        let ctes = chained.appendingCTEs(&builder)
        let rows = try await connection.query(builder.query("WITH \(ctes) SELECT count(*) FROM audit_head_moved"), logger: logger)
        for try await moved in rows.decode(Int64.self) where moved != 1 {
            throw StoreError(code: .corruptRow, operation: "audit chain head")
        }
    }

    // MARK: Reading

    /// Which rows `idverify audit` shows.
    public struct Query: Sendable, Hashable {
        public var subjectRef: String?
        public var actorID: String?
        public var agencyCode: String?
        /// At or after (`decided_at`).
        public var since: Date?
        /// Before.
        public var until: Date?
        /// Default: 1,000.
        public var limit = 1_000

        public init(subjectRef: String? = nil, actorID: String? = nil, agencyCode: String? = nil, since: Date? = nil, until: Date? = nil, limit: Int = 1_000) {
            self.subjectRef = subjectRef
            self.actorID = actorID
            self.agencyCode = agencyCode
            self.since = since
            self.until = until
            self.limit = limit
        }
    }

    private static let columns = """
        seq, (extract(epoch FROM decided_at) * 1000000)::int8, request_id, agency_code, channel, actor_kind, actor_id,
        account_id, subject_ref, id_number_masked, outcome, autofill_fields, recipient_fingerprint, reused_from, prev_hash, row_hash
        """

    /// Rows matching every given filter, in chain order.
    ///
    /// The statement names only the filters given, so that its plan uses the index each one has
    /// (migration 9): `audit_trail_subject_ref_hash` for a subject, `audit_trail_decided_at_brin`
    /// for a time window; an actor or agency alone is a scan, bounded by the window when there is one.
    public func entries(_ query: Query) async throws -> [AuditEntry] {
        do {
            let rows = try await client.query(Self.statement(query), logger: logger)
            var result: [AuditEntry] = []
            for try await row in rows { result.append(try Self.entry(row).entry) }
            return result
        } catch {
            throw StoreError.classifying(error, operation: "read audit trail")
        }
    }

    /// The `SELECT` of ``entries(_:)``.
    static func statement(_ query: Query) -> PostgresQuery {
        var b = StatementBuilder()
        var conditions: [String] = []
        if let ref = query.subjectRef { conditions.append("subject_ref = \(b.bind(ref))") }
        if let actor = query.actorID { conditions.append("actor_id = \(b.bind(StorableText.encode(actor)))") }
        if let agency = query.agencyCode { conditions.append("agency_code = \(b.bind(StorableText.encode(agency)))") }
        if let since = query.since { conditions.append("decided_at >= \(b.bind(since))") }
        if let until = query.until { conditions.append("decided_at < \(b.bind(until))") }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        // Bound before `b.query` is called: its receiver is read before its argument is built.
        let limit = b.bind(query.limit)
        return b.query("SELECT \(columns) FROM audit_trail \(filter) ORDER BY seq LIMIT \(limit)")
    }

    static func entry(_ row: PostgresRow) throws -> (entry: AuditEntry, previous: [UInt8], hash: [UInt8]) {
        let (seq, micros, request, agency, channel, kind, actor, account, ref, masked, outcome, fields, print, reused, previous, hash) =
            try row.decode(
                (Int64, Int64, String, String, String, String?, String?, String?, String?, String?, String, String?, String?, String?,
                    ByteBuffer, ByteBuffer).self)
        let entry = AuditEntry(
            seq: seq, decidedAtMicros: micros, requestID: request, agencyCode: agency, channel: channel, actorKind: kind,
            actorID: actor, accountID: account, subjectRef: ref, idNumberMasked: masked, outcome: outcome,
            autofillFields: fields, recipientFingerprint: print, reusedFrom: reused)
        return (entry, Array(previous.readableBytesView), Array(hash.readableBytesView))
    }

    // MARK: Verifying

    /// What `idverify audit verify` found.
    public struct Verification: Sendable, Hashable {
        /// Rows checked.
        public var rows: Int
        /// The first row (by `seq`) where the chain breaks, and why; `nil` when it is whole.
        public var brokenAt: Int64?
        public var problem: String?
        /// Where the kept chain starts (rows up to it were deleted by retention).
        public var anchorSeq: Int64
        public var isIntact: Bool { problem == nil }
    }

    /// Recomputes every row's hash from the anchor on, in pages, and checks the chain ends at the head.
    public func verify(pageSize: Int = 5_000) async throws -> Verification {
        do {
            var anchorSeq: Int64 = 0
            var expectedPrevious: [UInt8] = []
            var headSeq: Int64 = 0
            var headHash: [UInt8] = []
            let head = try await client.query(
                "SELECT anchor_seq, anchor_hash, last_seq, last_hash FROM audit_chain_head WHERE id = 1", logger: logger)
            for try await (aSeq, aHash, lSeq, lHash) in head.decode((Int64, ByteBuffer, Int64, ByteBuffer).self) {
                anchorSeq = aSeq
                expectedPrevious = Array(aHash.readableBytesView)
                headSeq = lSeq
                headHash = Array(lHash.readableBytesView)
            }
            var verification = Verification(rows: 0, anchorSeq: anchorSeq)
            func broken(_ seq: Int64, _ problem: String) -> Verification {
                verification.brokenAt = seq
                verification.problem = problem
                return verification
            }
            var expectedSeq = anchorSeq + 1
            while true {
                let rows = try await client.query(
                    "SELECT \(unescaped: Self.columns) FROM audit_trail WHERE seq >= \(expectedSeq) ORDER BY seq LIMIT \(pageSize)",
                    logger: logger)
                var count = 0
                for try await row in rows {
                    count += 1
                    let (entry, previous, hash) = try Self.entry(row)
                    if entry.seq != expectedSeq {
                        return broken(expectedSeq, "row \(expectedSeq) is missing (next is \(entry.seq))")
                    }
                    if previous != expectedPrevious {
                        return broken(entry.seq, "row \(entry.seq) does not chain to the row before it")
                    }
                    if entry.chainHash(previous: previous) != hash {
                        return broken(entry.seq, "row \(entry.seq) was changed: its hash does not match its fields")
                    }
                    expectedPrevious = hash
                    expectedSeq += 1
                    verification.rows += 1
                }
                if count < pageSize { break }
            }
            if expectedSeq - 1 != headSeq || expectedPrevious != headHash {
                return broken(expectedSeq, "the chain ends at row \(expectedSeq - 1) but its head says \(headSeq): rows at the end were deleted")
            }
            return verification
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.classifying(error, operation: "verify audit trail")
        }
    }
}

extension AuditTrail.Chained {
    /// The common table expressions that append these rows and move the chain head: `audit_appended`
    /// (one row per appended row) and `audit_head_moved` (one row when the head moved, which it does
    /// only when there are rows and every one of them went in). Absent text travels as '' (every
    /// field is either absent or 1+ characters long), and each row's `prev_hash` is the row before
    /// it's hash: fewer arrays to bind on the hot path.
    func appendingCTEs(_ b: inout StatementBuilder) -> String {
        let e = entries
        let count = Int64(e.count)
        return """
            audit_appended AS (
                INSERT INTO audit_trail (seq, decided_at, request_id, agency_code, channel, actor_kind, actor_id, account_id,
                    subject_ref, id_number_masked, outcome, autofill_fields, recipient_fingerprint, reused_from, prev_hash, row_hash)
                SELECT q, timestamptz 'epoch' + m * interval '1 microsecond', r, a, c, NULLIF(k, ''), NULLIF(ac, ''), NULLIF(n, ''),
                    NULLIF(s, ''), NULLIF(mk, ''), o, NULLIF(f, ''), NULLIF(p, ''), NULLIF(u, ''),
                    COALESCE(lag(rh) OVER (ORDER BY q), \(b.bind(ByteBuffer(bytes: start.hash)))::bytea), rh
                FROM unnest(\(b.bind(e.map(\.seq)))::int8[], \(b.bind(e.map(\.decidedAtMicros)))::int8[],
                    \(b.bind(e.map(\.requestID)))::text[], \(b.bind(e.map(\.agencyCode)))::text[], \(b.bind(e.map(\.channel)))::text[],
                    \(b.bind(e.map { $0.actorKind ?? "" }))::text[], \(b.bind(e.map { $0.actorID ?? "" }))::text[],
                    \(b.bind(e.map { $0.accountID ?? "" }))::text[], \(b.bind(e.map { $0.subjectRef ?? "" }))::text[],
                    \(b.bind(e.map { $0.idNumberMasked ?? "" }))::text[], \(b.bind(e.map(\.outcome)))::text[],
                    \(b.bind(e.map { $0.autofillFields ?? "" }))::text[], \(b.bind(e.map { $0.recipientFingerprint ?? "" }))::text[],
                    \(b.bind(e.map { $0.reusedFrom ?? "" }))::text[], \(b.bind(hashes))::bytea[])
                    AS x(q, m, r, a, c, k, ac, n, s, mk, o, f, p, u, rh)
                RETURNING 1
            ),
            audit_head_moved AS (
                UPDATE audit_chain_head SET last_seq = \(b.bind(head.seq)), last_hash = \(b.bind(ByteBuffer(bytes: head.hash)))
                WHERE id = 1 AND \(b.bind(count))::int8 > 0 AND (SELECT count(*) FROM audit_appended) = \(b.bind(count))::int8
                RETURNING 1
            )
            """
    }
}
