import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Samples a consumer group's lag every few seconds and exports it:
///
/// - `identity_consumer_lag_messages{topic,partition}`: messages not yet committed;
/// - `identity_consumer_lag_seconds{topic,partition}`: age of the oldest message not yet
///   committed, 0 for a partition that is caught up (an idle partition is not "stale");
/// - `identity_consumer_lag_sample_failures_total`: samples that failed (the gauges keep their
///   last values meanwhile; alert on this counter rising to notice).
///
/// One gauge pair per partition, created the first time the partition is seen and reused: the
/// label set is bounded by the topics' partition counts. When the oldest message could not be
/// read in time, the seconds gauge keeps its previous value for that sample.
public final class LagSampler: Service {
    /// How often to sample. Default: 10 s.
    public let interval: Duration
    private let source: any ConsumerLagSource
    private let metricsFactory: any MetricsFactory
    private let gauges = Mutex<[PartitionKey: (messages: Gauge, seconds: Gauge)]>([:])
    private let failures: Counter
    private let latest = Mutex<[PartitionLag]>([])
    private let logger: Logger

    private struct PartitionKey: Hashable {
        var topic: String
        var partition: Int32
    }

    /// - Parameters:
    ///   - source: Usually a ``KafkaConsumerGroupLag`` for the worker's group and request topics.
    ///   - interval: Default: 10 s.
    ///   - metricsFactory: Default: `MetricsSystem.factory`.
    ///   - logger: A failed sample logs at `warning`, a sample at `debug`.
    public init(
        source: any ConsumerLagSource,
        interval: Duration = .seconds(10),
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        logger: Logger
    ) {
        self.source = source
        self.interval = interval
        self.metricsFactory = metricsFactory
        self.failures = Counter(label: "identity_consumer_lag_sample_failures_total", factory: metricsFactory)
        self.logger = logger
    }

    /// The figures of the last successful sample.
    public var lastSample: [PartitionLag] { self.latest.withLock { $0 } }

    /// Samples until graceful shutdown or cancellation.
    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            await self.sampleOnce()
            do {
                try await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
            } catch {
                return
            }
        }
    }

    /// Takes one sample now and updates the gauges. Returns the figures, or `nil` when it failed.
    @discardableResult
    public func sampleOnce() async -> [PartitionLag]? {
        let figures: [PartitionLag]
        do {
            figures = try await self.source.sampleLag()
        } catch {
            self.failures.increment()
            self.logger.warning("Consumer lag sample failed", metadata: .ops([.error: "\(errorSummary(error))"]))
            return nil
        }
        for figure in figures {
            let gauges = self.gauges(for: figure)
            gauges.messages.record(figure.lagMessages)
            if let seconds = figure.lagSeconds { gauges.seconds.record(seconds) }
        }
        self.latest.withLock { $0 = figures }
        self.logger.debug(
            "Consumer lag sampled",
            metadata: .ops([.count: "\(figures.reduce(Int64(0)) { $0 + $1.lagMessages })"]))
        return figures
    }

    private func gauges(for figure: PartitionLag) -> (messages: Gauge, seconds: Gauge) {
        let key = PartitionKey(topic: figure.topic, partition: figure.partition)
        if let existing = self.gauges.withLock({ $0[key] }) { return existing }
        // Created outside the lock (the factory takes its own); the factory hands back the same
        // metric for the same name and labels, so a race creates nothing twice.
        let dimensions = [("topic", figure.topic), ("partition", String(figure.partition))]
        let created = (
            messages: Gauge(label: "identity_consumer_lag_messages", dimensions: dimensions, factory: self.metricsFactory),
            seconds: Gauge(label: "identity_consumer_lag_seconds", dimensions: dimensions, factory: self.metricsFactory)
        )
        return self.gauges.withLock { gauges in
            if let existing = gauges[key] { return existing }
            gauges[key] = created
            return created
        }
    }
}
