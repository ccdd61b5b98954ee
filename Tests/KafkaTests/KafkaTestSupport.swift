import Foundation
import Kafka
import Logging
import Synchronization
import Testing

/// A logger that keeps librdkafka's chatter out of test output unless asked for.
func testLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["KAFKA_TEST_LOG"] == "1" ? .debug : .critical
    return logger
}

/// Consumer settings that suit the mock cluster in tests.
func consumerConfiguration(_ cluster: EmbeddedKafkaCluster, group: String, topics: [String]) -> KafkaConsumerConfiguration {
    var configuration = KafkaConsumerConfiguration(
        bootstrapServers: [cluster.bootstrapServers], groupID: group, topics: topics)
    configuration.sessionTimeoutMilliseconds = 6_000
    configuration.client.properties["heartbeat.interval.ms"] = "500"
    return configuration
}

func makeMessages(topic: String, count: Int, from start: Int = 0, keys: Int = 100) -> [KafkaOutgoingMessage] {
    (start..<(start + count)).map { i in
        KafkaOutgoingMessage(
            topic: topic, key: Array("key-\(i % keys)".utf8), value: Array("message-\(i)".utf8),
            headers: [KafkaHeader(name: "seq", string: String(i))])
    }
}

/// Sends and checks that every message was delivered.
func produceAll(_ producer: KafkaProducer, _ messages: [KafkaOutgoingMessage], batch: Int = 5_000) async throws {
    var start = 0
    while start < messages.count {
        let slice = Array(messages[start..<min(start + batch, messages.count)])
        let reports = await producer.send(slice)
        let failures = reports.filter { $0.error != nil }
        try #require(failures.isEmpty, "delivery failed: \(failures.first.map { "\($0.error!)" } ?? "")")
        start += batch
    }
}

/// Fails the test after `seconds` instead of hanging it.
func withTimeout<T: Sendable>(
    _ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        guard let value = first else {
            throw TestTimeout(what: what, seconds: seconds)
        }
        return value
    }
}

struct TestTimeout: Error, CustomStringConvertible {
    var what: String
    var seconds: Double
    var description: String { "timed out after \(seconds) s: \(what)" }
}

/// What a test consumer saw, keyed by partition and offset.
struct Seen: Sendable {
    var offsets: Set<TopicPartitionOffset> = []
    var values: [String] = []
    var duplicates = 0

    mutating func add(_ message: KafkaMessage) {
        let key = TopicPartitionOffset(message.topicPartition, offset: message.offset)
        if !offsets.insert(key).inserted { duplicates += 1 }
        values.append(String(decoding: message.value, as: UTF8.self))
    }

    /// The next offset to read per partition, for a commit.
    var commitOffsets: [TopicPartitionOffset] {
        var next: [TopicPartition: Int64] = [:]
        for o in offsets { next[o.topicPartition] = max(next[o.topicPartition] ?? 0, o.offset + 1) }
        return next.map { TopicPartitionOffset($0.key, offset: $0.value) }
    }
}

/// A value shared between tasks of a test.
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}
