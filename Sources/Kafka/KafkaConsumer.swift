import CRdKafka
import Logging
import Synchronization

/// A group consumer over librdkafka.
///
/// A dedicated thread polls librdkafka in batches and hands messages and
/// rebalance events to `events`, an async sequence with bounded buffering
/// (partitions are paused while the buffer is full). Offsets are committed
/// only explicitly: auto-commit and auto offset store are off.
public final class KafkaConsumer: Sendable {
    private let handle: RDKafkaHandle
    private let context: ConsumerContext
    private let blocking: BlockingCalls
    private let poller: ConsumerPoller
    private let pollThread: PollThread
    private let closed = Atomic<Bool>(false)
    private let logger: Logger
    public let configuration: KafkaConsumerConfiguration

    public init(configuration: KafkaConsumerConfiguration, logger: Logger) throws(KafkaError) {
        let context = ConsumerContext(configuration: configuration, logger: logger)
        let handle = try RDKafkaHandle(
            kind: .consumer, properties: configuration.rdkafkaProperties, context: context
        ) { conf in
            rd_kafka_conf_set_rebalance_cb(conf, ConsumerContext.rebalanceCallback)
            rd_kafka_conf_set_offset_commit_cb(conf, ConsumerContext.offsetCommitCallback)
            rd_kafka_conf_set_log_cb(conf, RDKafkaLogBridge.callback)
        }
        rd_kafka_poll_set_consumer(handle.pointer)
        context.attach(handle)
        self.handle = handle
        self.context = context
        self.logger = logger
        self.configuration = configuration
        self.blocking = BlockingCalls()

        if !configuration.topics.isEmpty {
            let err = RDKafkaTopicPartitionList.with(
                configuration.topics.map { (TopicPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA), 0) }
            ) { rd_kafka_subscribe(handle.pointer, $0) }
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError.rdkafka(err, code: .subscription, context: "subscribe")
            }
        }
        let poller = ConsumerPoller(handle: handle, context: context, batchSize: configuration.pollBatchSize)
        self.poller = poller
        self.pollThread = PollThread(
            name: "kafka-consumer-poll",
            body: { poller.pollOnce() },
            final: { poller.finish() }
        )
    }

    deinit {
        pollThread.stop()
    }

    /// Messages and rebalance events, in the order librdkafka produced them.
    /// Iterate it from one task only. It ends after `close()`.
    public var events: KafkaConsumerEvents { KafkaConsumerEvents(consumer: self) }

    /// Stops fetching from these partitions until `resume`. Pausing is kept
    /// across the internal flow control.
    public func pause(_ partitions: [TopicPartition]) throws(KafkaError) {
        try context.userPause(partitions)
    }

    /// Resumes fetching from these partitions.
    public func resume(_ partitions: [TopicPartition]) throws(KafkaError) {
        try context.userResume(partitions)
    }

    /// Reads these partitions from the given offsets without joining the
    /// group's rebalances (for tools: lag probes, dead-letter listing). Use a
    /// configuration with no `topics`. Offsets may be `KafkaOffset.beginning`
    /// or `.end`. An empty list stops reading.
    public func assign(_ offsets: [TopicPartitionOffset]) throws(KafkaError) {
        context.assignmentGeneration.add(1, ordering: .releasing)
        let err = RDKafkaTopicPartitionList.with(offsets.map { ($0.topicPartition, $0.offset) }) {
            rd_kafka_assign(handle.pointer, offsets.isEmpty ? nil : $0)
        }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError.rdkafka(err, code: .subscription, context: "assign")
        }
    }

    /// The partitions currently assigned to this consumer.
    public func assignment() throws(KafkaError) -> [TopicPartition] {
        try context.currentAssignment()
    }

    /// Commits these offsets (each the next offset to read) and waits for the
    /// group coordinator to confirm.
    public func commit(_ offsets: [TopicPartitionOffset]) async throws(KafkaError) {
        if offsets.isEmpty { return }
        let handle = self.handle
        let entries = offsets.map { ($0.topicPartition, $0.offset) }
        let result: Result<Void, KafkaError>
        do {
            result = try await blocking.run {
                RDKafkaTopicPartitionList.with(entries) { list -> Result<Void, KafkaError> in
                    let err = rd_kafka_commit(handle.pointer, list, 0)
                    if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                        return .failure(KafkaError.rdkafka(err, code: .commit, context: "commit"))
                    }
                    for (tp, _, perr) in RDKafkaTopicPartitionList.elements(list) where perr != RD_KAFKA_RESP_ERR_NO_ERROR {
                        return .failure(KafkaError.rdkafka(perr, code: .commit, context: "commit \(tp)"))
                    }
                    return .success(())
                }
            }
        } catch {
            throw KafkaError(code: .closed, reason: "consumer is closed")
        }
        try result.get()
    }

    /// Sends a commit without waiting; a failure is logged and delivered as an
    /// `.error` event.
    public func commitAsync(_ offsets: [TopicPartitionOffset]) throws(KafkaError) {
        if offsets.isEmpty { return }
        let err = RDKafkaTopicPartitionList.with(offsets.map { ($0.topicPartition, $0.offset) }) {
            rd_kafka_commit(handle.pointer, $0, 1)
        }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError.rdkafka(err, code: .commit, context: "commit")
        }
    }

    /// The group's committed offsets for these partitions (-1001 = none yet).
    public func committed(
        _ partitions: [TopicPartition], timeoutMilliseconds: Int32 = 10_000
    ) async throws(KafkaError) -> [TopicPartition: Int64] {
        let handle = self.handle
        let result: Result<[TopicPartition: Int64], KafkaError>
        do {
            result = try await blocking.run {
                RDKafkaTopicPartitionList.with(partitions.map { ($0, -1001) }) { list in
                    let err = rd_kafka_committed(handle.pointer, list, timeoutMilliseconds)
                    if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                        return .failure(KafkaError.rdkafka(err, code: .query, context: "committed offsets"))
                    }
                    var offsets: [TopicPartition: Int64] = [:]
                    for (tp, offset, _) in RDKafkaTopicPartitionList.elements(list) { offsets[tp] = offset }
                    return .success(offsets)
                }
            }
        } catch {
            throw KafkaError(code: .closed, reason: "consumer is closed")
        }
        return try result.get()
    }

    /// Low and high watermarks of a partition, asked of its leader.
    public func watermarks(
        _ partition: TopicPartition, timeoutMilliseconds: Int32 = 10_000
    ) async throws(KafkaError) -> KafkaWatermarks {
        try await RDKafkaQueries.watermarks(handle: handle, blocking: blocking, partition, timeoutMilliseconds)
    }

    /// Partition counts of these topics, from the cluster's metadata.
    public func partitionCounts(
        _ topics: [String], timeoutMilliseconds: Int32 = 10_000
    ) async throws(KafkaError) -> [String: Int] {
        try await RDKafkaQueries.partitionCounts(handle: handle, blocking: blocking, topics, timeoutMilliseconds)
    }

    /// Leaves the group and stops the poll thread; `events` ends. Commit what
    /// you have finished before closing: the revocation during close is not
    /// handed to the caller. Idempotent.
    public func close() async {
        if closed.exchange(true, ordering: .acquiringAndReleasing) { return }
        context.closing.store(true, ordering: .releasing)
        pollThread.stop()
        await pollThread.join(on: blocking)
        await blocking.shutdown()
    }

    /// The buffered events, with their messages copied here, on the caller's
    /// thread. A resume is left to the poll thread (woken now), since it asks
    /// librdkafka for the assignment, a round trip that must not block this task.
    func take(_ reader: inout RDKafkaMessageReader) async -> [KafkaConsumerEvent] {
        let (entries, action) = await context.buffer.take()
        if action == .resume { poller.wake() }
        return reader.events(from: entries)
    }
}

/// The async sequence of a consumer's events.
public struct KafkaConsumerEvents: AsyncSequence, Sendable {
    public typealias Element = KafkaConsumerEvent
    let consumer: KafkaConsumer

    public struct AsyncIterator: AsyncIteratorProtocol {
        let consumer: KafkaConsumer
        var pending: [KafkaConsumerEvent] = []
        var index = 0
        var reader = RDKafkaMessageReader()

        init(consumer: KafkaConsumer) {
            self.consumer = consumer
        }

        public mutating func next() async -> KafkaConsumerEvent? {
            if index == pending.count {
                pending = await consumer.take(&reader)
                index = 0
                if pending.isEmpty { return nil }
            }
            defer { index += 1 }
            return pending[index]
        }

        /// What is available now (at least one event), for callers that handle
        /// batches: about a poll batch (`pollBatchSize`) at a time.
        public mutating func nextBatch() async -> [KafkaConsumerEvent] {
            if index < pending.count {
                let rest = Array(pending[index...])
                pending = []
                index = 0
                return rest
            }
            pending = []
            index = 0
            return await consumer.take(&reader)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(consumer: consumer) }
}
