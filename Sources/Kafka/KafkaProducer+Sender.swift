import CRdKafka
import Synchronization

/// The producer's own thread, shaped like librdkafka's C producer loop: it takes
/// the batches that `send` and `enqueue` hand over, in order, hands each message
/// to librdkafka, serves delivery reports as it goes, and blocks in
/// `rd_kafka_poll` when librdkafka's queue is full or there is nothing to send.
///
/// One thread that enqueues and serves in lockstep is what the C client does;
/// reports served on a second thread (woken for every produce response) or
/// messages enqueued from the cooperative pool both cost a third of the rate on
/// two cores (docs/benchmarks.md, "Produce").
final class ProducerSender: @unchecked Sendable {  // `state` behind a Mutex; `topicCache` used on the thread and at close only
    enum Job {
        case batch([KafkaOutgoingMessage], DeliveryBatch)
        /// Resumed once every job before it is in librdkafka's hands.
        case barrier(CheckedContinuation<Void, Never>)
    }

    private struct State {
        var pending: [Job] = []
        var closed = false
    }

    private let handle: RDKafkaHandle
    private let mainQueue: OpaquePointer
    private let state = Mutex(State())
    private let closing = Atomic<Bool>(false)
    private var topics: [String: OpaquePointer] = [:]

    init(handle: RDKafkaHandle) {
        self.handle = handle
        self.mainQueue = rd_kafka_queue_get_main(handle.pointer)
    }

    deinit {
        for topic in topics.values { rd_kafka_topic_destroy(topic) }
        rd_kafka_queue_destroy(mainQueue)
    }

    /// Queues a job for the thread; `false` once the producer is closing.
    func submit(_ job: Job) -> Bool {
        let accepted = state.withLock { state in
            if state.closed { return false }
            state.pending.append(job)
            return true
        }
        if accepted { wake() }
        return accepted
    }

    /// Refuses new jobs and returns once every accepted one is enqueued in librdkafka
    /// (messages that then meet a full queue fail instead of waiting).
    func close() async {
        closing.store(true, ordering: .releasing)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            state.withLock { state in
                state.closed = true
                state.pending.append(.barrier(continuation))
            }
            wake()
        }
    }

    /// Ends a wait in `rd_kafka_poll` early.
    func wake() {
        rd_kafka_queue_yield(mainQueue)
    }

    /// One turn of the thread's loop.
    func runOnce() {
        var work: [Job] = []
        state.withLock { swap(&work, &$0.pending) }
        if work.isEmpty {
            rd_kafka_poll(handle.pointer, 100)
            return
        }
        for job in work {
            switch job {
            case .batch(let messages, let batch): produce(messages, batch)
            case .barrier(let continuation): continuation.resume()
            }
        }
        rd_kafka_poll(handle.pointer, 0)
    }

    private func produce(_ messages: [KafkaOutgoingMessage], _ batch: DeliveryBatch) {
        var lastName: String?
        var lastTopic: OpaquePointer?
        for index in messages.indices {
            let message = messages[index]
            // Batches mostly go to one topic: look the handle up once per run of it.
            if lastName != message.topic {
                lastName = message.topic
                lastTopic = topic(message.topic)
            }
            while true {
                let err = enqueue(message, topic: lastTopic, opaque: batch.slotPointer(index))
                if err == RD_KAFKA_RESP_ERR_NO_ERROR { break }
                if err == RD_KAFKA_RESP_ERR__QUEUE_FULL, !closing.load(ordering: .acquiring) {
                    // As the C client does: serve reports until there is room.
                    rd_kafka_poll(handle.pointer, 1)
                    continue
                }
                batch.fail(index: index, error: err.rawValue)
                break
            }
            if index & 1023 == 1023 { rd_kafka_poll(handle.pointer, 0) }
        }
    }

    private func topic(_ name: String) -> OpaquePointer? {
        if let existing = topics[name] { return existing }
        let created = rd_kafka_topic_new(handle.pointer, name, nil)
        topics[name] = created
        return created
    }

    private func enqueue(
        _ message: KafkaOutgoingMessage, topic: OpaquePointer?, opaque: UnsafeMutableRawPointer
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
        let err = withBytes(message.value) { valuePointer, valueLength in
            withBytes(message.key) { keyPointer, keyLength in
                tthc_produce(
                    handle.pointer, topic, partition, keyPointer, keyLength,
                    valuePointer, valueLength, headers, opaque
                )
            }
        }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR, let headers {
            rd_kafka_headers_destroy(headers)
        }
        return err
    }

    /// A null pointer for `nil` (a null key, a tombstone); a non-null one for empty bytes, which
    /// Kafka keeps apart from null.
    private func withBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawPointer?, Int) -> R) -> R {
        guard let bytes else { return body(nil, 0) }
        if bytes.isEmpty {
            var empty: UInt8 = 0
            return withUnsafeBytes(of: &empty) { body($0.baseAddress, 0) }
        }
        return bytes.withUnsafeBytes { body($0.baseAddress, $0.count) }
    }
}
