import Contract
import Foundation
import HummingbirdTesting
import Kafka
import Metrics
import Ops
import Prometheus
import ServiceLifecycle
import Store
import Testing

@testable import Ops

/// The status page (`/`), `/v1/board` and `/v1/status`: their JSON, the live figures' arithmetic,
/// and the page itself in headless Chromium against events sent through Kafka.
@Suite("Status page")
struct StatusPageTests {
    @Test("GET /v1/board answers every agency, the total and the months, each as /v1/stats answers it")
    func board() async throws {
        try await OpsTestEnvironment.withDatabase { postgres, _ in
            let statistics = DossierStatistics(client: postgres, logger: OpsTestEnvironment.logger)
            try await statistics.record(DossierStatisticsTests.crafted)
            let (server, _, _) = OpsServerTests.server(statistics: statistics)
            try await server.makeApplication().test(.live) { client in
                var stats: [String: String] = [:]
                for agency in ["", DossierStatisticsTests.agency, DossierStatisticsTests.other] {
                    let query = agency.isEmpty ? "" : "&agency=" + agency
                    try await client.execute(uri: "/v1/stats?month=2026-11" + query, method: .get) { response in
                        stats[agency] = String(buffer: response.body)
                    }
                }
                try await client.execute(uri: "/v1/board?month=2026-11", method: .get) { response in
                    #expect(response.status == .ok)
                    let text = String(buffer: response.body)
                    #expect(text.hasPrefix(#"{"month":"2026-11","months":["2026-12","2026-11"],"total":"#))
                    #expect(text.contains(#""total":"# + stats[""]! + #","agencies":["#))
                    #expect(text.contains("[" + stats[DossierStatisticsTests.agency]! + "," + stats[DossierStatisticsTests.other]! + "]"))
                }
                try await client.execute(uri: "/v1/board?month=2026-13", method: .get) { response in
                    #expect(response.status == .badRequest)
                }
            }
        }
    }

