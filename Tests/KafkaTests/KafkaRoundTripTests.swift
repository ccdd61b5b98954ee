import Foundation
import Kafka
import Testing

@Suite("Kafka layer against the embedded broker", .serialized)
struct KafkaRoundTripTests {
    @Test("100,000 messages produced in batches are all consumed by a group, with commits")
    func hundredThousand() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: testLogger("cluster"))
        // 8 partitions keep each under the mock's ~5 MiB per-partition retention.
        try cluster.createTopic("bulk", partitions: 8)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: testLogger("producer"))
        let total = 100_000
        try await produceAll(producer, makeMessages(topic: "bulk", count: total))
        await producer.close()

        let consumer = try KafkaConsumer(
            configuration: consumerConfiguration(cluster, group: "bulk-group", topics: ["bulk"]),
            logger: testLogger("consumer"))
        let seen = try await withTimeout(90, "consuming 100,000") {
            var seen = Seen()
            var sinceCommit = 0
            for await event in consumer.events {
                guard case .message(let message) = event else { continue }
                seen.add(message)
                sinceCommit += 1
                if sinceCommit >= 10_000 {
                    try consumer.commitAsync(seen.commitOffsets)
                    sinceCommit = 0
                }
                if seen.offsets.count == total { break }
            }
            return seen
        }
        try await consumer.commit(seen.commitOffsets)
        #expect(seen.offsets.count == total)
        #expect(seen.duplicates == 0)

        // The broker kept everything (the mock drops old data silently past its limits).
        var high: Int64 = 0
        var committedTotal: Int64 = 0
        let partitions = (0..<8).map { TopicPartition(topic: "bulk", partition: Int32($0)) }
        let committed = try await consumer.committed(partitions)
        for partition in partitions {
            let marks = try await consumer.watermarks(partition)
            #expect(marks.low == 0)
            high += marks.high
            #expect(committed[partition] == marks.high, "committed offset of \(partition) is the end")
            committedTotal += committed[partition] ?? 0
        }
        #expect(high == Int64(total))
        #expect(committedTotal == Int64(total))
        await consumer.close()
    }

    @Test("delivery reports carry partition and offset, in send order")
    func deliveryReports() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: testLogger("cluster"))
        try cluster.createTopic("reports", partitions: 1)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: testLogger("producer"))
        let reports = await producer.send(makeMessages(topic: "reports", count: 50))
        #expect(reports.map(\.offset) == (0..<50).map(Int64.init))
        #expect(reports.allSatisfy { $0.partition == 0 && $0.error == nil && $0.topic == "reports" })
        let single = try await producer.send(KafkaOutgoingMessage(topic: "reports", key: nil, value: [1, 2, 3]))
        #expect(single.offset == 50)
        await producer.close()
        // After close, sends fail with a clear error instead of hanging.
        let late = await producer.send(makeMessages(topic: "reports", count: 1))
        #expect(late[0].error?.code == .closed)
    }

    @Test("batches larger than librdkafka's queue are sent whole, two at once, in order")
    func batchesOverQueueLimit() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: testLogger("cluster"))
        try cluster.createTopic("overflow", partitions: 2)
        var configuration = KafkaProducerConfiguration(bootstrapServers: [cluster.bootstrapServers])
        // Each batch is ten times what librdkafka queues: sending it needs the
        // queue drained while the batch is still being enqueued.
        configuration.client.properties["queue.buffering.max.messages"] = "500"
        let producer = try KafkaProducer(configuration: configuration, logger: testLogger("producer"))
        let (first, second) = try await withTimeout(60, "two batches of 5,000 through a 500-message queue") {
            async let first = producer.send(
                (0..<5_000).map { KafkaOutgoingMessage(topic: "overflow", partition: 0, key: nil, value: Array("a\($0)".utf8)) })
            async let second = producer.send(
                (0..<5_000).map { KafkaOutgoingMessage(topic: "overflow", partition: 1, key: nil, value: Array("b\($0)".utf8)) })
            return await (first, second)
        }
        #expect(first.allSatisfy { $0.error == nil } && second.allSatisfy { $0.error == nil })
        #expect(first.map(\.offset) == (0..<5_000).map(Int64.init))
        #expect(second.map(\.offset) == (0..<5_000).map(Int64.init))
        await producer.close()
    }

    @Test("a malformed configuration fails with an error naming the property")
    func malformedConfiguration() throws {
        var unknown = KafkaProducerConfiguration(bootstrapServers: ["127.0.0.1:1"])
        unknown.client.properties["no.such.property"] = "1"
        #expect {
            _ = try KafkaProducer(configuration: unknown, logger: testLogger("p"))
        } throws: { error in
            let error = error as! KafkaError
            return error.code == .configuration && error.reason.contains("no.such.property")
        }
        var badValue = KafkaConsumerConfiguration(bootstrapServers: ["127.0.0.1:1"], topics: ["t"])
        badValue.client.properties["session.timeout.ms"] = "banana"
        #expect {
            _ = try KafkaConsumer(configuration: badValue, logger: testLogger("c"))
        } throws: { error in
            let error = error as! KafkaError
            return error.code == .configuration && error.reason.contains("session.timeout.ms")
        }
        var badAcks = KafkaProducerConfiguration(bootstrapServers: ["127.0.0.1:1"])
        badAcks.acks = "several"
        #expect(throws: KafkaError.self) { _ = try KafkaProducer(configuration: badAcks, logger: testLogger("p")) }
    }
}

@Suite("Manual assignment", .serialized)
struct KafkaAssignTests {
    @Test("assign reads a partition from a given offset without a group subscription")
    func assignFromOffset() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: testLogger("cluster"))
        try cluster.createTopic("assigned", partitions: 2)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: testLogger("producer"))
        let messages = (0..<20).map { KafkaOutgoingMessage(topic: "assigned", partition: 1, key: nil, value: Array("v\($0)".utf8)) }
        try await produceAll(producer, messages)
        await producer.close()
        let consumer = try KafkaConsumer(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers], groupID: "tool", topics: []),
            logger: testLogger("c"))
        try consumer.assign([TopicPartitionOffset(topic: "assigned", partition: 1, offset: 15)])
        let read = try await withTimeout(20, "assigned read") {
            var read: [Int64] = []
            for await event in consumer.events {
                if case .message(let message) = event { read.append(message.offset) }
                if read.count == 5 { break }
            }
            return read
        }
        #expect(read == [15, 16, 17, 18, 19])
        await consumer.close()
    }
}

@Suite("Ordered enqueue")
struct KafkaEnqueueTests {
    @Test("batches enqueued one after another keep their order on a partition")
    func enqueueKeepsOrder() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: testLogger("cluster"))
        try cluster.createTopic("ordered", partitions: 1)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: testLogger("producer"))
        let pending = (0..<10).map { b in producer.enqueue(makeMessages(topic: "ordered", count: 100, from: b * 100)) }
        var offsets: [Int64] = []
        for p in pending { offsets += await p.reports().map(\.offset) }
        #expect(offsets == (0..<1000).map(Int64.init))
        await producer.close()
    }
}
