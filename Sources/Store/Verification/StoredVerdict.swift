import PostgresNIO
import Contract
import Foundation

/// Where a request came from on Kafka.
public struct SourcePosition: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64

    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}

/// A verdict as published: the exact bytes, headers and key. Re-emitting a
/// stored verdict sends these unchanged.
public struct PublishableVerdict: Sendable, Hashable {
    /// The request's idempotency key.
    public var requestKey: String
    public var messageKey: [UInt8]?
    public var value: [UInt8]
    public var headers: [MessageHeader]

    public init(requestKey: String, messageKey: [UInt8]?, value: [UInt8], headers: [MessageHeader]) {
        self.requestKey = requestKey
        self.messageKey = messageKey
        self.value = value
        self.headers = headers
    }
}

/// A decision to record: the verdict (its dossier state is settled inside the
/// transaction), and what the store keeps about it.
public struct DecisionRecord: Sendable {
    public var verdict: Verdict
    /// The request's idempotency key in its stored form (``StorableText/encode(_:)``).
    public var requestKey: String
    /// For a submission: the dossier and the request's `occurredAt`, which orders state changes.
    public var dossier: DossierChange?
    public var source: SourcePosition
    public var consumedAt: Date
    public var messageKey: [UInt8]?
    /// The trace context to continue on the verdict.
    public var traceparent: String?
    public var tracestate: String?
    /// Set when the decision settles a parked check, whose row goes in the same transaction.
    public var settlesParkedCheck: Bool
    /// Who asked, and what an autofill released: the audit row's facts beyond the verdict.
    public var audit: AuditFacts
    /// A fresh registry answer to keep for reuse (``KeptRegistryAnswer``), written in the same
    /// transaction when the decision is new. `nil`: nothing to keep.
    public var keptAnswer: KeptRegistryAnswer? = nil

    /// Whether the verdict goes through the outbox: only a parked check's. A decision on a consumed
    /// message needs none: its offset is committed only once its verdict is delivered, and a
    /// message read again gets its stored verdict re-emitted (see docs/worker.md, "Outbox").
    public var needsOutbox: Bool { settlesParkedCheck }

    public init(
        verdict: Verdict, requestKey: String, dossier: DossierChange?, source: SourcePosition, consumedAt: Date,
        messageKey: [UInt8]?, traceparent: String?, tracestate: String? = nil, settlesParkedCheck: Bool = false,
        audit: AuditFacts = AuditFacts()
    ) {
        self.audit = audit
        self.verdict = verdict
        self.requestKey = requestKey
        self.dossier = dossier
        self.source = source
        self.consumedAt = consumedAt
        self.messageKey = messageKey
        self.traceparent = traceparent
        self.tracestate = tracestate
        self.settlesParkedCheck = settlesParkedCheck
    }
}

/// A submission's effect on its dossier.
public struct DossierChange: Sendable, Hashable {
    public var code: String
    public var agencyCode: String
    /// The request's `occurredAt`: an older request never moves the state back.
    public var occurredAt: Date

    public init(code: String, agencyCode: String, occurredAt: Date) {
        self.code = code
        self.agencyCode = agencyCode
        self.occurredAt = occurredAt
    }

    /// The code as the `dossiers` table holds it (see ``StorableText``).
    var storedCode: String { StorableText.encode(code) }
}

/// What became of one record.
public struct RecordedVerdict: Sendable {
    public var verdict: PublishableVerdict
    /// False when the request had been decided before (by this or another
    /// instance): `verdict` is then the stored one, re-emitted unchanged.
    public var isNew: Bool
    /// The outbox row to clear once the verdict is delivered; `nil` when the verdict has none
    /// (see ``DecisionRecord/needsOutbox``).
    public var outboxID: Int64?
    public var outcome: String
    public var channel: String
}

/// A store failure. The description names the operation, never data.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case query, rejected, sealing, corruptRow
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// A database call failed (retriable: the database may be back).
        public static let query = Code(.query)
        /// The database refused the values themselves (SQLSTATE class 22, data exception; 23,
        /// integrity; 54, a program limit such as an index row too large): the same write fails
        /// every time, so it is not retried.
        public static let rejected = Code(.rejected)
        /// Sealing or opening a parked request failed.
        public static let sealing = Code(.sealing)
        /// A stored row could not be read back.
        public static let corruptRow = Code(.corruptRow)
        public var description: String { base.rawValue }
    }

    public var code: Code
    public var operation: String
    /// What the database or its client said, as codes only (PostgresNIO's error code and the
    /// server's SQLSTATE): never a message, which can quote the data.
    public var cause: String?
    public var isRetriable: Bool { code == .query }

    public init(code: Code, operation: String, cause: (any Error)? = nil) {
        self.code = code
        self.operation = operation
        self.cause = cause.map(Self.summary)
    }

    /// An error of `operation` from the database or its client: ``Code/rejected`` when the server
    /// refused the values, ``Code/query`` (retriable) otherwise.
    public static func classifying(_ error: any Error, operation: String) -> StoreError {
        if let error = error as? StoreError { return error }
        return StoreError(code: refusesValues(error) ? .rejected : .query, operation: operation, cause: error)
    }

    /// SQLSTATE classes that say the statement's values are at fault, not the connection or the server.
    static let valueClasses: Set<Substring> = ["22", "23", "54"]

    static func refusesValues(_ error: any Error) -> Bool {
        if let error = error as? PSQLError, let state = error.serverInfo?[.sqlState], state.count == 5 {
            return valueClasses.contains(state.prefix(2))
        }
        if let error = error as? PostgresTransactionError {
            // A failed closure makes the transaction fail; the rollback's own error says nothing.
            return (error.closureError ?? error.beginError ?? error.commitError).map(refusesValues) ?? false
        }
        return false
    }

    public var description: String {
        "StoreError(\(code)): \(operation)" + (cause.map { " (\($0))" } ?? "")
    }

    static func summary(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let state = error.serverInfo?[.sqlState] { return "\(error.code), SQLSTATE \(state)" }
            return "\(error.code)"
        }
        if let error = error as? PostgresTransactionError {
            let inner = error.beginError ?? error.closureError ?? error.commitError ?? error.rollbackError
            return "transaction: " + (inner.map(summary) ?? "?")
        }
        // The pool's error is a struct of cases with no data: its description is safe.
        let type = String(describing: Swift.type(of: error))
        return type == "ConnectionPoolError" ? "\(error)" : type
    }
}
