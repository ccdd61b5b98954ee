import PostgresNIO
import Store

/// PostgreSQL is usable when a query answers and the schema is at the version this build expects
/// (every migration of ``Migration/all`` applied): a worker must not run on a schema it does not
/// know.
public struct PostgresReadinessCheck: ReadinessCheck {
    public let name: String
    private let client: PostgresClient
    private let expectedVersion: Int

    /// - Parameters:
    ///   - client: A running `PostgresClient`.
    ///   - expectedVersion: Default: the last version of ``Migration/all``.
    ///   - name: Default: `postgres`.
    public init(client: PostgresClient, expectedVersion: Int = Migration.all.last?.version ?? 0, name: String = "postgres") {
        self.name = name
        self.client = client
        self.expectedVersion = expectedVersion
    }

    public func check() async -> ReadinessStatus {
        do {
            let rows = try await self.client.query(
                "SELECT coalesce(max(version), 0) FROM schema_migrations")
            var version = 0
            for try await (value) in rows.decode(Int.self) { version = value }
            if version < self.expectedVersion {
                return .notReady(
                    self.name, reason: "schema at version \(version), this build needs \(self.expectedVersion) (run idverify migrate)")
            }
            return .ready(self.name)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42P01" {
            return .notReady(self.name, reason: "schema not migrated (run idverify migrate)")
        } catch {
            return .notReady(self.name, reason: "query failed: \(errorSummary(error))")
        }
    }
}
