import NIOCore
import Synchronization

/// A queue that many long-lived tasks take from one item at a time: a push hands its item straight
/// to the task that has waited longest, or keeps it until one asks.
///
/// It lets a fixed set of tasks run the worker's jobs, so that a job costs no task of its own
/// (creating and freeing one per request was measurable in a burst).
final class HandOffQueue<Element: Sendable>: Sendable {
    private struct State: ~Copyable {
        var items = CircularBuffer<Element>()
        var takers = CircularBuffer<CheckedContinuation<Element?, Never>>()
        var finished = false
    }

    private let state = Mutex(State())

    /// Adds an item; `false` (and nothing added) once the queue is finished.
    @discardableResult
    func push(_ element: Element) -> Bool {
        let (accepted, taker) = state.withLock { state -> (Bool, CheckedContinuation<Element?, Never>?) in
            if state.finished { return (false, nil) }
            if let taker = state.takers.popFirst() { return (true, taker) }
            state.items.append(element)
            return (true, nil)
        }
        taker?.resume(returning: element)
        return accepted
    }

    /// The next item, waiting for one; `nil` once the queue is finished and drained.
    ///
    /// A waiting taker is ended by ``finish()`` only, not by cancellation: whoever cancels the
    /// takers finishes the queue.
    func take() async -> Element? {
        if let ready = state.withLock({ state -> Element?? in
            if let item = state.items.popFirst() { return .some(item) }
            return state.finished ? .some(nil) : nil
        }) {
            return ready
        }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Element?, Never>) in
            let ready = state.withLock { state -> Element?? in
                if let item = state.items.popFirst() { return .some(item) }
                if state.finished { return .some(nil) }
                state.takers.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// No more items will come: the takers get what is left, then `nil`.
    func finish() {
        let takers = state.withLock { state -> CircularBuffer<CheckedContinuation<Element?, Never>> in
            state.finished = true
            defer { state.takers.removeAll() }
            return state.takers
        }
        for taker in takers { taker.resume(returning: nil) }
    }

    var count: Int { state.withLock { $0.items.count } }
}
