import Kafka
import Logging
import Metrics
import PostgresNIO
import Registry
import ServiceLifecycle

/// Samples the clients' vital signs every few seconds and exports them as gauges:
///
/// - `identity_kafka_producer_queue_messages{producer}`: messages queued or in flight inside
///   librdkafka (grows when the brokers do not take what is produced);
/// - `identity_postgres_up`: 1 when `SELECT 1` answered within the timeout, else 0;
/// - `identity_postgres_round_trip_seconds`: how long that took (a saturated pool shows here
///   first, as the query waits for a connection);
/// - `identity_registry_calls_waiting` and `identity_registry_calls_in_flight`: registry calls
///   queued for a rate-limit slot and being made;
/// - `identity_registry_calls_allowed`: calls allowed in flight now (`REGISTRY_CONCURRENCY`, or
///   the bound that adapts to the registry's latency when that is not set);
/// - `identity_registry_quota_calls_per_second`: the configured fleet-wide limit
///   (`REGISTRY_RATE_LIMIT`), so dashboards can show quota use as a ratio.
public final class VitalSignsSampler: Service {
    /// What to watch; every part is optional.
    public struct Sources: Sendable {
        /// Producers by a short constant name (the `producer` label), e.g. `["verdicts": producer]`.
        public var producers: [String: KafkaProducer]
        public var postgres: PostgresClient?
        public var registry: ResilientRegistryClient?
        /// `REGISTRY_RATE_LIMIT`.
        public var registryCallsPerSecond: Int?

        public init(
            producers: [String: KafkaProducer] = [:],
            postgres: PostgresClient? = nil,
            registry: ResilientRegistryClient? = nil,
            registryCallsPerSecond: Int? = nil
        ) {
            self.producers = producers
            self.postgres = postgres
            self.registry = registry
            self.registryCallsPerSecond = registryCallsPerSecond
        }
    }

    /// Default: 5 s.
    public let interval: Duration
    private let sources: Sources
    private let producerGauges: [String: Gauge]
    private let postgresUp: Gauge
    private let postgresRoundTrip: Gauge
    private let registryWaiting: Gauge
    private let registryInFlight: Gauge
    private let registryAllowed: Gauge
    private let registryQuota: Gauge
    private let logger: Logger

    public init(
        sources: Sources,
        interval: Duration = .seconds(5),
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        logger: Logger
    ) {
        self.sources = sources
        self.interval = interval
        var producerGauges: [String: Gauge] = [:]
        for name in sources.producers.keys {
            producerGauges[name] = Gauge(
                label: "identity_kafka_producer_queue_messages", dimensions: [("producer", name)], factory: metricsFactory)
        }
        self.producerGauges = producerGauges
        self.postgresUp = Gauge(label: "identity_postgres_up", factory: metricsFactory)
        self.postgresRoundTrip = Gauge(label: "identity_postgres_round_trip_seconds", factory: metricsFactory)
        self.registryWaiting = Gauge(label: "identity_registry_calls_waiting", factory: metricsFactory)
        self.registryInFlight = Gauge(label: "identity_registry_calls_in_flight", factory: metricsFactory)
        self.registryAllowed = Gauge(label: "identity_registry_calls_allowed", factory: metricsFactory)
        self.registryQuota = Gauge(label: "identity_registry_quota_calls_per_second", factory: metricsFactory)
        self.logger = logger
    }

    public func run() async throws {
        if let quota = self.sources.registryCallsPerSecond { self.registryQuota.record(quota) }
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            await self.sampleOnce()
            do {
                try await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
            } catch {
                return
            }
        }
    }

    /// Samples every source once.
    public func sampleOnce() async {
        for (name, producer) in self.sources.producers {
            self.producerGauges[name]?.record(producer.queueLength)
        }
        if let registry = self.sources.registry {
            let load = registry.load
            self.registryWaiting.record(load.waiting)
            self.registryInFlight.record(load.inFlight)
            self.registryAllowed.record(registry.callsAllowed)
        }
        if let postgres = self.sources.postgres {
            let roundTrip = await withTimeBound(min(self.interval, .seconds(5))) { () -> Duration? in
                let start = ContinuousClock.now
                do {
                    try await postgres.query("SELECT 1")
                    return ContinuousClock.now - start
                } catch {
                    return nil
                }
            }
            if let roundTrip = roundTrip ?? nil {
                self.postgresUp.record(1)
                self.postgresRoundTrip.record(roundTrip.seconds)
            } else {
                self.postgresUp.record(0)
                self.logger.debug("PostgreSQL ping failed or timed out")
            }
        }
    }
}
