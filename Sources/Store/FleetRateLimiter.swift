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
/// and any interval of 1 s + margin holds at most N slots. A process uses a slot only within
/// ``RegistryRateLimit/lateTolerance`` of its time and maps slot times onto its own clock from the
/// database clock (error at most half a lease's round trip; leases slower than
/// ``Configuration/maxLeaseRoundTrip`` are discarded), so calls may drift from their slots by less
/// than the margin and no sliding one-second window, as the registry counts it, holds more than N
/// calls — bursts and window boundaries included.
///
/// **Throughput.** Processes lease small batches of consecutive slots (at most
/// ``Configuration/maxBatch``, never more than ``Configuration/maxLeaseAhead`` into the future), and
/// lease the next batch while waiting for the last slot of the current one. With the default 30 ms
/// margin the schedule offers 97 % of N; batches grow while their slots are used and shrink when
/// slots expire unused, so an idle process does not sit on the fleet's slots.
///
/// Needs migration 1 (``Migration/registryQuota``).
public final class FleetRateLimiter: RegistryRateLimiter {
    public struct Configuration: Sendable, Hashable {
        /// The fleet's limit, margin and late tolerance. Required (`REGISTRY_RATE_LIMIT`).
        public var rateLimit: RegistryRateLimit
        /// The quota row's key: processes that share a name share a quota. Default: `"registry"`.
        public var quotaName: String
        /// Slots per lease at most. Default: `32`.
        public var maxBatch: Int
        /// Slots are never leased further ahead than this. Default: 250 ms.
        public var maxLeaseAhead: Duration
        /// A lease whose round trip took longer than this maps its slots onto the local clock too
        /// imprecisely; its slots are given up. Default: 20 ms.
        public var maxLeaseRoundTrip: Duration

        public init(
            rateLimit: RegistryRateLimit,
            quotaName: String = "registry",
            maxBatch: Int = 32,
            maxLeaseAhead: Duration = .milliseconds(250),
            maxLeaseRoundTrip: Duration = .milliseconds(20)
        ) {
            self.rateLimit = rateLimit
            self.quotaName = quotaName
            self.maxBatch = maxBatch
            self.maxLeaseAhead = maxLeaseAhead
            self.maxLeaseRoundTrip = maxLeaseRoundTrip
        }

        /// Checks the values, naming the one that cannot work.
        public func validate() throws {
            try self.rateLimit.validate()
            guard !self.quotaName.isEmpty else { throw RegistryConfigurationError("fleet quota name must not be empty") }
            guard self.maxBatch >= 1 else { throw RegistryConfigurationError("fleet limiter maxBatch must be at least 1") }
            guard self.maxLeaseAhead >= .zero else { throw RegistryConfigurationError("fleet limiter maxLeaseAhead must not be negative") }
            guard self.maxLeaseRoundTrip > .zero else { throw RegistryConfigurationError("fleet limiter maxLeaseRoundTrip must be positive") }
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
        /// Slots given up: expired unused, woken too late for, or from a too-slow lease.
        public var slotsSkipped = 0
    }

    private struct State {
        var slots: [ContinuousClock.Instant] = []
        var nextSlotIndex = 0
        var batchSize: Int
        var usedSinceResize = 0
        var statistics = Statistics()

        var hasSlots: Bool { self.nextSlotIndex < self.slots.count }

        mutating func popSlot() -> ContinuousClock.Instant? {
            guard self.hasSlots else { return nil }
            defer { self.nextSlotIndex += 1 }
            return self.slots[self.nextSlotIndex]
        }
    }

    private enum LeaseResult {
        case granted
        case retry(in: Duration)
    }

    public let configuration: Configuration
    private let client: PostgresClient
    private let logger: Logger
    private let intervalMicroseconds: Int64
    private let batchCeiling: Int
    private let state: Mutex<State>

    /// - Parameters:
    ///   - client: A running `PostgresClient` on a database with migration 1 applied.
    ///   - configuration: The limit and leasing parameters.
    ///   - logger: Lease problems are logged at `debug`; PostgreSQL failures surface as errors.
    /// - Throws: ``RegistryConfigurationError`` when the configuration is invalid.
    public init(client: PostgresClient, configuration: Configuration, logger: Logger) throws {
        try configuration.validate()
        self.configuration = configuration
        self.client = client
        self.logger = logger
        self.intervalMicroseconds = configuration.rateLimit.emissionIntervalMicroseconds
        let aheadMicroseconds = configuration.maxLeaseAhead.components.seconds * 1_000_000
            + configuration.maxLeaseAhead.components.attoseconds / 1_000_000_000_000
        let fitting = Int(aheadMicroseconds / self.intervalMicroseconds) + 1
        self.batchCeiling = max(1, min(configuration.maxBatch, fitting))
        self.state = Mutex(State(batchSize: min(4, self.batchCeiling)))
    }

