import CRdKafka
import Synchronization

/// What the poll thread buffers: messages as librdkafka returned them (the
/// taker copies them) and the other events, in the order they happened.
enum ConsumerBufferEntry: Sendable {
    case message(RDKafkaMessage)
    case event(KafkaConsumerEvent)
}

/// The bounded hand-over between the poll thread and the async caller. The
/// poll thread appends whole batches; the caller takes them a batch at a time
/// (small ones joined), so the lock is taken once per batch, not per message,
/// and no array grows to the whole buffer (copied on every growth, and large
/// enough to be mapped and unmapped by the allocator on every take).
final class ConsumerEventBuffer: Sendable {
    /// Batches smaller than this are joined into one take.
    static let takeLimit = 1_024

    private struct State: ~Copyable {
        var batches: [(entries: [ConsumerBufferEntry], messages: Int)] = []
        var messageCount = 0
        var waiter: CheckedContinuation<[ConsumerBufferEntry], Never>?
        var finished = false
        var flow: ConsumerFlowControl

        /// The oldest batch, with the following ones while they fit in `takeLimit`.
        mutating func takeBatch() -> [ConsumerBufferEntry] {
            var (taken, messages) = batches.removeFirst()
            while let next = batches.first, taken.count + next.entries.count <= ConsumerEventBuffer.takeLimit {
                taken.append(contentsOf: next.entries)
                messages += next.messages
                batches.removeFirst()
            }
            messageCount -= messages
            return taken
        }
    }

    private let state: Mutex<State>

    init(maxBufferedMessages: Int) {
        state = Mutex(State(flow: ConsumerFlowControl(maxBufferedMessages: maxBufferedMessages)))
    }

    /// Poll thread: adds entries, of which `messageCount` are messages;
    /// returns whether to pause the assignment. After `finish` nothing is
    /// added (cannot happen for messages: the poll loop has ended by then).
    func push(_ entries: [ConsumerBufferEntry], messageCount: Int) -> ConsumerFlowControl.Action {
        if entries.isEmpty { return .none }
        let (waiter, action, accepted) = state.withLock {
            state -> (CheckedContinuation<[ConsumerBufferEntry], Never>?, ConsumerFlowControl.Action, Bool) in
            if state.finished { return (nil, .none, false) }
            if let waiter = state.waiter {
                // The caller is waiting on an empty buffer: hand the batch over directly.
                state.waiter = nil
                return (waiter, .none, true)
            }
            state.batches.append((entries, messageCount))
            state.messageCount += messageCount
            return (nil, state.flow.added(buffered: state.messageCount), true)
        }
        if !accepted {
            for case .message(let message) in entries { rd_kafka_message_destroy(message.pointer) }
        }
        waiter?.resume(returning: entries)
        return action
    }

    /// Caller: takes the oldest batch, waiting if there is nothing. Returns an
    /// empty array once finished (or when the waiting task is cancelled).
    func take() async -> ([ConsumerBufferEntry], ConsumerFlowControl.Action) {
        let immediate = state.withLock { state -> ([ConsumerBufferEntry], ConsumerFlowControl.Action)? in
            if !state.batches.isEmpty {
                let entries = state.takeBatch()
                return (entries, state.flow.taken(buffered: state.messageCount))
            }
            return state.finished ? ([], .none) : nil
        }
        if let immediate { return immediate }
        let entries = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[ConsumerBufferEntry], Never>) in
                let resumeNow = state.withLock { state -> [ConsumerBufferEntry]? in
                    if !state.batches.isEmpty { return state.takeBatch() }
                    if state.finished || Task.isCancelled { return [] }
                    state.waiter = continuation
                    return nil
                }
                if let resumeNow { continuation.resume(returning: resumeNow) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<[ConsumerBufferEntry], Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: [])
        }
        let action = state.withLock { $0.flow.taken(buffered: $0.messageCount) }
        return (entries, action)
    }

    /// Ends the sequence after what is buffered. Poll thread, before the
    /// handle can be destroyed: buffered messages are copied now (under the
    /// lock, once), so that none outlives the handle.
    func finish(reading reader: inout RDKafkaMessageReader) {
        let waiter = state.withLock { state -> CheckedContinuation<[ConsumerBufferEntry], Never>? in
            state.finished = true
            state.batches = state.batches.map { (reader.events(from: $0.entries).map { .event($0) }, $0.messages) }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: [])
    }

    /// Whether the flow control currently wants the assignment paused.
    var isFlowPaused: Bool { state.withLock { $0.flow.state == .paused } }

    var bufferedMessages: Int { state.withLock { $0.messageCount } }
}
