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

    /// Appends rows (their `seq` is assigned here) on a connection inside the caller's transaction.
    ///
    /// The chain head's row lock (`SELECT ... FOR UPDATE`) serialises appenders of every instance
    /// until their transaction ends, so each row chains to the one committed before it. Callers take
    /// it last in their transaction, to hold it briefly.
    static func append(_ drafts: [AuditEntry], on connection: PostgresConnection, logger: Logger) async throws {
        if drafts.isEmpty { return }
        var lastSeq: Int64 = 0
        var lastHash: [UInt8] = []
        let head = try await connection.query(
            "SELECT last_seq, last_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE", logger: logger)
        for try await (seq, hash) in head.decode((Int64, ByteBuffer).self) {
            lastSeq = seq
            lastHash = Array(hash.readableBytesView)
        }
        guard lastHash.count == 32 else { throw StoreError(code: .corruptRow, operation: "audit chain head") }
        let chainStart = lastHash
        var entries = drafts
        var hashes: [ByteBuffer] = []
        hashes.reserveCapacity(entries.count)
        for index in entries.indices {
            lastSeq += 1
            entries[index].seq = lastSeq
            entries[index].dropEmptyOptionals()
            let hash = entries[index].chainHash(previous: lastHash)
            hashes.append(ByteBuffer(bytes: hash))
            lastHash = hash
        }
        let e = entries
        // Absent text travels as '' (every field is either absent or 1+ characters long), and each
        // row's `prev_hash` is the row before it's hash: fewer arrays to bind on the hot path.
        let newHead = ByteBuffer(bytes: lastHash)
        let newSeq = lastSeq
        try await connection.query(
            """
            WITH appended AS (
                INSERT INTO audit_trail (seq, decided_at, request_id, agency_code, channel, actor_kind, actor_id, account_id,
                    subject_ref, id_number_masked, outcome, autofill_fields, recipient_fingerprint, reused_from, prev_hash, row_hash)
                SELECT q, timestamptz 'epoch' + m * interval '1 microsecond', r, a, c, NULLIF(k, ''), NULLIF(ac, ''), NULLIF(n, ''),
                    NULLIF(s, ''), NULLIF(mk, ''), o, NULLIF(f, ''), NULLIF(p, ''), NULLIF(u, ''),
                    COALESCE(lag(rh) OVER (ORDER BY q), \(ByteBuffer(bytes: chainStart))::bytea), rh
                FROM unnest(\(e.map(\.seq))::int8[], \(e.map(\.decidedAtMicros))::int8[], \(e.map(\.requestID))::text[],
                    \(e.map(\.agencyCode))::text[], \(e.map(\.channel))::text[], \(e.map { $0.actorKind ?? "" })::text[],
                    \(e.map { $0.actorID ?? "" })::text[], \(e.map { $0.accountID ?? "" })::text[],
                    \(e.map { $0.subjectRef ?? "" })::text[], \(e.map { $0.idNumberMasked ?? "" })::text[],
                    \(e.map(\.outcome))::text[], \(e.map { $0.autofillFields ?? "" })::text[],
                    \(e.map { $0.recipientFingerprint ?? "" })::text[], \(e.map { $0.reusedFrom ?? "" })::text[], \(hashes)::bytea[])
                    AS x(q, m, r, a, c, k, ac, n, s, mk, o, f, p, u, rh)
                RETURNING 1
            )
            UPDATE audit_chain_head SET last_seq = \(newSeq), last_hash = \(newHead)
            WHERE id = 1 AND (SELECT count(*) FROM appended) = \(Int64(e.count))
            """, logger: logger)
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
    public func entries(_ query: Query) async throws -> [AuditEntry] {
        let actor = query.actorID.map(StorableText.encode)
        let agency = query.agencyCode.map(StorableText.encode)
        do {
            let rows = try await client.query(
                """
                SELECT \(unescaped: Self.columns) FROM audit_trail
                WHERE (\(query.subjectRef)::text IS NULL OR subject_ref = \(query.subjectRef))
                  AND (\(actor)::text IS NULL OR actor_id = \(actor))
                  AND (\(agency)::text IS NULL OR agency_code = \(agency))
                  AND (\(query.since)::timestamptz IS NULL OR decided_at >= \(query.since))
                  AND (\(query.until)::timestamptz IS NULL OR decided_at < \(query.until))
                ORDER BY seq LIMIT \(query.limit)
                """, logger: logger)
            var result: [AuditEntry] = []
            for try await row in rows { result.append(try Self.entry(row).entry) }
            return result
        } catch {
            throw StoreError.classifying(error, operation: "read audit trail")
        }
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
