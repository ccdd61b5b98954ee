import Logging
import PostgresNIO
import Registry
import Synchronization

/// The registry quota shared by every worker process (contract section 7, `REGISTRY_RATE_LIMIT`),
/// coordinated through one PostgreSQL row.
///
/// **Guarantee.** The row holds the next free slot of a single fleet-wide schedule in which slots
/// are spaced by ``RegistryRateLimit/emissionInterval`` = (1 s + margin) / N (GCRA with a burst of
/// one). Every grant advances it under the row lock, so no two processes ever get the same slot,
/// and any interval of 1 s + margin holds at most N slots. A process maps slot times (database
/// clock) onto its own monotonic clock with the offset measured by its most precise recent round
/// trip (error: half that round trip, typically well under a millisecond, bounded by
/// ``Configuration/maxClockError``), and uses a slot only within ``RegistryRateLimit/lateTolerance``
/// of its time. Calls therefore drift from their slots by less than the margin, and no sliding
/// one-second window, as the registry counts arrivals, holds more than N calls — bursts and window
/// boundaries included.
///
/// **Throughput.** Processes lease batches of consecutive slots (at most ``Configuration/maxBatch``,
/// which by default scales with the limit, never more than ``Configuration/maxLeaseAhead`` into the
/// future), and
/// lease the next batch in the background when half the current one is used, so the fleet's
/// schedule stays ahead and a slow round trip does not make a slot in hand late. With the default
/// 30 ms margin the schedule offers 97 % of N; batches grow while their slots are used and shrink
/// when slots expire unused, so an idle process does not sit on the fleet's slots.
///
/// Needs migrations 1 and 3 (``Migration/registryQuota``, ``Migration/registryQuotaClock``).
public final class FleetRateLimiter: RegistryRateLimiter {
    public struct Configuration: Sendable, Hashable {
        /// The fleet's limit, margin and late tolerance. Required (`REGISTRY_RATE_LIMIT`).
        public var rateLimit: RegistryRateLimit
        /// The quota row's key: processes that share a name share a quota. Default: `"registry"`.
        public var quotaName: String
        /// Slots per lease at most. Default (`nil`): scales with the limit, as many slots as the
        /// schedule holds in an eighth of ``maxLeaseAhead``, at least ``minimumDefaultBatch`` (32)
        /// and at most ``maximumDefaultBatch`` (4,096). At a high limit one lease then covers many
        /// calls (at 100,000/s: about 3,000 slots, 31 ms of the fleet's schedule), so the quota costs
        /// PostgreSQL a few round trips per second instead of one per 32 calls; at low limits it is
        /// 32 as before. A lease never covers more than a small part of the schedule, so one process
        /// cannot hold much of the fleet's quota.
        public var maxBatch: Int?
        /// Slots are never leased further ahead than this. Default: 250 ms.
        public var maxLeaseAhead: Duration
        /// Slots are used only while the database clock is known to within this (half the best
        /// recent round trip, plus drift since it). Default: 5 ms.
        public var maxClockError: Duration
        /// A lease not answered within this fails with ``RegistryError/Code/limiterUnavailable``.
        /// PostgresNIO queues a query while it cannot connect, so without a bound a database outage
        /// would look like a limiter that never grants — and callers would time out as if the
        /// registry were slow. Default: 2 s.
        public var leaseTimeout: Duration

        public init(
            rateLimit: RegistryRateLimit,
            quotaName: String = "registry",
            maxBatch: Int? = nil,
            maxLeaseAhead: Duration = .milliseconds(250),
            maxClockError: Duration = .milliseconds(5),
            leaseTimeout: Duration = .seconds(2)
        ) {
            self.rateLimit = rateLimit
            self.quotaName = quotaName
            self.maxBatch = maxBatch
            self.maxLeaseAhead = maxLeaseAhead
            self.maxClockError = maxClockError
            self.leaseTimeout = leaseTimeout
        }

        /// Checks the values, naming the one that cannot work.
        public func validate() throws {
            try self.rateLimit.validate()
            guard !self.quotaName.isEmpty else { throw RegistryConfigurationError("fleet quota name must not be empty") }
            guard (self.maxBatch ?? 1) >= 1 else { throw RegistryConfigurationError("fleet limiter maxBatch must be at least 1") }
            guard self.maxLeaseAhead >= .zero else { throw RegistryConfigurationError("fleet limiter maxLeaseAhead must not be negative") }
            guard self.maxClockError > .zero else { throw RegistryConfigurationError("fleet limiter maxClockError must be positive") }
            guard self.leaseTimeout > .zero else { throw RegistryConfigurationError("fleet limiter leaseTimeout must be positive") }
        }
    }