    public var statistics: Statistics { self.state.withLock { $0.statistics } }

    public func acquire() async throws {
        while true {
            try Task.checkCancellation()
            guard let slot = self.state.withLock({ $0.popSlot() }) else {
                switch try await self.lease() {
                case .granted: continue
                case .retry(let wait): try await Task.sleep(for: wait, tolerance: .zero, clock: .continuous)
                }
                continue
            }
            let tolerance = self.configuration.rateLimit.lateTolerance
            if ContinuousClock.now - slot > tolerance {
                self.noteSkipped()
                continue
            }
            // The last slot in hand: lease the next batch while waiting for it, so the schedule
            // stays ahead. A failure here is not this call's problem; the next acquire meets it.
            if !self.state.withLock({ $0.hasSlots }), slot - ContinuousClock.now > .milliseconds(1) {
                do {
                    _ = try await self.lease()
                } catch {
                    self.logger.debug("Registry quota lease failed ahead of need", metadata: ["store.error": "\(type(of: error))"])
                }
            }
            if slot > ContinuousClock.now {
                try await Task.sleep(until: slot, tolerance: .zero, clock: .continuous)
            }
            if ContinuousClock.now - slot > tolerance {
                self.noteSkipped()
                continue
            }
            self.noteUsed()
            return
        }
    }

    // MARK: Leasing

    private func lease() async throws -> LeaseResult {
        let count = self.state.withLock { $0.batchSize }
        let aheadMicroseconds = self.configuration.maxLeaseAhead.components.seconds * 1_000_000
            + self.configuration.maxLeaseAhead.components.attoseconds / 1_000_000_000_000
        var lastError: (any Error)?
        for attempt in 0..<3 {
            if attempt > 0 { try await Task.sleep(for: .milliseconds(25 * attempt * attempt)) }
            let sentAt = ContinuousClock.now
            do {
                let rows = try await self.client.query(
                    """
                    SELECT granted::bigint, first_offset_us, retry_in_us
                    FROM registry_quota_lease(\(self.configuration.quotaName), \(Int32(count)), \(self.intervalMicroseconds), \(aheadMicroseconds))
                    """,
                    logger: self.logger
                )
                var answer: (granted: Int64, firstOffset: Int64, retryIn: Int64)?
                for try await row in rows.decode((Int64, Int64, Int64).self) { answer = row }
                let receivedAt = ContinuousClock.now
                guard let answer else { throw RegistryError(code: .limiterUnavailable) }
                return self.accept(answer, sentAt: sentAt, receivedAt: receivedAt)
            } catch let error as RegistryError {
                throw error
            } catch {
                if Task.isCancelled || error is CancellationError { throw CancellationError() }
                lastError = error
            }
        }
        throw RegistryError(code: .limiterUnavailable, underlying: lastError)
    }

    private func accept(
        _ answer: (granted: Int64, firstOffset: Int64, retryIn: Int64),
        sentAt: ContinuousClock.Instant,
        receivedAt: ContinuousClock.Instant
    ) -> LeaseResult {
        let roundTrip = sentAt.duration(to: receivedAt)
        guard answer.granted > 0 else {
            return .retry(in: .microseconds(max(answer.retryIn, 500)))
        }
        // The database read its clock somewhere between sending and receiving: take the middle.
        let databaseNow = sentAt + roundTrip / 2
        let tooSlow = roundTrip > self.configuration.maxLeaseRoundTrip
        return self.state.withLock { state in
            state.statistics.leases += 1
            state.statistics.slotsLeased += Int(answer.granted)
            if tooSlow {
                // Keeping these slots could crowd another process's calls; losing them costs only quota.
                state.statistics.slotsSkipped += Int(answer.granted)
                return .granted
            }
            // Drop slots already consumed, keep any still in hand (a concurrent acquire's lease).
            var slots = Array(state.slots[state.nextSlotIndex...])
            for index in 0..<answer.granted {
                slots.append(databaseNow + .microseconds(answer.firstOffset + index * self.intervalMicroseconds))
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
            state.batchSize = max(1, state.batchSize / 2)
            state.usedSinceResize = 0
        }
    }
}
