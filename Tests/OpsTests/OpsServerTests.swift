import Contract
import Foundation
import HummingbirdTesting
import Kafka
import Logging
import Metrics
import Ops
import Prometheus
import Registry
import RegistrySimulator
import Store
import Testing

/// Every endpoint over real HTTP, against the embedded broker, a real PostgreSQL and the registry
/// simulator.
@Suite("Operations endpoints")
struct OpsServerTests {
    static func server(
        readiness: [any ReadinessCheck] = [],
        statistics: (any DossierStatisticsSource)? = nil,
        readinessTimeout: Duration = .seconds(2)
    ) -> (OpsServer, PrometheusCollectorRegistry, PrometheusMetricsFactory) {
        let prometheus = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory.identityVerifier(registry: prometheus)
        let server = OpsServer(
            configuration: .init(host: "127.0.0.1", port: 0, readinessTimeout: readinessTimeout, readinessSampleInterval: nil),
            prometheus: prometheus, readiness: readiness, statistics: statistics, metricsFactory: factory,
            logger: OpsTestEnvironment.logger)
        return (server, prometheus, factory)
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        let data = Data(response.body.readableBytesView)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "not a JSON object: \(String(buffer: response.body))")
    }

    @Test("GET /healthz answers 200 and GET /metrics the registry in Prometheus text")
    func healthAndMetrics() async throws {
        let (server, _, factory) = Self.server()
        Counter(label: "identity_verdicts_total", dimensions: [("channel", "counter"), ("outcome", "verified")], factory: factory)
            .increment(by: 3)
        try await server.makeApplication().test(.live) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                let body = try Self.json(response)
                #expect(body["status"] as? String == "alive")
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                let text = String(buffer: response.body)
                #expect(text.contains(#"identity_verdicts_total{channel="counter",outcome="verified"} 3"#))
                #expect(text.contains("# TYPE identity_verdicts_total counter"))
            }
        }
    }

    @Test("GET /readyz is 200 when Kafka, PostgreSQL and the registry are usable")
    func ready() async throws {
        let cluster = try OpsTestEnvironment.makeCluster()
        try await OpsTestEnvironment.withDatabase { postgres, _ in
            try await RegistrySimulator.withRunning(
                configuration: .init(port: 0, token: "ops-token", seed: 7, population: 1_000), logger: OpsTestEnvironment.logger
            ) { simulator in
                let probe = try KafkaConsumer(
                    configuration: .init(bootstrapServers: [cluster.bootstrapServers], topics: []), logger: OpsTestEnvironment.logger)
                let registry = try RegistryFixture(baseURL: simulator.baseURL, token: simulator.token)
                _ = try await registry.client.verify(RegistryFixture.query, context: .init(agency: "H23.45.10"))
                let (server, _, _) = Self.server(readiness: [
                    KafkaReadinessCheck(consumer: probe, topics: TopicNames().all),
                    PostgresReadinessCheck(client: postgres),
                    RegistryReadinessCheck(registry: registry.client, authentication: registry.monitor),
                ])
                try await server.makeApplication().test(.live) { client in
                    try await client.execute(uri: "/readyz", method: .get) { response in
                        #expect(response.status == .ok)
                        let body = try Self.json(response)
                        #expect(body["ready"] as? Bool == true)
                        let checks = try #require(body["checks"] as? [[String: Any]])
                        #expect(checks.map { $0["name"] as? String } == ["kafka", "postgres", "registry"])
                        #expect(checks.allSatisfy { $0["ok"] as? Bool == true })
                    }
                }
                await registry.shutdown()
                await probe.close()
            }
        }
    }

    @Test("GET /readyz is 503 with each failing check's reason, and a hanging check times out")
    func notReady() async throws {
        try await OpsTestEnvironment.withDatabase(migrated: false) { unmigrated, _ in
            try await RegistrySimulator.withRunning(
                configuration: .init(port: 0, token: "ops-token", seed: 7, population: 1_000, behaviour: .init(errorRate: 1)),
                logger: OpsTestEnvironment.logger
            ) { simulator in
                // Kafka: nothing listens on this port.
                var unreachable = KafkaConsumerConfiguration(bootstrapServers: ["127.0.0.1:1"], topics: [])
                unreachable.client.properties["log_level"] = "0"
                let deadKafka = try KafkaConsumer(configuration: unreachable, logger: OpsTestEnvironment.logger)
                // Registry: a refused token, and a registry failing every call (breaker opens at the first failure).
                let refused = try RegistryFixture(baseURL: simulator.baseURL, token: "wrong-token")
                await #expect(throws: RegistryError.self) {
                    _ = try await refused.client.verify(RegistryFixture.query, context: .init(agency: "H23.45.10"))
                }
                let failing = try RegistryFixture(baseURL: simulator.baseURL, token: simulator.token, failureThreshold: 1)
                await #expect(throws: RegistryError.self) {
                    _ = try await failing.client.verify(RegistryFixture.query, context: .init(agency: "H23.45.10"))
                }
                let hanging = ClosureReadinessCheck(name: "worker") {
                    try? await Task.sleep(for: .seconds(30))
                    return .ready("worker")
                }
                let (server, _, _) = Self.server(
                    readiness: [
                        KafkaReadinessCheck(consumer: deadKafka, topics: TopicNames().requestTopics, timeout: .milliseconds(500)),
                        PostgresReadinessCheck(client: unmigrated),
                        RegistryReadinessCheck(registry: refused.client, authentication: refused.monitor, name: "registry"),
                        RegistryReadinessCheck(registry: failing.client, authentication: failing.monitor, name: "registry_breaker"),
                        hanging,
                    ],
                    readinessTimeout: .seconds(1))
                try await server.makeApplication().test(.live) { client in
                    let start = ContinuousClock.now
                    try await client.execute(uri: "/readyz", method: .get) { response in
                        #expect(response.status == .serviceUnavailable)
                        let body = try Self.json(response)
                        #expect(body["ready"] as? Bool == false)
                        let checks = try #require(body["checks"] as? [[String: Any]])
                        let reasons = Dictionary(
                            uniqueKeysWithValues: checks.map { ($0["name"] as? String ?? "", $0["reason"] as? String ?? "") })
                        #expect(checks.allSatisfy { $0["ok"] as? Bool == false })
                        #expect(reasons["kafka"]?.contains("metadata request failed") == true, "\(reasons)")
                        #expect(reasons["postgres"]?.contains("schema not migrated") == true, "\(reasons)")
                        #expect(reasons["registry"] == "registry refused the token (HTTP 401)", "\(reasons)")
                        #expect(reasons["registry_breaker"] == "registry circuit breaker open", "\(reasons)")
                        #expect(reasons["worker"] == "no answer within 1 s", "\(reasons)")
                    }
                    #expect(ContinuousClock.now - start < .seconds(8), "checks run concurrently under the timeout")
                    try await client.execute(uri: "/metrics", method: .get) { response in
                        let text = String(buffer: response.body)
                        #expect(text.contains("identity_ready 0"))
                        #expect(text.contains(#"identity_readiness_check_ok{check="postgres"} 0"#))
                    }
                }
                await refused.shutdown()
                await failing.shutdown()
                await deadKafka.close()
            }
        }
    }

    @Test("GET /v1/stats answers section 6 figures, for one agency and for all")
    func statistics() async throws {
        try await OpsTestEnvironment.withDatabase { postgres, _ in
            let statistics = DossierStatistics(client: postgres, logger: OpsTestEnvironment.logger)
            try await statistics.record(DossierStatisticsTests.crafted)
            let (server, _, _) = Self.server(statistics: statistics)
            try await server.makeApplication().test(.live) { client in
                try await client.execute(uri: "/v1/stats?agency=H23.45.10&month=2026-11", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType] == "application/json; charset=utf-8")
                    let body = try Self.json(response)
                    #expect(body["agency"] as? String == "H23.45.10")
                    #expect(body["month"] as? String == "2026-11")
                    #expect(body["handled"] as? Int == 9)
                    #expect(body["resolved"] as? Int == 7)
                    #expect(body["returned"] as? Int == 2)
                    #expect(body["onTime"] as? Int == 6)
                    #expect(body["late"] as? Int == 3)
                    #expect((body["lateRate"] as? Double).map { abs($0 - 1.0 / 3.0) < 1e-12 } == true)
                    #expect(Set(body.keys) == ["agency", "month", "handled", "resolved", "returned", "onTime", "late", "lateRate"])
                }
                try await client.execute(uri: "/v1/stats?month=2026-11", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body).contains(#""agency":null"#))
                    let body = try Self.json(response)
                    #expect(body["handled"] as? Int == 10)
                    #expect(body["late"] as? Int == 4)
                    #expect(body["lateRate"] as? Double == 0.4)
                }
                try await client.execute(uri: "/v1/stats?agency=H23.45.10&month=2030-01", method: .get) { response in
                    let body = try Self.json(response)
                    #expect(body["handled"] as? Int == 0)
                    #expect(body["lateRate"] as? Double == 0)
                }
                try await client.execute(uri: "/v1/stats", method: .get) { response in
                    #expect(response.status == .ok)
                    let body = try Self.json(response)
                    #expect(body["month"] as? String == StatisticsMonth(containing: Date()).description)
                }
                for (query, parameter) in [
                    ("month=2026-13", "month"), ("month=2026-1", "month"), ("month=november", "month"),
                    ("agency=bad%20agency&month=2026-11", "agency"), ("agency=&month=2026-11", "agency"),
                    ("agency=A&agency=B", "agency"), ("agency=" + String(repeating: "A", count: 65), "agency"),
                ] {
                    try await client.execute(uri: "/v1/stats?" + query, method: .get) { response in
                        #expect(response.status == .badRequest, "\(query)")
                        let body = try Self.json(response)
                        #expect(body["error"] as? String == "invalid_parameter", "\(query)")
                        #expect(body["parameter"] as? String == parameter, "\(query)")
                        #expect((body["message"] as? String)?.isEmpty == false)
                    }
                }
            }
        }
        // Without a statistics source the endpoint says so.
        let (bare, _, _) = Self.server()
        try await bare.makeApplication().test(.live) { client in
            try await client.execute(uri: "/v1/stats?month=2026-11", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
            }
        }
    }
}

