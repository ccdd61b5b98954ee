import Foundation
import Logging
import Metrics
import Ops
import Prometheus
import Testing

/// Pieces without I/O: settings, JSON logs, the readiness probe's bookkeeping.
@Suite("Operations units")
struct UnitTests {
    @Test("OPS_PORT and the log settings are read from the environment, flags winning; bad values are named")
    func settings() throws {
        #expect(try OpsServer.Configuration(environment: [:]).port == 8080)
        #expect(try OpsServer.Configuration(environment: ["OPS_PORT": "9100"]).port == 9100)
        #expect(throws: SettingError.invalid("OPS_PORT", "must be a port number")) {
            try OpsServer.Configuration(environment: ["OPS_PORT": "http"])
        }
        #expect(throws: SettingError.self) { try OpsServer.Configuration(environment: ["OPS_PORT": "70000"]) }

        let settings = try LogSettings(levelFlag: "debug", environment: ["LOG_FORMAT": "json", "LOG_LEVEL": "error"])
        #expect(settings == LogSettings(format: .json, level: .debug))
        #expect(throws: SettingError.self) { try LogSettings(environment: ["LOG_FORMAT": "xml"]) }
        #expect(throws: SettingError.self) { try LogSettings(environment: ["LOG_LEVEL": "loud"]) }

        #expect(OpsSettings.value("flag", variable: "X", environment: ["X": "env"]) == "flag")
        #expect(OpsSettings.value(nil, variable: "X", environment: ["X": "env"]) == "env")
        #expect(OpsSettings.value(nil, variable: "X", environment: ["X": ""], default: "d") == "d")
        #expect(throws: SettingError.missing("KAFKA_BROKERS", flag: "--brokers")) {
            try OpsSettings.required(nil, variable: "KAFKA_BROKERS", flagName: "--brokers", environment: [:])
        }
        #expect(try OpsSettings.brokers(" a:1, b:2 ,") == ["a:1", "b:2"])
        #expect(throws: SettingError.self) { try OpsSettings.databaseURL("mysql://x", environment: [:]) }
        let postgres = try OpsSettings.databaseURL("postgres://svc:secret@db.internal:6543/tthc?sslmode=disable", environment: [:])
        #expect(postgres.host == "db.internal")
        #expect(postgres.port == 6543)
        #expect(postgres.database == "tthc")
        #expect(AgencyCode.isValid("H23.45.10"))
        #expect(!AgencyCode.isValid("H23 45"))
        #expect(!AgencyCode.isValid(""))
    }

    @Test("JSON log lines are one valid object each, with metadata, provider metadata and escaping")
    func jsonLogs() throws {
        let lines = Shared<[String]>([])
        let provider = Logger.MetadataProvider { ["trace.id": "4bf92f3577b34da6a3ce929d0e0e4736"] }
        var logger = Logger(label: "ops-test") { label in
            JSONLogHandler(label: label, level: .debug, metadataProvider: provider, output: JSONLogOutput { line in
                lines.withLock { $0.append(line) }
            })
        }
        logger[metadataKey: "ops.kafka.topic"] = "tthc.identity.counter"
        logger.info("quote \" and\nnewline", metadata: ["ops.count": "3", "nested": ["a": ["1", "2"]]])
        logger.trace("below the level")
        let written = lines.withLock { $0 }
        #expect(written.count == 1)
        let line = try #require(written.first)
        #expect(line.hasSuffix("}\n"))
        #expect(!line.dropLast().contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["level"] as? String == "info")
        #expect(object["logger"] as? String == "ops-test")
        #expect(object["message"] as? String == "quote \" and\nnewline")
        #expect(object["ops.kafka.topic"] as? String == "tthc.identity.counter")
        #expect(object["ops.count"] as? String == "3")
        #expect(object["trace.id"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect((object["nested"] as? [String: Any])?["a"] as? [String] == ["1", "2"])
        #expect((object["timestamp"] as? String)?.hasSuffix("Z") == true)
    }

    @Test("a check failing while the process starts is logged at info once, and as failing if it lasts or comes back")
    func startupGrace() async throws {
        let lines = Shared<[String]>([])
        let logger = Logger(label: "ops-test") { label in
            JSONLogHandler(label: label, level: .debug, output: JSONLogOutput { line in lines.withLock { $0.append(line) } })
        }
        func logged() -> [String] {
            lines.withLock { written in
                defer { written = [] }
                return written.compactMap { line in
                    guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
                    return "\(object["level"] ?? "") \(object["message"] ?? "")"
                }
            }
        }
        let up = Shared(false)
        let check = ClosureReadinessCheck(name: "postgres") {
            up.withLock { $0 } ? .ready("postgres") : .notReady("postgres", reason: "schema not migrated")
        }

        // Starting: one info line however often it is probed; ready; then a failure is a fault.
        let starting = ReadinessProbe(checks: [check], startupGrace: .seconds(3600), logger: logger)
        _ = await starting.evaluate()
        _ = await starting.evaluate()
        #expect(logged() == ["info Readiness check not passing yet (starting)"])
        up.withLock { $0 = true }
        #expect(await starting.evaluate().ready)
        #expect(logged() == [])
        up.withLock { $0 = false }
        _ = await starting.evaluate()
        _ = await starting.evaluate()
        #expect(logged() == ["warning Readiness check failing"])
        up.withLock { $0 = true }
        _ = await starting.evaluate()
        #expect(logged() == ["info Readiness check passing again"])

        // A failure that outlasts the grace is a fault even if the check never passed.
        up.withLock { $0 = false }
        let stuck = ReadinessProbe(checks: [check], startupGrace: .zero, logger: logger)
        _ = await stuck.evaluate()
        #expect(logged() == ["warning Readiness check failing"])
    }

    @Test("the probe runs checks concurrently, bounds each by the timeout and records the gauges")
    func probe() async throws {
        let prometheus = PrometheusCollectorRegistry()
        let probe = ReadinessProbe(
            checks: [
                ClosureReadinessCheck(name: "fast") { .ready("ignored") },
                ClosureReadinessCheck(name: "slow") {
                    try? await Task.sleep(for: .milliseconds(300))
                    return .notReady("slow", reason: "slow is down")
                },
                ClosureReadinessCheck(name: "stuck") {
                    // Ignores cancellation on purpose: the probe must not wait for it.
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        DispatchQueue.global().asyncAfter(deadline: .now() + 30) { continuation.resume() }
                    }
                    return .ready("stuck")
                },
            ],
            timeout: .milliseconds(800), metricsFactory: PrometheusMetricsFactory(registry: prometheus),
            logger: OpsTestEnvironment.logger)
        let start = ContinuousClock.now
        let report = await probe.evaluate()
        // Far less than the stuck check's 30 s (other suites running in parallel can delay the timer).
        #expect(ContinuousClock.now - start < .seconds(20), "the probe does not wait for a check that ignores cancellation")
        #expect(!report.ready)
        #expect(report.checks == [
            .ready("fast"), .notReady("slow", reason: "slow is down"), .notReady("stuck", reason: "no answer within 0.8 s"),
        ])
        let text = prometheus.emitToString()
        #expect(text.contains("identity_ready 0"))
        #expect(text.contains(#"identity_readiness_check_ok{check="fast"} 1"#))
        #expect(text.contains(#"identity_readiness_check_ok{check="stuck"} 0"#))
        #expect(await ReadinessProbe(checks: [], logger: OpsTestEnvironment.logger).evaluate().ready)
    }
}
