import Contract
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// What the worker reads about a consumed batch before deciding it.
public struct BatchLookup: Sendable {
    /// Stored verdicts of requests decided before, by idempotency key.
    public var prior: [String: PublishableVerdict] = [:]
    /// The lanes (message keys) that have checks parked: a new request of such a lane is parked
    /// behind them, so that verdicts of one key keep their order.
    public var parkedLanes: Set<String> = []
    /// Unexpired registry answers kept for reuse, by answer key.
    public var answers: [[UInt8]: RegistryAnswer] = [:]
}

extension VerificationStore {
    /// The batch's prior verdicts, parked lanes and reusable registry answers: one prepared
    /// statement, one round trip.
    public func lookUp(requestKeys: [String], laneKeys: [String], answerKeys: [[UInt8]]) async throws -> BatchLookup {
        var found = BatchLookup()
        if requestKeys.isEmpty && laneKeys.isEmpty && answerKeys.isEmpty { return found }
        do {
            let rows = try await client.rows(
                BatchLookupStatement(requestKeys: requestKeys, laneKeys: laneKeys, answerKeys: answerKeys.map { ByteBuffer(bytes: $0) }),
                logger: logger)
            for (request, messageKey, verdict, headers, lane, answerKey, outcome, source, expires) in rows {
                if let request, let verdict, let headers {
                    found.prior[request] = try Self.publishable(request, messageKey, verdict, headers)
                } else if let lane {
                    found.parkedLanes.insert(lane)
                } else if let answerKey, let outcome = outcome.flatMap(Verdict.Outcome.init(rawValue:)), let source, let expires {
                    found.answers[Array(answerKey.readableBytesView)] = RegistryAnswer(
                        outcome: outcome, sourceRequestID: source, expiresAt: expires)
                }
            }
            return found
        } catch {
            throw StoreError.classifying(error, operation: "read prior verdicts, parked lanes and registry answers")
        }
    }
}

/// Three reads in one: each part answers for its own array, an empty array costs nothing. Rows are
/// told apart by which columns are set.
///
/// Each key is looked up on its own (`LATERAL`, one index probe per key), not as `= ANY($1)`: the
/// worker's sessions plan prepared statements once, generically (docs/worker.md, "Prepared
/// statements"), and a generic plan made while a table is still small would scan the whole table
/// for an array of keys for as long as the session lives; a probe per key is the cheapest plan at
/// any size.
struct BatchLookupStatement: PostgresPreparedStatement {
    static let sql = """
        SELECT r.request_id, r.message_key, r.verdict, r.verdict_headers::text,
            NULL::text, NULL::bytea, NULL::text, NULL::text, NULL::timestamptz
        FROM unnest($1::text[]) AS k(id),
            LATERAL (SELECT request_id, message_key, verdict, verdict_headers FROM verification_results WHERE request_id = k.id LIMIT 1) AS r
        UNION ALL
        SELECT NULL, NULL, NULL, NULL, p.lane_key, NULL, NULL, NULL, NULL
        FROM unnest($2::text[]) AS k(lane),
            LATERAL (SELECT lane_key FROM parked_checks WHERE lane_key = k.lane LIMIT 1) AS p
        UNION ALL
        SELECT NULL, NULL, NULL, NULL, NULL, a.answer_key, a.outcome, a.source_request_id, a.expires_at
        FROM unnest($3::bytea[]) AS k(key),
            LATERAL (SELECT answer_key, outcome, source_request_id, expires_at FROM registry_answers
                WHERE answer_key = k.key AND expires_at > now() LIMIT 1) AS a
        """
    typealias Row = (String?, ByteBuffer?, ByteBuffer?, String?, String?, ByteBuffer?, String?, String?, Date?)

    var requestKeys: [String]
    var laneKeys: [String]
    var answerKeys: [ByteBuffer]

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 3)
        bindings.append(requestKeys)
        bindings.append(laneKeys)
        bindings.append(answerKeys)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}
