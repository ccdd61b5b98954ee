import NIOCore
import Synchronization

/// A queue that many long-lived tasks take from one item at a time: a push hands its item straight
/// to the task that has waited longest, or keeps it until one asks.
///
/// It lets a set of long-lived tasks run the worker's jobs, so that a job costs no task of its own;
/// a push that finds nobody waiting says so, and the worker starts another runner (up to its bound).
final class HandOffQueue<Element: Sendable>: Sendable {
    private struct State: ~Copyable {
        var items = CircularBuffer<Element>()
        var takers = CircularBuffer<CheckedContinuation<Element?, Never>>()
        var finished = false
    }

    private let state = Mutex(State())

    enum Pushed: Equatable {
        /// A waiting taker has it.
        case handedOver
        /// Nobody was waiting: the next taker gets it.
        case kept
        /// The queue is finished: not added.
        case refused
    }

    /// Adds an item, handing it to the taker that has waited longest if there is one.
    @discardableResult
    func push(_ element: Element) -> Pushed {
        let (pushed, taker) = state.withLock { state -> (Pushed, CheckedContinuation<Element?, Never>?) in
            if state.finished { return (.refused, nil) }
            if let taker = state.takers.popFirst() { return (.handedOver, taker) }
            state.items.append(element)
            return (.kept, nil)
        }
        taker?.resume(returning: element)
        return pushed
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

    /// Takers waiting for an item.
    var waiting: Int { state.withLock { $0.takers.count } }
}
