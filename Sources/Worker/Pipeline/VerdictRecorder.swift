import Contract
import Foundation
import Kafka
import Logging
import Store

/// Group commit and publication. Lanes hand in decisions (and re-emissions);
/// one loop writes many decisions per transaction, then hands the verdicts to
/// the producer in the order they came in, so verdicts of one key stay in order.
/// Outbox rows are cleared once Kafka confirms delivery.
final class VerdictRecorder: Sendable {
    struct Item: Sendable {
        enum Kind: Sendable {
            case decision(DecisionRecord)
            case reemit(PublishableVerdict)
        }
        var kind: Kind
        var consumedAt: Date?
        /// Called when the item is durable: a decision committed with its outbox
        /// row, a re-emission delivered. Its offset may then be committed.
        var onDurable: @Sendable () -> Void
        /// Resumed once the item is handed to the producer, in order.
        var handedOver: CheckedContinuation<Void, Never>
    }

    private let queue = BatchQueue<Item>()
    private let store: VerificationStore
    private let producer: KafkaProducer
    private let configuration: WorkerConfiguration
    private let metrics: WorkerMetrics
    private let logger: Logger
    private let deliveries = BatchQueue<Task<Void, Never>>()

    init(store: VerificationStore, producer: KafkaProducer, configuration: WorkerConfiguration, metrics: WorkerMetrics, logger: Logger) {
        self.store = store
        self.producer = producer
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
    }

    /// Records a decision; returns once it is committed and handed to the producer.
    func record(_ record: DecisionRecord, consumedAt: Date?, onDurable: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { continuation in
            // After shutdown nothing is recorded: the request stays unfinished and is read again.
            if !queue.push(Item(kind: .decision(record), consumedAt: consumedAt, onDurable: onDurable, handedOver: continuation)) {
                continuation.resume()
            }
        }
    }

    /// Publishes a stored verdict again, in order with the lane's other verdicts.
    func reemit(_ verdict: PublishableVerdict, onDurable: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { continuation in
            if !queue.push(Item(kind: .reemit(verdict), consumedAt: nil, onDurable: onDurable, handedOver: continuation)) {
                continuation.resume()
            }
        }
    }

    /// Runs until `finish()` and everything queued is written and delivered.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.awaitDeliveries() }
            while true {
                let batch = await queue.takeBatch(max: configuration.groupCommitBatch)
                if batch.isEmpty { break }
                await write(batch)
            }
            deliveries.finish()
        }
    }

    /// No more items: `run` returns after writing and delivering what is queued.
    func finish() { queue.finish() }

    var queued: Int { queue.count }

    private func write(_ batch: [Item]) async {
        let decisions = batch.compactMap { item -> DecisionRecord? in
            if case .decision(let record) = item.kind { return record }
            return nil
        }
        var recorded: [RecordedVerdict] = []
        var wait = 0.05
        while true {
            do {
                recorded = try await store.record(
                    decisions, verdictTopic: configuration.topics.verdicts, cloudEventSource: configuration.cloudEventSource)
                break
            } catch {
                if Task.isCancelled {
                    // Shutting down: these stay unrecorded and their offsets uncommitted,
                    // so they are read again after the restart. Let the lanes go.
                    for item in batch { item.handedOver.resume() }
                    return
                }
                // Nothing is lost: the lanes wait, offsets stay uncommitted. Try again.
                logger.error("recording verdicts failed; retrying", metadata: ["worker.error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(Int64(wait * 1000)))
                wait = min(wait * 2, 5)
            }
        }
        var next = recorded.makeIterator()
        var messages: [KafkaOutgoingMessage] = []
        var after: [(outboxID: Int64?, channel: String, outcome: String, consumedAt: Date?, onDurable: @Sendable () -> Void)] = []
        messages.reserveCapacity(batch.count)
        for item in batch {
            switch item.kind {
            case .decision:
                let result = next.next()!
                item.onDurable()
                messages.append(outgoing(result.verdict))
                after.append((result.outboxID, result.channel, result.outcome, item.consumedAt, {}))
            case .reemit(let verdict):
                messages.append(outgoing(verdict))
                after.append((nil, "", "", nil, item.onDurable))
            }
        }
        let pending = producer.enqueue(messages)
        for item in batch { item.handedOver.resume() }
        let store = self.store
        let metrics = self.metrics
        let logger = self.logger
        deliveries.push(
            Task {
                let reports = await pending.reports()
                var delivered: [Int64] = []
                for (report, entry) in zip(reports, after) {
                    if let error = report.error {
                        // The outbox row stays; the relay publishes it again later.
                        logger.warning("verdict delivery failed", metadata: ["worker.error": "\(error)"])
                        continue
                    }
                    if let id = entry.outboxID {
                        delivered.append(id)
                        metrics.verdictPublished(channel: entry.channel, outcome: entry.outcome, consumedAt: entry.consumedAt)
                    }
                    entry.onDurable()
                }
                do {
                    try await store.clearOutbox(delivered)
                } catch {
                    logger.warning("clearing the outbox failed; rows will be published again", metadata: ["worker.error": "\(error)"])
                }
            })
    }

    private func awaitDeliveries() async {
        while true {
            let tasks = await deliveries.takeBatch(max: 1_000)
            if tasks.isEmpty { return }
            for task in tasks { await task.value }
        }
    }

    private func outgoing(_ verdict: PublishableVerdict) -> KafkaOutgoingMessage {
        KafkaOutgoingMessage(
            topic: configuration.topics.verdicts, key: verdict.messageKey, value: verdict.value,
            headers: verdict.headers.map { KafkaHeader(name: $0.name, value: $0.value) })
    }
}
