import Synchronization

/// A counting semaphore for tasks: bounds the requests in flight.
final class AsyncPermits: Sendable {
    private struct State: ~Copyable {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>
    let limit: Int

    init(_ count: Int) {
        limit = count
        state = Mutex(State(available: count))
    }

    func acquire() async {
        let acquired = state.withLock { state -> Bool in
            if state.available > 0 {
                state.available -= 1
                return true
            }
            return false
        }
        if acquired { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func release() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume()
    }

    var inUse: Int { limit - state.withLock { $0.available } }
}
