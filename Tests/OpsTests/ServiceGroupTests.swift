import AsyncHTTPClient
import Contract
import Foundation
import Kafka
import Logging
import Ops
import Prometheus
import ServiceLifecycle
import Store
import PostgresNIO
import RegistrySimulator
import Testing
import Worker

/// The operations services as the executable runs them: one service group, a real port, graceful
/// shutdown.
@Suite("Operations services in a service group")
struct ServiceGroupTests {
    @Test("OpsServer, LagSampler, DossierEventsConsumer and VitalSignsSampler serve together and stop on graceful shutdown")
    func together() async throws {
        let topics = TopicNames()
        let cluster = try OpsTestEnvironment.makeCluster(topics: topics, partitions: 2)
        try await OpsTestEnvironment.produce(LagTests.requests(topics.counter, count: 5), to: cluster)
        try await OpsTestEnvironment.withDatabase { postgres, _ in
            let prometheus = PrometheusCollectorRegistry()
            let factory = PrometheusMetricsFactory.identityVerifier(registry: prometheus)
            let logger = OpsTestEnvironment.logger
            let producer = try KafkaProducer(configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: logger)
            let lag = try KafkaConsumerGroupLag(
                configuration: .init(bootstrapServers: [cluster.bootstrapServers], groupID: "together", topics: topics.requestTopics),
                logger: logger)
            let statistics = DossierStatistics(client: postgres, logger: logger)
            let port = Shared(0)
            let ops = OpsServer(
                configuration: .init(host: "127.0.0.1", port: 0, readinessSampleInterval: .milliseconds(200)),
                prometheus: prometheus,
                readiness: [KafkaReadinessCheck(consumer: lag.consumer, topics: topics.all), PostgresReadinessCheck(client: postgres)],
                statistics: statistics, metricsFactory: factory, logger: logger,
                onServerRunning: { bound in port.withLock { $0 = bound } })
            var events = DossierEventsConsumer.Configuration(
                bootstrapServers: [cluster.bootstrapServers], workerGroupID: "together", topics: Topics(prefix: topics.prefix))
            events.consumer.sessionTimeoutMilliseconds = 6_000
            let group = ServiceGroup(
                services: [
                    ops,
                    LagSampler(source: lag, interval: .milliseconds(300), metricsFactory: factory, logger: logger),
                    DossierEventsConsumer(configuration: events, store: statistics, producer: producer, metricsFactory: factory, logger: logger),
                    VitalSignsSampler(
                        sources: .init(producers: ["verdicts": producer], postgres: postgres, registryCallsPerSecond: 50),
                        interval: .milliseconds(200), metricsFactory: factory, logger: logger),
                ],
                gracefulShutdownSignals: [], logger: logger)
            let running = Task { try await group.run() }

            try await OpsTestEnvironment.eventually(20, "server listening") { port.withLock { $0 } != 0 }
            let base = "http://127.0.0.1:\(port.withLock { $0 })"
            try await OpsTestEnvironment.eventually(30, "metrics show lag, readiness and vital signs") {
                let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: base + "/metrics"), timeout: .seconds(5))
                let text = String(buffer: try await response.body.collect(upTo: 1 << 22))
                return text.contains(#"identity_consumer_lag_messages{topic="tthc.identity.counter""#)
                    && text.contains("identity_ready 1")
                    && text.contains("identity_postgres_up 1")
                    && text.contains(#"identity_kafka_producer_queue_messages{producer="verdicts"} 0"#)
                    && text.contains("identity_registry_quota_calls_per_second 50")
            }
            let ready = try await HTTPClient.shared.execute(HTTPClientRequest(url: base + "/readyz"), timeout: .seconds(5))
            #expect(ready.status == .ok)
            let stats = try await HTTPClient.shared.execute(HTTPClientRequest(url: base + "/v1/stats?month=2026-11"), timeout: .seconds(5))
            #expect(String(buffer: try await stats.body.collect(upTo: 1 << 16)).hasPrefix(#"{"agency":null,"month":"2026-11","handled":0"#))

            let start = ContinuousClock.now
            await group.triggerGracefulShutdown()
            try await running.value
            #expect(ContinuousClock.now - start < .seconds(10), "every service stops on graceful shutdown")
            await lag.close()
            await producer.close()
        }
    }
}

extension ServiceGroupTests {
    @Test("OperationsServices builds every operations service from the worker's runtime")
    func fromWorkerRuntime() async throws {
        let topics = Topics()
        let cluster = try OpsTestEnvironment.makeCluster(topics: TopicNames(prefix: topics.prefix), partitions: 2)
        try await OpsTestEnvironment.produce(LagTests.requests(topics.requests(.submission), count: 4), to: cluster)
        try await OpsTestEnvironment.withDatabase { _, url in
            try await RegistrySimulator.withRunning(
                configuration: .init(port: 0, token: "ops-token", seed: 7, population: 1_000), logger: OpsTestEnvironment.logger
            ) { simulator in
                var settings = ServiceSettings(
                    kafkaBrokers: [cluster.bootstrapServers], databaseURL: url, registryURL: simulator.baseURL,
                    registryToken: simulator.token, subjectRefKey: Array(repeating: 7, count: 32))
                settings.kafkaGroupID = "runtime-group"
                settings.opsPort = 0
                settings.registryRateLimit = 25
                let logger = OpsTestEnvironment.logger
                let runtime = try WorkerRuntime(settings: settings, logger: logger)
                let prometheus = PrometheusCollectorRegistry()
                let port = Shared(0)
                let operations = try OperationsServices(
                    runtime: runtime, prometheus: prometheus, metricsFactory: PrometheusMetricsFactory(registry: prometheus),
                    logger: logger, onServerRunning: { bound in port.withLock { $0 = bound } })
                #expect(operations.dossierEvents.configuration.consumer.groupID == "runtime-group-dossier-events")
                #expect(operations.lag.configuration.topics == topics.requestTopics)
                let group = ServiceGroup(
                    services: [PostgresService(client: runtime.postgres)] + operations.services,
                    gracefulShutdownSignals: [], logger: logger)
                let running = Task { try await group.run() }
                try await OpsTestEnvironment.eventually(20, "server listening") { port.withLock { $0 } != 0 }
                let base = "http://127.0.0.1:\(port.withLock { $0 })"
                try await OpsTestEnvironment.eventually(30, "ready, with lag and quota exported") {
                    let ready = try await HTTPClient.shared.execute(HTTPClientRequest(url: base + "/readyz"), timeout: .seconds(5))
                    let metrics = try await HTTPClient.shared.execute(HTTPClientRequest(url: base + "/metrics"), timeout: .seconds(5))
                    let text = String(buffer: try await metrics.body.collect(upTo: 1 << 22))
                    return ready.status == .ok
                        && text.contains("identity_registry_quota_calls_per_second 25")
                        && text.contains(#"identity_consumer_lag_messages{topic="tthc.identity.submission""#)
                }
                await group.triggerGracefulShutdown()
                try await running.value
                await runtime.consumer.close()
                await runtime.producer.close()
                await runtime.shutdown()
            }
        }
    }
}

/// Runs a PostgreSQL client as a service (the worker's service does this in production).
struct PostgresService: Service {
    let client: PostgresClient

    func run() async throws {
        await cancelWhenGracefulShutdown { await self.client.run() }
    }
}
