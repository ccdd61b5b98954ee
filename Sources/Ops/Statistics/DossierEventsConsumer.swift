import Contract
import Kafka
import Logging
import Metrics
import ServiceLifecycle

/// Consumes `tthc.dossier.events` into the statistics store (contract section 6), as its own
/// consumer group, so the worker's group and its lag are unaffected.
///
/// Per batch of messages: readable events are inserted (idempotent by `eventId`, so a redelivery
/// changes nothing), unreadable ones go to the dead-letter topic unchanged with the `dlq_*`
/// headers (reason `invalid_event` for a JSON object that breaks field rules, or `not_json`,
/// `too_large`, ... as for requests), and only then are the offsets committed. Nothing stops a
/// partition: a bad event is dead-lettered and passed; an unavailable database or dead-letter topic
/// is retried with backoff until it answers or the service shuts down (uncommitted messages are
/// read again after a restart).
///
/// Metrics: `identity_dossier_events_total{result}` (`recorded`, `duplicate`, `dead_lettered`),
/// and each dead letter also counts in `identity_dead_letters_total{reason}`, which the worker
/// shares.
public final class DossierEventsConsumer: Service {
    public struct Configuration: Sendable {
        /// The consumer. Default group: the worker's group id with `-dossier-events` appended.
        public var consumer: KafkaConsumerConfiguration
        /// Where unreadable events go (`tthc.identity.dead-letter`).
        public var deadLetterTopic: String
        /// Events per insert statement at most. Default: 1,000.
        public var maxInsertBatch: Int
        /// First retry delay after a failed insert or dead-letter send. Default: 100 ms.
        public var retryInitialDelay: Duration
        /// Longest retry delay. Default: 10 s.
        public var retryMaximumDelay: Duration

        /// - Parameters:
        ///   - bootstrapServers: `KAFKA_BROKERS`.
        ///   - workerGroupID: `KAFKA_GROUP_ID`; this consumer's group is `<workerGroupID>-dossier-events`.
        ///   - topics: The contract's topic names (`TOPIC_PREFIX`).
        public init(bootstrapServers: [String], workerGroupID: String = "tthc-identity-verifier", topics: Topics = Topics()) {
            self.consumer = KafkaConsumerConfiguration(
                bootstrapServers: bootstrapServers, groupID: workerGroupID + "-dossier-events", topics: [topics.dossierEvents])
            self.deadLetterTopic = topics.deadLetter
            self.maxInsertBatch = 1_000
            self.retryInitialDelay = .milliseconds(100)
            self.retryMaximumDelay = .seconds(10)
        }
    }

    public let configuration: Configuration
    private let store: any DossierEventStore
    private let producer: KafkaProducer
    private let logger: Logger
    private let recorded: Counter
    private let duplicates: Counter
    private let deadLettered: Counter
    private let deadLettersByReason: CounterFamily

    /// - Parameters:
    ///   - configuration: Consumer, topics, batching and retries.
    ///   - store: Usually ``DossierStatistics``.
    ///   - producer: For dead letters (the worker's producer can be shared).
    ///   - metricsFactory: Default: `MetricsSystem.factory`.
    ///   - logger: Dead letters and retries at `warning`, batches at `debug`.
    public init(
        configuration: Configuration,
        store: any DossierEventStore,
        producer: KafkaProducer,
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.producer = producer
        self.logger = logger
        self.deadLettersByReason = CounterFamily(
            label: "identity_dead_letters_total", dimension: "reason",
            precreating: [DeadLetterReason.invalidEvent, .notJSON, .notUTF8, .notObject, .tooLarge, .tooDeep].map(\.rawValue),
            factory: metricsFactory)
        self.recorded = Counter(label: "identity_dossier_events_total", dimensions: [("result", "recorded")], factory: metricsFactory)
        self.duplicates = Counter(label: "identity_dossier_events_total", dimensions: [("result", "duplicate")], factory: metricsFactory)
        self.deadLettered = Counter(
            label: "identity_dossier_events_total", dimensions: [("result", "dead_lettered")], factory: metricsFactory)
    }

