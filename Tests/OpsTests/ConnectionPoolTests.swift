import Foundation
import Logging
import PostgresNIO
import Store
import Testing

/// `DATABASE_URL`'s `pool_min` and `application_name` against a real server: the pool opens its
/// minimum before any query needs it, and PostgreSQL names the connections as asked.
@Suite("Database connection pool")
struct ConnectionPoolTests {
    /// Backends on the server whose `application_name` is `name`.
    private static func backends(named name: String, on client: PostgresClient) async throws -> Int {
        let rows = try await client.query("SELECT count(*)::int FROM pg_stat_activity WHERE application_name = \(name)")
        var count = 0
        for try await (value) in rows.decode(Int.self) { count = value }
        return count
    }

    /// Runs a client for `url` until `body` returns.
    private static func withClient<Result: Sendable>(_ url: String, _ body: (PostgresClient) async throws -> Result) async throws -> Result {
        let client = PostgresClient(configuration: try DatabaseURL.parse(url), backgroundLogger: OpsTestEnvironment.logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    private static func url(_ base: String, _ query: String) throws -> String {
        var components = try #require(URLComponents(string: base))
        components.queryItems = (components.queryItems ?? []).filter { !["pool_min", "pool_size", "application_name"].contains($0.name) }
            + query.split(separator: "&").map { item in
                let pair = item.split(separator: "=", maxSplits: 1)
                return URLQueryItem(name: String(pair[0]), value: String(pair[1]))
            }
        return try #require(components.string)
    }

    /// Starts a pool for `query` that runs no query itself (only its minimum can open connections)
    /// and watches it from a second pool: how many connections it holds once `enough` are seen, or
    /// when `within` has passed.
    private static func opened(by query: String, within: Duration, enough: Int) async throws -> Int {
        let base = try OpsTestEnvironment.databaseURL()
        let name = "pool-test-\(UInt32.random(in: 0...UInt32.max))"
        let watcher = try Self.url(base, "pool_min=0&pool_size=2&application_name=\(name)-watcher")
        return try await Self.withClient(watcher) { watcher in
            try await Self.withClient(try Self.url(base, "\(query)&application_name=\(name)")) { _ in
                let deadline = ContinuousClock.now + within
                var seen = 0
                repeat {
                    try await Task.sleep(for: .milliseconds(50))
                    seen = try await Self.backends(named: name, on: watcher)
                } while seen < enough && ContinuousClock.now < deadline
                return seen
            }
        }
    }

    @Test("pool_min connections are opened before any query needs them, under the application_name given")
    func minimumOpenedAhead() async throws {
        #expect(try await Self.opened(by: "pool_min=3", within: .seconds(10), enough: 3) == 3)
    }

    @Test("with pool_min=0 nothing is opened until a query needs it")
    func noMinimumOpensNothing() async throws {
        #expect(try await Self.opened(by: "pool_min=0", within: .milliseconds(500), enough: 1) == 0)
    }
}
