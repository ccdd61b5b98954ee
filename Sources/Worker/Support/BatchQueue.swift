import Synchronization

/// A queue that producers push into and one consumer drains in batches:
/// it waits for the first item, then takes whatever else is there.
final class BatchQueue<Element: Sendable>: Sendable {
    private struct State: ~Copyable {
        var items: [Element] = []
        var waiter: CheckedContinuation<Void, Never>?
        var finished = false
    }

    private let state = Mutex(State())

    /// Adds an item; `false` (and nothing added) once the queue is finished.
    @discardableResult
    func push(_ element: Element) -> Bool {
        let (accepted, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            if state.finished { return (false, nil) }
            state.items.append(element)
            defer { state.waiter = nil }
            return (true, state.waiter)
        }
        waiter?.resume()
        return accepted
    }

    /// Up to `max` items, waiting for at least one; empty once finished and drained.
    func takeBatch(max: Int) async -> [Element] {
        while true {
            let taken = state.withLock { state -> [Element]? in
                if !state.items.isEmpty {
                    let count = min(max, state.items.count)
                    let batch = Array(state.items.prefix(count))
                    state.items.removeFirst(count)
                    return batch
                }
                return state.finished ? [] : nil
            }
            if let taken { return taken }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if !state.items.isEmpty || state.finished { return true }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    /// No more items will come; the consumer gets what is left, then empty batches.
    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    var count: Int { state.withLock { $0.items.count } }
}
