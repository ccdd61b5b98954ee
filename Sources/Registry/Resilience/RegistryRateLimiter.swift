/// Gates every registry call: `acquire()` returns when one call may be sent, at once.
///
/// Two implementations: ``LocalRateLimiter`` (one process) and the fleet-wide limiter in the `Store`
/// module, which shares `REGISTRY_RATE_LIMIT` between all worker processes through PostgreSQL.
/// ``FairScheduler`` sits in front of either and decides *which* waiting call gets the next slot.
public protocol RegistryRateLimiter: Sendable {
    /// Suspends until the caller may send one registry call, and returns its slot: send now.
    ///
    /// Throws `CancellationError` when the task is cancelled (the slot is then lost, never reused
    /// late), or a ``RegistryError`` with code ``RegistryError/Code/limiterUnavailable`` when no
    /// decision can be made (for the fleet limiter: PostgreSQL unreachable).
    func acquire() async throws -> RegistryRateSlot

    /// As ``acquire()``, but does not return before `notBefore`: a caller that takes slots in
    /// groups (``FairScheduler`` at high limits) wakes once per group and takes the slots that came
    /// due meanwhile with ``tryAcquireNow()``. A slot is still given up once it is older than its
    /// late tolerance, so `notBefore` must stay well within that tolerance of the next slot.
    /// Default: sleeps until `notBefore`, then ``acquire()``.
    func acquire(notBefore: ContinuousClock.Instant) async throws -> RegistryRateSlot

    /// A slot whose time has come, if there is one at this moment; never waits. Lets a call that
    /// finds no queue go without a round of scheduling. Default: `nil` (always use ``acquire()``).
    func tryAcquireNow() -> RegistryRateSlot?
}

extension RegistryRateLimiter {
    public func tryAcquireNow() -> RegistryRateSlot? { nil }

    public func acquire(notBefore: ContinuousClock.Instant) async throws -> RegistryRateSlot {
        if notBefore > .now { try await Task.sleep(until: notBefore, tolerance: .zero, clock: .continuous) }
        return try await self.acquire()
    }
}

/// Permission to send one registry call at ``time``.
///
/// The caller checks ``isStale(at:)`` just before sending: a call sent later than ``lateTolerance``
/// after its slot could crowd the calls of the next second, so a stale slot is given up and the
/// call waits for another.
public struct RegistryRateSlot: Sendable, Hashable {
    /// When the call may go.
    public let time: ContinuousClock.Instant
    /// How late after ``time`` the call may still go.
    public let lateTolerance: Duration

    public init(time: ContinuousClock.Instant, lateTolerance: Duration) {
        self.time = time
        self.lateTolerance = lateTolerance
    }

    /// Whether it is too late at `now` to use this slot.
    public func isStale(at now: ContinuousClock.Instant) -> Bool {
        now - self.time > self.lateTolerance
    }
}

/// A rate limit in the contract's sense (section 7, `REGISTRY_RATE_LIMIT`): at most
/// ``callsPerSecond`` calls in **any** sliding one-second window, bursts included.
///
/// The limiters enforce it as a schedule of slots spaced evenly by ``emissionInterval``
/// = (1 s + ``safetyMargin``) / ``callsPerSecond`` (GCRA with a burst of one). Any interval of
/// 1 s + margin then holds at most `callsPerSecond` slots, so a call may reach the registry up to
/// ``safetyMargin`` later than its slot, relative to the calls that follow it (scheduling delays,
/// network, a lease's clock mapping), and no one-second window as the registry counts it ever holds
/// more than `callsPerSecond` calls. A slot whose caller wakes more than ``lateTolerance`` after it
/// is skipped rather than used late. The price is throughput: at most
/// 1 s / (1 s + margin) of the limit (98.0 % with the default 20 ms).
public struct RegistryRateLimit: Sendable, Hashable {
    /// The limit. Required (`REGISTRY_RATE_LIMIT`).
    public var callsPerSecond: Int
    /// Allowance for delays between a slot and the call's arrival at the registry. Default: 20 ms
    /// (`REGISTRY_RATE_MARGIN_MS`): 5 ms of late tolerance, 15 ms for the HTTP path and the network.
    public var safetyMargin: Duration
    /// A slot used later than this after its time is given up. Must not exceed ``safetyMargin``.
    /// Default: 5 ms (``defaultLateTolerance(margin:)``).
    public var lateTolerance: Duration

    /// The late tolerance that goes with a margin: 5 ms, or the whole margin if it is smaller. The
    /// rest of the margin is left for what happens after the last check (HTTP stack, network).
    public static func defaultLateTolerance(margin: Duration) -> Duration { min(.milliseconds(5), margin) }

    public init(callsPerSecond: Int, safetyMargin: Duration = .milliseconds(20), lateTolerance: Duration? = nil) {
        self.callsPerSecond = callsPerSecond
        self.safetyMargin = safetyMargin
        self.lateTolerance = lateTolerance ?? Self.defaultLateTolerance(margin: safetyMargin)
    }

    /// Checks the values, naming the one that cannot work.
    public func validate() throws {
        guard self.callsPerSecond >= 1 else {
            throw RegistryConfigurationError("REGISTRY_RATE_LIMIT must be a positive number of calls per second, got \(self.callsPerSecond)")
        }
        guard self.callsPerSecond <= 1_000_000 else {
            throw RegistryConfigurationError("REGISTRY_RATE_LIMIT of \(self.callsPerSecond) calls per second is beyond what the limiter can space")
        }
        guard self.safetyMargin >= .zero, self.safetyMargin < .seconds(1) else {
            throw RegistryConfigurationError("rate limit safetyMargin must be between 0 and 1 s")
        }
        guard self.lateTolerance >= .milliseconds(1), self.lateTolerance <= self.safetyMargin else {
            // Zero would refuse every slot: some time always passes between a slot and its send.
            throw RegistryConfigurationError("rate limit lateTolerance must be between 1 ms and safetyMargin")
        }
    }

    /// The spacing of slots in whole microseconds, rounded up (so never more than the limit).
    public var emissionIntervalMicroseconds: Int64 {
        let windowMicroseconds = 1_000_000 + self.safetyMargin.nanoseconds / 1_000
        let perSecond = Int64(max(self.callsPerSecond, 1))
        return (windowMicroseconds + perSecond - 1) / perSecond
    }

    /// The spacing of slots.
    public var emissionInterval: Duration { .microseconds(self.emissionIntervalMicroseconds) }

    /// The share of ``callsPerSecond`` the spacing can use at best.
    public var maximumUtilisation: Double { 1_000_000 / (Double(self.emissionIntervalMicroseconds) * Double(self.callsPerSecond)) }
}