    /// Counters for tests and diagnostics.
    public struct Statistics: Sendable, Hashable {
        /// Lease round trips to PostgreSQL.
        public var leases = 0
        /// Slots leased.
        public var slotsLeased = 0
        /// Slots handed to callers.
        public var slotsUsed = 0
        /// Slots given up: expired unused, woken too late for, or leased while the clock was uncertain.
        public var slotsSkipped = 0
        /// The best recent round trip to the database, which bounds the clock mapping's error.
        public var bestRoundTrip: Duration?
        /// The latest a caller woke after the time it slept until (its slot's, or a little later
        /// when slots are taken in groups), used or not: beyond the margin, this
        /// process could not keep time (CPU starvation), which the limit's guarantee assumes it can.
        public var maxWakeLateness: Duration = .zero
    }

    /// One reading of the database clock: `databaseMicros` was its time at about `local`, within
    /// ± half of `roundTrip`.
    struct ClockSample: Sendable {
        let local: ContinuousClock.Instant
        let databaseMicros: Int64
        let roundTrip: Duration

        /// Clocks of two machines drift apart by less than 100 ppm (NTP keeps them far closer).
        static let driftPerSecond = 0.000_1

        /// How far off mapping through this sample may be at `now`.
        func uncertainty(at now: ContinuousClock.Instant) -> Duration {
            self.roundTrip / 2 + (now - self.local) * Self.driftPerSecond
        }

        /// The local instant of a database time.
        func local(ofDatabaseMicros micros: Int64) -> ContinuousClock.Instant {
            self.local + .microseconds(micros - self.databaseMicros)
        }

        /// The better of `self` and a new sample: the one with the smaller uncertainty, unless they
        /// disagree beyond their uncertainties (the database clock was stepped), then the new one.
        func merged(with new: ClockSample) -> ClockSample {
            let predicted = self.local(ofDatabaseMicros: new.databaseMicros)
            let disagreement = predicted > new.local ? predicted - new.local : new.local - predicted
            let tolerance = self.uncertainty(at: new.local) + new.roundTrip / 2 + .milliseconds(1)
            if disagreement > tolerance { return new }
            return new.roundTrip / 2 <= self.uncertainty(at: new.local) ? new : self
        }
    }

    private struct State {
        var slots: [ContinuousClock.Instant] = []
        var nextSlotIndex = 0
        var batchSize: Int
        var usedSinceResize = 0
        var clock: ClockSample?
        var statistics = Statistics()
        /// The lease under way, shared by everyone who needs slots meanwhile.
        var leaseTask: Task<LeaseResult, any Error>?
        var leaseGeneration: UInt64 = 0

        var remainingSlots: Int { self.slots.count - self.nextSlotIndex }

        mutating func popSlot() -> ContinuousClock.Instant? {
            guard self.remainingSlots > 0 else { return nil }
            defer { self.nextSlotIndex += 1 }
            return self.slots[self.nextSlotIndex]
        }
    }

    private enum LeaseResult: Sendable {
        case granted
        case retry(in: Duration)
    }

    public let configuration: Configuration
    private let client: PostgresClient
    private let logger: Logger
    private let intervalMicroseconds: Int64
    private let maxAheadMicroseconds: Int64
    private let batchCeiling: Int
    /// Batches never shrink below this: 1, or half the ceiling when the default ceiling scaled above
    /// 32 (a high limit). There a lease's slots come 10 µs apart and most expire unused unless calls
    /// come at the full limit; halving per expired slot made leases small and frequent (measured:
    /// 138 leases/s at 5,800 calls/s against a 100,000/s limit), while what an idle process sits on
    /// is bounded by the ceiling's span anyway (an eighth of `maxLeaseAhead`).
    private let batchFloor: Int
    private let state: Mutex<State>

    /// - Parameters:
    ///   - client: A running `PostgresClient` on a database with migrations 1 and 3 applied.
    ///   - configuration: The limit and leasing parameters.
    ///   - logger: Lease problems are logged at `debug`; PostgreSQL failures surface as errors.
    /// - Throws: ``RegistryConfigurationError`` when the configuration is invalid.
    public init(client: PostgresClient, configuration: Configuration, logger: Logger) throws {
        try configuration.validate()
        self.configuration = configuration
        self.client = client
        self.logger = logger
        self.intervalMicroseconds = configuration.rateLimit.emissionIntervalMicroseconds
        let (seconds, attoseconds) = configuration.maxLeaseAhead.components
        self.maxAheadMicroseconds = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
        let fitting = Int(self.maxAheadMicroseconds / self.intervalMicroseconds) + 1
        let scaled = min(Self.maximumDefaultBatch, max(Self.minimumDefaultBatch, fitting / 8))
        self.batchCeiling = max(1, min(configuration.maxBatch ?? scaled, fitting))
        self.batchFloor = configuration.maxBatch == nil && scaled > Self.minimumDefaultBatch ? max(1, self.batchCeiling / 2) : 1
        self.state = Mutex(State(batchSize: max(self.batchFloor, min(4, self.batchCeiling))))
    }

