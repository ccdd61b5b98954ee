import ArgumentParser
import CKafkaBench
import Foundation
import Kafka
import Logging

/// `idverify-bench kafka`: the Swift Kafka layer beside librdkafka's C client,
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
    // 10 × 10,000 = librdkafka's default queue.buffering.max.messages (100,000), the most
    // messages the C loop keeps outstanding: both sides then produce at the same depth.
    @Option(help: "Swift send() batches in flight at once.") var inFlight: Int = 10
    @Option(help: "Runs of each measurement; the best is reported.") var runs: Int = 5
    @Option(help: "Producers to run: both, c or swift (one side alone is for profiling).") var producers: String = "both"
    @Option(help: "Consumers to run: both, c, swift or none (one side alone is for profiling).") var consumers: String = "both"
    @Flag(help: "Per run: when each consume ran (CLOCK_MONOTONIC, for `perf report --time`) and its stalls.")
    var verbose = false
    @Option(help: "Log level of the Kafka clients (debug shows the consumer's flow control).") var logLevel: String = "error"

    func validate() throws {
        guard ["both", "c", "swift"].contains(producers) else { throw ValidationError("--producers: both, c or swift") }
        guard ["both", "c", "swift", "none"].contains(consumers) else { throw ValidationError("--consumers: both, c, swift or none") }
        // Both consumers read what the C producer wrote.
        guard consumers == "none" || producers != "swift" else { throw ValidationError("--consumers needs the C producer: add --consumers none") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: trace, debug, info, … critical") }
    }

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .error
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: logger)
        let brokers = cluster.bootstrapServers
        print("embedded broker \(brokers); \(messages) messages of \(size) B, \(partitions) partitions, best of \(runs)")

        var cProduce = 0.0, swiftProduce = 0.0, cConsume = 0.0, swiftConsume = 0.0
        // Swift/C within each run: the two sides run right after each other, so the VM's speed,
        // which drifts by a factor of two between runs here, mostly cancels out.
        var produceRatios: [Double] = [], consumeRatios: [Double] = []
        for run in 0..<runs {
            let cTopic = "bench-c-\(run)", swiftTopic = "bench-swift-\(run)"
            try cluster.createTopic(cTopic, partitions: partitions)
            try cluster.createTopic(swiftTopic, partitions: partitions)

            var cSeconds = Double.infinity, swiftSeconds = Double.infinity
            if producers != "swift" {
                cSeconds = ckb_produce(brokers, cTopic, Int64(messages), Int32(size), 1)
                guard cSeconds > 0 else { throw ValidationError("C produce failed") }
                cProduce = max(cProduce, Double(messages) / cSeconds)
            }
            if producers != "c" {
                swiftSeconds = try await produceSwift(brokers: brokers, topic: swiftTopic, logger: logger)
                swiftProduce = max(swiftProduce, Double(messages) / swiftSeconds)
                try await checkStored(cluster: cluster, topic: swiftTopic, logger: logger)
            }

            // Both read the same messages (the C topic) with the same settings;
            // the order alternates so that neither always goes first.
            var c = ckb_consume_stats(), swift = ckb_consume_stats()
            var cRate = 0.0, swiftRate = 0.0
            for side in run % 2 == 0 ? ["c", "swift"] : ["swift", "c"] where consumers == "both" || consumers == side {
                if side == "c" {
                    let seconds = ckb_consume(brokers, cTopic, "bench-c-group-\(run)", Int64(messages), &c)
                    guard seconds > 0 else { throw ValidationError("C consume failed") }
                    cRate = Double(messages) / seconds
                } else {
                    swift = try await consumeSwift(
                        brokers: brokers, topic: cTopic, group: "bench-swift-group-\(run)", logger: logger)
                    swiftRate = Double(messages) / (swift.end - swift.start)
                }
            }
            if consumers == "both" && c.checksum != swift.checksum {
                throw ValidationError("C and Swift read different contents (checksums \(c.checksum), \(swift.checksum))")
            }
            if cSeconds.isFinite && swiftSeconds.isFinite { produceRatios.append(cSeconds / swiftSeconds) }
            if cRate > 0 && swiftRate > 0 { consumeRatios.append(swiftRate / cRate) }
            cConsume = max(cConsume, cRate)
            swiftConsume = max(swiftConsume, swiftRate)
            print(String(
                format: "run %d: produce C %.0f Swift %.0f msg/s; consume C %.0f Swift %.0f msg/s (%.1f%%)",
                run + 1, Double(messages) / cSeconds, Double(messages) / swiftSeconds, cRate, swiftRate,
                cRate > 0 ? 100 * swiftRate / cRate : 0))
            if verbose {
                for (name, stats) in [("C", c), ("Swift", swift)] where stats.end > 0 {
                    print(String(
                        format: "  %@ consume: monotonic %.3f to %.3f, %d stalls over 50 ms, %.3f s in all",
                        name as NSString, stats.start, stats.end, stats.stalls, stats.stalled_seconds))
                }
            }
        }
        func row(_ name: String, _ c: Double, _ swift: Double) {
            print(String(format: "%-8@ C %10.0f msg/s   Swift %10.0f msg/s   Swift/C %5.1f%%", name as NSString, c, swift, 100 * swift / c))
        }
        row("produce", cProduce, swiftProduce)
        row("consume", cConsume, swiftConsume)
        func median(_ ratios: [Double]) -> String {
            guard !ratios.isEmpty else { return "-" }
            return String(format: "%.1f%%", 100 * ratios.sorted()[ratios.count / 2])
        }
        print("Swift/C run by run, median: produce \(median(produceRatios)), consume \(median(consumeRatios))")
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

    /// Reads every field an application would (as the C side does), folded
    /// into the same checksum; times and stalls as the C side measures them.
    private func consumeSwift(brokers: String, topic: String, group: String, logger: Logger) async throws -> ckb_consume_stats {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: [brokers], groupID: group, topics: [topic])
        configuration.maxBufferedMessages = 50_000
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        var iterator = consumer.events.makeAsyncIterator()
        var count = 0
        var stats = ckb_consume_stats()
        while count < messages {
            let events = await iterator.nextBatch()
            if events.isEmpty { break }
            let arrived = ckb_now()
            let before = count
            for event in events {
                if case .message(let message) = event {
                    stats.checksum &+= Self.touch(message)
                    count += 1
                }
            }
            if count == before { continue }
            if before == 0 {
                stats.start = arrived
            } else if arrived - stats.end > 0.05 {
                stats.stalls += 1
                stats.stalled_seconds += arrived - stats.end
            }
            stats.end = ckb_now()
        }
        await consumer.close()
        guard count >= messages else { throw ValidationError("Swift consumed only \(count)") }
        return stats
    }

    /// The C side's `touch` in bench.c, over a `KafkaMessage`.
    private static func touch(_ m: KafkaMessage) -> UInt64 {
        var sum = UInt64(bitPattern: Int64(m.partition)) &+ UInt64(bitPattern: m.offset)
        sum &+= UInt64(m.value.count) &+ UInt64(m.key?.count ?? 0)
        sum &+= UInt64(bitPattern: m.timestampMilliseconds)
        sum &+= UInt64(m.topic.utf8.first ?? 0)
        if let first = m.value.first, let last = m.value.last { sum &+= UInt64(first) &+ UInt64(last) }
        if let key = m.key, let first = key.first { sum &+= UInt64(first) }
        for header in m.headers {
            sum &+= UInt64(header.name.utf8.first ?? 0) &+ UInt64(header.value?.count ?? 0)
        }
        return sum
    }
}
