import Foundation
import Logging
import PostgresNIO
import Store
import Testing

/// `DATABASE_URL`'s `application_name` against a real server: PostgreSQL shows the service's
/// connections under that name (`idverify` by default), so an operator can tell them apart.
@Suite("Database connection names")
struct ConnectionPoolTests {
    /// How many backends on the server are named `name`, asked over a connection of `client`.
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

    /// `base` with `application_name` set to `name` (or removed when `nil`).
    private static func url(_ base: String, applicationName name: String?) throws -> String {
        var components = try #require(URLComponents(string: base))
        components.queryItems = (components.queryItems ?? []).filter { $0.name != "application_name" }
            + (name.map { [URLQueryItem(name: "application_name", value: $0)] } ?? [])
        if components.queryItems?.isEmpty == true { components.queryItems = nil }
        return try #require(components.string)
    }

    @Test("the pool's connections show in pg_stat_activity under the application_name given")
    func namedAsGiven() async throws {
        let name = "idverify-test-\(UInt32.random(in: 0...UInt32.max))"
        let seen = try await Self.withClient(try Self.url(try OpsTestEnvironment.databaseURL(), applicationName: name)) { client in
            try await Self.backends(named: name, on: client)
        }
        #expect(seen == 1)
    }

    @Test("without application_name they show as idverify")
    func namedByDefault() async throws {
        let seen = try await Self.withClient(try Self.url(try OpsTestEnvironment.databaseURL(), applicationName: nil)) { client in
            try await Self.backends(named: "idverify", on: client)
        }
        #expect(seen >= 1)
    }
}
