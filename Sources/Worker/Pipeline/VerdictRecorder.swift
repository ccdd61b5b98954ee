import Contract
import Foundation
import Kafka
import Logging
import Store

/// Group commit and publication. Lanes hand in decisions (and re-emissions);
/// one loop writes many decisions per transaction, then hands the verdicts to
/// the producer in the order they came in, so verdicts of one key stay in order.
///
/// A consumed message's verdict has no outbox row: its offset becomes committable
/// (`onDurable`) only when Kafka confirms delivery, and a delivery that fails is sent
/// again in process until it succeeds or the worker stops (then the offset stays
/// uncommitted and the message, read again, gets its stored verdict re-emitted).
/// A parked check's verdict has an outbox row, cleared once Kafka confirms delivery
/// (the outbox relay publishes it if that never comes). See docs/worker.md, "Outbox".
final class VerdictRecorder: Sendable {
    /// A class: items pass through the queue, the write and the publish, and copying the decision
    /// record (a dozen references) at each step cost about 1 % of the worker's CPU in a burst.
    ///
    /// `@unchecked Sendable` for ``record`` alone: the lane that makes the item sets it, and the
    /// recorder's loop takes it out once (a move, not a copy), after the queue's lock handed the
    /// item over; nothing else touches it.
    final class Item: @unchecked Sendable {
        enum Kind: Sendable {
            case decision
            case reemit(PublishableVerdict)
        }
        let kind: Kind
        private var record: DecisionRecord?
        let consumedAt: Date?
        /// Called when the item's verdict is safe: delivered by Kafka, or (a parked
        /// check's, which has an outbox row) committed. Its offset may then be committed.
        let onDurable: @Sendable () -> Void
        /// Resumed once the item is handed to the producer, in order (or refused).
        let handedOver: CheckedContinuation<RecordResult, Never>

        init(
            kind: Kind, record: consuming DecisionRecord? = nil, consumedAt: Date?, onDurable: @escaping @Sendable () -> Void,
            handedOver: CheckedContinuation<RecordResult, Never>
        ) {
            self.kind = kind
            self.record = record
            self.consumedAt = consumedAt
            self.onDurable = onDurable
            self.handedOver = handedOver
        }

        /// The decision's record, moved out (the recorder's loop only, once).
        func takeRecord() -> DecisionRecord? { record.take() }
    }

    /// What became of an item handed in.
    enum RecordResult: Sendable {
        /// Committed (for a decision) and handed to the producer, in order.
        case handedOver
        /// Not recorded: shutting down. Its offset stays uncommitted; it is read again after the restart.
        case notRecorded
        /// The database refused its values: it will never be recorded; the caller dead-letters the message.
        case refused
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

    /// Records a decision; returns once it is committed and handed to the producer, or refused.
    @discardableResult
    func record(_ record: consuming DecisionRecord, consumedAt: Date?, onDurable: @escaping @Sendable () -> Void) async -> RecordResult {
        // Moved into the item, not copied (see ``Item``).
        var handed: DecisionRecord? = consume record
        return await withCheckedContinuation { continuation in
            // After shutdown nothing is recorded: the request stays unfinished and is read again.
            let item = Item(kind: .decision, record: handed.take(), consumedAt: consumedAt, onDurable: onDurable, handedOver: continuation)
            if !queue.push(item) {
                continuation.resume(returning: .notRecorded)
            }
        }
    }

    /// Publishes a stored verdict again, in order with the lane's other verdicts.
    func reemit(_ verdict: PublishableVerdict, onDurable: @escaping @Sendable () -> Void) async {
        _ = await withCheckedContinuation { continuation in
            if !queue.push(Item(kind: .reemit(verdict), consumedAt: nil, onDurable: onDurable, handedOver: continuation)) {
                continuation.resume(returning: .notRecorded)
            }
        }
    }

