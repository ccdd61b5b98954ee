import Synchronization

/// Requests with the same key run one after another; different keys run
/// concurrently. Each job waits for the previous job of its key.
final class Lanes: Sendable {
    private struct Tail: Sendable {
        let id: UInt64
        let task: Task<Void, Never>
    }

    private let tails = Mutex<[String: Tail]>([:])
    private let nextID = Atomic<UInt64>(0)

    func submit(_ key: String, _ job: @escaping @Sendable () async -> Void) {
        let id = nextID.add(1, ordering: .relaxed).newValue
        tails.withLock { tails in
            let previous = tails[key]?.task
            let task = Task {
                await previous?.value
                await job()
                self.finished(key, id)
            }
            tails[key] = Tail(id: id, task: task)
        }
    }

    /// Forgets the lane once its last job is done (unless a newer one took its place).
    private func finished(_ key: String, _ id: UInt64) {
        tails.withLock { tails in
            if tails[key]?.id == id { tails.removeValue(forKey: key) }
        }
    }

    var activeLanes: Int { tails.withLock { $0.count } }
}
