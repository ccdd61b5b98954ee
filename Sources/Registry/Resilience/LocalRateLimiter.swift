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

    public func tryAcquireNow() -> RegistryRateSlot? {
        let now = ContinuousClock.now
        let granted = self.nextFree.withLock { nextFree in
            guard nextFree <= now else { return false }
            nextFree = now + self.interval
            return true
        }
        return granted ? RegistryRateSlot(time: now, lateTolerance: self.rateLimit.lateTolerance) : nil
    }

    public func acquire() async throws -> RegistryRateSlot {
        while true {
            try Task.checkCancellation()
            let now = ContinuousClock.now
            let time = self.nextFree.withLock { nextFree in
                let slot = max(nextFree, now)
                nextFree = slot + self.interval
                return slot
            }
            let slot = RegistryRateSlot(time: time, lateTolerance: self.rateLimit.lateTolerance)
            // A slot free right now is used at once.
            guard time > now else { return slot }
            try await Task.sleep(until: time, tolerance: .zero, clock: .continuous)
            // Woke too late: sending now could crowd the calls of the next second. Skip the slot.
            if !slot.isStale(at: .now) { return slot }
        }
    }
}
