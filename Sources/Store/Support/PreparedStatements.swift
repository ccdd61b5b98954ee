import Logging
import PostgresNIO

/// The hot path's statements are prepared once per connection (PostgresNIO's
/// ``PostgresPreparedStatement``): PostgreSQL then parses and plans each once per session instead
/// of at every call (``VerificationStore/genericPlans``). At 500 verdicts/s the unnamed statements
/// spent more time being planned than executed (docs/benchmarks.md, "Prepared statements").
///
/// PostgresNIO remembers a failed preparation for the rest of the connection's life and fails every
/// later use of that statement with it. So after an error that is not about the values or a
/// conflict (which come from binding or running a statement, never from preparing it), the
/// connection is closed, and the pool opens a fresh one. It is closed once nothing more is sent on
/// it: a query sent on a closed PostgresNIO connection is never answered.
extension PostgresConnection {
    /// Runs a prepared statement and collects its rows.
    func rows<Statement: PostgresPreparedStatement>(_ statement: Statement, logger: Logger) async throws -> [Statement.Row] {
        var rows: [Statement.Row] = []
        for try await row in try await execute(statement, logger: logger) { rows.append(row) }
        return rows
    }
}

extension PostgresClient {
    /// ``PostgresConnection/rows(_:logger:)`` on a pooled connection.
    func rows<Statement: PostgresPreparedStatement>(_ statement: Statement, logger: Logger) async throws -> [Statement.Row]
    where Statement.Row: Sendable {
        try await withConnection { connection in
            do {
                return try await connection.rows(statement, logger: logger)
            } catch {
                if Self.mayHavePoisoned(error) { try? await connection.close() }
                throw error
            }
        }
    }

    /// A transaction on a pooled connection, closed afterwards when it failed in a way that may have
    /// been a failed preparation.
    func transaction<Result: Sendable>(logger: Logger, _ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        try await withConnection { connection in
            do {
                return try await connection.withTransaction(logger: logger) { connection in try await body(connection) }
            } catch {
                if Self.mayHavePoisoned(error) { try? await connection.close() }
                throw error
            }
        }
    }

    /// Whether `error` may come from a failed preparation: any database error but those about the
    /// values (SQLSTATE classes 22, 23, 54) and those of concurrency (40: serialization, deadlock).
    /// An error of the caller's own (thrown inside a transaction) is not.
    static func mayHavePoisoned(_ error: any Error) -> Bool {
        if let error = error as? PostgresTransactionError {
            return [error.closureError, error.beginError, error.commitError].contains { $0.map(mayHavePoisoned) ?? false }
        }
        guard let error = error as? PSQLError else { return false }
        guard let state = error.serverInfo?[.sqlState], state.count == 5 else { return true }
        return !StoreError.valueClasses.contains(state.prefix(2)) && state.prefix(2) != "40"
    }
}
