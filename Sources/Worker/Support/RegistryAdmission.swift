import Kafka
import Synchronization

/// The worker's gate in front of the registry: requests wait their turn here (fair between
/// agencies, deadline first within one; ``AdmissionSchedule``), and only as many as the quota can
/// serve within about ``WorkerConfiguration/admissionWindow`` go on to the registry client at once.
///
/// Waiting here is not a registry failure: it uses up neither the quick-retry window nor a
/// request's attempts, and never parks a lane. A waiter whose deadline passes is handed back as
/// ``Turn/expired`` by a sweep every 100 ms (``expireLoop()``), one task for all of them.
final class RegistryAdmission: Sendable {
    enum Turn: Sendable, Equatable {
        /// Go ahead; call ``finish()`` when done with the registry.
        case admitted
        /// The deadline passed while waiting.
        case expired
        /// Shutting down or cancelled: leave the request unfinished.
        case closed
    }

    private struct State: ~Copyable {
        var schedule: AdmissionSchedule
        var waiters: [UInt64: CheckedContinuation<Turn, Never>] = [:]
        /// The partition each waiter was read from (parked checks have none).
        var partitions: [UInt64: TopicPartition] = [:]
        var nextID: UInt64 = 0
        var closed = false
        /// Partitions being revoked: their requests are handed back as they arrive.
        var refused: Set<TopicPartition> = []

        mutating func take(_ id: UInt64) -> CheckedContinuation<Turn, Never>? {
            partitions.removeValue(forKey: id)
            return waiters.removeValue(forKey: id)
        }
    }

    private let state: Mutex<State>
    let capacity: Int

    init(capacity: Int, weights: [String: Int], defaultWeight: Int) {
        self.capacity = max(1, capacity)
        self.state = Mutex(State(schedule: AdmissionSchedule(capacity: capacity, weights: weights, defaultWeight: defaultWeight)))
    }

    /// Requests admitted now, and waiting.
    var load: (admitted: Int, waiting: Int) { state.withLock { ($0.schedule.admitted, $0.schedule.waiting) } }

    /// Waits for the request's turn.
    /// - Parameters:
    ///   - queue: its queue within the agency (the channel's).
    ///   - deadline: when waiting any longer is useless (the request's deadline); `nil`: none.
    ///   - partition: where the request was read from: revoking it hands the waiter back (``close(_:)``).
    func turn(agency: String, queue: Int, deadline: ContinuousClock.Instant?, partition: TopicPartition? = nil) async -> Turn {
        // Room, and nobody waiting before it: admitted at once, without suspending (the common
        // case below the quota, where a continuation per request was pure cost).
        let immediate = state.withLock { state -> Turn? in
            if state.closed || Task.isCancelled || partition.map(state.refused.contains) == true { return .closed }
            guard state.schedule.waiting == 0, state.schedule.admitted < state.schedule.capacity else { return nil }
            state.nextID &+= 1
            _ = state.schedule.enqueue(state.nextID, agency: agency, queue: queue, deadline: deadline)
            return .admitted
        }
        if let immediate { return immediate }
        let id = state.withLock { state in
            state.nextID &+= 1
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
                var resume: [(CheckedContinuation<Turn, Never>, Turn)] = []
                state.withLock { state in
                    if state.closed || Task.isCancelled || partition.map(state.refused.contains) == true {
                        resume.append((continuation, .closed))
                        return
                    }
                    state.waiters[id] = continuation
                    if let partition { state.partitions[id] = partition }
                    for granted in state.schedule.enqueue(id, agency: agency, queue: queue, deadline: deadline) {
                        if let waiter = state.take(granted) { resume.append((waiter, .admitted)) }
                    }
                }
                for (waiter, turn) in resume { waiter.resume(returning: turn) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Turn, Never>? in
                guard state.schedule.cancel(id) else { return nil }
                state.partitions.removeValue(forKey: id)
                return state.waiters.removeValue(forKey: id)
            }
            waiter?.resume(returning: .closed)
        }
    }

    /// An admitted request is done with the registry.
    func finish() {
        let granted = state.withLock { state in
            state.schedule.finish().compactMap { state.take($0) }
        }
        for waiter in granted { waiter.resume(returning: .admitted) }
    }

    /// Hands back waiters whose deadline has passed.
    func expire(at instant: ContinuousClock.Instant = .now) {
        let expired = state.withLock { state in
            state.schedule.expire(at: instant).compactMap { state.take($0) }
        }
        for waiter in expired { waiter.resume(returning: .expired) }
    }

    /// Sweeps expired waiters every 100 ms until cancelled.
    func expireLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(100))
            expire()
        }
    }

    /// Hands every waiter back as ``Turn/closed`` and refuses new ones (admitted requests finish).
    func close() {
        let waiters = state.withLock { state in
            state.closed = true
            return state.schedule.removeAll().compactMap { state.take($0) }
        }
        for waiter in waiters { waiter.resume(returning: .closed) }
    }

    /// Hands back as ``Turn/closed`` the waiters read from `partitions` (revoked: their new owner
    /// reads them again), so that a revocation does not wait for a backlog's turns.
    /// Requests of these partitions that arrive later are handed back too, until ``reopen(_:)``.
    func close(_ partitions: Set<TopicPartition>) {
        let waiters = state.withLock { state in
            state.refused.formUnion(partitions)
            let ids = state.partitions.filter { partitions.contains($0.value) }.map(\.key)
            return ids.compactMap { id in state.schedule.cancel(id) ? state.take(id) : nil }
        }
        for waiter in waiters { waiter.resume(returning: .closed) }
    }

    /// Partitions assigned (again): their requests take turns as usual.
    func reopen(_ partitions: Set<TopicPartition>) {
        state.withLock { $0.refused.subtract(partitions) }
    }
}