    /// Bounds of the default ``Configuration/maxBatch``.
    public static let minimumDefaultBatch = 32
    public static let maximumDefaultBatch = 4_096

    /// The most slots one lease asks for.
    public var maxSlotsPerLease: Int { self.batchCeiling }

    public var statistics: Statistics {
        self.state.withLock { state in
            var statistics = state.statistics
            statistics.bestRoundTrip = state.clock?.roundTrip
            return statistics
        }
    }

    public func tryAcquireNow() -> RegistryRateSlot? {
        let tolerance = self.configuration.rateLimit.lateTolerance
        let now = ContinuousClock.now
        let (slot, shouldLease): (ContinuousClock.Instant?, Bool) = self.state.withLock { state in
            while state.remainingSlots > 0, now - state.slots[state.nextSlotIndex] > tolerance {
                state.nextSlotIndex += 1
                state.statistics.slotsSkipped += 1
            }
            guard state.remainingSlots > 0, state.slots[state.nextSlotIndex] <= now else { return (nil, false) }
            let slot = state.popSlot()
            return (slot, state.remainingSlots <= state.batchSize / 2)
        }
        guard let slot else { return nil }
        if shouldLease { _ = self.startLease() }
        self.noteUsed()
        return RegistryRateSlot(time: slot, lateTolerance: tolerance)
    }

    public func acquire() async throws -> RegistryRateSlot {
        try await self.acquire(notBefore: .now)
    }

    public func acquire(notBefore: ContinuousClock.Instant) async throws -> RegistryRateSlot {
        let tolerance = self.configuration.rateLimit.lateTolerance
        while true {
            try Task.checkCancellation()
            let (popped, remaining, batch) = self.state.withLock { ($0.popSlot(), $0.remainingSlots, $0.batchSize) }
            guard let slot = popped else {
                switch try await self.startLease().value {
                case .granted: continue
                case .retry(let wait): try await Task.sleep(for: wait, tolerance: .zero, clock: .continuous)
                }
                continue
            }
            if ContinuousClock.now - slot > tolerance {
                self.noteSkipped()
                continue
            }
            // Half the batch left: lease the next one in the background, so the schedule stays
            // ahead and a slow round trip never makes a slot in hand late.
            if remaining <= batch / 2 { _ = self.startLease() }
            let wake = max(slot, notBefore)
            if wake > ContinuousClock.now {
                try await Task.sleep(until: wake, tolerance: .zero, clock: .continuous)
                let lateness = ContinuousClock.now - wake
                self.state.withLock { $0.statistics.maxWakeLateness = max($0.statistics.maxWakeLateness, lateness) }
            }
            if ContinuousClock.now - slot > tolerance {
                self.noteSkipped()
                continue
            }
            self.noteUsed()
            return RegistryRateSlot(time: slot, lateTolerance: tolerance)
        }
    }

    // MARK: Leasing

    /// The lease under way, or a new one. Unstructured on purpose: a lease started ahead of need
    /// must not hold up the caller whose slot comes first, and it ends with its round trip.
    private func startLease() -> Task<LeaseResult, any Error> {
        self.state.withLock { state in
            if let task = state.leaseTask { return task }
            state.leaseGeneration &+= 1
            let generation = state.leaseGeneration
            let task = Task {
                defer {
                    self.state.withLock { state in
                        if state.leaseGeneration == generation { state.leaseTask = nil }
                    }
                }
                do {
                    return try await self.boundedLease()
                } catch {
                    self.logger.debug("Registry quota lease failed", metadata: ["store.error": "\(type(of: error))"])
                    throw error
                }
            }
            state.leaseTask = task
            return task
        }
    }

    /// ``lease()`` within ``Configuration/leaseTimeout``.
    private func boundedLease() async throws -> LeaseResult {
        try await withTimeLimit(self.configuration.leaseTimeout, else: RegistryError(code: .limiterUnavailable)) {
            try await self.lease()
        }
    }

    /// One lease round trip (retried twice on a database error).
    private func lease() async throws -> LeaseResult {
        if self.state.withLock({ $0.clock == nil }) {
            // First contact: read the clock once, so that the lease's slots map precisely even if
            // this round trip also had to open the connection.
            try await self.withDatabaseRetries { try await self.sampleClock() }
        }
        let count = self.state.withLock { $0.batchSize }
        return try await self.withDatabaseRetries {
            let sentAt = ContinuousClock.now
            let lease = QuotaLease(
                quota: self.configuration.quotaName, count: Int32(count), interval: self.intervalMicroseconds,
                maxAhead: self.maxAheadMicroseconds)
            let answer = try await self.client.rows(lease, logger: self.logger).first
            let receivedAt = ContinuousClock.now
            guard let answer else { throw RegistryError(code: .limiterUnavailable) }
            return self.accept(answer, sentAt: sentAt, receivedAt: receivedAt)
        }
    }

