import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// The operations endpoints on `OPS_PORT` (contract section 7), as a service of the executable's
/// service group:
///
/// - `GET /metrics`: every metric of the process in Prometheus text format, from the
///   `PrometheusCollectorRegistry` that the executable bootstrapped swift-metrics with;
/// - `GET /healthz`: 200 while the process serves HTTP (liveness);
/// - `GET /readyz`: runs every readiness check concurrently under a timeout; 200 with
///   `{"ready":true,"checks":[...]}`, or 503 with each failing check's reason;
/// - `GET /v1/stats?agency=…&month=YYYY-MM`: the section 6 figures as JSON (`agency` optional:
///   without it, all agencies together with `"agency": null`; `month` optional: the current month
///   in Asia/Ho_Chi_Minh); 400 with a JSON error for a malformed parameter;
/// - `GET /v1/board?month=YYYY-MM`: the same figures for every agency of the month, all agencies
///   together, and the months that have figures (the status page's board);
/// - `GET /v1/status`: the live figures (lag per topic, verdicts by outcome and dead letters over
///   the last hour, registry calls per second against the quota, breaker state, parked checks);
/// - `GET /`: the status page (``StatusPage``), Vietnamese by default, `?lang=en` for English.
///
/// ```swift
/// let prometheus = PrometheusCollectorRegistry()
/// MetricsSystem.bootstrap(PrometheusMetricsFactory.identityVerifier(registry: prometheus))
/// let ops = OpsServer(
///     configuration: try .init(environment: ProcessInfo.processInfo.environment),
///     prometheus: prometheus,
///     readiness: [KafkaReadinessCheck(...), PostgresReadinessCheck(client: postgres), RegistryReadinessCheck(...)],
///     statistics: DossierStatistics(client: postgres, logger: logger),
///     logger: logger)
/// let group = ServiceGroup(services: [postgresService, worker, ops, lagSampler, dossierEvents], ...)
/// ```
public struct OpsServer: Service {
    public let configuration: Configuration
    /// Runs the readiness checks for `/readyz` and the readiness gauges.
    public let readiness: ReadinessProbe
    let prometheus: PrometheusCollectorRegistry
    let statistics: (any DossierStatisticsSource)?
    /// Counter snapshots behind `/v1/status`.
    let statusHistory: StatusHistory
    private let onServerRunning: @Sendable (Int) async -> Void
    let logger: Logger

    /// - Parameters:
    ///   - configuration: Address, port, readiness timeout and sampling.
    ///   - prometheus: The registry behind the process's `PrometheusMetricsFactory`.
    ///   - readiness: The checks `/readyz` runs (names distinct and constant).
    ///   - statistics: Answers `/v1/stats` (usually ``DossierStatistics``); without one it answers 503.
    ///   - metricsFactory: For the readiness gauges. Default: `MetricsSystem.factory`.
    ///   - logger: The HTTP server's logger; readiness transitions are logged here too.
    ///   - onServerRunning: Called with the bound port once the server listens (useful with port 0).
    public init(
        configuration: Configuration = .init(),
        prometheus: PrometheusCollectorRegistry,
        readiness: [any ReadinessCheck],
        statistics: (any DossierStatisticsSource)?,
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.prometheus = prometheus
        self.readiness = ReadinessProbe(
            checks: readiness, timeout: configuration.readinessTimeout, metricsFactory: metricsFactory, logger: logger)
        self.statistics = statistics
        self.statusHistory = StatusHistory()
        self.onServerRunning = onServerRunning
        self.logger = logger
    }

    /// Serves until graceful shutdown.
    public func run() async throws {
        try await self.makeApplication().run()
    }

    /// The Hummingbird application behind the service, for embedding or testing
    /// (`HummingbirdTesting`'s `app.test(.live)`).
    public func makeApplication() -> Application<RouterResponder<BasicRequestContext>> {
        var services: [any Service] = [
            StatusSampler(history: self.statusHistory, prometheus: self.prometheus, interval: self.configuration.statusSampleInterval)
        ]
        if let interval = self.configuration.readinessSampleInterval {
            services.append(ReadinessSampler(probe: self.readiness, interval: interval))
        }
        let logger = self.logger
        let onServerRunning = self.onServerRunning
        return Application(
            router: self.makeRouter(),
            configuration: .init(address: .hostname(self.configuration.host, port: self.configuration.port), serverName: nil),
            services: services,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("Operations endpoints listening", metadata: .ops([.port: "\(port)"]))
                await onServerRunning(port)
            },
            logger: logger
        )
    }
}

/// Refreshes the readiness gauges between `/readyz` calls, so an alert on `identity_ready` works
/// even where nothing polls `/readyz`.
struct ReadinessSampler: Service {
    let probe: ReadinessProbe
    let interval: Duration

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            _ = await self.probe.evaluate()
            do {
                try await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
            } catch {
                return
            }
        }
    }
}
