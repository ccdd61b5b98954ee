import Foundation
import Kafka
import Testing

@Suite("Consumer flow control against the embedded broker", .serialized)
struct ConsumerFlowResumeTests {
    /// librdkafka 2.0.2 restarts a resumed partition only at its broker
    /// thread's next idle wake-up, 0.85 s later; the consumer wakes it. A
    /// reader that lets the buffer fill between takes pauses and resumes the
    /// partition over and over here: without the wake-up the read took 9 s
    /// for 4,000 messages (so about 13 s for these 6,000), with it about a
    /// second. The bound leaves room for a loaded machine; it is not a throughput figure.
    @Test("after a flow-control pause, fetching restarts without librdkafka's idle wait, in order and without repeats")
    func resumesPromptly() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: testLogger("cluster"))
        try cluster.createTopic("resume", partitions: 1)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: testLogger("producer"))
        let total = 6_000
        try await produceAll(producer, makeMessages(topic: "resume", count: total))
        await producer.close()

        var configuration = consumerConfiguration(cluster, group: "resume-group", topics: ["resume"])
        configuration.maxBufferedMessages = 200
        configuration.pollBatchSize = 100
        let consumer = try KafkaConsumer(configuration: configuration, logger: testLogger("c"))
        let (offsets, seconds) = try await withTimeout(60, "reading 6,000 through a 200-message buffer") {
            var offsets: [Int64] = []
            var first: ContinuousClock.Instant?
            var iterator = consumer.events.makeAsyncIterator()
            while offsets.count < total {
                let batch = await iterator.nextBatch()
                if batch.isEmpty { break }
                for case .message(let message) in batch {
                    if first == nil { first = .now }
                    offsets.append(message.offset)
                }
                // Slower than the poll thread: the buffer fills and the partition is paused.
                try await Task.sleep(for: .milliseconds(10))
            }
            let elapsed = (first ?? .now).duration(to: .now)
            return (offsets, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        #expect(offsets == (0..<Int64(total)).map { $0 }, "every offset once, in order")
        // Without the seek it took 13.1 s; with it ~3 s alone and up to 6.1 s under the full suite.
        #expect(seconds < 10, "took \(seconds) s: resumed partitions waited for librdkafka's idle wake-up")
        await consumer.close()
    }

    /// Buffered messages are still in librdkafka's memory until taken; closing
    /// copies them first, so they outlive the handle and are still delivered.
    @Test("messages still buffered when the consumer closes are delivered intact, then the sequence ends")
    func bufferedAtClose() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: testLogger("cluster"))
        try cluster.createTopic("close", partitions: 1)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: testLogger("producer"))
        try await produceAll(producer, makeMessages(topic: "close", count: 500))
        await producer.close()

        let consumer = try KafkaConsumer(
            configuration: consumerConfiguration(cluster, group: "close-group", topics: ["close"]), logger: testLogger("c"))
        let seen = try await withTimeout(30, "reading across close") {
            var iterator = consumer.events.makeAsyncIterator()
            var seen: [KafkaMessage] = []
            while seen.isEmpty {
                for case .message(let message) in await iterator.nextBatch() { seen.append(message) }
            }
            // Let the poll thread buffer the rest, then close with it still buffered.
            try await Task.sleep(for: .seconds(1))
            await consumer.close()
            while let event = await iterator.next() {
                if case .message(let message) = event { seen.append(message) }
            }
            return seen
        }
        #expect(seen.map(\.offset) == (0..<500).map { Int64($0) }, "all of it, in order")
        for message in seen {
            #expect(message.topic == "close" && message.partition == 0)
            #expect(message.key == Array("key-\(message.offset % 100)".utf8))
            #expect(message.value == Array("message-\(message.offset)".utf8))
            #expect(message.headers.string(named: "seq") == String(message.offset))
        }
    }
}
