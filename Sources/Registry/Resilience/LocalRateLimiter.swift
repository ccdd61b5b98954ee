import Synchronization

/// A rate limiter for one process: slots spaced by ``RegistryRateLimit/emissionInterval`` (GCRA with
/// a burst of one), kept in memory.
///
/// Use it when a single worker owns the whole quota, in tests, and in tools; a fleet of workers
/// shares the quota through the `Store` module's fleet limiter instead.
public final class LocalRateLimiter: RegistryRateLimiter {
    public let rateLimit: RegistryRateLimit
    private let interval: Duration
    /// The theoretical arrival time: the earliest instant not yet given out.
    private let nextFree: Mutex<ContinuousClock.Instant>

    /// - Throws: ``RegistryConfigurationError`` when the limit is invalid.
    public init(rateLimit: RegistryRateLimit) throws {
        try rateLimit.validate()
        self.rateLimit = rateLimit
        self.interval = rateLimit.emissionInterval
        self.nextFree = Mutex(.now)
    }

    /// Convenience for `LocalRateLimiter(rateLimit: .init(callsPerSecond:))`.
    public convenience init(callsPerSecond: Int) throws {
        try self.init(rateLimit: RegistryRateLimit(callsPerSecond: callsPerSecond))
    }

    /// The slot for a caller at `now`: the schedule's next one, or `now` if that one is older than
    /// the late tolerance (the limiter was idle; GCRA with a burst of one). Taking a slot a little
    /// late keeps the schedule, so slots taken in groups are not lost.
    private func nextSlot(_ nextFree: inout ContinuousClock.Instant, now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        let slot = now - nextFree > self.rateLimit.lateTolerance ? now : nextFree
        nextFree = slot + self.interval
        return slot
    }

    public func tryAcquireNow() -> RegistryRateSlot? {
        let now = ContinuousClock.now
        let granted: ContinuousClock.Instant? = self.nextFree.withLock { nextFree in
            guard nextFree <= now else { return nil }
            return self.nextSlot(&nextFree, now: now)
        }
        return granted.map { RegistryRateSlot(time: $0, lateTolerance: self.rateLimit.lateTolerance) }
    }

    public func acquire() async throws -> RegistryRateSlot {
        try await self.acquire(notBefore: .now)
    }

    public func acquire(notBefore: ContinuousClock.Instant) async throws -> RegistryRateSlot {
        while true {
            try Task.checkCancellation()
            let now = ContinuousClock.now
            let time = self.nextFree.withLock { nextFree in self.nextSlot(&nextFree, now: now) }
            let slot = RegistryRateSlot(time: time, lateTolerance: self.rateLimit.lateTolerance)
            let wake = max(time, notBefore)
            // A slot free right now is used at once.
            guard wake > now else { return slot }
            try await Task.sleep(until: wake, tolerance: .zero, clock: .continuous)
            // Woke too late: sending now could crowd the calls of the next second. Skip the slot.
            if !slot.isStale(at: .now) { return slot }
        }
    }
}
