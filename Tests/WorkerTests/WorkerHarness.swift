import Contract
import Crypto
import Foundation
import Identity
import Kafka
import Logging
import PostgresNIO
import RegistrySimulator
import ServiceLifecycle
import Synchronization
import Telemetry
import Testing
import Tracing
import Worker
import Store

/// Captures every log line of a test at trace level, to scan for personal data.
final class CapturedLogs: Sendable {
    let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }

    /// What a failed expectation about one request shows: the lines naming it, then the last
    /// warnings and registry lines (tests fail on loaded CI machines that cannot be watched).
    func diagnosis(of requestId: String, last count: Int = 25) -> String {
        let all = self.all
        let named = all.filter { $0.contains("request.id=\(requestId)") }
        let context = all.filter { $0.hasPrefix("warning") || $0.hasPrefix("error") || $0.contains("registry") }.suffix(count)
        return (["lines naming \(requestId):"] + named + ["last warnings and registry lines:"] + context).joined(separator: "\n")
    }
}

struct CapturingLogHandler: LogHandler {
    static let echo = ProcessInfo.processInfo.environment["WORKER_TEST_LOGS"] == "1"
    let sink: CapturedLogs
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider? = .requestTrace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        let all = metadata.merging(metadataProvider?.get() ?? [:]) { $1 }.merging(event.metadata ?? [:]) { $1 }
        let line = "\(event.level) \(event.message) \(all.map { "\($0)=\($1)" }.joined(separator: " "))"
        sink.append(line)
        // WORKER_TEST_LOGS=1 echoes the lines, for debugging a test.
        if Self.echo { FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }
}

/// The database URL the test script provides; a test fails, naming the script, without it.
func databaseURL() throws -> String {
    guard let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty else {
        Issue.record("DATABASE_URL is not set: start a throwaway server with `deploy/local-postgres.sh start` (scripts/test does)")
        throw HarnessError("DATABASE_URL missing")
    }
    return url
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A fresh database on the test server, so tests do not see each other's rows.
func freshDatabase(_ name: String) async throws -> String {
    let base = try databaseURL()
    let logger = Logger(label: "harness")
    let client = PostgresClient(configuration: try DatabaseURL.parse(base), backgroundLogger: logger)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await client.run() }
        try await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name)"), logger: logger)
        try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        group.cancelAll()
    }
    var components = URLComponents(string: base)!
    components.path = "/" + name
    return components.string!
}

/// A worker on real servers: the embedded broker, a fresh PostgreSQL database
/// and the registry simulator over loopback HTTP.
final class WorkerHarness: Sendable {
    let cluster: EmbeddedKafkaCluster
    let simulator: RunningSimulator
    let settings: ServiceSettings
    let producer: KafkaProducer
    let logs = CapturedLogs()
    let topics = Topics()
    let logger: Logger
    let tracer: any Tracer
    /// Partitions of every topic.
    let partitions: Int

    init(
        name: String, simulator: RunningSimulator, tracer: any Tracer = NoOpTracer(), partitions: Int = 3,
        databaseURL: String? = nil, configure: (inout ServiceSettings) -> Void = { _ in }
    ) async throws {
        self.tracer = tracer
        self.partitions = partitions
        let sink = logs
        var logger = Logger(label: "worker-test") { _ in CapturingLogHandler(sink: sink) }
        logger.logLevel = .trace
        self.logger = logger
        var quiet = Logger(label: "kafka-test")
        quiet.logLevel = .critical
        cluster = try EmbeddedKafkaCluster(brokers: 1, logger: quiet)
        for topic in Topics().requestTopics + [Topics().verdicts, Topics().deadLetter] {
            try cluster.createTopic(topic, partitions: partitions)
        }
        self.simulator = simulator
        var database = databaseURL ?? ""
        if databaseURL == nil { database = try await freshDatabase(name) }
        var settings = ServiceSettings(
            kafkaBrokers: [cluster.bootstrapServers], databaseURL: database,
            registryURL: simulator.baseURL, registryToken: simulator.token,
            subjectRefKey: Array("test-subject-ref-key-0123456789".utf8))
        settings.kafkaProperties = EmbeddedKafkaCluster.consumerOnlyProperties
        settings.registryRateLimit = 2_000
        settings.registryLimiter = "local"
        settings.worker.commitInterval = .milliseconds(200)
        // A deadline counts from the message's timestamp, so it includes the consumer's first group
        // join: CI's parallel pass once took more than a counter's 15 s for it, and the counter came
        // out `unavailable` with no registry call. The order stays counter, registration, submission;
        // tests about deadlines set their own.
        settings.worker.deadlines[.counter] = .seconds(120)
        settings.worker.deadlines[.registration] = .seconds(240)
        configure(&settings)
        self.settings = settings
        producer = try KafkaProducer(configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: quiet)
    }

