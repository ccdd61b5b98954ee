import CRdKafka
import Foundation
import Logging
import Synchronization

/// The consumer's opaque for librdkafka callbacks, and the pause state that
/// the caller, the flow control and rebalances share.
final class ConsumerContext: RDKafkaCallbackContext, @unchecked Sendable {  // mutable state behind `pauseState`
    let buffer: ConsumerEventBuffer
    let configuration: KafkaConsumerConfiguration
    let closing = Atomic<Bool>(false)
    private let handleBox = Mutex<RDKafkaHandleRef?>(nil)
    private let pauseState = Mutex(PauseState())

    struct PauseState {
        var userPaused: Set<TopicPartition> = []
        var flowPaused = false
    }

    init(configuration: KafkaConsumerConfiguration, logger: Logger) {
        self.buffer = ConsumerEventBuffer(maxBufferedMessages: configuration.maxBufferedMessages)
        self.configuration = configuration
        super.init(logger: logger)
    }

    func attach(_ handle: RDKafkaHandle) {
        // Unowned: the handle owns this context, not the other way round.
        handleBox.withLock { $0 = RDKafkaHandleRef(handle: handle) }
    }

    private var rk: OpaquePointer? { handleBox.withLock { $0?.handle?.pointer } }

    // Pause and resume are serialised under one lock so that librdkafka's view
    // and ours cannot diverge; both calls only enqueue work inside librdkafka.

    func userPause(_ partitions: [TopicPartition]) throws(KafkaError) {
        guard let rk else { throw KafkaError(code: .closed, reason: "consumer is closed") }
        let err = pauseState.withLock { state in
            state.userPaused.formUnion(partitions)
            return RDKafkaTopicPartitionList.with(partitions.map { ($0, 0) }) { rd_kafka_pause_partitions(rk, $0) }
        }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError.rdkafka(err, code: .subscription, context: "pause") }
    }

    func userResume(_ partitions: [TopicPartition]) throws(KafkaError) {
        guard let rk else { throw KafkaError(code: .closed, reason: "consumer is closed") }
        let err = pauseState.withLock { state in
            state.userPaused.subtract(partitions)
            if state.flowPaused { return RD_KAFKA_RESP_ERR_NO_ERROR }
            return RDKafkaTopicPartitionList.with(partitions.map { ($0, 0) }) { rd_kafka_resume_partitions(rk, $0) }
        }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError.rdkafka(err, code: .subscription, context: "resume") }
    }

    func currentAssignment() throws(KafkaError) -> [TopicPartition] {
        guard let rk else { throw KafkaError(code: .closed, reason: "consumer is closed") }
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>? = nil
        let err = rd_kafka_assignment(rk, &list)
        defer { if let list { rd_kafka_topic_partition_list_destroy(list) } }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError.rdkafka(err, code: .query, context: "assignment") }
        return RDKafkaTopicPartitionList.elements(list).map(\.0)
    }

    /// Brings librdkafka in line with what the flow control wants now. The
    /// poll thread (after a push) and the caller (after a take) both call it;
    /// since each reads the latest wanted state under the pause lock, the last
    /// call always leaves the right state, whatever order they ran in.
    func applyFlowControl() {
        guard let rk else { return }
        pauseState.withLock { state in
            let wanted = buffer.isFlowPaused
            if wanted == state.flowPaused { return }
            guard let assignment = try? currentAssignment() else { return }
            state.flowPaused = wanted
            if wanted {
                _ = RDKafkaTopicPartitionList.with(assignment.map { ($0, 0) }) { rd_kafka_pause_partitions(rk, $0) }
                logBridge.logger.debug("consumer buffer full: partitions paused")
            } else {
                let resumable = assignment.filter { !state.userPaused.contains($0) }
                _ = RDKafkaTopicPartitionList.with(resumable.map { ($0, 0) }) { rd_kafka_resume_partitions(rk, $0) }
                logBridge.logger.debug("consumer buffer drained: partitions resumed")
            }
        }
    }

    /// After an assignment, partitions start fetching: pause those that the
    /// flow control or the caller wants paused.
    private func reapplyPauses(_ assigned: [TopicPartition], rk: OpaquePointer) {
        pauseState.withLock { state in
            let toPause = state.flowPaused ? assigned : assigned.filter { state.userPaused.contains($0) }
            if !toPause.isEmpty {
                _ = RDKafkaTopicPartitionList.with(toPause.map { ($0, 0) }) { rd_kafka_pause_partitions(rk, $0) }
            }
        }
    }

    private func forget(_ revoked: [TopicPartition]) {
        pauseState.withLock { $0.userPaused.subtract(revoked) }
    }

    static let rebalanceCallback:
        @convention(c) (
            OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
            UnsafeMutableRawPointer?
        ) -> Void = { rk, err, partitions, opaque in
            guard let rk, let context = RDKafkaHandle.context(opaque, as: ConsumerContext.self) else { return }
            context.rebalance(rk: rk, err: err, partitions: partitions)
        }

    private func rebalance(
        rk: OpaquePointer, err: rd_kafka_resp_err_t, partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
    ) {
        let list = RDKafkaTopicPartitionList.elements(partitions).map(\.0)
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            let assignErr = rd_kafka_assign(rk, partitions)
            if assignErr != RD_KAFKA_RESP_ERR_NO_ERROR {
                logBridge.logger.error("assign failed", metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(assignErr)))"])
            }
            reapplyPauses(list, rk: rk)
            logBridge.logger.info("partitions assigned", metadata: ["kafka.partitions": "\(list.count)"])
            _ = buffer.push([.assigned(list)], messageCount: 0)
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let lost = rd_kafka_assignment_lost(rk) != 0
            logBridge.logger.info(
                "partitions revoked", metadata: ["kafka.partitions": "\(list.count)", "kafka.lost": "\(lost)"])
            if !closing.load(ordering: .acquiring) {
                let revocation = KafkaRevocation()
                _ = buffer.push([.revoked(list, revocation: revocation, lost: lost)], messageCount: 0)
                if let offsets = revocation.wait(timeoutMilliseconds: configuration.revocationTimeoutMilliseconds) {
                    if !lost { commitInRebalance(rk: rk, offsets) }
                } else {
                    logBridge.logger.warning("revocation not acknowledged in time; continuing the rebalance")
                }
            }
            forget(list)
            _ = rd_kafka_assign(rk, nil)
        default:
            logBridge.logger.error("rebalance error", metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(err)))"])
            _ = rd_kafka_assign(rk, nil)
        }
    }

    private func commitInRebalance(rk: OpaquePointer, _ offsets: [TopicPartitionOffset]) {
        if offsets.isEmpty { return }
        let err = RDKafkaTopicPartitionList.with(offsets.map { ($0.topicPartition, $0.offset) }) {
            rd_kafka_commit(rk, $0, 0)
        }
        // A failure is reported by the offset-commit callback as well; the
        // messages will be read again after the rebalance, which the caller
        // must handle idempotently anyway.
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logBridge.logger.debug("commit on revocation failed", metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(err)))"])
        }
    }

    static let offsetCommitCallback:
        @convention(c) (
            OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
            UnsafeMutableRawPointer?
        ) -> Void = { _, err, _, opaque in
            // Every commit reports here (synchronous ones too); no offsets at all is not a failure.
            guard err != RD_KAFKA_RESP_ERR_NO_ERROR, err != RD_KAFKA_RESP_ERR__NO_OFFSET,
                let context = RDKafkaHandle.context(opaque, as: ConsumerContext.self)
            else { return }
            let error = KafkaError.rdkafka(err, code: .commit, context: "offset commit")
            context.logBridge.logger.warning("offset commit failed", metadata: ["kafka.error": "\(error)"])
            _ = context.buffer.push([.error(error)], messageCount: 0)
        }
}

