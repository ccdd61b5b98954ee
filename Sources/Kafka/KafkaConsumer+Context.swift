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
    /// Bumped on every assignment change, so that the poll thread forgets the offsets it delivered.
    let assignmentGeneration = Atomic<UInt64>(0)
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

    /// Brings librdkafka in line with what the flow control wants now. Only
    /// the poll thread calls it: after a push that filled the buffer, and
    /// before each poll (the caller wakes it after a take that drained it).
    func applyFlowControl() {
        guard let rk else { return }
        let resumed = pauseState.withLock { state -> [TopicPartition] in
            let wanted = buffer.isFlowPaused
            if wanted == state.flowPaused { return [] }
            guard let assignment = try? currentAssignment() else { return [] }
            state.flowPaused = wanted
            if wanted {
                _ = RDKafkaTopicPartitionList.with(assignment.map { ($0, 0) }) { rd_kafka_pause_partitions(rk, $0) }
                logBridge.logger.debug("consumer buffer full: partitions paused")
                return []
            }
            let resumable = assignment.filter { !state.userPaused.contains($0) }
            _ = RDKafkaTopicPartitionList.with(resumable.map { ($0, 0) }) { rd_kafka_resume_partitions(rk, $0) }
            logBridge.logger.debug("consumer buffer drained: partitions resumed")
            return resumable
        }
        if !resumed.isEmpty { restartFetching(resumed, rk: rk) }
    }

    /// librdkafka 2.0.2 does not wake its fetcher when partitions are resumed:
    /// fetching started again only at the broker thread's next idle wake-up,
    /// 0.85 s later every time (measured against the mock cluster), which made
    /// each pause cost almost a second. A seek to the position librdkafka
    /// resumes from anyway wakes it at once. The seek is synchronous so that
    /// nothing is consumed before it is in place: a message fetched in between
    /// would be fetched again from the older position and delivered twice.
    /// Partitions that have delivered nothing yet have no position and are left alone.
    private func restartFetching(_ partitions: [TopicPartition], rk: OpaquePointer) {
        let positions = RDKafkaTopicPartitionList.with(partitions.map { ($0, KafkaOffset.invalid) }) { list in
            rd_kafka_position(rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR ? RDKafkaTopicPartitionList.elements(list) : []
        }
        let seeks = positions.filter { $0.1 >= 0 }.map { ($0.0, $0.1) }
        if seeks.isEmpty { return }
        let failure = RDKafkaTopicPartitionList.with(seeks) { list -> String? in
            guard let error = rd_kafka_seek_partitions(rk, list, 5_000) else { return nil }
            defer { rd_kafka_error_destroy(error) }
            return String(cString: rd_kafka_error_name(error))
        }
        if let failure {
            // Fetching still resumes, only later: nothing to hand to the caller.
            logBridge.logger.debug("seek after resume failed", metadata: ["kafka.error": "\(failure)"])
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
        assignmentGeneration.add(1, ordering: .releasing)
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            let assignErr = rd_kafka_assign(rk, partitions)
            if assignErr != RD_KAFKA_RESP_ERR_NO_ERROR {
                logBridge.logger.error("assign failed", metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(assignErr)))"])
            }
            reapplyPauses(list, rk: rk)
            logBridge.logger.info("partitions assigned", metadata: ["kafka.partitions": "\(list.count)"])
            _ = buffer.push([.event(.assigned(list))], messageCount: 0)
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let lost = rd_kafka_assignment_lost(rk) != 0
            logBridge.logger.info(
                "partitions revoked", metadata: ["kafka.partitions": "\(list.count)", "kafka.lost": "\(lost)"])
            if !closing.load(ordering: .acquiring) {
                let revocation = KafkaRevocation()
                _ = buffer.push([.event(.revoked(list, revocation: revocation, lost: lost))], messageCount: 0)
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
            _ = context.buffer.push([.event(.error(error))], messageCount: 0)
        }
}

/// A non-owning reference to the handle (the handle owns the context).
struct RDKafkaHandleRef: @unchecked Sendable {  // only read under the context's lock
    weak var handle: RDKafkaHandle?
}