    /// Runs a worker (in this process) while `body` runs, then shuts it down gracefully.
    func withWorker<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await withWorker(adjusting: { _ in }) { _ in try await body() }
    }

    /// The same, with settings adjusted for this run, and the runtime handed to `body`.
    func withWorker<T: Sendable>(
        adjusting adjust: (inout ServiceSettings) -> Void, _ body: @Sendable (WorkerRuntime) async throws -> T
    ) async throws -> T {
        var settings = self.settings
        adjust(&settings)
        let runtime = try WorkerRuntime(settings: settings, logger: logger, tracer: tracer)
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: WorkerService(runtime: runtime, logger: logger))], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                let result = try await body(runtime)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
        }
    }

    func send(_ channel: Contract.Channel, key: String, value: [UInt8], headers: [KafkaHeader] = []) async throws {
        try await producer.send(KafkaOutgoingMessage(topic: topics.requests(channel), key: Array(key.utf8), value: value, headers: headers))
    }

    func send(_ request: VerificationRequest, key: String, headers: [KafkaHeader] = []) async throws {
        try await send(request.channel, key: key, value: request.encodedJSON(), headers: headers)
    }

    /// Reads a topic from the beginning until `count` messages arrived (or fails after `seconds`).
    func read(_ topic: String, count: Int, seconds: Double = 60) async throws -> [KafkaMessage] {
        var quiet = Logger(label: "reader")
        quiet.logLevel = .critical
        let reader = try KafkaConsumer(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers], groupID: "reader-\(UUID())", topics: []),
            logger: quiet)
        try reader.assign((0..<partitions).map { TopicPartitionOffset(topic: topic, partition: Int32($0), offset: KafkaOffset.beginning) })
        defer { Task { await reader.close() } }
        return try await withTimeout(seconds, "\(count) messages on \(topic)") {
            var messages: [KafkaMessage] = []
            for await event in reader.events {
                if case .message(let message) = event { messages.append(message) }
                if messages.count >= count { break }
            }
            return messages
        }
    }

    /// Messages in a topic now (the sum of its partitions' high watermarks).
    func messageCount(_ topic: String) async throws -> Int {
        var quiet = Logger(label: "counter")
        quiet.logLevel = .critical
        let consumer = try KafkaConsumer(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers], groupID: "count-\(UUID())", topics: []), logger: quiet)
        var total: Int64 = 0
        for partition in 0..<partitions { total += try await consumer.watermarks(TopicPartition(topic: topic, partition: Int32(partition))).high }
        await consumer.close()
        return Int(total)
    }

    func verdicts(count: Int, seconds: Double = 60) async throws -> [Verdict] {
        try await read(topics.verdicts, count: count, seconds: seconds).map { try Verdict(json: $0.value) }
    }

    func population() -> SyntheticPopulation { simulator.simulator.population }
}

func withTimeout<T: Sendable>(_ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        guard let value = first else { throw HarnessError("timed out after \(seconds) s: \(what)") }
        return value
    }
}

/// Requests for the simulator's people.
enum Requests {
    static func make(
        _ channel: Contract.Channel, sample: SampleQuery, dossierCode: String = "H23.45.10-241129-0007",
        occurredAt: Date = Date(), recipientKey: AutofillRecipientKey? = nil, agency: String = "H23.45.10"
    ) -> VerificationRequest {
        let subject = Subject(
            fullName: sample.fullName, idNumber: sample.idNumber, dateOfBirth: PartialDate(sample.dateOfBirth)!)
        let details: ChannelDetails
        switch channel {
        case .counter: details = .counter(autofillRecipientKey: recipientKey)
        case .registration: details = .registration(accountId: "acc-1")
        case .submission:
            details = .submission(
                accountId: "acc-1",
                dossier: DossierReference(code: dossierCode, procedureCode: "1.001234", receivedAt: Timestamp(occurredAt)))
        }
        return VerificationRequest(
            requestUUID: UUID(), occurredAt: Timestamp(occurredAt), agencyCode: agency,
            actor: Actor(kind: channel == .counter ? .officer : .citizen, id: "actor-1"), subject: subject, details: details)
    }

    /// The first sample of the population with the wanted property.
    static func sample(_ population: SyntheticPopulation, _ predicate: (SampleQuery) -> Bool) -> SampleQuery {
        var n = 0
        while true {
            let sample = population.sample(n)
            if predicate(sample) { return sample }
            n += 1
        }
    }
}
