import Contract
import Foundation
import Kafka
import Logging
import Ops
import PostgresNIO
import Store
import Synchronization
import Testing

/// The environment the operations tests run in: a real PostgreSQL (`DATABASE_URL`), the embedded
/// Kafka broker, the built `idverify` executable.
enum OpsTestEnvironment {
    static let logger: Logger = {
        var logger = Logger(label: "ops-tests")
        logger.logLevel = ProcessInfo.processInfo.environment["OPS_TEST_LOG"] == "1" ? .debug : .critical
        return logger
    }()

    /// A directory for a PostgreSQL cluster of a test's own, named for the run (scripts/test's
    /// `TTHC_TEST_RUN`) so that the run's exit stops the cluster if the test cannot
    /// (scripts/stop-test-clusters).
    static func clusterDirectory(_ name: String) -> String {
        let run = ProcessInfo.processInfo.environment["TTHC_TEST_RUN"] ?? "none"
        return "/tmp/tthc-pg-\(name)-run\(run)-\(UUID().uuidString.prefix(8))"
    }

    /// `DATABASE_URL`, or a failure that says how to get one.
    static func databaseURL(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try #require(
            ProcessInfo.processInfo.environment["DATABASE_URL"],
            """
            DATABASE_URL is not set. Start a throwaway PostgreSQL with `deploy/local-postgres.sh start` \
            and export the DATABASE_URL=... line it prints, then run the tests again.
            """,
            sourceLocation: sourceLocation
        )
    }

    /// A fresh database on the `DATABASE_URL` server (`ops_test_<random>`), migrated to the latest
    /// version unless `migrated` is false, for the duration of `body`; dropped afterwards. Every
    /// test gets its own, so tests stay independent of each other's data.
    static func withDatabase<Result: Sendable>(
        migrated: Bool = true,
        _ body: (_ client: PostgresClient, _ url: String) async throws -> Result
    ) async throws -> Result {
        let serverURL = try databaseURL()
        let name = "ops_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        _ = try await withClient(url: serverURL) { admin in
            try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        var components = try #require(URLComponents(string: serverURL))
        components.path = "/" + name
        let url = try #require(components.string)
        do {
            let result = try await withClient(url: url) { client in
                if migrated { try await MigrationRunner(client: client, logger: logger).run() }
                return try await body(client, url)
            }
            try? await dropDatabase(name, serverURL: serverURL)
            return result
        } catch {
            try? await dropDatabase(name, serverURL: serverURL)
            throw error
        }
    }

    private static func dropDatabase(_ name: String, serverURL: String) async throws {
        _ = try await withClient(url: serverURL) { admin in
            try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
    }

    static func withClient<Result: Sendable>(url: String, _ body: (PostgresClient) async throws -> Result) async throws -> Result {
        let client = PostgresClient(configuration: try DatabaseURL.parse(url, defaultPoolSize: DatabaseURL.operatorPoolSize), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// The embedded broker with the contract's topics (`partitions` each).
    static func makeCluster(topics: TopicNames = TopicNames(), partitions: Int = 3) throws -> EmbeddedKafkaCluster {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: logger)
        for topic in topics.all { try cluster.createTopic(topic, partitions: partitions) }
        return cluster
    }

    /// Consumer settings that suit the mock cluster.
    static func consumerConfiguration(
        _ cluster: EmbeddedKafkaCluster, group: String, topics: [String]
    ) -> KafkaConsumerConfiguration {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: [cluster.bootstrapServers], groupID: group, topics: topics)
        configuration.sessionTimeoutMilliseconds = 6_000
        configuration.client.properties["heartbeat.interval.ms"] = "500"
        return configuration
    }

    /// Sends and requires every delivery.
    static func produce(_ messages: [KafkaOutgoingMessage], to cluster: EmbeddedKafkaCluster) async throws {
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: logger)
        let reports = await producer.send(messages)
        await producer.close()
        let failures = reports.compactMap(\.error)
        try #require(failures.isEmpty, "delivery failed: \(failures.first.map { "\($0)" } ?? "")")
    }

    /// Polls `condition` until it holds or `seconds` pass.
    static func eventually(
        _ seconds: Double, _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
        _ condition: () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("timed out after \(seconds) s waiting for: \(what)", sourceLocation: sourceLocation)
        throw TestFailure("timed out: \(what)")
    }

    /// The `idverify` executable (or `idverify-bench`, with `name`) built beside this test bundle
    /// (`<scratch>/debug/idverify`); `IDVERIFY_BINARY` overrides, and `idverify-bench` is then
    /// looked for beside it.
    static func idverifyBinary(named name: String = "idverify", sourceLocation: SourceLocation = #_sourceLocation) throws -> URL {
        if let override = ProcessInfo.processInfo.environment["IDVERIFY_BINARY"] {
            let binary = URL(fileURLWithPath: override)
            return name == "idverify" ? binary : binary.deletingLastPathComponent().appendingPathComponent(name)
        }
        var candidates: [URL] = []
        let selfExecutable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        candidates.append(selfExecutable.deletingLastPathComponent().appendingPathComponent(name))
        if let argument = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: argument).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent(name))
        }
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent(name))
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate
        }
        Issue.record(
            "The \(name) executable was not found (looked at \(candidates.map(\.path).joined(separator: ", "))). Build it with `swift build --product \(name)` using the same scratch path as the tests, or set IDVERIFY_BINARY.",
            sourceLocation: sourceLocation)
        throw TestFailure("\(name) executable missing")
    }

    /// Runs `idverify` (or `idverify-bench`, with `executable`) with these arguments and
    /// environment (replacing the settings the commands read, so the developer's own environment
    /// does not leak in).
    static func runIDVerify(
        _ arguments: [String], environment: [String: String] = [:], executable: String = "idverify"
    ) async throws -> CommandResult {
        let process = Process()
        process.executableURL = try idverifyBinary(named: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for key in ["KAFKA_BROKERS", "KAFKA_GROUP_ID", "TOPIC_PREFIX", "DATABASE_URL"] { env[key] = nil }
        env.merge(environment) { _, new in new }
        process.environment = env
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Read on a dispatch thread: reading a pipe blocks.
        let (out, err) = await withCheckedContinuation { (continuation: CheckedContinuation<(Data, Data), Never>) in
            DispatchQueue.global().async {
                let errData = Shared(Data())
                let group = DispatchGroup()
                group.enter()
                DispatchQueue.global().async {
                    errData.withLock { $0 = errors.fileHandleForReading.readDataToEndOfFile() }
                    group.leave()
                }
                let outData = output.fileHandleForReading.readDataToEndOfFile()
                group.wait()
                process.waitUntilExit()
                continuation.resume(returning: (outData, errData.withLock { $0 }))
            }
        }
        return CommandResult(
            status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }
}

struct CommandResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A value shared between tasks of a test.
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { self.mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { self.mutex.withLock { body(&$0) } }
}

extension Timestamp {
    /// A timestamp from literal RFC 3339 text in tests.
    static func at(_ text: String) -> Timestamp {
        Timestamp(rfc3339: text)!
    }
}