    /// Runs until `finish()` and everything queued is written and delivered.
    ///
    /// A group commit starts at least ``WorkerConfiguration/groupCommitInterval`` after the one
    /// before it started, unless a full batch is waiting: at a moderate rate each transaction then
    /// carries more decisions, and the fixed cost of one (four round trips and a WAL flush) is paid
    /// less often. A burst is not slowed: its commits take longer than the interval.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.awaitDeliveries() }
            var lastStarted: ContinuousClock.Instant?
            while true {
                if let lastStarted, queue.count < configuration.groupCommitBatch {
                    let due = lastStarted + configuration.groupCommitInterval
                    if due > .now { try? await Task.sleep(until: due) }
                }
                let batch = await queue.takeBatch(max: configuration.groupCommitBatch)
                if batch.isEmpty { break }
                lastStarted = .now
                await write(batch)
            }
            deliveries.finish()
        }
    }

    /// No more items: `run` returns after writing and delivering what is queued.
    func finish() { queue.finish() }

    var queued: Int { queue.count }

    private func write(_ batch: [Item]) async {
        await write(batch, decisions: batch.compactMap { $0.takeRecord() })
    }

    /// Writes `batch`, whose decisions' records are `decisions` (taken out of the items, in order).
    private func write(_ batch: [Item], decisions: [DecisionRecord]) async {
        let started = ContinuousClock.now
        let outcome = await retrying("recording verdicts", logger: logger) {
            try await self.store.record(
                decisions, verdictTopic: self.configuration.topics.verdicts, cloudEventSource: self.configuration.cloudEventSource)
        }
        switch outcome {
        case .success(let recorded):
            metrics.groupCommitted(ContinuousClock.now - started)
            publish(batch, recorded)
        case .cancelled:
            // Shutting down: these stay unrecorded and their offsets uncommitted,
            // so they are read again after the restart. Let the lanes go.
            for item in batch { item.handedOver.resume(returning: .notRecorded) }
        case .permanent:
            // One of them carries a value the database refuses: find it by halving, so that the
            // others are recorded (in order) and only the refused ones are handed back.
            if batch.count == 1 {
                batch[0].handedOver.resume(returning: .refused)
                return
            }
            let half = batch.count / 2
            let decided = batch[..<half].reduce(0) { count, item in
                if case .decision = item.kind { return count + 1 }
                return count
            }
            await write(Array(batch[..<half]), decisions: Array(decisions[..<decided]))
            await write(Array(batch[half...]), decisions: Array(decisions[decided...]))
        }
    }

    /// What to do once one verdict of a batch is delivered.
    private struct Delivery: Sendable {
        /// The verdict's outbox row, cleared on delivery.
        var outboxID: Int64?
        /// For a decision: its labels for the published-verdicts metric.
        var metric: (channel: String, outcome: String, consumedAt: Date?)?
        var onDelivered: @Sendable () -> Void
    }

    /// Hands a recorded batch to the producer, in order; settles each verdict on delivery.
    private func publish(_ batch: [Item], _ recorded: [RecordedVerdict]) {
        var next = recorded.makeIterator()
        var messages: [KafkaOutgoingMessage] = []
        var settlements: [Delivery] = []
        messages.reserveCapacity(batch.count)
        settlements.reserveCapacity(batch.count)
        for item in batch {
            switch item.kind {
            case .decision:
                let result = next.next()!
                messages.append(outgoing(result.verdict))
                let metric = (result.channel, result.outcome, item.consumedAt)
                if let id = result.outboxID {
                    // Its outbox row stands for it until it is delivered.
                    item.onDurable()
                    settlements.append(Delivery(outboxID: id, metric: metric, onDelivered: {}))
                } else {
                    settlements.append(Delivery(outboxID: nil, metric: metric, onDelivered: item.onDurable))
                }
            case .reemit(let verdict):
                messages.append(outgoing(verdict))
                settlements.append(Delivery(outboxID: nil, metric: nil, onDelivered: item.onDurable))
            }
        }
        let handedOver = ContinuousClock.now
        let pending = producer.enqueue(messages)
        for item in batch { item.handedOver.resume(returning: .handedOver) }
        let sent = messages
        let settling = settlements
        self.deliveries.push(Task { await self.settle(pending, sent, settling, handedOver: handedOver) })
    }

    /// Waits for a batch's delivery reports: delivered verdicts are settled; a failed one with an
    /// outbox row is left to the outbox relay; one without is sent again until delivered (or the
    /// worker stops: its offset then stays uncommitted and the message is read again).
    private func settle(
        _ pending: KafkaPendingDelivery, _ messages: [KafkaOutgoingMessage], _ deliveries: [Delivery], handedOver: ContinuousClock.Instant
    ) async {
        var reports = await pending.reports()
        metrics.delivered(handedOver: handedOver)
        var waiting = Array(zip(messages, deliveries))
        var delivered: [Int64] = []
        var backoff = Backoff()
        while true {
            var failed: [(KafkaOutgoingMessage, Delivery)] = []
            for (report, entry) in zip(reports, waiting) {
                if let error = report.error {
                    logger.warning("verdict delivery failed", metadata: ["worker.error": "\(error)"])
                    // With an outbox row, the relay publishes it again later.
                    if entry.1.outboxID == nil { failed.append(entry) }
                    continue
                }
                if let id = entry.1.outboxID { delivered.append(id) }
                if let metric = entry.1.metric {
                    metrics.verdictPublished(channel: metric.channel, outcome: metric.outcome, consumedAt: metric.consumedAt)
                }
                entry.1.onDelivered()
            }
            if failed.isEmpty { break }
            try? await Task.sleep(for: backoff.next())
            if Task.isCancelled {
                logger.warning(
                    "verdicts undelivered at shutdown; their messages are read again after the restart",
                    metadata: ["worker.count": "\(failed.count)"])
                break
            }
            waiting = failed
            reports = await producer.send(failed.map(\.0))
        }
        do {
            try await store.clearOutbox(delivered)
        } catch {
            logger.warning("clearing the outbox failed; rows will be published again", metadata: ["worker.error": "\(error)"])
        }
    }

    private func awaitDeliveries() async {
        while true {
            let tasks = await deliveries.takeBatch(max: 1_000)
            if tasks.isEmpty { return }
            for task in tasks {
                // The recorder is cancelled when shutdown runs out of time: so are deliveries still retried.
                await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
            }
        }
    }

    private func outgoing(_ verdict: PublishableVerdict) -> KafkaOutgoingMessage {
        KafkaOutgoingMessage(
            topic: configuration.topics.verdicts, key: verdict.messageKey, value: verdict.value,
            headers: verdict.headers.map { KafkaHeader(name: $0.name, value: $0.value) })
    }
}
