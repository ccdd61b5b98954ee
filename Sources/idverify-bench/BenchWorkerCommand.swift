import ArgumentParser
import CommandSupport
import Contract
import CoreMetrics
import Foundation
import Kafka
import Logging
import RegistrySimulator
import ServiceLifecycle
import Store
import Synchronization
import PostgresNIO
import Worker

/// `idverify-bench worker`: the whole pipeline on this machine — embedded
/// broker, PostgreSQL, the simulator, the worker in this process.
/// 1. throughput: a backlog of requests, verdicts per second with the simulator answering at once;
/// 2. quota: registry latency 100–200 ms, a rate limit, the simulator's busiest second and the mean rate;
/// 3. latency: a steady request rate, consume-to-published p50 and p99.
struct BenchWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "worker", abstract: "End-to-end throughput, quota use and latency of the worker.")

    @Option(help: "Requests in the throughput backlog.") var messages: Int = 100_000
    @Option(help: "Registry calls per second for the quota run.") var rateLimit: Int = 300
    @Option(help: "Seconds of the quota run.") var quotaSeconds: Int = 20
    @Option(help: "Requests per second of the latency run.") var steadyRate: Int = 2_000
    @Option(help: "Seconds of the latency run.") var steadySeconds: Int = 20
    @Option(help: "Which runs: throughput,quota,latency.") var runs: String = "throughput,quota,latency"
    @Option(help: "Registry calls in flight (REGISTRY_CONCURRENCY).") var registryConcurrency: Int = ServiceSettings.defaultRegistryConcurrency
    @Option(help: "Rate limiter: fleet (through PostgreSQL) or local (REGISTRY_LIMITER).") var limiter: String = "fleet"
    @Option(
        help: """
            Requests in flight in the worker (WORKER_MAX_IN_FLIGHT). Default: the service's 4,000 for the \
            throughput and latency runs, 4 x --rate-limit for the quota run.
            """) var maxInFlight: Int?
    @Option(
        help: """
            Registry transport of the throughput and latency runs: http (the real client and the simulator \
            over loopback) or direct (the simulator's answers without HTTP, to see what the rest of the \
            pipeline costs). The quota run always uses http.
            """) var transport: String = "http"

    func validate() throws {
        guard ["http", "direct"].contains(transport) else { throw ValidationError("--transport must be http or direct") }
    }

    func run() async throws {
        // Logging and tracing as `serve` sets them up (JSON lines, the W3C tracer, the request
        // metadata provider), at `error` unless LOG_LEVEL says otherwise: their cost is measured too.
        let logger = try LogSetup.bootstrap(level: ProcessInfo.processInfo.environment["LOG_LEVEL"] ?? "error", format: "json")
        let recorder = LatencyRecorder()
        MetricsSystem.bootstrap(BenchMetricsFactory(recorder: recorder))
        var ownPostgres: LocalPostgres?
        if ProcessInfo.processInfo.environment["DATABASE_URL"]?.isEmpty ?? true {
            ownPostgres = try await LocalPostgres.start(directory: "/tmp/tthc-pg-bench-\(getuid())")
        }
        let databaseURL = ownPostgres?.url ?? ProcessInfo.processInfo.environment["DATABASE_URL"]!
        do {
            try await runs(databaseURL: databaseURL, recorder: recorder, logger: logger)
        } catch {
            await ownPostgres?.stop()
            throw error
        }
        await ownPostgres?.stop()
    }

    private func runs(databaseURL: String, recorder: LatencyRecorder, logger: Logger) async throws {
        let selected = Set(runs.split(separator: ",").map(String.init))
        print(
            "worker settings: REGISTRY_CONCURRENCY=\(registryConcurrency) REGISTRY_LIMITER=\(limiter)"
                + " WORKER_MAX_IN_FLIGHT=\(maxInFlight.map(String.init) ?? "\(WorkerConfiguration().maxInFlight) (quota run: \(4 * rateLimit))")"
                + " transport=\(transport)")
        try await RegistrySimulator.withRunning(configuration: .init(port: 0, population: 1_000_000), logger: logger) { simulator in
            if selected.contains("throughput") {
                try await throughput(simulator: simulator, databaseURL: databaseURL, logger: logger)
            }
            if selected.contains("quota") {
                try await quota(simulator: simulator, databaseURL: databaseURL, logger: logger)
            }
            if selected.contains("latency") {
                try await latency(simulator: simulator, databaseURL: databaseURL, recorder: recorder, logger: logger)
            }
        }
    }

    private struct Setup {
        let cluster: EmbeddedKafkaCluster
        let runtime: WorkerRuntime
        let producer: KafkaProducer
        /// Reads the verdict topic's high watermarks: one client for the whole run, since a new one
        /// every 100 ms (threads, connection, metadata) took CPU from the worker being measured.
        let counter: KafkaConsumer
        let topics = Topics()
    }

    /// A fresh broker, database and worker runtime for one run. `quota`: the quota run (HTTP always,
    /// and a bounded number of requests in flight).
    private func setUp(
        _ name: String, simulator: RunningSimulator, databaseURL: String, rateLimit: Int, quota: Bool = false, logger: Logger
    ) async throws -> Setup {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: logger)
        let topics = Topics()
        // 24 partitions keep each under the mock's per-partition retention.
        for topic in topics.requestTopics + [topics.verdicts, topics.deadLetter] { try cluster.createTopic(topic, partitions: 24) }
        var settings = ServiceSettings(
            kafkaBrokers: [cluster.bootstrapServers], databaseURL: try await BenchDatabase.fresh(databaseURL, name: name, logger: logger),
            registryURL: simulator.baseURL, registryToken: simulator.token, subjectRefKey: Array("bench-subject-ref-key-000000".utf8))
        settings.registryRateLimit = rateLimit
        settings.registryConcurrency = registryConcurrency
        settings.registryLimiter = limiter
        // The quota run holds at most 4 s of the quota in flight: with 4,000 (13 s at 300/s) requests
        // wait past the 10-s quick-retry window, submissions park and take their lanes with them,
        // counters time out, and the run measures that overload instead of the limiter (steady use
        // 92–94 % in 7 of 28 runs).
        settings.worker.maxInFlight = maxInFlight ?? (quota ? 4 * rateLimit : WorkerConfiguration().maxInFlight)
        settings.kafkaProperties = EmbeddedKafkaCluster.consumerOnlyProperties
        let direct = self.transport == "direct" && !quota
        let answering = simulator.simulator
        let runtime = try WorkerRuntime(settings: settings, logger: logger) { http in
            direct ? DirectSimulatorTransport(simulator: answering) : http
        }
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: logger)
        let counter = try KafkaConsumer(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers], groupID: "bench-count", topics: []),
            logger: Logger(label: "count"))
        return Setup(cluster: cluster, runtime: runtime, producer: producer, counter: counter)
    }

    private func requests(_ count: Int, from start: Int, population: SyntheticPopulation, topics: Topics) -> [KafkaOutgoingMessage] {
        (start..<(start + count)).map { i in
            let channel = Contract.Channel.allCases[i % 3]
            let request = SampleRequests.request(sample: population.sample(i), channel: channel, number: i, recipientKey: nil)
            // Each request carries its portal's trace context, as the contract asks of portals.
            let traceparent = "00-\(Self.hex(UInt64(i), 32))-\(Self.hex(UInt64(i) &* 0x9E37_79B9, 16))-01"
            return KafkaOutgoingMessage(
                topic: topics.requests(channel), key: Array("key-\(i % 5_000)".utf8), value: request.encodedJSON(),
                headers: [KafkaHeader(name: "traceparent", string: traceparent)])
        }
    }

    /// `value` in `width` lower-case hex digits, zero-padded, never all zeros (W3C: all-zero ids are invalid).
    private static func hex(_ value: UInt64, _ width: Int) -> String {
        let digits = String(value &+ 1, radix: 16)
        return String(repeating: "0", count: width - digits.count) + digits
    }

    private func verdictsStored(_ setup: Setup) async throws -> Int64 {
        var total: Int64 = 0
        for p in 0..<24 { total += try await setup.counter.watermarks(TopicPartition(topic: setup.topics.verdicts, partition: Int32(p))).high }
        return total
    }

    private func withWorker<T: Sendable>(_ setup: Setup, logger: Logger, _ body: @Sendable () async throws -> T) async throws -> T {
        let group = ServiceGroup(configuration: .init(services: [.init(service: WorkerService(runtime: setup.runtime, logger: logger))], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let result = try await body()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        }
    }

    private func throughput(simulator: RunningSimulator, databaseURL: String, logger: Logger) async throws {
        try simulator.simulator.setBehaviour(.init())
        let setup = try await setUp("bench_throughput", simulator: simulator, databaseURL: databaseURL, rateLimit: 100_000, logger: logger)
        let backlog = requests(messages, from: 0, population: simulator.simulator.population, topics: setup.topics)
        for chunk in stride(from: 0, to: backlog.count, by: 20_000) {
            _ = await setup.producer.send(Array(backlog[chunk..<min(chunk + 20_000, backlog.count)]))
        }
        let total = Int64(messages)
        let (seconds, firstSeen) = try await withWorker(setup, logger: logger) {
            var first: ContinuousClock.Instant?
            while true {
                let done = try await verdictsStored(setup)
                if done > 0, first == nil { first = .now }
                if done >= total { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let elapsed = first!.duration(to: .now)
            return (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, first!)
        }
        _ = firstSeen
        print(String(format: "throughput: %d requests (mixed channels, 1/3 submissions), %.1f s from first verdict to last: %.0f verdicts/s", messages, seconds, Double(messages) / seconds))
        await setup.producer.close()
        await setup.counter.close()
    }

    private func quota(simulator: RunningSimulator, databaseURL: String, logger: Logger) async throws {
        try simulator.simulator.setBehaviour(.init(latencyMs: 100, latencySpreadMs: 100))
        simulator.simulator.resetStatistics()
        let setup = try await setUp("bench_quota", simulator: simulator, databaseURL: databaseURL, rateLimit: rateLimit, quota: true, logger: logger)
        let backlog = requests(rateLimit * (quotaSeconds + 10), from: 1_000_000, population: simulator.simulator.population, topics: setup.topics)
        _ = await setup.producer.send(backlog)
        // Steady state: calls counted over `quotaSeconds`, starting 3 s after the first call (the
        // group join, the first leases and the first calls in flight are behind by then).
        let simulatorState = simulator.simulator
        let steady = try await withWorker(setup, logger: logger) {
            while simulatorState.statistics().totalCalls == 0 { try await Task.sleep(for: .milliseconds(20)) }
            try await Task.sleep(for: .seconds(3))
            let before = simulatorState.statistics()
            try await Task.sleep(for: .seconds(quotaSeconds))
            let after = simulatorState.statistics()
            return Double(after.totalCalls - before.totalCalls) / (after.elapsedSeconds - before.elapsedSeconds)
        }
        if let fleet = setup.runtime.limiter as? FleetRateLimiter {
            let limiter = fleet.statistics
            print("fleet limiter: \(limiter.leases) leases, \(limiter.slotsLeased) slots leased, \(limiter.slotsUsed) used, \(limiter.slotsSkipped) skipped; latest wake after a slot \(limiter.maxWakeLateness)")
        }
        let stats = simulator.simulator.statistics()
        let calls = Double(stats.totalCalls)
        let span = max((stats.lastCallAtSeconds ?? 0) - (stats.firstCallAtSeconds ?? 0), 1)
        print(String(format: "quota: limit %d/s, registry latency 100-200 ms: busiest one-second window %d calls; steady %.1f calls/s over %d s (%.1f%% of the limit); whole run %.1f calls/s over %.1f s from first call to last (%.1f%%)",
            rateLimit, stats.maxCallsInOneSecond, steady, quotaSeconds, 100 * steady / Double(rateLimit),
            calls / span, span, 100 * calls / span / Double(rateLimit)))
        await setup.producer.close()
        await setup.counter.close()
    }

    private func latency(simulator: RunningSimulator, databaseURL: String, recorder: LatencyRecorder, logger: Logger) async throws {
        try simulator.simulator.setBehaviour(.init())
        let setup = try await setUp("bench_latency", simulator: simulator, databaseURL: databaseURL, rateLimit: 100_000, logger: logger)
        let population = simulator.simulator.population
        try await withWorker(setup, logger: logger) {
            // Warm up (group join), then measure a steady rate in 10 ms ticks.
            _ = await setup.producer.send(requests(10, from: 2_000_000, population: population, topics: setup.topics))
            while try await verdictsStored(setup) < 10 { try await Task.sleep(for: .milliseconds(100)) }
            recorder.reset()
            let perTick = max(1, steadyRate / 100)
            let start = ContinuousClock.now
            var sent = 0
            for tick in 0..<(steadySeconds * 100) {
                let batch = requests(perTick, from: 3_000_000 + sent, population: population, topics: setup.topics)
                sent += perTick
                _ = setup.producer.enqueue(batch)
                try await Task.sleep(until: start + .milliseconds(10 * (tick + 1)))
            }
            while try await verdictsStored(setup) < Int64(sent + 10) { try await Task.sleep(for: .milliseconds(100)) }
        }
        let (p50, p99, count) = recorder.percentiles()
        print(String(format: "latency: %d requests/s for %d s, consume to verdict published: p50 %.1f ms, p99 %.1f ms (%d verdicts)", steadyRate, steadySeconds, p50 * 1000, p99 * 1000, count))
        await setup.producer.close()
        await setup.counter.close()
    }
}

/// Keeps the worker's consume-to-published latencies.
final class LatencyRecorder: Sendable {
    private let samples = Mutex<[Double]>([])
    func record(_ seconds: Double) { samples.withLock { $0.append(seconds) } }
    func reset() { samples.withLock { $0.removeAll() } }
    func percentiles() -> (Double, Double, Int) {
        let sorted = samples.withLock { $0 }.sorted()
        guard !sorted.isEmpty else { return (0, 0, 0) }
        return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, sorted.count * 99 / 100)], sorted.count)
    }
}

/// A metrics backend for the benchmark: only `identity_verdict_latency_seconds` is kept.
struct BenchMetricsFactory: MetricsFactory {
    let recorder: LatencyRecorder

    final class LatencyTimer: TimerHandler {
        let recorder: LatencyRecorder?
        init(recorder: LatencyRecorder?) { self.recorder = recorder }
        func recordNanoseconds(_ duration: Int64) { recorder?.record(Double(duration) / 1e9) }
    }
    final class Nothing: CounterHandler, FloatingPointCounterHandler, RecorderHandler, MeterHandler {
        func increment(by: Int64) {}
        func increment(by: Double) {}
        func reset() {}
        func record(_ value: Int64) {}
        func record(_ value: Double) {}
        func set(_ value: Int64) {}
        func set(_ value: Double) {}
        func decrement(by: Double) {}
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { Nothing() }
    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler { Nothing() }
    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler { Nothing() }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler { Nothing() }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        LatencyTimer(recorder: label == "identity_verdict_latency_seconds" ? recorder : nil)
    }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyMeter(_ handler: any MeterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}

/// A fresh database for each benchmark run.
enum BenchDatabase {
    static func fresh(_ base: String, name: String, logger: Logger) async throws -> String {
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
}

