import Contract
import Foundation
import Kafka
import Ops
import Prometheus
import Testing

/// Lag as the sampler exports it, against the real broker: it rises while nothing consumes and
/// falls to zero once a consumer in the worker's group catches up and commits.
@Suite("Consumer lag")
struct LagTests {
    static func requests(_ topic: String, count: Int, from start: Int = 0) -> [KafkaOutgoingMessage] {
        (start..<(start + count)).map { i in
            KafkaOutgoingMessage(topic: topic, key: Array("desk-\(i % 7)".utf8), value: Array(#"{"requestId":"r-\#(i)"}"#.utf8))
        }
    }

    static func gaugeValue(_ text: String, _ name: String, topic: String, partition: Int32) -> Double? {
        let prefix = "\(name){topic=\"\(topic)\",partition=\"\(partition)\"} "
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return nil }
        return Double(line.dropFirst(prefix.count))
    }

    @Test("lag in messages and seconds rises while the worker is paused and falls to zero when it catches up")
    func risesAndFalls() async throws {
        let topics = TopicNames()
        let cluster = try OpsTestEnvironment.makeCluster(topics: topics, partitions: 3)
        let group = "lag-worker"
        try await OpsTestEnvironment.produce(Self.requests(topics.counter, count: 30) + Self.requests(topics.submission, count: 9), to: cluster)

        let prometheus = PrometheusCollectorRegistry()
        let source = try KafkaConsumerGroupLag(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers], groupID: group, topics: topics.requestTopics),
            logger: OpsTestEnvironment.logger)
        let sampler = LagSampler(
            source: source, interval: .seconds(1), metricsFactory: PrometheusMetricsFactory(registry: prometheus),
            logger: OpsTestEnvironment.logger)

        try await Task.sleep(for: .milliseconds(1200))
        let first = try #require(await sampler.sampleOnce())
        #expect(first.count == 9, "3 request topics of 3 partitions")
        func total(_ figures: [PartitionLag], _ topic: String) -> Int64 {
            figures.filter { $0.topic == topic }.reduce(0) { $0 + $1.lagMessages }
        }
        #expect(total(first, topics.counter) == 30)
        #expect(total(first, topics.submission) == 9)
        #expect(total(first, topics.registration) == 0)
        for figure in first {
            #expect(figure.committed == nil)
            if figure.lagMessages > 0 {
                #expect((figure.lagSeconds ?? 0) >= 1.0, "\(figure)")
            } else {
                #expect(figure.lagSeconds == 0, "an idle partition is caught up, not stale: \(figure)")
            }
        }

        // The worker stays paused: more requests arrive and the oldest ones grow older.
        try await OpsTestEnvironment.produce(Self.requests(topics.counter, count: 12, from: 30), to: cluster)
        try await Task.sleep(for: .milliseconds(800))
        let second = try #require(await sampler.sampleOnce())
        #expect(total(second, topics.counter) == 42)
        for (before, after) in zip(first, second) where before.lagMessages > 0 {
            #expect((after.lagSeconds ?? 0) > (before.lagSeconds ?? 0), "\(after)")
        }
        let text = prometheus.emitToString()
        for figure in second {
            #expect(Self.gaugeValue(text, "identity_consumer_lag_messages", topic: figure.topic, partition: figure.partition) == Double(figure.lagMessages))
            #expect(Self.gaugeValue(text, "identity_consumer_lag_seconds", topic: figure.topic, partition: figure.partition) != nil)
        }

        // The sampler as a service keeps sampling in the background.
        let running = Task { try await sampler.run() }

        // A consumer of the worker's group catches up and commits.
        let worker = try KafkaConsumer(
            configuration: OpsTestEnvironment.consumerConfiguration(cluster, group: group, topics: topics.requestTopics),
            logger: OpsTestEnvironment.logger)
        var next: [TopicPartition: Int64] = [:]
        var iterator = worker.events.makeAsyncIterator()
        let deadline = ContinuousClock.now + .seconds(40)
        while next.values.reduce(0, +) < 51, ContinuousClock.now < deadline {
            for case .message(let message) in await iterator.nextBatch() {
                next[message.topicPartition] = message.offset + 1
            }
        }
        try await worker.commit(next.map { TopicPartitionOffset($0.key, offset: $0.value) })

        try await OpsTestEnvironment.eventually(20, "lag back to zero") {
            let figures = sampler.lastSample
            return figures.count == 9 && figures.allSatisfy { $0.lagMessages == 0 && $0.lagSeconds == 0 }
        }
        let caughtUp = prometheus.emitToString()
        for figure in sampler.lastSample {
            #expect(Self.gaugeValue(caughtUp, "identity_consumer_lag_messages", topic: figure.topic, partition: figure.partition) == 0)
            #expect(Self.gaugeValue(caughtUp, "identity_consumer_lag_seconds", topic: figure.topic, partition: figure.partition) == 0)
            if figure.end > 0 { #expect(figure.committed == figure.end) }
        }
        running.cancel()
        _ = await running.result
        await worker.close()
        await source.close()
    }
}
