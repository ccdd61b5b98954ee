import Contract
import Foundation
import Kafka
import Logging

/// One message on the dead-letter topic, as operators see it.
public struct DeadLetterRecord: Sendable {
    /// Where it sits on the dead-letter topic.
    public var partition: Int32
    public var offset: Int64
    /// When it was dead-lettered (the message timestamp), if it carries one.
    public var timestamp: Date?
    /// The `dlq_*` headers (the last of each name), `nil` when they are missing or malformed.
    public var metadata: DeadLetterMetadata?
    /// The original message: key, value and headers without any `dlq_*` header.
    public var key: [UInt8]?
    public var value: [UInt8]
    /// Whether the original value was null (a tombstone): replayed as null, not empty.
    public var isTombstone: Bool = false
    public var originalHeaders: [KafkaHeader]

    /// The message to publish to put it back on its source topic, or `nil` without a source.
    public var replayMessage: KafkaOutgoingMessage? {
        guard let metadata else { return nil }
        return KafkaOutgoingMessage(topic: metadata.sourceTopic, key: self.key, value: self.isTombstone ? nil : self.value, headers: self.originalHeaders)
    }
}

/// Which dead letters to select.
public struct DeadLetterFilter: Sendable, Hashable {
    /// Only this `dlq_reason` (`not_json`, `invalid_event`, ...).
    public var reason: String?
    /// Only those dead-lettered at or after this instant.
    public var since: Date?
    /// Only those dead-lettered before this instant.
    public var until: Date?
    /// Only those that came from this topic.
    public var sourceTopic: String?

    public init(reason: String? = nil, since: Date? = nil, until: Date? = nil, sourceTopic: String? = nil) {
        self.reason = reason
        self.since = since
        self.until = until
        self.sourceTopic = sourceTopic
    }

    public func matches(_ record: DeadLetterRecord) -> Bool {
        if let reason = self.reason, record.metadata?.reason.rawValue != reason { return false }
        if let sourceTopic = self.sourceTopic, record.metadata?.sourceTopic != sourceTopic { return false }
        if self.since != nil || self.until != nil {
            guard let timestamp = record.timestamp else { return false }
            if let since = self.since, timestamp < since { return false }
            if let until = self.until, timestamp >= until { return false }
        }
        return true
    }
}

/// Reads the dead-letter topic from its oldest held message to the end it had when the scan
/// started, with a tool consumer that assigns partitions explicitly (it joins no group and commits
/// nothing), and puts selected dead letters back on their source topics.
public final class DeadLetterArchive: Sendable {
    public struct Configuration: Sendable {
        /// `KAFKA_BROKERS`. Required.
        public var bootstrapServers: [String]
        /// The dead-letter topic (`tthc.identity.dead-letter`). Required.
        public var topic: String
        /// Extra librdkafka properties (`KAFKA_PROPERTIES` as consumers take them).
        public var clientProperties: [String: String]
        /// Encryption and authentication, as every other client of the process. Default: plaintext.
        public var security = KafkaSecurity()
        /// Bound of metadata and watermark queries. Default: 10 s.
        public var queryTimeout: Duration
        /// A scan fails when no message arrives for this long before it reached the end. Default: 15 s.
        public var idleTimeout: Duration

        public init(
            bootstrapServers: [String], topic: String, clientProperties: [String: String] = [:],
            queryTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(15)
        ) {
            self.bootstrapServers = bootstrapServers
            self.topic = topic
            self.clientProperties = clientProperties
            self.queryTimeout = queryTimeout
            self.idleTimeout = idleTimeout
        }
    }

    /// The scan stopped before the end.
    public struct ScanError: Error, CustomStringConvertible {
        public var description: String
    }

    public let configuration: Configuration
    private let consumer: KafkaConsumer
    private let logger: Logger

    public init(configuration: Configuration, logger: Logger) throws(KafkaError) {
        // No group membership and no commits: the id only satisfies librdkafka.
        var consumerConfiguration = KafkaConsumerConfiguration(
            bootstrapServers: configuration.bootstrapServers, groupID: "tthc-identity-verifier-dead-letter-tool", topics: [])
        consumerConfiguration.client.clientID = "tthc-identity-verifier-dead-letters"
        consumerConfiguration.client.properties = configuration.clientProperties
        consumerConfiguration.client.security = configuration.security
        self.configuration = configuration
        self.consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        self.logger = logger
    }

    public func close() async {
        await self.consumer.close()
    }

    /// Calls `body` with every dead letter that `filter` selects, in partition order within each
    /// partition, up to the end the topic had when the scan started.
    public func scan(
        _ filter: DeadLetterFilter = .init(), _ body: (DeadLetterRecord) async throws -> Void
    ) async throws {
        let timeout = self.configuration.queryTimeout.milliseconds
        let topic = self.configuration.topic
        let counts = try await self.consumer.partitionCounts([topic], timeoutMilliseconds: timeout)
        var remaining: [Int32: Int64] = [:]  // partition -> last offset to read
        var starts: [TopicPartitionOffset] = []
        for partition in 0..<Int32(clamping: counts[topic] ?? 0) {
            let tp = TopicPartition(topic: topic, partition: partition)
            let marks = try await self.consumer.watermarks(tp, timeoutMilliseconds: timeout)
            if marks.high > marks.low {
                remaining[partition] = marks.high - 1
                starts.append(TopicPartitionOffset(tp, offset: marks.low))
            }
        }
        if starts.isEmpty { return }
        try self.consumer.assign(starts)
        defer { try? self.consumer.assign([]) }

        let consumer = self.consumer
        let idle = self.configuration.idleTimeout
        while !remaining.isEmpty {
            let batch = await withTimeBound(idle) { () -> [KafkaConsumerEvent] in
                var iterator = consumer.events.makeAsyncIterator()
                return await iterator.nextBatch()
            }
            guard let batch, !batch.isEmpty else {
                throw ScanError(description: "no message from \(topic) for \(idle.secondsText); \(remaining.count) partitions not read to the end")
            }
            for case .message(let message) in batch {
                guard message.topic == topic, let last = remaining[message.partition], message.offset <= last else { continue }
                if message.offset == last { remaining[message.partition] = nil }
                let record = Self.record(message)
                if filter.matches(record) { try await body(record) }
            }
        }
    }

    /// Everything `filter` selects.
    public func list(_ filter: DeadLetterFilter = .init()) async throws -> [DeadLetterRecord] {
        var records: [DeadLetterRecord] = []
        try await self.scan(filter) { records.append($0) }
        return records
    }

    static func record(_ message: KafkaMessage) -> DeadLetterRecord {
        let headers = message.headers.map { MessageHeader(name: $0.name, value: $0.value ?? []) }
        return DeadLetterRecord(
            partition: message.partition,
            offset: message.offset,
            timestamp: message.timestampMilliseconds >= 0
                ? Date(timeIntervalSince1970: Double(message.timestampMilliseconds) / 1000) : nil,
            metadata: DeadLetterMetadata(headers: headers),
            key: message.key,
            value: message.value,
            isTombstone: message.isTombstone,
            originalHeaders: message.headers.filter { !$0.name.hasPrefix("dlq_") })
    }
}
