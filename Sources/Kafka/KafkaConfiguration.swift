/// Settings shared by producers and consumers.
public struct KafkaClientConfiguration: Sendable {
    /// `host:port` pairs of the bootstrap brokers. Set by `KAFKA_BROKERS`. Required.
    public var bootstrapServers: [String]
    /// `client.id` sent to the brokers. Default: `tthc-identity-verifier`.
    public var clientID: String = "tthc-identity-verifier"
    /// Encryption and authentication (`KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`,
    /// `KAFKA_SSL_CA_LOCATION`). Applied after the typed settings, before ``properties``.
    /// Default: plaintext, no SASL.
    public var security = KafkaSecurity()
    /// Any other librdkafka property (see librdkafka's CONFIGURATION.md). They are
    /// applied last, so they win over the typed settings. An unknown property or
    /// an invalid value stops client creation with an error naming it.
    public var properties: [String: String] = [:]

    public init(bootstrapServers: [String]) {
        self.bootstrapServers = bootstrapServers
    }
}

/// Producer settings.
public struct KafkaProducerConfiguration: Sendable {
    public var client: KafkaClientConfiguration
    /// Idempotent producer: no duplicates or reordering from internal retries.
    /// Default: `true` (which implies `acks=all`).
    public var idempotent: Bool = true
    /// `acks`: `all`, `1` or `0`. Default: `all`.
    public var acks: String = "all"
    /// How long to wait to fill a batch. Default: 5 ms.
    public var lingerMilliseconds: Int = 5
    /// How long librdkafka keeps trying to deliver a message before it reports
    /// failure. Default: 300,000 ms (librdkafka's own default).
    public var messageTimeoutMilliseconds: Int = 300_000
    /// Compression codec. Default: `none`; `lz4` or `zstd` suit real clusters.
    public var compression: String = "none"

    public init(bootstrapServers: [String]) {
        self.client = KafkaClientConfiguration(bootstrapServers: bootstrapServers)
    }

    var rdkafkaProperties: [(String, String)] {
        var list: [(String, String)] = [
            ("bootstrap.servers", client.bootstrapServers.joined(separator: ",")),
            ("client.id", client.clientID),
            ("enable.idempotence", idempotent ? "true" : "false"),
            ("acks", acks),
            ("linger.ms", String(lingerMilliseconds)),
            ("message.timeout.ms", String(messageTimeoutMilliseconds)),
            ("compression.codec", compression),
        ]
        list.append(contentsOf: client.security.rdkafkaProperties)
        list.append(contentsOf: client.properties.sorted { $0.key < $1.key })
        return list
    }
}

/// Consumer settings.
public struct KafkaConsumerConfiguration: Sendable {
    public var client: KafkaClientConfiguration
    /// Consumer group. Set by `KAFKA_GROUP_ID`. Default: `tthc-identity-verifier`.
    public var groupID: String = "tthc-identity-verifier"
    /// Topics to subscribe to.
    public var topics: [String]
    /// `session.timeout.ms`: how long a dead instance keeps its partitions (its requests wait
    /// that long, then for the rebalance). Default: 6,000 ms, the lowest a broker accepts with
    /// its default `group.min.session.timeout.ms` (docs/operations.md, "Kafka timing"). The mock
    /// cluster needs more than its 3,000-ms initial rebalance delay (it never assigns with 2,000).
    public var sessionTimeoutMilliseconds: Int = 6_000
    /// `heartbeat.interval.ms`: a third of the session timeout, as Kafka advises. Default: 2,000 ms.
    public var heartbeatIntervalMilliseconds: Int = 2_000
    /// `partition.assignment.strategy`. Default: `range` (eager); the mock cluster
    /// misbehaves with `cooperative-sticky`.
    public var assignmentStrategy: String = "range"
    /// Where to start without a committed offset. Default: `earliest`, so that no
    /// request published before the group's first start is missed.
    public var autoOffsetReset: String = "earliest"
    /// Messages buffered between librdkafka and the caller. Above this the
    /// assigned partitions are paused until the caller drains half of it.
    /// Default: 20,000.
    public var maxBufferedMessages: Int = 20_000
    /// Messages taken from librdkafka per poll. Default: 1,000.
    public var pollBatchSize: Int = 1_000
    /// How long a revocation waits for the caller to finish and commit before
    /// librdkafka is told to go ahead anyway. Default: 30 s.
    public var revocationTimeoutMilliseconds: Int = 30_000

    public init(bootstrapServers: [String], groupID: String = "tthc-identity-verifier", topics: [String]) {
        self.client = KafkaClientConfiguration(bootstrapServers: bootstrapServers)
        self.groupID = groupID
        self.topics = topics
    }

    var rdkafkaProperties: [(String, String)] {
        var list: [(String, String)] = [
            ("bootstrap.servers", client.bootstrapServers.joined(separator: ",")),
            ("client.id", client.clientID),
            ("group.id", groupID),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("session.timeout.ms", String(sessionTimeoutMilliseconds)),
            ("heartbeat.interval.ms", String(heartbeatIntervalMilliseconds)),
            ("partition.assignment.strategy", assignmentStrategy),
            ("auto.offset.reset", autoOffsetReset),
        ]
        list.append(contentsOf: client.security.rdkafkaProperties)
        list.append(contentsOf: client.properties.sorted { $0.key < $1.key })
        return list
    }
}
