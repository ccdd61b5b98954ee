import Contract
import Foundation
import Logging
import Kafka
import PostgresNIO
import RegistrySimulator
import Testing
import Worker
import Store

/// The built `idverify` executable, next to the test bundle.
func idverifyExecutable() throws -> URL {
    let url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("idverify")
    guard FileManager.default.isExecutableFile(atPath: url.path) else {
        Issue.record("idverify is not built next to the tests (\(url.path)): run `swift build` first (scripts/test does)")
        throw HarnessError("idverify missing")
    }
    return url
}

@Suite("Worker crash safety", .serialized)
struct WorkerCrashTests {
    @Test("a worker killed with SIGKILL amid 5,000 requests and restarted: every request has exactly one outcome")
    func sigkillAndRestart() async throws {
        try await RegistrySimulator.withRunning(
            configuration: .init(port: 0, population: 20_000, behaviour: .init(latencyMs: 2, latencySpreadMs: 4))
        ) { simulator in
            let harness = try await WorkerHarness(name: "worker_crash", simulator: simulator)
            let executable = try idverifyExecutable()
            let population = harness.population()
            let total = 5_000
            var requestIDs: Set<String> = []
            var messages: [KafkaOutgoingMessage] = []
            for i in 0..<total {
                let channel: Contract.Channel = i % 2 == 0 ? .registration : .submission
                let request = Requests.make(channel, sample: population.sample(i), dossierCode: "CRASH-\(i % 400)")
                requestIDs.insert(request.requestId)
                messages.append(KafkaOutgoingMessage(
                    topic: harness.topics.requests(channel), key: Array("key-\(i % 400)".utf8), value: request.encodedJSON()))
            }
            let reports = await harness.producer.send(messages)
            #expect(reports.allSatisfy { $0.error == nil })

            let environment = harness.serveEnvironment()
            func start() throws -> Process { try harness.startServe(executable, environment: environment) }

            // First run: kill it hard once part of the work is done.
            let first = try start()
            try await withTimeout(120, "first verdicts") {
                while try await harness.verdictCount() < 800 { try await Task.sleep(for: .milliseconds(100)) }
            }
            kill(first.processIdentifier, SIGKILL)
            first.waitUntilExit()
            let beforeRestart = try await harness.verdictCount()
            #expect(beforeRestart < total, "killed in the middle")

            // Second run: it picks up where the committed offsets and the outbox say.
            let second = try start()
            defer { if second.isRunning { kill(second.processIdentifier, SIGKILL) } }
            let verdicts = try await harness.read(harness.topics.verdicts, count: total, seconds: 240)
            var extra = verdicts
            // Re-emissions may add copies; give them a moment to arrive, then read everything there is.
            try await Task.sleep(for: .seconds(3))
            extra = try await harness.read(harness.topics.verdicts, count: try await harness.verdictCount(), seconds: 60)
            second.terminate()
            second.waitUntilExit()

            var byRequest: [String: Set<[UInt8]>] = [:]
            for message in extra {
                let verdict = try Verdict(json: message.value)
                byRequest[verdict.requestId, default: []].insert(message.value)
            }
            #expect(Set(byRequest.keys) == requestIDs, "every request has a verdict")
            #expect(byRequest.values.allSatisfy { $0.count == 1 }, "copies are byte-identical re-emissions: one outcome per request")
            #expect(try await harness.storedResults() == total, "one stored result per request id")
        }
    }
}

extension WorkerHarness {
    /// The environment `idverify serve` needs to run against this harness's servers.
    func serveEnvironment() -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["KAFKA_BROKERS"] = settings.kafkaBrokers.joined(separator: ",")
        environment["DATABASE_URL"] = settings.databaseURL
        environment["REGISTRY_URL"] = simulator.baseURL
        environment["REGISTRY_TOKEN"] = simulator.token
        environment["REGISTRY_LIMITER"] = "local"
        environment["REGISTRY_RATE_LIMIT"] = "2000"
        environment["SUBJECT_REF_KEY"] = Data(settings.subjectRefKey).base64EncodedString()
        environment["KAFKA_PROPERTIES"] = EmbeddedKafkaCluster.consumerProperties.map { "\($0.key)=\($0.value)" }.joined(separator: ";")
        environment["OPS_PORT"] = "0"
        environment["LOG_LEVEL"] = "warning"
        return environment
    }

    /// `idverify serve` as a child process (output discarded).
    func startServe(_ executable: URL, environment: [String: String]) throws -> Process {
        let process = Process()
        process.executableURL = executable
        process.arguments = ["serve"]
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Messages on the verdict topic (from the high watermarks).
    func verdictCount() async throws -> Int {
        var quiet = Logger(label: "count")
        quiet.logLevel = .critical
        let consumer = try KafkaConsumer(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers], groupID: "count", topics: []), logger: quiet)
        var total: Int64 = 0
        for partition in 0..<3 {
            total += try await consumer.watermarks(TopicPartition(topic: topics.verdicts, partition: Int32(partition))).high
        }
        await consumer.close()
        return Int(total)
    }

    /// Rows in `verification_results`.
    func storedResults() async throws -> Int {
        let client = PostgresClient(configuration: try DatabaseURL.parse(settings.databaseURL), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                await client.run()
                return -1
            }
            defer { group.cancelAll() }
            let rows = try await client.query("SELECT count(*) FROM verification_results", logger: logger)
            for try await count in rows.decode(Int64.self) { return Int(count) }
            return 0
        }
    }
}
