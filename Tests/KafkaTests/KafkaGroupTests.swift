import Foundation
import Kafka
import Synchronization
import Testing

@Suite("Consumer groups, revocation, restart, pause", .serialized)
struct KafkaGroupTests {
    @Test("two consumers split the partitions and a revocation loses nothing")
    func twoConsumersSplit() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: testLogger("cluster"))
        try cluster.createTopic("split", partitions: 6)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: testLogger("producer"))
        try await produceAll(producer, makeMessages(topic: "split", count: 10_000))

        let recorder = GroupRecorder()
        let all = recorder.all
        let first = try KafkaConsumer(
            configuration: consumerConfiguration(cluster, group: "split-group", topics: ["split"]), logger: testLogger("c1"))
        let firstTask = Task { try await recorder.run("first", first) }
        // Let the first consumer own everything and read part of it.
        try await withTimeout(30, "first consumer reads") {
            while all.withLock({ $0.offsets.count }) < 2_000 { try await Task.sleep(for: .milliseconds(50)) }
        }
        let second = try KafkaConsumer(
            configuration: consumerConfiguration(cluster, group: "split-group", topics: ["split"]), logger: testLogger("c2"))
        let secondTask = Task { try await recorder.run("second", second) }
        // Publish more while the group rebalances.
        try await produceAll(producer, makeMessages(topic: "split", count: 10_000, from: 10_000))
        try await withTimeout(60, "both consumers together read all 20,000") {
            while all.withLock({ $0.offsets.count }) < 20_000 { try await Task.sleep(for: .milliseconds(50)) }
        }
        // Under load the first consumer can read everything before the mock finishes the rebalance
        // (it waits 3 s before assigning): the split is awaited, not assumed done.
        try await withTimeout(60, "the second consumer's assignment") {
            while recorder.assignments.withLock({ $0["second"] }) == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(recorder.revocations.load(ordering: .relaxed) >= 1, "the first consumer saw a revocation")
        let split = recorder.assignments.withLock { $0 }
        #expect(split["first"].map(Set.init) != nil && split["second"].map(Set.init) != nil)
        if let a = split["first"], let b = split["second"] {
            #expect(Set(a).isDisjoint(with: Set(b)))
            #expect(Set(a).union(b).count == 6)
        }
        let seen = all.withLock { $0 }
        #expect(seen.offsets.count == 20_000)
        #expect(Set(seen.values).count == 20_000)
        await first.close()
        await second.close()
        _ = await firstTask.result
        _ = await secondTask.result
        await producer.close()
    }

    @Test("a restarted consumer resumes at its committed offsets")
    func restartResumes() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: testLogger("cluster"))
        try cluster.createTopic("restart", partitions: 3)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: testLogger("producer"))
        try await produceAll(producer, makeMessages(topic: "restart", count: 3_000))
        await producer.close()

        let configuration = consumerConfiguration(cluster, group: "restart-group", topics: ["restart"])
        let first = try KafkaConsumer(configuration: configuration, logger: testLogger("c1"))
        let processed = try await withTimeout(30, "first run") {
            var seen = Seen()
            for await event in first.events {
                guard case .message(let message) = event else { continue }
                seen.add(message)
                if seen.offsets.count == 1_000 { break }
            }
            return seen
        }
        try await first.commit(processed.commitOffsets)
        await first.close()

        let second = try KafkaConsumer(configuration: configuration, logger: testLogger("c2"))
        let rest = try await withTimeout(30, "second run") {
            var seen = Seen()
            for await event in second.events {
                guard case .message(let message) = event else { continue }
                seen.add(message)
                if seen.offsets.count == 2_000 { break }
            }
            return seen
        }
        // Nothing read twice, nothing skipped: the second run starts where the commit said.
        #expect(rest.offsets.isDisjoint(with: processed.offsets))
        #expect(Set(rest.values).union(processed.values).count == 3_000)
        let committedStart = Dictionary(uniqueKeysWithValues: processed.commitOffsets.map { ($0.topicPartition, $0.offset) })
        for offset in rest.offsets {
            #expect(offset.offset >= (committedStart[offset.topicPartition] ?? 0))
        }
        await second.close()
    }

    @Test("a paused partition delivers nothing until resumed")
    func pauseAndResume() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: testLogger("cluster"))
        try cluster.createTopic("pause", partitions: 1)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: testLogger("producer"))
        try await produceAll(producer, makeMessages(topic: "pause", count: 10))
        let consumer = try KafkaConsumer(
            configuration: consumerConfiguration(cluster, group: "pause-group", topics: ["pause"]), logger: testLogger("c"))
        let count = Atomic<Int>(0)
        let task = Task {
            for await event in consumer.events {
                if case .message = event { count.add(1, ordering: .relaxed) }
            }
        }
        try await withTimeout(30, "first ten") {
            while count.load(ordering: .relaxed) < 10 { try await Task.sleep(for: .milliseconds(20)) }
        }
        let partition = TopicPartition(topic: "pause", partition: 0)
        try consumer.pause([partition])
        try await produceAll(producer, makeMessages(topic: "pause", count: 10, from: 10))
        try await Task.sleep(for: .seconds(2))
        #expect(count.load(ordering: .relaxed) == 10, "nothing arrives while paused")
        try consumer.resume([partition])
        try await withTimeout(30, "the rest after resume") {
            while count.load(ordering: .relaxed) < 20 { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(count.load(ordering: .relaxed) == 20)
        await consumer.close()
        _ = await task.result
        await producer.close()
    }

    @Test("a small buffer pauses and resumes by itself without losing or repeating messages")
    func boundedBuffer() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: testLogger("cluster"))
        try cluster.createTopic("flow", partitions: 2)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: testLogger("producer"))
        try await produceAll(producer, makeMessages(topic: "flow", count: 5_000))
        await producer.close()
        var configuration = consumerConfiguration(cluster, group: "flow-group", topics: ["flow"])
        configuration.maxBufferedMessages = 100
        configuration.pollBatchSize = 50
        let consumer = try KafkaConsumer(configuration: configuration, logger: testLogger("c"))
        let seen = try await withTimeout(60, "slow reader") {
            var seen = Seen()
            for await event in consumer.events {
                guard case .message(let message) = event else { continue }
                seen.add(message)
                if seen.offsets.count % 500 == 0 { try await Task.sleep(for: .milliseconds(30)) }
                if seen.offsets.count == 5_000 { break }
            }
            return seen
        }
        #expect(seen.offsets.count == 5_000)
        #expect(seen.duplicates == 0)
        await consumer.close()
    }

    @Test("a broker set down and up again loses nothing")
    func brokerDownAndUp() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 3, logger: testLogger("cluster"))
        try cluster.createTopic("outage", partitions: 3, replicationFactor: 3)
        for p in 0..<3 { try cluster.setPartitionLeader(topic: "outage", partition: Int32(p), broker: Int32(p + 1)) }
        try cluster.setCoordinator(keyType: "group", key: "outage-group", broker: 1)
        var producerConfiguration = KafkaProducerConfiguration(bootstrapServers: [cluster.bootstrapServers])
        producerConfiguration.client.properties["retry.backoff.ms"] = "100"
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: testLogger("producer"))
        var configuration = consumerConfiguration(cluster, group: "outage-group", topics: ["outage"])
        // Small prefetch, so the outage is felt rather than hidden by buffered data.
        configuration.client.properties["queued.min.messages"] = "200"
        configuration.client.properties["queued.max.messages.kbytes"] = "128"
        configuration.client.properties["max.partition.fetch.bytes"] = "32768"
        let consumer = try KafkaConsumer(configuration: configuration, logger: testLogger("c"))
        let all = Shared(Seen())
        let task = Task {
            for await event in consumer.events {
                if case .message(let message) = event { all.withLock { $0.add(message) } }
                if case .revoked(_, let revocation, _) = event { revocation.done(committing: []) }
            }
        }
        try await produceAll(producer, makeMessages(topic: "outage", count: 3_000))
        // Partition 1's leader goes away while more is produced, then comes back.
        try cluster.setBrokerDown(2)
        let during = Task { try await produceAll(producer, makeMessages(topic: "outage", count: 3_000, from: 3_000)) }
        try await Task.sleep(for: .seconds(3))
        try cluster.setBrokerUp(2)
        try await during.value
        try await withTimeout(60, "all 6,000 after the outage") {
            while all.withLock({ Set($0.values).count }) < 6_000 { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(all.withLock { Set($0.values).count } == 6_000)
        await consumer.close()
        _ = await task.result
        await producer.close()
    }
}

/// Records what each consumer of a group saw; commits on revocation.
final class GroupRecorder: Sendable {
    let all = Shared(Seen())
    let assignments = Shared<[String: [TopicPartition]]>([:])
    let revocations = Atomic<Int>(0)

    func run(_ name: String, _ consumer: KafkaConsumer) async throws {
        var mine = Seen()
        for await event in consumer.events {
            switch event {
            case .message(let message):
                mine.add(message)
                all.withLock { $0.add(message) }
            case .assigned(let partitions):
                assignments.withLock { $0[name] = partitions }
            case .revoked(_, let revocation, let lost):
                // Finish, then have what was read committed inside the rebalance.
                revocations.add(1, ordering: .relaxed)
                revocation.done(committing: lost ? [] : mine.commitOffsets)
            case .error:
                break
            }
        }
    }
}
