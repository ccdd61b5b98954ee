import CRdKafka
import Glibc
import Logging
import Synchronization

/// Sends messages to Kafka through librdkafka.
///
/// `send(_:)` takes a batch and suspends once until every message of it has a
/// delivery report: one continuation per batch, not per message, keeps the
/// producer fast. A dedicated thread polls librdkafka for delivery reports.
public final class KafkaProducer: Sendable {
    private let handle: RDKafkaHandle
    private let context: ProducerContext
    private let pollThread: PollThread
    private let blocking: BlockingCalls
    private let topics: Mutex<[String: TopicHandle]>
    private let closed = Atomic<Bool>(false)
    private let senders = SenderCount()
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
        self.topics = Mutex([:])
        self.blocking = BlockingCalls()
        let handle = self.handle
        let senders = self.senders
        self.pollThread = PollThread(name: "kafka-producer-poll") {
            // While a `send` is enqueuing it serves the reports itself; otherwise
            // pause a millisecond after serving so that the next ones gather.
            // Woken for every produce response, this thread competed with the
            // sender and librdkafka's broker thread for the cores.
            if senders.current > 0 {
                usleep(1_000)
            } else if rd_kafka_poll(handle.pointer, 100) > 0 {
                usleep(1_000)
            }
        }
    }

    deinit {
        pollThread.stop()
    }

    /// Sends a batch and returns one report per message, in the same order.
    /// Never throws: a message that failed carries its error in its report.
    public func send(_ messages: [KafkaOutgoingMessage]) async -> [KafkaDeliveryReport] {
        if messages.isEmpty { return [] }
        if closed.load(ordering: .acquiring) { return closedReports(messages) }
        let batch = DeliveryBatch(count: messages.count)
        var topics = TopicCache()
        senders.add(1)
        for (index, message) in messages.enumerated() {
            let topic = topics.handle(for: message.topic, in: self)
            while true {
                let err = enqueue(message, topic: topic, opaque: batch.slotPointer(index))
                if err == RD_KAFKA_RESP_ERR_NO_ERROR { break }
                if err == RD_KAFKA_RESP_ERR__QUEUE_FULL, !closed.load(ordering: .acquiring) {
                    // librdkafka's queue is full: serve the reports that are
                    // ready ourselves, and wait a little only if there were none.
                    if serveDeliveryReports() == 0 { try? await Task.sleep(for: .milliseconds(1)) }
                    continue
                }
                batch.fail(index: index, error: err.rawValue)
                break
            }
            if index & 1023 == 1023 { serveDeliveryReports() }
        }
        senders.add(-1)
        serveDeliveryReports()
        await batch.wait()
        return batch.reports(for: messages)
    }

    /// Hands a batch to librdkafka at once, without suspending, so that batches
    /// enqueued one after another keep their order; the reports come later
    /// through the returned handle. A message that does not fit librdkafka's
    /// queue (`queue.buffering.max.messages`) fails with `_QUEUE_FULL`.
    public func enqueue(_ messages: [KafkaOutgoingMessage]) -> KafkaPendingDelivery {
        if messages.isEmpty || closed.load(ordering: .acquiring) {
            return KafkaPendingDelivery(batch: nil, messages: messages, immediate: closedReports(messages))
        }
        let batch = DeliveryBatch(count: messages.count)
        var topics = TopicCache()
        for (index, message) in messages.enumerated() {
            let err = enqueue(message, topic: topics.handle(for: message.topic, in: self), opaque: batch.slotPointer(index))
            if err != RD_KAFKA_RESP_ERR_NO_ERROR { batch.fail(index: index, error: err.rawValue) }
            if index & 1023 == 1023 { serveDeliveryReports() }
        }
        serveDeliveryReports()
        return KafkaPendingDelivery(batch: batch, messages: messages, immediate: [])
    }

    /// Serves the delivery reports already queued, without waiting (a zero
    /// timeout never blocks, so this may run on the cooperative pool). The
    /// poll thread would serve them too, but serving them on the thread that
    /// produced keeps librdkafka's message buffers freed where they were
    /// allocated and the queue emptied in step with the sender: batched produce
    /// ran at about half the C client's rate without it.
    @discardableResult
    private func serveDeliveryReports() -> Int32 {
        rd_kafka_poll(handle.pointer, 0)
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

    /// Flushes what is queued, then stops the poll thread and frees librdkafka's
    /// resources. Idempotent.
    public func close(flushTimeoutMilliseconds: Int32 = 30_000) async {
        if closed.exchange(true, ordering: .acquiringAndReleasing) { return }
        do {
            try await flush(timeoutMilliseconds: flushTimeoutMilliseconds)
        } catch {
            logger.warning("producer closed with messages still queued", metadata: ["kafka.error": "\(error)"])
        }
        pollThread.stop()
        await pollThread.join(on: blocking)
        topics.withLock { topics in
            for handle in topics.values { rd_kafka_topic_destroy(handle.pointer) }
            topics.removeAll()
        }
        await blocking.shutdown()
    }

    /// Messages still queued or in flight inside librdkafka.
    public var queueLength: Int { Int(rd_kafka_outq_len(handle.pointer)) }

    fileprivate func topicHandle(_ name: String) -> TopicHandle {
        topics.withLock { topics in
            if let existing = topics[name] { return existing }
            let created = TopicHandle(pointer: rd_kafka_topic_new(handle.pointer, name, nil))
            topics[name] = created
            return created
        }
    }

    private func enqueue(
        _ message: KafkaOutgoingMessage, topic: TopicHandle, opaque: UnsafeMutableRawPointer
    ) -> rd_kafka_resp_err_t {
        var headers: OpaquePointer? = nil
        if !message.headers.isEmpty {
            headers = rd_kafka_headers_new(message.headers.count)
            for header in message.headers {
                if let value = header.value {
                    value.withUnsafeBytes { bytes in
                        _ = rd_kafka_header_add(headers, header.name, -1, bytes.baseAddress, bytes.count)
                    }
                } else {
                    _ = rd_kafka_header_add(headers, header.name, -1, nil, 0)
                }
            }
        }
        let partition = message.partition ?? RD_KAFKA_PARTITION_UA
        let err = message.value.withUnsafeBytes { value in
            withKey(message.key) { keyPointer, keyLength in
                tthc_produce(
                    handle.pointer, topic.pointer, partition, keyPointer, keyLength,
                    value.baseAddress, value.count, headers, opaque
                )
            }
        }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR, let headers {
            rd_kafka_headers_destroy(headers)
        }
        return err
    }

    private func withKey<R>(_ key: [UInt8]?, _ body: (UnsafeRawPointer?, Int) -> R) -> R {
        guard let key else { return body(nil, 0) }
        return key.withUnsafeBytes { body($0.baseAddress, $0.count) }
    }
}

/// The last topic handle looked up while enqueuing a batch: batches mostly go
/// to one topic, and hashing the name for every message showed in profiles.
private struct TopicCache {
    private var name: String?
    private var cached: TopicHandle?

    mutating func handle(for topic: String, in producer: KafkaProducer) -> TopicHandle {
        if let cached, name == topic { return cached }
        let handle = producer.topicHandle(topic)
        name = topic
        cached = handle
        return handle
    }
}

/// An `rd_kafka_topic_t`, owned by the producer's cache and destroyed on close.
struct TopicHandle: @unchecked Sendable {  // librdkafka topic handles are thread-safe
    let pointer: OpaquePointer?
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

/// How many `send` calls are enqueuing right now (and serving reports inline).
final class SenderCount: Sendable {
    private let value = Atomic<Int>(0)
    func add(_ n: Int) { value.add(n, ordering: .relaxed) }
    var current: Int { value.load(ordering: .relaxed) }
}
