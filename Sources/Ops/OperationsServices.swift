import Contract
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import Store
import Worker

/// Every operations service of a worker process, built from the worker's runtime: the endpoints
/// on `OPS_PORT`, the lag sampler, the dossier events consumer and the vital signs sampler.
///
/// ```swift
/// let prometheus = PrometheusCollectorRegistry()
/// MetricsSystem.bootstrap(PrometheusMetricsFactory.identityVerifier(registry: prometheus))
/// let runtime = try WorkerRuntime(settings: settings, logger: logger)
/// let operations = try OperationsServices(runtime: runtime, prometheus: prometheus, logger: logger)
/// let group = ServiceGroup(
///     services: [WorkerService(runtime: runtime, logger: logger)] + operations.services, ...)
/// try await group.run()
/// ```
///
/// List the worker's service first: a service group stops its services in reverse order, so the
/// operations services stop before the worker (and before the PostgreSQL client it runs).
public struct OperationsServices: Sendable {
    public let server: OpsServer
    public let lagSampler: LagSampler
    public let dossierEvents: DossierEventsConsumer
    public let vitalSigns: VitalSignsSampler
    /// The lag source; its tool consumer also answers the Kafka readiness check. Closed when the
    /// lag sampler's service stops.
    public let lag: KafkaConsumerGroupLag

    /// The services to add to the process's service group.
    public var services: [any Service] {
        [self.server, LagSamplerService(sampler: self.lagSampler, source: self.lag), self.dossierEvents, self.vitalSigns]
    }

    /// - Parameters:
    ///   - runtime: The worker's clients and settings (brokers, group, topic prefix, `OPS_PORT`,
    ///     `REGISTRY_RATE_LIMIT`, `KAFKA_PROPERTIES`).
    ///   - prometheus: The registry behind the process's `PrometheusMetricsFactory`.
    ///   - registryAuthentication: The monitor around the registry's transport, if the runtime
    ///     wrapped it in one: readiness then also fails on a refused token.
    ///   - additionalReadiness: More checks for `/readyz` (the worker's own, say).
    ///   - metricsFactory: Default: `MetricsSystem.factory`.
    ///   - logger: For every operations service.
    ///   - onServerRunning: Called with the bound port once the endpoints listen.
    public init(
        runtime: WorkerRuntime,
        prometheus: PrometheusCollectorRegistry,
        registryAuthentication: RegistryAuthenticationMonitor? = nil,
        additionalReadiness: [any ReadinessCheck] = [],
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws {
        let settings = runtime.settings
        let topics = settings.worker.topics
        let connection = settings.kafkaConnection
        var lagConfiguration = KafkaConsumerGroupLag.Configuration(
            bootstrapServers: settings.kafkaBrokers, groupID: settings.kafkaGroupID, topics: topics.requestTopics,
            clientProperties: connection.properties(for: .consumer))
        lagConfiguration.security = connection.security
        self.lag = try KafkaConsumerGroupLag(configuration: lagConfiguration, logger: logger)
        let statistics = DossierStatistics(client: runtime.postgres, logger: logger)
        self.server = OpsServer(
            configuration: .init(port: settings.opsPort),
            prometheus: prometheus,
            readiness: [
                KafkaReadinessCheck(
                    consumer: self.lag.consumer,
                    topics: topics.requestTopics + [topics.verdicts, topics.deadLetter, topics.dossierEvents]),
                PostgresReadinessCheck(client: runtime.postgres),
                RegistryReadinessCheck(registry: runtime.registry, authentication: registryAuthentication),
            ] + additionalReadiness,
            statistics: statistics,
            metricsFactory: metricsFactory,
            logger: logger,
            onServerRunning: onServerRunning)
        self.lagSampler = LagSampler(source: self.lag, metricsFactory: metricsFactory, logger: logger)
        var events = DossierEventsConsumer.Configuration(
            bootstrapServers: settings.kafkaBrokers, workerGroupID: settings.kafkaGroupID, topics: topics)
        connection.apply(to: &events.consumer.client, kind: .consumer, defaults: events.consumer.client.properties)
        self.dossierEvents = DossierEventsConsumer(
            configuration: events, store: statistics, producer: runtime.producer, metricsFactory: metricsFactory, logger: logger)
        self.vitalSigns = VitalSignsSampler(
            sources: .init(
                producers: ["main": runtime.producer], postgres: runtime.postgres, registry: runtime.registry,
                registryCallsPerSecond: settings.registryRateLimit),
            metricsFactory: metricsFactory, logger: logger)
    }
}

/// Runs the lag sampler, then closes its source's tool consumer.
struct LagSamplerService: Service {
    let sampler: LagSampler
    let source: KafkaConsumerGroupLag

    func run() async throws {
        do {
            try await self.sampler.run()
        } catch {
            await self.source.close()
            throw error
        }
        await self.source.close()
    }
}
