import AsyncHTTPClient
import Contract
import Foundation
import Kafka
import Logging
import Ops
import Prometheus
import ServiceLifecycle
import Store
import Testing

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
                bootstrapServers: [cluster.bootstrapServers], workerGroupID: "together", topics: topics)
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
