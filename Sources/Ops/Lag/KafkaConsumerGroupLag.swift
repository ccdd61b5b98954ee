import Foundation
import Kafka
import Logging

/// A consumer group's lag as the cluster sees it: per partition, the high watermark minus the
/// group's committed offset, and the age of the message at the committed offset (the oldest one
/// not yet committed), read with a tool consumer.
///
/// The tool consumer carries the group's id only so that it can ask for the group's committed
/// offsets; it never subscribes (so it never joins the group or takes part in its rebalances) and
/// never commits. It reads by explicit assignment, one message per lagging partition.
public final class KafkaConsumerGroupLag: ConsumerLagSource {
    public struct Configuration: Sendable {
        /// Bootstrap brokers (`KAFKA_BROKERS`). Required.
        public var bootstrapServers: [String]
        /// The group whose lag is measured (`KAFKA_GROUP_ID`). Default: `tthc-identity-verifier`.
        public var groupID: String
        /// The topics it consumes (the three request topics). Required.
        public var topics: [String]
        /// Extra librdkafka properties for the tool consumer (`KAFKA_PROPERTIES` as consumers take them).
        public var clientProperties: [String: String]
        /// Encryption and authentication, as every other client of the process. Default: plaintext.
        public var security = KafkaSecurity()
        /// Bound of each metadata, watermark and committed-offset query. Default: 5 s.
        public var queryTimeout: Duration
        /// How long to wait for the oldest uncommitted messages of one sample. Default: 5 s.
        public var probeTimeout: Duration

        public init(
            bootstrapServers: [String],
            groupID: String = "tthc-identity-verifier",
            topics: [String],
            clientProperties: [String: String] = [:],
            queryTimeout: Duration = .seconds(5),
            probeTimeout: Duration = .seconds(5)
        ) {
            self.bootstrapServers = bootstrapServers
            self.groupID = groupID
            self.topics = topics
            self.clientProperties = clientProperties
            self.queryTimeout = queryTimeout
            self.probeTimeout = probeTimeout
        }
    }

    public let configuration: Configuration
    /// The tool consumer: also usable for metadata queries (``KafkaReadinessCheck``).
    public let consumer: KafkaConsumer
    private let logger: Logger

    public init(configuration: Configuration, logger: Logger) throws(KafkaError) {
        var consumerConfiguration = KafkaConsumerConfiguration(
            bootstrapServers: configuration.bootstrapServers, groupID: configuration.groupID, topics: [])
        consumerConfiguration.client.clientID = "tthc-identity-verifier-lag"
        consumerConfiguration.client.security = configuration.security
        // Fetch little: one message per partition is all a probe needs.
        consumerConfiguration.maxBufferedMessages = 1_000
        consumerConfiguration.client.properties = [
            "queued.min.messages": "1",
            "queued.max.messages.kbytes": "1024",
            "fetch.wait.max.ms": "50",
        ].merging(configuration.clientProperties) { _, configured in configured }
        self.configuration = configuration
        self.consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        self.logger = logger
    }

    /// Stops the tool consumer. Idempotent.
    public func close() async {
        await self.consumer.close()
    }

    public func sampleLag() async throws -> [PartitionLag] {
        let timeout = self.configuration.queryTimeout.milliseconds
        let counts = try await self.consumer.partitionCounts(self.configuration.topics, timeoutMilliseconds: timeout)
        var partitions: [TopicPartition] = []
        for topic in self.configuration.topics {
            for partition in 0..<Int32(clamping: counts[topic] ?? 0) {
                partitions.append(TopicPartition(topic: topic, partition: partition))
            }
        }
        if partitions.isEmpty { return [] }
        let committed = try await self.consumer.committed(partitions, timeoutMilliseconds: timeout)

        var figures: [PartitionLag] = []
        var probes: [TopicPartitionOffset] = []
        for partition in partitions {
            let marks = try await self.consumer.watermarks(partition, timeoutMilliseconds: timeout)
            let committedOffset = committed[partition].flatMap { $0 >= 0 ? $0 : nil }
            // Without a committed offset the group starts at the oldest message (auto.offset.reset
            // = earliest); an offset below the low watermark resumes there too.
            let position = max(committedOffset ?? marks.low, marks.low)
            let lag = max(0, marks.high - position)
            figures.append(
                PartitionLag(
                    topic: partition.topic, partition: partition.partition, committed: committedOffset,
                    low: marks.low, end: marks.high, lagMessages: lag, lagSeconds: lag == 0 ? 0 : nil))
            if lag > 0 { probes.append(TopicPartitionOffset(partition, offset: position)) }
        }
        if !probes.isEmpty {
            let timestamps = await self.oldestTimestamps(probes)
            let now = Date().timeIntervalSince1970
            for index in figures.indices where figures[index].lagSeconds == nil {
                if let milliseconds = timestamps[figures[index].topicPartition], milliseconds >= 0 {
                    figures[index].lagSeconds = max(0, now - Double(milliseconds) / 1000)
                }
            }
        }
        return figures
    }

    /// The timestamps (ms since the epoch) of the first message at or after each offset, read by
    /// assigning exactly those partitions; partitions not read within the probe timeout are absent.
    private func oldestTimestamps(_ probes: [TopicPartitionOffset]) async -> [TopicPartition: Int64] {
        let wanted = Dictionary(probes.map { ($0.topicPartition, $0.offset) }, uniquingKeysWith: { first, _ in first })
        do {
            try self.consumer.assign(probes)
        } catch {
            self.logger.debug("Lag probe could not assign partitions", metadata: .ops([.error: "\(errorSummary(error))"]))
            return [:]
        }
        let consumer = self.consumer
        let found = await withTaskGroup(of: [TopicPartition: Int64]?.self) { group in
            group.addTask {
                var found: [TopicPartition: Int64] = [:]
                var iterator = consumer.events.makeAsyncIterator()
                while found.count < wanted.count {
                    let batch = await iterator.nextBatch()
                    if batch.isEmpty { break }  // cancelled or closed
                    for case .message(let message) in batch {
                        // Messages left over from an earlier probe sit below the wanted offset.
                        let partition = message.topicPartition
                        guard found[partition] == nil, let offset = wanted[partition], message.offset >= offset else { continue }
                        found[partition] = message.timestampMilliseconds
                    }
                }
                return found
            }
            group.addTask { [probeTimeout = self.configuration.probeTimeout] in
                try? await Task.sleep(for: probeTimeout)
                return nil
            }
            var result: [TopicPartition: Int64] = [:]
            if let first = await group.next(), let found = first {
                result = found
            }
            group.cancelAll()
            // The reader may have finished too, with more.
            while let next = await group.next() {
                if let found = next, found.count > result.count { result = found }
            }
            return result
        }
        do {
            try self.consumer.assign([])
        } catch {
            self.logger.debug("Lag probe could not unassign partitions", metadata: .ops([.error: "\(errorSummary(error))"]))
        }
        return found
    }
}

extension Duration {
    /// Whole milliseconds, clamped to `Int32` (librdkafka's timeout type).
    var milliseconds: Int32 {
        let (seconds, attoseconds) = self.components
        return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }
}
