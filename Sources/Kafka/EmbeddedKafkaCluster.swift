import CRdKafka
import Foundation
import Logging

/// librdkafka's mock cluster: a real Kafka-protocol broker set on loopback,
/// in this process. For development and tests; any client (kcat too) can use
/// `bootstrapServers`. It keeps at most about 5 MiB or 100,000 batches per
/// partition and drops older data silently.
public final class EmbeddedKafkaCluster: Sendable {
    private let handle: RDKafkaHandle
    private let cluster: MockClusterPointer
    /// `127.0.0.1:port,...` of the brokers.
    public let bootstrapServers: String
    public let brokerCount: Int

    /// librdkafka properties for a consumer of this cluster (dev, benchmarks, tests):
    /// - `fetch.wait.max.ms=10`: the mock holds a fetch that finds no data for the whole wait
    ///   (librdkafka's default 500 ms) and does not answer when data arrives meanwhile, as a real
    ///   broker does; consumers then saw requests in bursts up to half a second old. Measured: worker
    ///   latency at 1,000 requests/s, p50 206 ms → 35 ms.
    /// - `session.timeout.ms=4000`, `heartbeat.interval.ms=500`: a killed instance is noticed
    ///   quickly. The mock adds to it: after a member times out it waits `session.timeout.ms` −
    ///   1 s for the others to rejoin even when all have (a broker goes on once they have), so a
    ///   kill stops the group for about twice the session timeout (4 + 3 s here, 6 + 5 s with
    ///   6,000). It needs more than its 3,000-ms initial rebalance delay: it never assigns with 2,000.
    public static let consumerProperties: [String: String] = [
        "fetch.wait.max.ms": "10", "session.timeout.ms": "4000", "heartbeat.interval.ms": "500",
    ]

    /// ``consumerProperties`` as `KAFKA_PROPERTIES` takes them: each name prefixed `consumer.`, so
    /// that they reach consumers only (``KafkaConnectionSettings``) and producers do not warn about them.
    public static let consumerOnlyProperties: [String: String] = Dictionary(
        uniqueKeysWithValues: consumerProperties.map { ("consumer." + $0.key, $0.value) })

    public init(brokers: Int = 1, logger: Logger) throws(KafkaError) {
        let context = RDKafkaCallbackContext(logger: logger)
        // The cluster needs a client handle to live in; one without brokers will do.
        handle = try RDKafkaHandle(
            kind: .producer, properties: [("log_level", "3")], context: context
        ) { conf in
            rd_kafka_conf_set_log_cb(conf, RDKafkaLogBridge.callback)
        }
        guard let mc = rd_kafka_mock_cluster_new(handle.pointer, Int32(brokers)) else {
            throw KafkaError(code: .mockCluster, reason: "could not start the embedded cluster")
        }
        cluster = MockClusterPointer(pointer: mc)
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(mc))
        brokerCount = brokers
    }

    deinit {
        // The cluster must go before the handle it lives in, and tearing it
        // down blocks: both happen on a thread of their own, in that order.
        // Its clients go first (up to 60 s): one still being destroyed would
        // otherwise reconnect to a closed port and log an error. (10 s was too
        // short for a client still in use on a loaded machine: CI's parallel
        // tests saw the port closed under a live producer.)
        let cluster = self.cluster
        let handle = Unmanaged.passRetained(self.handle)
        let brokers = LiveClients.addresses(bootstrapServers)
        Thread.detachNewThread {
            let until = ContinuousClock.now + .seconds(60)
            while LiveClients.count(of: brokers) > 0, ContinuousClock.now < until { usleep(20_000) }
            rd_kafka_mock_cluster_destroy(cluster.pointer)
            handle.release()
        }
    }

    /// Client handles of this process given this cluster's brokers and not yet destroyed (a client's
    /// handle is destroyed on a thread of its own once the client is released).
    public var liveClients: Int { LiveClients.count(of: LiveClients.addresses(bootstrapServers)) }

    /// Waits until no client of this cluster is left (``liveClients`` is 0), at most `timeout`;
    /// `false` if some are left then.
    public func waitForClients(timeout: Duration) async -> Bool {
        let until = ContinuousClock.now + timeout
        while liveClients > 0 {
            if ContinuousClock.now >= until { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    /// Creates a topic with the given partition count (the mock auto-creates
    /// unknown topics with 4 partitions on first metadata request).
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1) throws(KafkaError) {
        let err = rd_kafka_mock_topic_create(cluster.pointer, name, Int32(partitions), Int32(replicationFactor))
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError.rdkafka(err, code: .mockCluster, context: "create topic \(name)")
        }
    }

    /// Takes a broker (ids start at 1) off the network: connections drop.
    public func setBrokerDown(_ brokerID: Int32) throws(KafkaError) {
        try check(rd_kafka_mock_broker_set_down(cluster.pointer, brokerID), "broker \(brokerID) down")
    }

    /// Brings a broker back.
    public func setBrokerUp(_ brokerID: Int32) throws(KafkaError) {
        try check(rd_kafka_mock_broker_set_up(cluster.pointer, brokerID), "broker \(brokerID) up")
    }

    /// Adds a round-trip delay to a broker's responses.
    public func setRoundTripTime(broker brokerID: Int32, milliseconds: Int) throws(KafkaError) {
        try check(rd_kafka_mock_broker_set_rtt(cluster.pointer, brokerID, Int32(milliseconds)), "broker rtt")
    }

    /// The next requests of this API key (0 Produce, 1 Fetch, 3 Metadata,
    /// 8 OffsetCommit, 9 OffsetFetch, 10 FindCoordinator, 11 JoinGroup, ...)
    /// fail with these Kafka error codes, one per request.
    public func pushRequestErrors(apiKey: Int16, errors: [Int32]) {
        let codes = errors.map { rd_kafka_resp_err_t(rawValue: $0) }
        codes.withUnsafeBufferPointer { buffer in
            rd_kafka_mock_push_request_errors_array(cluster.pointer, apiKey, buffer.count, buffer.baseAddress)
        }
    }

    /// Every request about the topic fails with this error code (0 clears it).
    public func setTopicError(_ topic: String, error: Int32) {
        rd_kafka_mock_topic_set_error(cluster.pointer, topic, rd_kafka_resp_err_t(rawValue: error))
    }

    /// Moves a partition's leadership to a broker.
    public func setPartitionLeader(topic: String, partition: Int32, broker: Int32) throws(KafkaError) {
        try check(rd_kafka_mock_partition_set_leader(cluster.pointer, topic, partition, broker), "partition leader")
    }

    /// Makes a broker the coordinator of a group (`keyType` "group") or transaction ("transaction").
    public func setCoordinator(keyType: String, key: String, broker: Int32) throws(KafkaError) {
        try check(rd_kafka_mock_coordinator_set(cluster.pointer, keyType, key, broker), "coordinator")
    }

    private func check(_ err: rd_kafka_resp_err_t, _ what: String) throws(KafkaError) {
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError.rdkafka(err, code: .mockCluster, context: what)
        }
    }
}

/// `rd_kafka_mock_cluster_t *`, which librdkafka drives from its own thread.
struct MockClusterPointer: @unchecked Sendable {  // the mock cluster's API is thread-safe
    let pointer: OpaquePointer
}
