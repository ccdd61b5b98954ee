import Logging
import Store

/// Exponential backoff without jitter, for the worker's own dependencies (the database, the
/// broker): 50 ms, 100 ms, … up to a maximum. Default maximum: 1 s, so that work resumes within
/// about a second of a dependency coming back.
struct Backoff: Sendable {
    var initial: Duration = .milliseconds(50)
    var maximum: Duration = .seconds(1)
    private var current: Duration?

    init(initial: Duration = .milliseconds(50), maximum: Duration = .seconds(1)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The next wait.
    mutating func next() -> Duration {
        let wait = current.map { min($0 * 2, maximum) } ?? initial
        current = wait
        return wait
    }
}

/// How a retried operation ended.
enum RetryOutcome<Value: Sendable>: Sendable {
    case success(Value)
    /// It failed in a way that retrying cannot change (the database refused the values).
    case permanent(StoreError)
    /// The task was cancelled (shutdown) before it succeeded.
    case cancelled
}

/// Runs `body` until it succeeds, is cancelled, or fails permanently. Transient failures (the
/// database or the broker unreachable) are logged once per failure and retried with `backoff`:
/// nothing that came off the wire is a reason to retry for ever, and nothing transient is a
/// reason to give up. An attempt not answered within `attemptLimit` counts as a transient failure:
/// a query queued while the database was down was seen never to end, even once it was back
/// (every operation retried here is idempotent, so an attempt that did land is harmless).
func retrying<Value: Sendable>(
    _ what: String, logger: Logger, backoff: Backoff = Backoff(), attemptLimit: Duration = .seconds(15),
    _ body: @escaping @Sendable () async throws -> Value
) async -> RetryOutcome<Value> {
    var backoff = backoff
    while true {
        if Task.isCancelled { return .cancelled }
        do {
            return .success(
                try await withTimeLimit(attemptLimit, else: StoreError(code: .query, operation: "\(what): no answer in time"), body))
        } catch let error as StoreError where !error.isRetriable {
            logger.error("\(what) refused by the database", metadata: ["worker.error": "\(error)"])
            return .permanent(error)
        } catch {
            if Task.isCancelled { return .cancelled }
            logger.warning("\(what) failed; retrying", metadata: ["worker.error": "\(error)"])
            do {
                try await Task.sleep(for: backoff.next())
            } catch {
                return .cancelled
            }
        }
    }
}