/// A resilient registry client over the simulator, with its transport watched for refused tokens.
struct RegistryFixture {
    static let query = RegistryQuery(idNumber: "001090000001", fullName: "Nguyễn Văn An", dateOfBirth: "1990")

    let transport: HTTPRegistryClient
    let monitor: RegistryAuthenticationMonitor
    let client: ResilientRegistryClient

    init(baseURL: String, token: String, failureThreshold: Int = 5) throws {
        self.transport = try HTTPRegistryClient(
            configuration: .init(baseURL: baseURL, token: token, concurrency: 4), backgroundLogger: OpsTestEnvironment.logger)
        self.monitor = RegistryAuthenticationMonitor(transport: self.transport)
        self.client = try ResilientRegistryClient(
            transport: self.monitor,
            limiter: try LocalRateLimiter(rateLimit: .init(callsPerSecond: 1_000)),
            configuration: .init(
                callTimeout: .seconds(2), retry: .init(maxAttempts: 1),
                circuitBreaker: .init(failureThreshold: failureThreshold, openDuration: .seconds(60))),
            metricsFactory: NOOPMetricsHandler.instance,
            logger: OpsTestEnvironment.logger)
    }

    func shutdown() async {
        self.client.shutdown()
        try? await self.transport.shutdown()
    }
}
