import Logging
import PostgresNIO

/// Applies ``Migration``s that the database has not seen yet.
///
/// Each migration runs in its own transaction that first takes a transaction-scoped advisory lock
/// (`pg_advisory_xact_lock`), then checks `schema_migrations`: so any number of processes may start
/// at once, and each migration is applied exactly once, completely or not at all.
public struct MigrationRunner: Sendable {
    /// The advisory lock key that serialises migrations ("tthcmigr" in ASCII).
    public static let advisoryLockKey: Int64 = 0x7474_6863_6D69_6772

    private let client: PostgresClient
    private let migrations: [Migration]
    private let logger: Logger

    /// - Parameters:
    ///   - client: A running `PostgresClient`.
    ///   - migrations: Default: ``Migration/all``.
    ///   - logger: For one `info` line per applied migration.
    /// - Throws: ``MigrationError`` when the versions are not 1, 2, 3, … in order.
    public init(client: PostgresClient, migrations: [Migration] = Migration.all, logger: Logger) throws {
        for (index, migration) in migrations.enumerated() where migration.version != index + 1 {
            throw MigrationError(
                message: "migration '\(migration.name)' has version \(migration.version) at position \(index + 1); versions must run 1, 2, 3, ... in order")
        }
        self.client = client
        self.migrations = migrations
        self.logger = logger
    }

    /// Applies the missing migrations in order.
    ///
    /// - Returns: The versions applied by this call (empty when the schema was up to date).
    @discardableResult
    public func run() async throws -> [Int] {
        var applied: [Int] = []
        for migration in self.migrations {
            let didApply = try await self.client.withTransaction(logger: self.logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.advisoryLockKey))", logger: self.logger)
                try await connection.query(
                    """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version integer PRIMARY KEY,
                        name text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now()
                    )
                    """,
                    logger: self.logger
                )
                let existing = try await connection.query(
                    "SELECT version FROM schema_migrations WHERE version = \(migration.version)", logger: self.logger
                ).collect()
                guard existing.isEmpty else { return false }
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                }
                try await connection.query(
                    "INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                    logger: self.logger
                )
                return true
            }
            if didApply {
                applied.append(migration.version)
                self.logger.info(
                    "Applied database migration",
                    metadata: ["store.migration.version": "\(migration.version)", "store.migration.name": "\(migration.name)"])
            }
        }
        return applied
    }
}

/// The migration list is malformed.
public struct MigrationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { "MigrationError: \(self.message)" }
}