    /// Consumes until graceful shutdown or cancellation, then closes its consumer.
    public func run() async throws {
        let consumer = try KafkaConsumer(configuration: self.configuration.consumer, logger: self.logger)
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            // Only the wait for messages is cut short by a graceful shutdown; a batch in hand is
            // finished and committed.
            let batch = await cancelWhenGracefulShutdown {
                var iterator = consumer.events.makeAsyncIterator()
                return await iterator.nextBatch()
            }
            if batch.isEmpty { break }
            guard await self.handle(batch, consumer: consumer) else { break }
        }
        await consumer.close()
    }

    /// Handles one batch in order; returns `false` when it stopped early for shutdown.
    private func handle(_ batch: [KafkaConsumerEvent], consumer: KafkaConsumer) async -> Bool {
        var pending: [KafkaMessage] = []
        for event in batch {
            switch event {
            case .message(let message):
                pending.append(message)
            case .assigned(let partitions):
                self.logger.debug("Dossier event partitions assigned", metadata: .ops([.count: "\(partitions.count)"]))
            case .revoked(let partitions, let revocation, let lost):
                // Finish what was read before the revocation and commit it inside the rebalance.
                guard let offsets = await self.process(pending) else {
                    revocation.done()
                    return false
                }
                pending = []
                let revoked = Set(partitions)
                revocation.done(committing: lost ? [] : offsets.filter { revoked.contains($0.topicPartition) })
                await self.commit(offsets.filter { !revoked.contains($0.topicPartition) }, consumer: consumer)
            case .error(let error):
                self.logger.warning("Dossier event consumer error", metadata: .ops([.error: "\(error)"]))
            }
        }
        guard let offsets = await self.process(pending) else { return false }
        await self.commit(offsets, consumer: consumer)
        return true
    }

    /// Stores the events among `messages` and dead-letters the rest. Returns the offsets to commit
    /// (the next offset per partition), or `nil` when it gave up for shutdown.
    private func process(_ messages: [KafkaMessage]) async -> [TopicPartitionOffset]? {
        if messages.isEmpty { return [] }
        var events: [DossierEvent] = []
        var deadLetters: [KafkaOutgoingMessage] = []
        var reasons: [DeadLetterReason] = []
        var next: [TopicPartition: Int64] = [:]
        for message in messages {
            next[message.topicPartition] = max(next[message.topicPartition] ?? 0, message.offset + 1)
            let reason: DeadLetterReason
            switch DossierEventReader.read(value: message.value) {
            case .event(let event):
                events.append(event)
                continue
            case .invalid:
                reason = .invalidEvent
            case .deadLetter(let code):
                reason = code
            }
            let metadata = DeadLetterMetadata(
                reason: reason, sourceTopic: message.topic, sourcePartition: message.partition, sourceOffset: message.offset)
            deadLetters.append(
                KafkaOutgoingMessage(
                    topic: self.configuration.deadLetterTopic, key: message.key, value: message.nullableValue,
                    headers: message.headers + metadata.headers.map { KafkaHeader(name: $0.name, value: $0.value) }))
            reasons.append(reason)
            self.logger.warning(
                "Dossier event dead-lettered",
                metadata: .ops([
                    .topic: "\(message.topic)", .partition: "\(message.partition)", .offset: "\(message.offset)",
                    .deadLetterReason: "\(reason)",
                ]))
        }

        var start = 0
        while start < events.count {
            let chunk = Array(events[start..<min(start + self.configuration.maxInsertBatch, events.count)])
            guard let inserted = await self.retrying("store dossier events", { try await self.store.record(chunk) }) else {
                return nil
            }
            self.recorded.increment(by: inserted)
            self.duplicates.increment(by: chunk.count - inserted)
            start += chunk.count
        }

        var unsent = deadLetters
        let sent = await self.retrying("send dead letters") { () async throws -> Bool in
            let reports = await self.producer.send(unsent)
            let failed = zip(unsent, reports).filter { $0.1.error != nil }
            if let error = failed.first?.1.error {
                unsent = failed.map(\.0)
                throw error
            }
            return true
        }
        guard sent != nil else { return nil }
        for reason in reasons {
            self.deadLettered.increment()
            self.deadLettersByReason.counter(reason.rawValue).increment()
        }
        self.logger.debug(
            "Dossier events handled", metadata: .ops([.count: "\(messages.count)"]))
        return next.map { TopicPartitionOffset($0.key, offset: $0.value) }
    }

    private func commit(_ offsets: [TopicPartitionOffset], consumer: KafkaConsumer) async {
        do {
            try await consumer.commit(offsets)
        } catch {
            // The messages are read again later; storing them again changes nothing.
            self.logger.warning("Dossier event offsets not committed", metadata: .ops([.error: "\(error)"]))
        }
    }

    /// Runs `operation` until it succeeds, with backoff; `nil` when shutdown came first.
    private func retrying<T>(_ what: String, _ operation: () async throws -> T) async -> T? {
        var backoff = Backoff(initial: self.configuration.retryInitialDelay, maximum: self.configuration.retryMaximumDelay)
        while true {
            do {
                return try await operation()
            } catch {
                let delay = backoff.next()
                self.logger.warning(
                    "Dossier events: \(what) failed; retrying",
                    metadata: .ops([.error: "\(errorSummary(error))", .retryIn: "\(delay)"]))
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
                } catch {
                    return nil
                }
                if Task.isShuttingDownGracefully || Task.isCancelled { return nil }
            }
        }
    }
}