    @Test("GET / serves the page, its script and style from the binary under a strict Content-Security-Policy")
    func page() async throws {
        let (server, _, _) = OpsServerTests.server()
        try await server.makeApplication().test(.live) { client in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                #expect(response.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
                let html = String(buffer: response.body)
                #expect(html.contains(#"<html lang="vi">"#))
                #expect(html.contains("Xác thực danh tính: trạng thái"))
                // Nothing from another origin.
                #expect(!html.contains("http://") && !html.contains("https://"))
            }
            try await client.execute(uri: "/?lang=en", method: .get) { response in
                #expect(String(buffer: response.body).contains(#"<html lang="en">"#))
            }
            try await client.execute(uri: "/status/page.js", method: .get) { response in
                #expect(response.headers[.contentType] == "text/javascript; charset=utf-8")
                let script = String(buffer: response.body)
                #expect(script.contains("/v1/board") && script.contains("/v1/status"))
                #expect(!script.contains("http://") && !script.contains("https://"))
            }
            try await client.execute(uri: "/status/page.css", method: .get) { response in
                #expect(response.headers[.contentType] == "text/css; charset=utf-8")
                #expect(!String(buffer: response.body).contains("url("))
            }
        }
    }

    @Test("the live figures: lag per topic, the hour's verdicts and dead letters, calls per second, breaker, parked")
    func report() throws {
        let prometheus = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory.identityVerifier(registry: prometheus)
        Gauge(label: "identity_consumer_lag_messages", dimensions: [("topic", "tthc.a"), ("partition", "0")], factory: factory).record(5)
        Gauge(label: "identity_consumer_lag_messages", dimensions: [("topic", "tthc.a"), ("partition", "1")], factory: factory).record(7)
        Gauge(label: "identity_consumer_lag_seconds", dimensions: [("topic", "tthc.a"), ("partition", "0")], factory: factory).record(2.5)
        Gauge(label: "identity_consumer_lag_seconds", dimensions: [("topic", "tthc.a"), ("partition", "1")], factory: factory).record(4)
        Counter(label: "identity_verdicts_total", dimensions: [("channel", "counter"), ("outcome", "verified")], factory: factory)
            .increment(by: 100)
        Counter(label: "identity_verdicts_total", dimensions: [("channel", "submission"), ("outcome", "verified")], factory: factory)
            .increment(by: 50)
        Counter(label: "identity_dead_letters_total", dimensions: [("reason", "not_json")], factory: factory).increment(by: 3)
        Counter(label: "identity_registry_requests_total", dimensions: [("endpoint", "verify"), ("status", "ok")], factory: factory)
            .increment(by: 1_200)
        Gauge(label: "identity_registry_quota_calls_per_second", factory: factory).record(300)
        Gauge(label: "identity_registry_circuit_state", factory: factory).record(2)
        Gauge(label: "identity_parked_checks", factory: factory).record(4)

        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let reading = MetricsReading(prometheusText: prometheus.emitToString())
        let history = StatusHistory(window: 3_600, start: now.addingTimeInterval(-7_200))
        // 70 minutes ago (before the window), 50 minutes ago (the hour's baseline), 2 minutes ago (the rate's).
        history.record(CounterSnapshot(
            at: now.addingTimeInterval(-4_200), verdicts: ["verified": 10], deadLetters: [:], registryCalls: 100))
        history.record(CounterSnapshot(
            at: now.addingTimeInterval(-3_000), verdicts: ["verified": 30], deadLetters: ["not_json": 1], registryCalls: 200))
        history.record(CounterSnapshot(
            at: now.addingTimeInterval(-120), verdicts: ["verified": 140], deadLetters: ["not_json": 3], registryCalls: 600))
        history.record(CounterSnapshot(
            at: now.addingTimeInterval(-30), verdicts: ["verified": 149], deadLetters: ["not_json": 3], registryCalls: 1_100))
        let report = StatusReport(reading: reading, history: history.all, window: 3_600, now: now)
        #expect(report.lag == [.init(topic: "tthc.a", messages: 12, seconds: 4)])
        #expect(report.verdicts == ["verified": 120])
        #expect(report.windowSeconds == 3_000)
        #expect(report.deadLettersInWindow == ["not_json": 2])
        #expect(report.deadLettersTotal == ["not_json": 3])
        #expect(report.registryCallsPerSecond == 5)  // (1,200 - 600) / 120 s
        #expect(report.registryQuota == 300)
        #expect(report.breaker == "open")
        #expect(report.parkedChecks == 4)
        // The history forgets what no window needs: the latest snapshot before the hour stays.
        #expect(history.all.count == 4)
        history.record(CounterSnapshot(at: now, verdicts: [:], deadLetters: [:], registryCalls: 0))
        #expect(history.all.first?.at == now.addingTimeInterval(-4_200))

        // A fresh process: the window is its uptime and every counter counts.
        let young = StatusReport(reading: reading, history: [.zero(at: now.addingTimeInterval(-600))], window: 3_600, now: now)
        #expect(young.windowSeconds == 600)
        #expect(young.verdicts == ["verified": 150])
        #expect(young.registryCallsPerSecond == 2)
        let json = StatusBody(report: young).json
        #expect(json.contains(#""verdictsInWindow":{"verified":150}"#))
        #expect(json.contains(#""registry":{"callsPerSecond":2.0,"quotaCallsPerSecond":300.0,"breaker":"open"}"#))
    }

    @Test("a status sample interval that is not positive is refused, naming the setting")
    func sampleIntervalSetting() {
        #expect(throws: SettingError.invalid("statusSampleInterval", "must be positive")) {
            try OpsServer.Configuration(statusSampleInterval: .zero).validate()
        }
        #expect(throws: Never.self) { try OpsServer.Configuration().validate() }
    }

    @Test("labels with escapes and samples without labels parse; comments and junk are skipped")
    func reading() {
        let reading = MetricsReading(
            prometheusText: """
                # HELP x a counter
                # TYPE x counter
                x{a="1",b="q\\"uote"} 2
                x{a="2"} 3.5
                y 7
                garbage
                z{broken 1
                """)
        #expect(reading.sum("x", by: "a") == ["1": 2, "2": 3.5])
        #expect(reading.sum("x", by: "b", matching: ["a": "1"]) == [#"q"uote"#: 2])
        #expect(reading.total("y") == 7)
        #expect(reading.total("z") == nil)
    }

    @Test("in headless Chromium: loads without console errors, pickers work, the board equals /v1/stats, screenshots kept")
    func browser() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let artefacts = root.appendingPathComponent(".build/test-artefacts/status-page")
        try? FileManager.default.removeItem(at: artefacts)
        let topics = TopicNames(prefix: "page.")
        let cluster = try OpsTestEnvironment.makeCluster(topics: topics, partitions: 2)
        try await OpsTestEnvironment.withDatabase { postgres, _ in
            // November 2026: 10 dossiers handled over both agencies (crafted), and more in October and December.
            var messages = DossierStatisticsTests.crafted.map {
                KafkaOutgoingMessage(topic: topics.dossierEvents, key: Array($0.dossierCode.utf8), value: $0.encodedJSON())
            }
            messages.append(KafkaOutgoingMessage(topic: topics.dossierEvents, key: Array("X".utf8), value: Array("not json".utf8)))
            try await OpsTestEnvironment.produce(messages, to: cluster)

            let prometheus = PrometheusCollectorRegistry()
            let factory = PrometheusMetricsFactory.identityVerifier(registry: prometheus)
            let producer = try KafkaProducer(
                configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: OpsTestEnvironment.logger)
            var configuration = DossierEventsConsumer.Configuration(
                bootstrapServers: [cluster.bootstrapServers], workerGroupID: "page", topics: Topics(prefix: topics.prefix))
            configuration.consumer.sessionTimeoutMilliseconds = 6_000
            let statistics = DossierStatistics(client: postgres, logger: OpsTestEnvironment.logger)
            let consumer = DossierEventsConsumer(
                configuration: configuration, store: statistics, producer: producer, metricsFactory: factory,
                logger: OpsTestEnvironment.logger)
            let port = Shared(0)
            let server = OpsServer(
                configuration: .init(host: "127.0.0.1", port: 0, readinessSampleInterval: nil, statusSampleInterval: .seconds(1)),
                prometheus: prometheus, readiness: [], statistics: statistics, metricsFactory: factory,
                logger: OpsTestEnvironment.logger, onServerRunning: { bound in port.withLock { $0 = bound } })
            let group = ServiceGroup(services: [consumer, server], gracefulShutdownSignals: [], logger: OpsTestEnvironment.logger)
            let running = Task { try await group.run() }
            do {
                try await OpsTestEnvironment.eventually(40, "every event stored and the dead letter counted") {
                    let rows = try await postgres.query("SELECT count(*) FROM dossier_events")
                    var stored = 0
                    for try await count in rows.decode(Int.self) { stored = count }
                    return stored == DossierStatisticsTests.crafted.count
                        && prometheus.emitToString().contains(#"identity_dead_letters_total{reason="not_json"} 1"#)
                        && port.withLock { $0 } != 0
                }
                // Live figures as a worker would export them.
                Counter(label: "identity_verdicts_total", dimensions: [("channel", "counter"), ("outcome", "verified")], factory: factory)
                    .increment(by: 7)
                Counter(label: "identity_verdicts_total", dimensions: [("channel", "submission"), ("outcome", "mismatch")], factory: factory)
                    .increment(by: 2)
                Gauge(label: "identity_consumer_lag_messages", dimensions: [("topic", "page.identity.requests"), ("partition", "0")], factory: factory)
                    .record(42)
                Gauge(label: "identity_consumer_lag_seconds", dimensions: [("topic", "page.identity.requests"), ("partition", "0")], factory: factory)
                    .record(3.5)
                Gauge(label: "identity_registry_quota_calls_per_second", factory: factory).record(300)
                Gauge(label: "identity_registry_circuit_state", factory: factory).record(1)
                Gauge(label: "identity_parked_checks", factory: factory).record(3)
                let result = try await Self.run(
                    "python3",
                    [
                        root.appendingPathComponent("scripts/status-page-check.py").path,
                        "--url", "http://127.0.0.1:\(port.withLock { $0 })", "--month", "2026-11",
                        "--agency", DossierStatisticsTests.agency, "--expect-total-handled", "10", "--expect-verdicts", "9",
                        "--artefacts", artefacts.path,
                    ])
                #expect(result.status == 0, "status-page-check failed:\n\(result.stdout)\(result.stderr)")
                for name in ["status-page-vi.png", "status-page-agency.png", "status-page-en.png"] {
                    #expect(FileManager.default.fileExists(atPath: artefacts.appendingPathComponent(name).path), "\(name)")
                }
            } catch {
                await group.triggerGracefulShutdown()
                _ = try? await running.value
                await producer.close()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await running.value
            await producer.close()
        }
    }

    /// Runs a program found on PATH and collects its output.
    static func run(_ program: String, _ arguments: [String]) async throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
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
