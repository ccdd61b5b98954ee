import Synchronization

/// Runs `operation` in its own task and stops waiting for it after `timeout`, even when it does not
/// react to cancellation (a blocking client call, say): the caller's wait is bounded. On timeout
/// the operation is cancelled and its eventual result dropped. Returns `nil` on timeout or when
/// the calling task is cancelled.
func withTimeBound<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async -> T) async -> T? {
    let outcome = FirstOutcome<T>()
    return await withTaskCancellationHandler {
        await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            outcome.install(continuation)
            let work = Task {
                let value = await operation()
                outcome.complete(value)
            }
            let timer = Task {
                try? await Task.sleep(for: timeout)
                if outcome.complete(nil) { work.cancel() }
            }
            outcome.onCompletion { timer.cancel() }
        }
    } onCancel: {
        outcome.complete(nil)
    }
}

/// The single answer of an operation that races its timeout: the first completion wins.
private final class FirstOutcome<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T?, Never>?
        var result: T??
        var cleanup: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    func install(_ continuation: CheckedContinuation<T?, Never>) {
        let resumeWith = self.state.withLock { state -> T?? in
            if let result = state.result { return .some(result) }
            state.continuation = continuation
            return nil
        }
        if let resumeWith { continuation.resume(returning: resumeWith) }
    }

    func onCompletion(_ cleanup: @escaping @Sendable () -> Void) {
        let runNow = self.state.withLock { state -> Bool in
            if state.result != nil { return true }
            state.cleanup = cleanup
            return false
        }
        if runNow { cleanup() }
    }

    /// Returns whether this completion was the first.
    @discardableResult
    func complete(_ value: T?) -> Bool {
        let (continuation, cleanup, won) = self.state.withLock {
            state -> (CheckedContinuation<T?, Never>?, (@Sendable () -> Void)?, Bool) in
            guard state.result == nil else { return (nil, nil, false) }
            state.result = .some(value)
            defer {
                state.continuation = nil
                state.cleanup = nil
            }
            return (state.continuation, state.cleanup, true)
        }
        continuation?.resume(returning: value)
        cleanup?()
        return won
    }
}