/// A non-owning reference to the handle (the handle owns the context).
struct RDKafkaHandleRef: @unchecked Sendable {  // only read under the context's lock
    weak var handle: RDKafkaHandle?
}

/// The body of the consumer's poll thread: takes batches from librdkafka's
/// consumer queue (which also serves rebalance and commit callbacks), turns
/// them into Swift values and pushes them into the buffer.
final class ConsumerPoller: @unchecked Sendable {  // used only on the poll thread after init
    private let handle: RDKafkaHandle
    private let context: ConsumerContext
    private let queue: OpaquePointer
    private let batchSize: Int
    private let messages: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>
    private var topicNames: [UnsafeMutableRawPointer: String] = [:]

    init(handle: RDKafkaHandle, context: ConsumerContext, batchSize: Int) {
        self.handle = handle
        self.context = context
        self.queue = rd_kafka_queue_get_consumer(handle.pointer)
        self.batchSize = max(batchSize, 1)
        self.messages = .allocate(capacity: self.batchSize)
    }

    deinit {
        messages.deallocate()
    }

    func pollOnce() {
        let count = rd_kafka_consume_batch_queue(queue, 100, messages, batchSize)
        if count <= 0 { return }
        var events: [KafkaConsumerEvent] = []
        events.reserveCapacity(count)
        var messageCount = 0
        for i in 0..<count {
            guard let message = messages[i] else { continue }
            defer { rd_kafka_message_destroy(message) }
            let err = message.pointee.err
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                if err == RD_KAFKA_RESP_ERR__PARTITION_EOF { continue }
                let error = KafkaError.rdkafka(err, code: .query, context: "consume")
                context.logBridge.logger.warning("consumer error", metadata: ["kafka.error": "\(error)"])
                events.append(.error(error))
                continue
            }
            events.append(.message(convert(message)))
            messageCount += 1
        }
        if context.buffer.push(events, messageCount: messageCount) == .pause {
            context.applyFlowControl()
        }
    }

    func finish() {
        // Leaving the group serves the final revocation on this thread.
        let err = rd_kafka_consumer_close(handle.pointer)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            context.logBridge.logger.warning("consumer close", metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(err)))"])
        }
        rd_kafka_queue_destroy(queue)
        context.buffer.finish()
    }

    private func convert(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> KafkaMessage {
        let m = message.pointee
        let topic: String
        if let rkt = m.rkt {
            let key = UnsafeMutableRawPointer(rkt)
            if let cached = topicNames[key] {
                topic = cached
            } else {
                topic = String(cString: rd_kafka_topic_name(rkt))
                topicNames[key] = topic
            }
        } else {
            topic = ""
        }
        let value: [UInt8] =
            m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) } ?? []
        let key: [UInt8]? = m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) }
        var headers: [KafkaHeader] = []
        var hdrs: OpaquePointer? = nil
        if rd_kafka_message_headers(message, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR, let hdrs {
            var index = 0
            var name: UnsafePointer<CChar>? = nil
            var valuePointer: UnsafeRawPointer? = nil
            var size = 0
            while rd_kafka_header_get_all(hdrs, index, &name, &valuePointer, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                let headerValue = valuePointer.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }
                headers.append(KafkaHeader(name: name.map { String(cString: $0) } ?? "", value: headerValue))
                index += 1
            }
        }
        return KafkaMessage(
            topic: topic, partition: m.partition, offset: m.offset, key: key, value: value, headers: headers,
            timestampMilliseconds: tthc_message_timestamp(message)
        )
    }
}
