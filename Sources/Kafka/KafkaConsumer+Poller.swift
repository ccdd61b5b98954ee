import CRdKafka

/// The body of the consumer's poll thread: takes batches from librdkafka's
/// consumer queue (which also serves rebalance and commit callbacks) and
/// pushes them into the buffer uncopied; the taker copies them (see
/// `RDKafkaMessage`). Also the only place that pauses and resumes for the
/// flow control, so that no librdkafka round trip runs on the caller's task.
final class ConsumerPoller: @unchecked Sendable {  // poll-thread state; `wake` only touches thread-safe members
    private let handle: RDKafkaHandle
    private let context: ConsumerContext
    private let queue: OpaquePointer
    private let batchSize: Int
    private let messages: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>
    private var reader = RDKafkaMessageReader()
    /// The last offset handed over per partition (by topic handle address) in this assignment:
    /// the seek that restarts fetching after a resume can race a fetch already under way, and
    /// librdkafka then delivers that range twice. Offsets only grow within a partition, so
    /// anything at or below the last one handed over is such a repeat and is dropped.
    private var delivered: [DeliveredKey: Int64] = [:]
    private var generation: UInt64 = 0

    private struct DeliveredKey: Hashable {
        let topic: Int
        let partition: Int32
    }

    init(handle: RDKafkaHandle, context: ConsumerContext, batchSize: Int) {
        self.handle = handle
        self.context = context
        self.queue = rd_kafka_queue_get_consumer(handle.pointer)
        self.batchSize = max(batchSize, 1)
        self.messages = .allocate(capacity: self.batchSize)
    }

    deinit {
        // Here rather than in `finish`, so that `wake` never meets a destroyed queue.
        rd_kafka_queue_destroy(queue)
        messages.deallocate()
    }

    /// Any thread, after the caller drained the buffer to the low mark: ends
    /// a wait in `pollOnce` early, so that the resume is applied now.
    func wake() {
        rd_kafka_queue_yield(queue)
    }

    func pollOnce() {
        context.applyFlowControl()
        // What is ready now, up to a batch; only when nothing is, wait (up to
        // 100 ms) for the first message, so that a batch never waits to fill.
        var count = max(rd_kafka_consume_batch_queue(queue, 0, messages, batchSize), 0)
        if count == 0 {
            count = max(rd_kafka_consume_batch_queue(queue, 100, messages, 1), 0)
            if count == 1 && batchSize > 1 {
                count += max(rd_kafka_consume_batch_queue(queue, 0, messages + 1, batchSize - 1), 0)
            }
        }
        if count == 0 { return }
        let current = context.assignmentGeneration.load(ordering: .acquiring)
        if current != generation {
            delivered.removeAll(keepingCapacity: true)
            generation = current
        }
        var entries: [ConsumerBufferEntry] = []
        entries.reserveCapacity(count)
        var messageCount = 0
        for i in 0..<count {
            guard let message = messages[i] else { continue }
            let err = message.pointee.err
            if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                let key = DeliveredKey(topic: Int(bitPattern: message.pointee.rkt), partition: message.pointee.partition)
                let offset = message.pointee.offset
                if let last = delivered[key], offset <= last {
                    rd_kafka_message_destroy(message)
                    continue
                }
                delivered[key] = offset
                entries.append(.message(RDKafkaMessage(pointer: message)))
                messageCount += 1
                continue
            }
            rd_kafka_message_destroy(message)
            if err == RD_KAFKA_RESP_ERR__PARTITION_EOF { continue }
            let error = KafkaError.rdkafka(err, code: .query, context: "consume")
            context.logBridge.logger.warning("consumer error", metadata: ["kafka.error": "\(error)"])
            entries.append(.event(.error(error)))
        }
        // Paused at once: the poll thread must keep draining librdkafka's
        // queue, which in 2.0.2 stops fetching for up to a second once it
        // holds `queued.min.messages` (a grace period before pausing, tried,
        // ran into exactly that).
        if context.buffer.push(entries, messageCount: messageCount) == .pause {
            context.applyFlowControl()
        }
    }

    func finish() {
        // Leaving the group serves the final revocation on this thread.
        let err = rd_kafka_consumer_close(handle.pointer)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            context.logBridge.logger.warning("consumer close", metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(err)))"])
        }
        context.buffer.finish(reading: &reader)
    }
}
