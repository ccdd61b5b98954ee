import Contract
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// A registry answer kept for reuse (`registry_answers`), as the worker reads it before deciding.
public struct RegistryAnswer: Sendable, Hashable {
    /// `verified` or `mismatch`.
    public var outcome: Verdict.Outcome
    /// The `requestId` of the verdict that asked the registry.
    public var sourceRequestID: String
    public var expiresAt: Date

    public init(outcome: Verdict.Outcome, sourceRequestID: String, expiresAt: Date) {
        self.outcome = outcome
        self.sourceRequestID = sourceRequestID
        self.expiresAt = expiresAt
    }
}

/// A fresh registry answer to keep, written by the group commit with its verdict.
public struct KeptRegistryAnswer: Sendable, Hashable {
    /// HMAC of the normalised (id number, name key, birth date): never a raw value.
    public var key: [UInt8]
    public var answer: RegistryAnswer
    public var answeredAt: Date

    public init(key: [UInt8], answer: RegistryAnswer, answeredAt: Date) {
        self.key = key
        self.answer = answer
        self.answeredAt = answeredAt
    }
}

extension VerificationStore {
    /// Keeps fresh answers inside the group commit's transaction, as one more part of its single
    /// write statement (no round trip of its own). A key answered again replaces the older answer
    /// (a newer answer is the better one; an expired row is simply overwritten).
    static func keptAnswersCTE(_ kept: [KeptRegistryAnswer], _ b: inout StatementBuilder) -> String {
        // One row per key (the last), or the statement would touch a row twice.
        var byKey: [[UInt8]: KeptRegistryAnswer] = [:]
        for answer in kept { byKey[answer.key] = answer }
        // In key order, so that two instances' transactions lock shared rows in the same order.
        let rows = byKey.values.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        return """
            answers AS (
                INSERT INTO registry_answers (answer_key, outcome, source_request_id, answered_at, expires_at)
                SELECT k, o, s, a, e FROM unnest(\(b.bind(rows.map(\.key)))::bytea[],
                    \(b.bind(rows.map(\.answer.outcome.rawValue)))::text[], \(b.bind(rows.map(\.answer.sourceRequestID)))::text[],
                    \(b.bind(rows.map(\.answeredAt)))::timestamptz[], \(b.bind(rows.map(\.answer.expiresAt)))::timestamptz[])
                    WITH ORDINALITY AS x(k, o, s, a, e, n)
                ORDER BY n
                ON CONFLICT (answer_key) DO UPDATE SET outcome = EXCLUDED.outcome, source_request_id = EXCLUDED.source_request_id,
                    answered_at = EXCLUDED.answered_at, expires_at = EXCLUDED.expires_at
                WHERE registry_answers.answered_at <= EXCLUDED.answered_at
                RETURNING 1
            )
            """
    }
}
