import Foundation
import Kafka
import Logging
import PostgresNIO
import Registry
import ServiceLifecycle
import Store
import Telemetry
import Tracing

/// Builds the worker's parts from settings: Kafka clients, the PostgreSQL
/// client (migrated), the registry client with its limiter and breaker, the
/// store and the pipeline. The executable adds operations and runs `services`.
public struct WorkerRuntime: Sendable {
    public let settings: ServiceSettings
    public let postgres: PostgresClient
    public let consumer: KafkaConsumer
    public let producer: KafkaProducer
    public let transport: HTTPRegistryClient
    public let registry: ResilientRegistryClient
    public let store: VerificationStore
    public let worker: VerificationWorker
    /// The registry rate limiter (local or fleet), for its statistics.
    public let limiter: any RegistryRateLimiter
    /// Deletes rows past their retention (`serve` runs it beside the worker).
    public let retention: RetentionService

    /// - Parameters:
    ///   - observeTransport: wraps the registry transport (operations put a monitor
    ///     around it that notices a refused token).
    ///   - tracer: continues each request's trace through the registry call. Default: the
    ///     bootstrapped tracer.
    public init(
        settings: ServiceSettings, logger: Logger,
        observeTransport: (any RegistryClient) -> any RegistryClient = { $0 },
        tracer: any Tracer = InstrumentationSystem.tracer
    ) throws {
        self.settings = settings
        var postgresConfiguration = try settings.postgresConfiguration()
        postgresConfiguration.options.additionalStartupParameters.append(VerificationStore.genericPlans)
        postgres = PostgresClient(configuration: postgresConfiguration, backgroundLogger: logger)

        // Both clients take the same security settings and KAFKA_PROPERTIES (KafkaConnectionSettings).
        var consumerConfiguration = settings.kafkaConnection.consumerConfiguration(
            groupID: settings.kafkaGroupID, topics: settings.worker.topics.requestTopics)
        consumerConfiguration.maxBufferedMessages = max(1_000, settings.worker.maxInFlight)
        consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)

        let producerConfiguration = settings.kafkaConnection.producerConfiguration(
            defaults: ["queue.buffering.max.messages": "1000000"])
        producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)

        transport = try HTTPRegistryClient(
            configuration: settings.registryTransport,
            backgroundLogger: logger, tracer: tracer)
        let rateLimit = RegistryRateLimit(
            callsPerSecond: settings.registryRateLimit, safetyMargin: settings.registryRateMargin,
            lateTolerance: RegistryRateLimit.defaultLateTolerance(margin: settings.registryRateMargin))
        limiter =
            settings.registryLimiter == "local"
            ? try LocalRateLimiter(rateLimit: rateLimit)
            : try FleetRateLimiter(client: postgres, configuration: .init(rateLimit: rateLimit), logger: logger)
        var registryConfiguration = settings.registryClient
        registryConfiguration.scheduler.maxConcurrentCalls = settings.registryCallsCeiling
        registryConfiguration.scheduler.adaptiveFrom =
            settings.registryConcurrency == nil ? min(ServiceSettings.defaultRegistryConcurrency, settings.registryCallsCeiling) : nil
        registry = try ResilientRegistryClient(
            transport: observeTransport(transport), limiter: limiter, configuration: registryConfiguration, logger: logger,
            tracer: tracer, spansFor: Self.spansFor(tracer))
        store = VerificationStore(client: postgres, logger: logger)
        var workerConfiguration = settings.worker
        workerConfiguration.registryCallsPerSecond = settings.registryRateLimit
        worker = VerificationWorker(
            consumer: consumer, producer: producer, store: store, registry: registry, subjectRefKey: settings.subjectRefKey,
            previousSubjectRefKeys: settings.previousSubjectRefKeys, configuration: workerConfiguration, logger: logger, tracer: tracer)
        retention = RetentionService(
            store: RetentionStore(client: postgres, logger: logger), configuration: settings.retention, logger: logger)
    }

    /// Applies the database migrations (the PostgreSQL client must be running), after a direct
    /// connection check: a refused TLS handshake stops start-up with an error naming `DATABASE_URL`,
    /// `sslmode` and `sslrootcert` (the pool would retry it forever without saying why); any other
    /// failure (the server not up yet) is logged and tried again every few seconds, as the pool did.
    public func migrate(logger: Logger) async throws {
        let url = try DatabaseURL(parsing: settings.databaseURL, password: settings.databasePassword)
        var backoff = Backoff(initial: .milliseconds(250), maximum: .seconds(5))
        while true {
            let failure: DatabaseConnectionError
            do {
                try await url.checkConnection(logger: logger)
                break
            } catch {
                failure = error
            }
            if failure.isTLSFailure { throw failure }
            logger.warning("PostgreSQL not reachable yet; trying again", metadata: ["store.error": "\(failure)"])
            try await Task.sleep(for: backoff.next())
        }
        try await MigrationRunner(client: postgres, logger: logger).run()
    }

    /// Closes what the services do not close themselves.
    public func shutdown() async {
        registry.shutdown()
        try? await transport.shutdown()
    }

    /// Which registry calls get a span: with ``W3CTracer``, only those in a traced context (or
    /// all, when it starts traces); with any other tracer (a collector's), all of them.
    static func spansFor(_ tracer: any Tracer) -> @Sendable (ServiceContext) -> Bool {
        guard let w3c = tracer as? W3CTracer else { return { _ in true } }
        return { w3c.traces($0) }
    }
}

/// Runs the PostgreSQL client, migrates, then runs the worker: one service,
/// so that the worker starts only once the schema is in place.
public struct WorkerService: Service {
    let runtime: WorkerRuntime
    let logger: Logger

    public init(runtime: WorkerRuntime, logger: Logger) {
        self.runtime = runtime
        self.logger = logger
    }

    public func run() async throws {
        // `PostgresClient.run()` stops at graceful shutdown, but the worker still writes verdicts,
        // the outbox and offsets while it drains: the client runs outside the graceful-shutdown
        // scope (a detached task) and is stopped once the worker is done.
        let postgres = runtime.postgres
        let client = Task.detached { await postgres.run() }
        do {
            try await runtime.migrate(logger: logger)
            try await runtime.worker.run()
        } catch {
            // Close the registry client here too, so its connections and idle timer do not outlive
            // it (a start-up failure such as a refused TLS handshake with PostgreSQL got here).
            await runtime.shutdown()
            client.cancel()
            await client.value
            throw error
        }
        await runtime.shutdown()
        client.cancel()
        await client.value
    }
}
