import ArgumentParser
import CKafkaBench
import Foundation
import Kafka
import Logging

/// `idverify bench kafka`: the Swift Kafka layer beside librdkafka's C client,
/// on the same embedded broker, in one run.
struct BenchKafkaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka",
        abstract: "Produce and consume throughput of the Swift Kafka layer vs librdkafka's C client."
    )

    @Option(help: "Messages per run.") var messages: Int = 500_000
    @Option(help: "Value size in bytes.") var size: Int = 100
    @Option(help: "Partitions (keep each under the mock's ~5 MiB retention).") var partitions: Int = 32
    @Option(help: "Messages per Swift send() batch.") var batch: Int = 10_000
    @Option(help: "Swift send() batches in flight at once.") var inFlight: Int = 4
    @Option(help: "Runs of each measurement; the best is reported.") var runs: Int = 3

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: logger)
        let brokers = cluster.bootstrapServers
        print("embedded broker \(brokers); \(messages) messages of \(size) B, \(partitions) partitions, best of \(runs)")

        var cProduce = 0.0, swiftProduce = 0.0, cConsume = 0.0, swiftConsume = 0.0
        for run in 0..<runs {
            let cTopic = "bench-c-\(run)", swiftTopic = "bench-swift-\(run)"
            try cluster.createTopic(cTopic, partitions: partitions)
            try cluster.createTopic(swiftTopic, partitions: partitions)

            let cSeconds = ckb_produce(brokers, cTopic, Int64(messages), Int32(size), 1)
            guard cSeconds > 0 else { throw ValidationError("C produce failed") }
            cProduce = max(cProduce, Double(messages) / cSeconds)

            let swiftSeconds = try await produceSwift(brokers: brokers, topic: swiftTopic, logger: logger)
            swiftProduce = max(swiftProduce, Double(messages) / swiftSeconds)

            try await checkStored(cluster: cluster, topic: swiftTopic, logger: logger)

            let cConsumeSeconds = ckb_consume(brokers, cTopic, "bench-c-group-\(run)", Int64(messages))
            guard cConsumeSeconds > 0 else { throw ValidationError("C consume failed") }
            cConsume = max(cConsume, Double(messages) / cConsumeSeconds)

            let swiftConsumeSeconds = try await consumeSwift(brokers: brokers, topic: cTopic, group: "bench-swift-group-\(run)", logger: logger)
            swiftConsume = max(swiftConsume, Double(messages) / swiftConsumeSeconds)
        }
        func row(_ name: String, _ c: Double, _ swift: Double) {
            print(String(format: "%-8@ C %10.0f msg/s   Swift %10.0f msg/s   Swift/C %5.1f%%", name as NSString, c, swift, 100 * swift / c))
        }
        row("produce", cProduce, swiftProduce)
        row("consume", cConsume, swiftConsume)
    }

    private func produceSwift(brokers: String, topic: String, logger: Logger) async throws -> Double {
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: [brokers]), logger: logger)
        let value = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        let keys = (0..<1000).map { Array("k\($0)".utf8) }
        let batches = stride(from: 0, to: messages, by: batch).map { start in
            (start..<min(start + batch, messages)).map { i in
                KafkaOutgoingMessage(topic: topic, key: keys[i % 1000], value: value)
            }
        }
        let start = ContinuousClock.now
        let failures = await withTaskGroup(of: Int.self) { group in
            var next = 0
            var failures = 0
            for _ in 0..<min(inFlight, batches.count) {
                let slice = batches[next]
                next += 1
                group.addTask { await producer.send(slice).filter { $0.error != nil }.count }
            }
            for await failed in group {
                failures += failed
                if next < batches.count {
                    let slice = batches[next]
                    next += 1
                    group.addTask { await producer.send(slice).filter { $0.error != nil }.count }
                }
            }
            return failures
        }
        let elapsed = start.duration(to: .now)
        await producer.close()
        guard failures == 0 else { throw ValidationError("\(failures) Swift deliveries failed") }
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    private func checkStored(cluster: EmbeddedKafkaCluster, topic: String, logger: Logger) async throws {
        let consumer = try KafkaConsumer(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers], groupID: "bench-check", topics: []),
            logger: logger)
        var total: Int64 = 0
        for p in 0..<partitions {
            let marks = try await consumer.watermarks(TopicPartition(topic: topic, partition: Int32(p)))
            total += marks.high - marks.low
        }
        await consumer.close()
        guard total == Int64(messages) else {
            throw ValidationError("the broker holds \(total) of \(messages): raise --partitions (mock retention)")
        }
    }

    private func consumeSwift(brokers: String, topic: String, group: String, logger: Logger) async throws -> Double {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: [brokers], groupID: group, topics: [topic])
        configuration.maxBufferedMessages = 50_000
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        var iterator = consumer.events.makeAsyncIterator()
        var count = 0
        var start: ContinuousClock.Instant?
        var bytes = 0
        while count < messages {
            let events = await iterator.nextBatch()
            if events.isEmpty { break }
            for event in events {
                if case .message(let message) = event {
                    if start == nil { start = .now }
                    bytes &+= message.value.count
                    count += 1
                }
            }
        }
        let elapsed = (start ?? .now).duration(to: .now)
        await consumer.close()
        guard count >= messages else { throw ValidationError("Swift consumed only \(count)") }
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
