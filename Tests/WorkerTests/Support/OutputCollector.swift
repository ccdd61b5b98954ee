import Contract
import Foundation
import Kafka
import Logging
import Synchronization

/// Reads the verdict and dead-letter topics from the beginning, in the background, while a test
/// produces: the embedded broker keeps only about 5 MiB per partition, so large runs must read
/// as they go.
final class OutputCollector: Sendable {
    struct Output: Sendable {
        var message: KafkaMessage
        var isDeadLetter: Bool
    }

    private let consumer: KafkaConsumer
    private let outputs = Mutex<[Output]>([])
    private let deadLetterTopic: String
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(harness: WorkerHarness) throws {
        var quiet = Logger(label: "collector")
        quiet.logLevel = .critical
        deadLetterTopic = harness.topics.deadLetter
        consumer = try KafkaConsumer(
            configuration: .init(bootstrapServers: [harness.cluster.bootstrapServers], groupID: "collector-\(UUID())", topics: []),
            logger: quiet)
        var assignment: [TopicPartitionOffset] = []
        for topic in [harness.topics.verdicts, harness.topics.deadLetter] {
            for partition in 0..<harness.partitions {
                assignment.append(TopicPartitionOffset(topic: topic, partition: Int32(partition), offset: KafkaOffset.beginning))
            }
        }
        try consumer.assign(assignment)
        let reading = Task { await self.drain() }
        task.withLock { $0 = reading }
    }

    private func drain() async {
        for await event in consumer.events {
            if case .message(let message) = event {
                outputs.withLock { $0.append(Output(message: message, isDeadLetter: message.topic == deadLetterTopic)) }
            }
        }
    }

    var count: Int { outputs.withLock { $0.count } }
    var all: [Output] { outputs.withLock { $0 } }

    /// Waits until at least `count` outputs arrived, then `settle` longer for any extra one.
    func wait(for count: Int, seconds: Double, settle: Duration = .seconds(2)) async throws -> [Output] {
        let until = ContinuousClock.now + .seconds(seconds)
        while self.count < count {
            if ContinuousClock.now > until {
                throw HarnessError("timed out after \(seconds) s: \(self.count) of \(count) verdicts and dead letters")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        try await Task.sleep(for: settle)
        return all
    }

    func close() async {
        task.withLock { $0?.cancel() }
        await consumer.close()
    }
}

extension KafkaMessage {
    /// The value of the named header, as bytes.
    func header(_ name: String) -> [UInt8]? {
        headers.last { $0.name == name }?.value
    }
}
