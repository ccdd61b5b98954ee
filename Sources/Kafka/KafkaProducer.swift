import CRdKafka
import Logging
import Synchronization

/// Sends messages to Kafka through librdkafka.
///
/// `send(_:)` takes a batch and suspends once until every message of it has a
/// delivery report: one continuation per batch, not per message, keeps the
/// producer fast. A dedicated thread (``ProducerSender``) hands the batches to
/// librdkafka in the order they came and serves the delivery reports.
public final class KafkaProducer: Sendable {
    private let handle: RDKafkaHandle
    private let context: ProducerContext
    private let sender: ProducerSender
    private let senderThread: PollThread
    private let blocking: BlockingCalls
    private let closed = Atomic<Bool>(false)
    private let logger: Logger

    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws(KafkaError) {
        let context = ProducerContext(logger: logger)
        self.handle = try RDKafkaHandle(
            kind: .producer, properties: configuration.rdkafkaProperties, context: context
        ) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf, ProducerContext.deliveryCallback)
            rd_kafka_conf_set_log_cb(conf, RDKafkaLogBridge.callback)
        }
        self.context = context
        self.logger = logger
        self.blocking = BlockingCalls()
        let sender = ProducerSender(handle: handle)
        self.sender = sender
        self.senderThread = PollThread(name: "kafka-producer") { sender.runOnce() }
    }

    deinit {
        senderThread.stop()
        sender.wake()
    }

    /// Sends a batch and returns one report per message, in the same order.
    /// Never throws: a message that failed carries its error in its report.
    /// When librdkafka's queue (`queue.buffering.max.messages`) is full, the
    /// batch waits for room.
    public func send(_ messages: [KafkaOutgoingMessage]) async -> [KafkaDeliveryReport] {
        if messages.isEmpty { return [] }
        let batch = DeliveryBatch(count: messages.count)
        guard sender.submit(.batch(messages, batch)) else {
            batch.abandon()
            return closedReports(messages)
        }
        await batch.wait()
        return batch.reports(for: messages)
    }

    /// Hands a batch over without suspending; batches handed over one after
    /// another (with this or `send`) reach librdkafka in that order. The reports
    /// come later through the returned handle.
    public func enqueue(_ messages: [KafkaOutgoingMessage]) -> KafkaPendingDelivery {
        if messages.isEmpty { return KafkaPendingDelivery(batch: nil, messages: messages, immediate: []) }
        let batch = DeliveryBatch(count: messages.count)
        guard sender.submit(.batch(messages, batch)) else {
            batch.abandon()
            return KafkaPendingDelivery(batch: nil, messages: messages, immediate: closedReports(messages))
        }
        return KafkaPendingDelivery(batch: batch, messages: messages, immediate: [])
    }

    private func closedReports(_ messages: [KafkaOutgoingMessage]) -> [KafkaDeliveryReport] {
        let error = KafkaError(code: .closed, reason: "producer is closed")
        return messages.map { KafkaDeliveryReport(topic: $0.topic, partition: $0.partition ?? -1, offset: -1, error: error) }
    }

    /// Sends one message and throws when it is not delivered.
    @discardableResult
    public func send(_ message: KafkaOutgoingMessage) async throws(KafkaError) -> KafkaDeliveryReport {
        let report = await send([message])[0]
        if let error = report.error { throw error }
        return report
    }

    /// Waits until every queued message is delivered or `timeoutMilliseconds` pass.
    public func flush(timeoutMilliseconds: Int32 = 30_000) async throws(KafkaError) {
        let handle = self.handle
        let err: rd_kafka_resp_err_t
        do {
            err = try await blocking.run { rd_kafka_flush(handle.pointer, timeoutMilliseconds) }
        } catch {
            throw KafkaError(code: .closed, reason: "producer is closed")
        }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError.rdkafka(err, code: .timedOut, context: "flush")
        }
    }

    /// Hands over what `send` and `enqueue` accepted, flushes it, then stops
    /// the sender thread. Idempotent; sends after it fail with `.closed`.
    public func close(flushTimeoutMilliseconds: Int32 = 30_000) async {
        if closed.exchange(true, ordering: .acquiringAndReleasing) { return }
        await sender.close()
        do {
            try await flush(timeoutMilliseconds: flushTimeoutMilliseconds)
        } catch {
            logger.warning("producer closed with messages still queued", metadata: ["kafka.error": "\(error)"])
        }
        senderThread.stop()
        sender.wake()
        await senderThread.join(on: blocking)
        await blocking.shutdown()
    }

    /// Messages still queued or in flight inside librdkafka.
    public var queueLength: Int { Int(rd_kafka_outq_len(handle.pointer)) }
}

/// The producer's opaque for librdkafka callbacks.
final class ProducerContext: RDKafkaCallbackContext, @unchecked Sendable {
    /// Runs on the poll thread for every message: records the outcome in the
    /// message's slot and completes the batch after its last report.
    static let deliveryCallback:
        @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
            _, message, _ in
            guard let message, let opaque = message.pointee._private else { return }
            DeliveryBatch.record(
                slot: opaque, partition: message.pointee.partition, offset: message.pointee.offset,
                error: message.pointee.err.rawValue
            )
        }
}

/// Delivery reports still to come for a batch handed over with `enqueue`.
public struct KafkaPendingDelivery: Sendable {
    let batch: DeliveryBatch?
    let messages: [KafkaOutgoingMessage]
    let immediate: [KafkaDeliveryReport]

    /// One report per message, in order, once all have arrived.
    public func reports() async -> [KafkaDeliveryReport] {
        guard let batch else { return immediate }
        await batch.wait()
        return batch.reports(for: messages)
    }
}

