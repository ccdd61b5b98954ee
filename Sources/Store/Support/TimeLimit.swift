import Synchronization

/// Runs `body` and answers with its result, or throws `error` once `limit` has passed.
///
/// Not a task group: a group waits for every child, and a PostgresNIO query that waits for a
/// connection to a server that is down does not end when cancelled. Here the caller is answered
/// at the limit; `body` is cancelled and left to end by itself.
public func withTimeLimit<Value: Sendable>(
    _ limit: Duration, else error: @autoclosure () -> any Error, _ body: @escaping @Sendable () async throws -> Value
) async throws -> Value {
    let answer = FirstAnswer<Value>()
    let timeoutError = error()
    let work = Task {
        do { answer.give(.success(try await body())) } catch { answer.give(.failure(error)) }
    }
    let timer = Task {
        try? await Task.sleep(for: limit)
        answer.give(.failure(timeoutError))
    }
    defer {
        work.cancel()
        timer.cancel()
    }
    return try await withTaskCancellationHandler {
        try await answer.value()
    } onCancel: {
        answer.give(.failure(CancellationError()))
    }
}

/// The first of several answers, for one waiter; later ones are dropped.
private final class FirstAnswer<Value: Sendable>: Sendable {
    private enum State {
        case empty
        case waiting(CheckedContinuation<Value, any Error>)
        case answered(Result<Value, any Error>)
        case done
    }
    private let state = Mutex<State>(.empty)

    func give(_ result: Result<Value, any Error>) {
        let waiter: CheckedContinuation<Value, any Error>? = self.state.withLock { state in
            switch state {
            case .empty:
                state = .answered(result)
                return nil
            case .waiting(let continuation):
                state = .done
                return continuation
            case .answered, .done:
                return nil
            }
        }
        waiter?.resume(with: result)
    }

    func value() async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<Value, any Error>? = self.state.withLock { state in
                guard case .answered(let result) = state else {
                    state = .waiting(continuation)
                    return nil
                }
                state = .done
                return result
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
