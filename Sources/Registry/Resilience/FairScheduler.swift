import Synchronization

/// Decides which waiting registry call goes next: per-agency queues served by deficit round robin
/// (``FairQueue``) in front of a ``RegistryRateLimiter``, with a bound on calls in flight.
///
/// When the quota is saturated, every agency with calls waiting gets its turn in each round, so a
/// flooding agency waits behind its own backlog while a quiet agency's call goes out within one
/// round. Calls in flight are bounded by ``Configuration/maxConcurrentCalls`` (sized like the HTTP
/// connection pool), and a slot is taken from the limiter only when a connection is free, so a call
/// goes out the moment its slot comes instead of queueing in the pool and arriving late.
///
/// Calls in flight ramp up from one, by one per completed call, and start again from one after
/// ``Configuration/idleRestart`` without calls: each call that has to open a new connection (TCP,
/// TLS) reaches the registry late by the handshake, and letting such calls go one at a time keeps
/// them from arriving in a bunch, which could crowd a one-second window. The ramp takes
/// `maxConcurrentCalls` calls (``Configuration/adaptiveFrom`` when set), a fraction of a second
/// under load. With ``Configuration/adaptiveFrom`` the bound then follows the registry's latency
/// (``ConcurrencyLimit``).
///
/// One pump task, started on demand and ended when nobody waits, takes slots from the limiter and
/// hands each to the next waiter in fair order. At high limits it wakes at most once per
/// ``Configuration/slotGrouping`` and hands out every slot that came due meanwhile, instead of
/// sleeping and waking for each slot (at 5,000 calls/s, 5,000 timer wake-ups a second). Waiters
/// suspend on a continuation; cancellation removes them at once. One watcher task fails waiters whose deadline has passed
/// (a task group racing a timer per waiting call cost two tasks and a timer per call).
public final class FairScheduler: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// Calls in flight at most; match it to the transport's connection pool. Default: `128`
        /// (`REGISTRY_CONCURRENCY`).
        public var maxConcurrentCalls: Int
        /// When set, calls in flight ramp up to this many and then adapt up to
        /// ``maxConcurrentCalls`` as the registry's latency allows (``ConcurrencyLimit``): growing
        /// while the calls in flight, not the quota, hold the rate back and answers do not slow
        /// down, shrinking back while they do. `nil`: fixed at ``maxConcurrentCalls``. Default:
        /// `nil` (the service sets it when `REGISTRY_CONCURRENCY` is not given).
        public var adaptiveFrom: Int?
        /// Per-agency weights (calls per round) for agencies that should get more than the default.
        /// Default: empty.
        public var weights: [String: Int]
        /// Calls per round for every other agency. Default: `1`.
        public var defaultWeight: Int
        /// After this long without a call, calls in flight ramp up from one again (the transport
        /// may have closed its idle connections). Keep it below the transport's idle timeout.
        /// Default: 30 s.
        public var idleRestart: Duration
        /// While slots come faster than this, the pump wakes at most once per this and hands out the
        /// slots that came due meanwhile together; each then goes out up to this late, which the
        /// limit's late tolerance (5 ms by default) must cover with room to spare. Slots further
        /// apart are taken at their time. Zero: a wake-up per slot. Default: 1 ms.
        public var slotGrouping: Duration

        public init(
            maxConcurrentCalls: Int = 128,
            weights: [String: Int] = [:],
            defaultWeight: Int = 1,
            idleRestart: Duration = .seconds(30),
            slotGrouping: Duration = .milliseconds(1),
            adaptiveFrom: Int? = nil
        ) {
            self.maxConcurrentCalls = maxConcurrentCalls
            self.adaptiveFrom = adaptiveFrom
            self.weights = weights
            self.defaultWeight = defaultWeight
            self.idleRestart = idleRestart
            self.slotGrouping = slotGrouping
        }

        /// Checks the values, naming the one that cannot work.
        public func validate() throws {
            guard self.maxConcurrentCalls >= 1 else { throw RegistryConfigurationError("REGISTRY_CONCURRENCY must be at least 1") }
            if let adaptiveFrom = self.adaptiveFrom, !(1...self.maxConcurrentCalls).contains(adaptiveFrom) {
                throw RegistryConfigurationError("adaptive calls in flight must start between 1 and REGISTRY_CONCURRENCY")
            }
            guard self.defaultWeight >= 1, self.weights.values.allSatisfy({ $0 >= 1 }) else {
                throw RegistryConfigurationError("agency weights must be at least 1")
            }
            guard self.slotGrouping >= .zero, self.slotGrouping < .milliseconds(5) else {
                throw RegistryConfigurationError("rate-limit slot grouping must be between 0 and 5 ms")
            }
        }
    }

    private enum Pump {
        case idle
        case running(generation: UInt64, task: Task<Void, Never>?)
        case waitingForCapacity(generation: UInt64, task: Task<Void, Never>?, CheckedContinuation<Bool, Never>)
    }

    private struct State {
        var queue: FairQueue<UInt64>
        var waiters: [UInt64: CheckedContinuation<RegistryRateSlot, any Error>] = [:]
        var nextWaiterID: UInt64 = 0
        var inFlight = 0
        /// Calls allowed in flight now.
        var limit: ConcurrencyLimit
        var lastRelease = ContinuousClock.now
        var pump = Pump.idle
        var pumpGeneration: UInt64 = 0
        var isShutDown = false
        /// Waiters' deadlines, earliest first (entries of waiters already gone are skipped).
        var deadlines = DeadlineHeap()
        /// When the deadline watcher wakes next; `nil` when it is not running.
        var watcherWakesAt: ContinuousClock.Instant?
        var watcher: Task<Void, Never>?

        init(queue: FairQueue<UInt64>, limit: ConcurrencyLimit) {
            self.queue = queue
            self.limit = limit
        }

        /// Drops deadlines of waiters already served or gone from the top of the heap, so that it
        /// holds little more than the waiting calls.
        mutating func pruneDeadlines() {
            while let (_, id) = self.deadlines.first, self.waiters[id] == nil { self.deadlines.removeFirst() }
        }
    }

    public let configuration: Configuration
    private let limiter: any RegistryRateLimiter
    private let state: Mutex<State>
    /// ``callsAllowed``, readable without the lock.
    private let allowed = Atomic<Int>(1)

    /// - Throws: ``RegistryConfigurationError`` when the configuration is invalid.
    public init(limiter: any RegistryRateLimiter, configuration: Configuration = .init()) throws {
        try configuration.validate()
        self.configuration = configuration
        self.limiter = limiter
        let limit = ConcurrencyLimit(
            .init(
                base: configuration.adaptiveFrom ?? configuration.maxConcurrentCalls, ceiling: configuration.maxConcurrentCalls,
                adaptive: configuration.adaptiveFrom != nil))
        self.state = Mutex(State(queue: FairQueue(weights: configuration.weights, defaultWeight: configuration.defaultWeight), limit: limit))
    }

    /// Calls waiting for a slot, and calls in flight.
    public var load: (waiting: Int, inFlight: Int) {
        self.state.withLock { ($0.waiters.count, $0.inFlight) }
    }

    /// Calls allowed in flight now (``Configuration/adaptiveFrom``).
    public var callsAllowed: Int { self.allowed.load(ordering: .relaxed) }

    /// Waits for `agency`'s turn, a rate-limit slot and a free connection, runs `body` (the call),
    /// then frees the connection.
    ///
    /// - Parameters:
    ///   - agency: Whose quota share the call uses.
    ///   - deadline: Give up waiting then with ``RegistryError/Code/deadlineExceeded``. `nil`: wait
    ///     until served or cancelled.
    ///   - body: The call. It gets the rate-limit slot, and should give the call up (and queue
    ///     again) if the slot ``RegistryRateSlot/isStale(at:)`` by the time it would send.
    public func withPermit<Result: Sendable>(
        agency: String,
        deadline: ContinuousClock.Instant? = nil,
        _ body: (RegistryRateSlot) async throws -> Result
    ) async throws -> Result {
        let slot = try await self.admit(agency: agency, deadline: deadline)
        let sentAt = ContinuousClock.now
        defer { self.release(sentAt: sentAt) }
        return try await body(slot)
    }

    /// Fails every waiting call with ``RegistryError/Code/shutDown`` and refuses new ones.
    public func shutdown() {
        let (waiters, pumpTask, capacityWaiter) = self.state.withLock { state in
            state.isShutDown = true
            state.watcher?.cancel()
            state.watcher = nil
            state.watcherWakesAt = nil
            let waiters = Array(state.waiters.values)
            state.waiters.removeAll()
            _ = state.queue.removeAll()
            switch state.pump {
            case .idle:
                return (waiters, Task<Void, Never>?.none, CheckedContinuation<Bool, Never>?.none)
            case .running(_, let task):
                return (waiters, task, nil)
            case .waitingForCapacity(let generation, let task, let continuation):
                state.pump = .running(generation: generation, task: task)
                return (waiters, task, continuation)
            }
        }
        pumpTask?.cancel()
        capacityWaiter?.resume(returning: false)
        for waiter in waiters { waiter.resume(throwing: RegistryError(code: .shutDown)) }
    }

    // MARK: Admission

    /// Waits for a permit, as ``withPermit(agency:deadline:_:)`` does; the caller must ``release()``
    /// it once the call has finished. (The registry client calls these two directly: the generic
    /// `withPermit` is not specialised across its uses and cost a frame allocation per call.)
    func admit(agency: String, deadline: ContinuousClock.Instant?) async throws -> RegistryRateSlot {
        try Task.checkCancellation()
        if let slot = self.admitImmediately() { return slot }
        if let deadline, ContinuousClock.now >= deadline { throw RegistryError(code: .deadlineExceeded) }
        let id = self.state.withLock { state in
            state.nextWaiterID &+= 1
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<RegistryRateSlot, any Error>) in
                enum Action { case fail(any Error), start(pump: UInt64?, watcher: ContinuousClock.Instant?) }
                let action: Action = self.state.withLock { state in
                    if state.isShutDown { return .fail(RegistryError(code: .shutDown)) }
                    // Checked under the lock: a cancellation either shows here or finds the waiter below.
                    if Task.isCancelled { return .fail(CancellationError()) }
                    state.waiters[id] = continuation
                    state.queue.enqueue(id, for: agency)
                    if state.waiters.count == 1 { state.limit.observe(inFlight: state.inFlight, waiting: true, now: .now) }
                    var watcher: ContinuousClock.Instant?
                    if let deadline {
                        state.pruneDeadlines()
                        state.deadlines.insert(deadline, id)
                        if state.watcherWakesAt.map({ deadline < $0 }) ?? true {
                            state.watcherWakesAt = deadline
                            watcher = deadline
                        }
                    }
                    guard case .idle = state.pump else { return .start(pump: nil, watcher: watcher) }
                    state.pumpGeneration &+= 1
                    state.pump = .running(generation: state.pumpGeneration, task: nil)
                    return .start(pump: state.pumpGeneration, watcher: watcher)
                }
                switch action {
                case .fail(let error):
                    continuation.resume(throwing: error)
                case .start(let pump, let watcher):
                    if let watcher { self.startWatcher(until: watcher) }
                    if let pump { self.startPump(generation: pump) }
                }
            }
        } onCancel: {
            let waiter = self.state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Admission without queueing: when nobody waits, a connection is free and the limiter has a
    /// slot right now (the common case below the limit). The capacity is reserved before asking
    /// the limiter, so no lock is held while calling out.
    private func admitImmediately() -> RegistryRateSlot? {
        let now = ContinuousClock.now
        let reserved = self.state.withLock { state -> Bool in
            guard !state.isShutDown, state.waiters.isEmpty, case .idle = state.pump else { return false }
            if state.inFlight == 0, now - state.lastRelease > self.configuration.idleRestart {
                state.limit.restart()
                self.allowed.store(1, ordering: .relaxed)
            }
            guard state.inFlight < state.limit.limit else { return false }
            state.inFlight += 1
            state.limit.observe(inFlight: state.inFlight, waiting: false, now: now)
            return true
        }
        guard reserved else { return nil }
        if let slot = self.limiter.tryAcquireNow() { return slot }
        self.unreserve()
        return nil
    }

    /// A rate-limit slot due now, for a call already admitted whose slot went stale before it
    /// could be sent (its capacity is still held); `nil` if the limiter has none due.
    func slotDueNow() -> RegistryRateSlot? {
        self.limiter.tryAcquireNow()
    }

    /// Gives back capacity reserved for a call that was not made.
    private func unreserve() {
        let capacityWaiter: CheckedContinuation<Bool, Never>? = self.state.withLock { state in
            precondition(state.inFlight > 0, "FairScheduler: unreserve without a permit in flight")
            state.inFlight -= 1
            state.limit.observe(inFlight: state.inFlight, waiting: !state.waiters.isEmpty, now: .now)
            guard case .waitingForCapacity(let generation, let task, let continuation) = state.pump else { return nil }
            state.pump = .running(generation: generation, task: task)
            return continuation
        }
        capacityWaiter?.resume(returning: true)
    }

    /// Frees the capacity of a call admitted by ``admit(agency:deadline:)`` once it has finished.
    /// - Parameter sentAt: when the call was sent; `nil` if none was made.
    func release(sentAt: ContinuousClock.Instant? = nil) {
        let now = ContinuousClock.now
        let capacityWaiter: CheckedContinuation<Bool, Never>? = self.state.withLock { state in
            precondition(state.inFlight > 0, "FairScheduler: release without a permit in flight")
            state.inFlight -= 1
            state.limit.observe(inFlight: state.inFlight, waiting: !state.waiters.isEmpty, now: now)
            let saturated = state.limit.saturated(waiting: !state.waiters.isEmpty)
            state.lastRelease = now
            state.limit.finished(latency: sentAt.map { now - $0 }, saturated: saturated, now: now)
            self.allowed.store(state.limit.limit, ordering: .relaxed)
            guard case .waitingForCapacity(let generation, let task, let continuation) = state.pump else { return nil }
            state.pump = .running(generation: generation, task: task)
            return continuation
        }
        capacityWaiter?.resume(returning: true)
    }

    // MARK: Deadlines

    /// Starts a watcher that sleeps until `instant` (replacing one that would wake later).
    private func startWatcher(until instant: ContinuousClock.Instant) {
        let task = Task { await self.watchDeadlines(firstWake: instant) }
        let previous: Task<Void, Never>? = self.state.withLock { state in
            guard state.watcherWakesAt == instant, !state.isShutDown else { return task }
            defer { state.watcher = task }
            return state.watcher
        }
        previous?.cancel()
    }

    private func watchDeadlines(firstWake: ContinuousClock.Instant) async {
        var wake = firstWake
        while true {
            do {
                try await Task.sleep(until: wake, tolerance: nil, clock: .continuous)
            } catch {
                return  // replaced by a watcher that wakes earlier, or shut down
            }
            let now = ContinuousClock.now
            let (expired, next): ([CheckedContinuation<RegistryRateSlot, any Error>], ContinuousClock.Instant?) =
                self.state.withLock { state in
                    guard state.watcherWakesAt == wake else { return ([], nil) }
                    var expired: [CheckedContinuation<RegistryRateSlot, any Error>] = []
                    while let (deadline, id) = state.deadlines.first, deadline <= now {
                        state.deadlines.removeFirst()
                        if let waiter = state.waiters.removeValue(forKey: id) { expired.append(waiter) }
                    }
                    state.pruneDeadlines()
                    state.watcherWakesAt = state.deadlines.first?.deadline
                    if state.watcherWakesAt == nil { state.watcher = nil }
                    return (expired, state.watcherWakesAt)
                }
            for waiter in expired { waiter.resume(throwing: RegistryError(code: .deadlineExceeded)) }
            guard let next else { return }
            wake = next
        }
    }

    // MARK: The pump

    private func startPump(generation: UInt64) {
        // Unstructured on purpose: the pump serves many callers and must outlive any one of them.
        // It ends by itself as soon as nobody waits, and `shutdown()` cancels it.
        let task = Task { await self.runPump() }
        self.state.withLock { state in
            if case .running(generation, nil) = state.pump {
                state.pump = .running(generation: generation, task: task)
            }
        }
    }

    /// Whether the pump goes on: `false` (nobody waits, or shut down: the pump is then idle),
    /// `true` (a connection is free), `nil` (it must wait for one).
    private func pumpMayGoOn(_ state: inout State) -> Bool? {
        guard !state.isShutDown, !state.waiters.isEmpty else {
            state.pump = .idle
            // Only tombstones of cancelled waiters can be left: drop them.
            if !state.queue.isEmpty { _ = state.queue.removeAll() }
            return false
        }
        if state.inFlight == 0, ContinuousClock.now - state.lastRelease > self.configuration.idleRestart {
            state.limit.restart()
            self.allowed.store(1, ordering: .relaxed)
        }
        return state.inFlight < state.limit.limit ? true : nil
    }

    private func runPump() async {
        // When the pump last slept for a slot: it sleeps again no sooner than `slotGrouping` later.
        var lastWake = ContinuousClock.now - self.configuration.slotGrouping
        while true {
            // 1. Someone waits, and a connection is free (or wait for one). Checked without a
            // continuation first: under a backlog there is usually room, and this runs per slot.
            var proceed = self.state.withLock { self.pumpMayGoOn(&$0) }
            if proceed == nil {
                proceed = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                    let now: Bool? = self.state.withLock { state in
                        if let decided = self.pumpMayGoOn(&state) { return decided }
                        guard case .running(let generation, let task) = state.pump else {
                            fatalError("FairScheduler: pump running while in state \(state.pump)")
                        }
                        state.pump = .waitingForCapacity(generation: generation, task: task, continuation)
                        return nil
                    }
                    if let now { continuation.resume(returning: now) }
                }
            }
            guard proceed == true else { return }

            // 2. A slot from the limiter: one already due, or the next, waking at most once per
            // `slotGrouping` (the slots due by then are taken at once on the next turns).
            let slot: RegistryRateSlot
            do {
                if let due = self.limiter.tryAcquireNow() {
                    slot = due
                } else {
                    slot = try await self.limiter.acquire(notBefore: lastWake + self.configuration.slotGrouping)
                    lastWake = .now
                }
            } catch {
                let waiters = self.state.withLock { state in
                    state.pump = .idle
                    let waiters = Array(state.waiters.values)
                    state.waiters.removeAll()
                    _ = state.queue.removeAll()
                    return waiters
                }
                let failure: any Error =
                    if let error = error as? RegistryError { error } else if error is CancellationError {
                        RegistryError(code: .shutDown)
                    } else {
                        RegistryError(code: .limiterUnavailable, underlying: error)
                    }
                for waiter in waiters { waiter.resume(throwing: failure) }
                return
            }

            // 3. The slot goes to the next live waiter in fair order (lost if all have left meanwhile).
            let next: CheckedContinuation<RegistryRateSlot, any Error>? = self.state.withLock { state in
                while let (_, id) = state.queue.dequeue() {
                    if let waiter = state.waiters.removeValue(forKey: id) {
                        state.inFlight += 1
                        state.limit.observe(inFlight: state.inFlight, waiting: !state.waiters.isEmpty, now: .now)
                        return waiter
                    }
                }
                return nil
            }
            next?.resume(returning: slot)
        }
    }
}

/// A binary min-heap of (deadline, waiter id).
struct DeadlineHeap {
    private var items: [(deadline: ContinuousClock.Instant, id: UInt64)] = []

    var first: (deadline: ContinuousClock.Instant, id: UInt64)? { self.items.first }
    var count: Int { self.items.count }

    mutating func insert(_ deadline: ContinuousClock.Instant, _ id: UInt64) {
        self.items.append((deadline, id))
        var child = self.items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard self.items[child].deadline < self.items[parent].deadline else { break }
            self.items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func removeFirst() {
        let last = self.items.removeLast()
        guard !self.items.isEmpty else { return }
        self.items[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < self.items.count, self.items[left].deadline < self.items[smallest].deadline { smallest = left }
            if right < self.items.count, self.items[right].deadline < self.items[smallest].deadline { smallest = right }
            guard smallest != parent else { return }
            self.items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
