import Synchronization

/// The bounded hand-over between the poll thread and the async caller. The
/// poll thread appends whole batches; the caller takes everything buffered at
/// once, so the lock is taken once per batch, not per message.
final class ConsumerEventBuffer: Sendable {
    private struct State: ~Copyable {
        var events: [KafkaConsumerEvent] = []
        var messageCount = 0
        var waiter: CheckedContinuation<[KafkaConsumerEvent], Never>?
        var finished = false
        var flow: ConsumerFlowControl
    }

    private let state: Mutex<State>

    init(maxBufferedMessages: Int) {
        state = Mutex(State(flow: ConsumerFlowControl(maxBufferedMessages: maxBufferedMessages)))
    }

    /// Poll thread: adds events; returns whether to pause the assignment.
    func push(_ events: [KafkaConsumerEvent], messageCount: Int) -> ConsumerFlowControl.Action {
        if events.isEmpty { return .none }
        let (waiter, delivered, action) = state.withLock {
            state -> (CheckedContinuation<[KafkaConsumerEvent], Never>?, [KafkaConsumerEvent], ConsumerFlowControl.Action) in
            if state.finished { return (nil, [], .none) }
            if let waiter = state.waiter {
                // The caller is waiting on an empty buffer: hand the batch over directly.
                state.waiter = nil
                return (waiter, events, .none)
            }
            state.events.append(contentsOf: events)
            state.messageCount += messageCount
            return (nil, [], state.flow.added(buffered: state.messageCount))
        }
        waiter?.resume(returning: delivered)
        return action
    }

    /// Caller: takes everything buffered, waiting if there is nothing. Returns
    /// an empty array once finished (or when the waiting task is cancelled).
    func take() async -> ([KafkaConsumerEvent], ConsumerFlowControl.Action) {
        let immediate = state.withLock { state -> ([KafkaConsumerEvent], ConsumerFlowControl.Action)? in
            if !state.events.isEmpty {
                let events = state.events
                state.events = []
                state.messageCount = 0
                return (events, state.flow.taken(buffered: 0))
            }
            return state.finished ? ([], .none) : nil
        }
        if let immediate { return immediate }
        let events = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[KafkaConsumerEvent], Never>) in
                let resumeNow = state.withLock { state -> [KafkaConsumerEvent]? in
                    if !state.events.isEmpty {
                        let events = state.events
                        state.events = []
                        state.messageCount = 0
                        return events
                    }
                    if state.finished || Task.isCancelled { return [] }
                    state.waiter = continuation
                    return nil
                }
                if let resumeNow { continuation.resume(returning: resumeNow) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<[KafkaConsumerEvent], Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: [])
        }
        let action = state.withLock { $0.flow.taken(buffered: $0.messageCount) }
        return (events, action)
    }

    /// Ends the sequence after what is buffered.
    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<[KafkaConsumerEvent], Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: [])
    }

    /// Whether the flow control currently wants the assignment paused.
    var isFlowPaused: Bool { state.withLock { $0.flow.state == .paused } }

    var bufferedMessages: Int { state.withLock { $0.messageCount } }
}
