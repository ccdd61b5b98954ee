/// A topic and partition.
public struct TopicPartition: Hashable, Sendable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32
    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }
    public var description: String { "\(topic)[\(partition)]" }
}

/// A topic, partition and offset: for commits, "the next offset to read".
public struct TopicPartitionOffset: Hashable, Sendable {
    public var topicPartition: TopicPartition
    public var offset: Int64
    public init(_ topicPartition: TopicPartition, offset: Int64) {
        self.topicPartition = topicPartition
        self.offset = offset
    }
    public init(topic: String, partition: Int32, offset: Int64) {
        self.init(TopicPartition(topic: topic, partition: partition), offset: offset)
    }
}

/// One message header. Kafka allows repeated names, so headers are a list.
public struct KafkaHeader: Hashable, Sendable {
    public var name: String
    public var value: [UInt8]?
    public init(name: String, value: [UInt8]?) {
        self.name = name
        self.value = value
    }
    public init(name: String, string: String) {
        self.init(name: name, value: Array(string.utf8))
    }
}

extension Array where Element == KafkaHeader {
    /// The last value of the named header, as UTF-8 text.
    public func string(named name: String) -> String? {
        guard let header = last(where: { $0.name == name }), let value = header.value else { return nil }
        return String(decoding: value, as: UTF8.self)
    }
}

/// A message to send.
public struct KafkaOutgoingMessage: Sendable {
    public var topic: String
    /// An explicit partition, or `nil` for the partitioner (by key).
    public var partition: Int32?
    public var key: [UInt8]?
    /// The value, or `nil` for a tombstone (a null value, which is not an empty one).
    public var value: [UInt8]?
    public var headers: [KafkaHeader]

    public init(topic: String, partition: Int32? = nil, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = []) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
    }
}

/// A message read from a topic.
public struct KafkaMessage: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    /// The value; empty for a tombstone too (see ``isTombstone``).
    public var value: [UInt8]
    /// Whether the value is null (a tombstone) rather than empty: a dead letter keeps it null.
    public var isTombstone: Bool
    public var headers: [KafkaHeader]
    /// Milliseconds since the epoch (create or log-append time), or -1.
    public var timestampMilliseconds: Int64

    public init(
        topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8],
        headers: [KafkaHeader], timestampMilliseconds: Int64, isTombstone: Bool = false
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.isTombstone = isTombstone
        self.headers = headers
        self.timestampMilliseconds = timestampMilliseconds
    }

    /// The value as Kafka holds it: `nil` for a tombstone.
    public var nullableValue: [UInt8]? { isTombstone ? nil : value }

    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
}

/// Where a produced message landed, or why it did not.
public struct KafkaDeliveryReport: Sendable {
    public var topic: String
    public var partition: Int32
    /// The offset it was written at (-1 when it failed).
    public var offset: Int64
    public var error: KafkaError?
}

/// Low and high watermark of a partition: `high` is the offset the next
/// message will get.
public struct KafkaWatermarks: Hashable, Sendable {
    public var low: Int64
    public var high: Int64
}

/// librdkafka's logical offsets, for `assign`.
public enum KafkaOffset {
    /// The oldest message still held.
    public static let beginning: Int64 = -2
    /// The offset the next message will get.
    public static let end: Int64 = -1
    /// What `committed` returns for a partition without a committed offset.
    public static let invalid: Int64 = -1001
}