    private func sampleClock() async throws {
        let sentAt = ContinuousClock.now
        let rows = try await self.client.query(
            "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint", logger: self.logger)
        var databaseNow: Int64?
        for try await value in rows.decode(Int64.self) { databaseNow = value }
        let receivedAt = ContinuousClock.now
        guard let databaseNow else { throw RegistryError(code: .limiterUnavailable) }
        let sample = Self.sample(databaseNow, sentAt: sentAt, receivedAt: receivedAt)
        self.state.withLock { $0.clock = $0.clock?.merged(with: sample) ?? sample }
    }

    private func withDatabaseRetries<Result>(_ operation: () async throws -> Result) async throws -> Result {
        var lastError: (any Error)?
        for attempt in 0..<3 {
            if attempt > 0 { try await Task.sleep(for: .milliseconds(25 * attempt * attempt)) }
            do {
                return try await operation()
            } catch let error as RegistryError {
                throw error
            } catch {
                if Task.isCancelled || error is CancellationError { throw CancellationError() }
                lastError = error
            }
        }
        throw RegistryError(code: .limiterUnavailable, underlying: lastError)
    }

    private static func sample(_ databaseMicros: Int64, sentAt: ContinuousClock.Instant, receivedAt: ContinuousClock.Instant) -> ClockSample {
        // The database read its clock somewhere between sending and receiving: take the middle.
        let roundTrip = sentAt.duration(to: receivedAt)
        return ClockSample(local: sentAt + roundTrip / 2, databaseMicros: databaseMicros, roundTrip: roundTrip)
    }

    private func accept(
        _ answer: (granted: Int64, firstSlot: Int64, databaseNow: Int64, retryIn: Int64),
        sentAt: ContinuousClock.Instant,
        receivedAt: ContinuousClock.Instant
    ) -> LeaseResult {
        let sample = Self.sample(answer.databaseNow, sentAt: sentAt, receivedAt: receivedAt)
        return self.state.withLock { state in
            let clock = state.clock?.merged(with: sample) ?? sample
            state.clock = clock
            guard answer.granted > 0 else {
                return .retry(in: .microseconds(max(answer.retryIn, 500)))
            }
            state.statistics.leases += 1
            state.statistics.slotsLeased += Int(answer.granted)
            guard clock.uncertainty(at: receivedAt) <= self.configuration.maxClockError else {
                // Slots mapped this roughly could crowd another process's calls; losing them costs
                // only quota. The next round trip will most likely be quick enough.
                state.statistics.slotsSkipped += Int(answer.granted)
                return .granted
            }
            // Keep any slots still in hand (a concurrent acquire's), add the new ones in order.
            var slots = Array(state.slots[state.nextSlotIndex...])
            for index in 0..<answer.granted {
                slots.append(clock.local(ofDatabaseMicros: answer.firstSlot + index * self.intervalMicroseconds))
            }
            slots.sort()
            state.slots = slots
            state.nextSlotIndex = 0
            return .granted
        }
    }

    private func noteUsed() {
        self.state.withLock { state in
            state.statistics.slotsUsed += 1
            state.usedSinceResize += 1
            if state.usedSinceResize >= state.batchSize {
                state.batchSize = min(self.batchCeiling, state.batchSize * 2)
                state.usedSinceResize = 0
            }
        }
    }

    private func noteSkipped() {
        self.state.withLock { state in
            state.statistics.slotsSkipped += 1
            state.batchSize = max(self.batchFloor, state.batchSize / 2)
            state.usedSinceResize = 0
        }
    }
}


/// One lease of quota slots (migration `registry_quota_lease_at`), prepared once per connection.
struct QuotaLease: PostgresPreparedStatement {
    static let sql = "SELECT granted::bigint, first_slot_us, db_now_us, retry_in_us FROM registry_quota_lease_at($1, $2, $3, $4)"
    typealias Row = (granted: Int64, firstSlot: Int64, databaseNow: Int64, retryIn: Int64)

    var quota: String
    var count: Int32
    var interval: Int64
    var maxAhead: Int64

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 4)
        bindings.append(quota)
        bindings.append(count)
        bindings.append(interval)
        bindings.append(maxAhead)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        let (granted, firstSlot, databaseNow, retryIn) = try row.decode((Int64, Int64, Int64, Int64).self)
        return (granted, firstSlot, databaseNow, retryIn)
    }
}
