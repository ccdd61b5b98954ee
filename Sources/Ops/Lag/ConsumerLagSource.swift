import Kafka

/// How far a consumer group is behind on one partition.
public struct PartitionLag: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    /// The group's committed offset (the next offset it will read), `nil` when it has none yet.
    public var committed: Int64?
    /// The partition's low watermark (oldest offset still held).
    public var low: Int64
    /// The partition's high watermark (the offset the next message will get).
    public var end: Int64
    /// Messages not yet committed: `end` minus the position the group resumes from (the
    /// committed offset, or the low watermark when there is none or it fell out of retention).
    public var lagMessages: Int64
    /// Age in seconds of the oldest message not yet committed; 0 when the partition is caught up;
    /// `nil` when that message could not be read in time (or carries no timestamp).
    public var lagSeconds: Double?

    public init(topic: String, partition: Int32, committed: Int64?, low: Int64, end: Int64, lagMessages: Int64, lagSeconds: Double?) {
        self.topic = topic
        self.partition = partition
        self.committed = committed
        self.low = low
        self.end = end
        self.lagMessages = lagMessages
        self.lagSeconds = lagSeconds
    }

    public var topicPartition: TopicPartition { TopicPartition(topic: self.topic, partition: self.partition) }
}

/// Where the lag sampler gets its figures. ``KafkaConsumerGroupLag`` asks the cluster; another
/// source (a worker that knows its own positions) can stand in for it.
public protocol ConsumerLagSource: Sendable {
    /// One figure per partition of the watched topics, sorted by topic and partition.
    func sampleLag() async throws -> [PartitionLag]
}
