import Synchronization

/// Requests with the same key run one after another; different keys run
/// concurrently. Each job waits for the previous job of its key.
///
/// The jobs are unstructured tasks, so shutdown cancels them explicitly
/// (``cancelAll()``) and waits for them (``waitUntilIdle(for:)``).
final class Lanes: Sendable {
    private struct Tail: Sendable {
        let id: UInt64
        let task: Task<Void, Never>
    }

    private struct State {
        var tails: [String: Tail] = [:]
        /// Every job not yet finished, so that all of them can be cancelled.
        var running: [UInt64: Task<Void, Never>] = [:]
        var cancelled = false
    }

    private let state = Mutex(State())
    private let nextID = Atomic<UInt64>(0)

    func submit(_ key: String, _ job: @escaping @Sendable () async -> Void) {
        let id = nextID.add(1, ordering: .relaxed).newValue
        state.withLock { state in
            let previous = state.tails[key]?.task
            let task = Task {
                await previous?.value
                await job()
                self.finished(key, id)
            }
            if state.cancelled { task.cancel() }
            state.tails[key] = Tail(id: id, task: task)
            state.running[id] = task
        }
    }

    /// Cancels every job, queued or running, and any submitted later.
    func cancelAll() {
        let tasks = state.withLock { state in
            state.cancelled = true
            return Array(state.running.values)
        }
        for task in tasks { task.cancel() }
    }

    /// Waits until no job is left, or `limit` has passed; `true` if none is left.
    func waitUntilIdle(for limit: Duration) async -> Bool {
        let until = ContinuousClock.now + limit
        while activeJobs > 0 {
            if ContinuousClock.now >= until { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    /// Forgets the job, and the lane once its last job is done (unless a newer one took its place).
    private func finished(_ key: String, _ id: UInt64) {
        state.withLock { state in
            state.running.removeValue(forKey: id)
            if state.tails[key]?.id == id { state.tails.removeValue(forKey: key) }
        }
    }

    var activeJobs: Int { state.withLock { $0.running.count } }
}
