import Registry
import Synchronization
import Testing

/// The scheduler's deadlines, with a limiter that never hands out a slot: waiting calls leave
/// only by their deadline.
@Suite struct FairSchedulerTests {
    struct NeverLimiter: RegistryRateLimiter {
        func acquire() async throws -> RegistryRateSlot {
            try await Task.sleep(for: .seconds(3_600))
            throw CancellationError()
        }
    }

    /// How the call ended, and when (measured from `start`).
    static func wait(
        _ scheduler: FairScheduler, deadline: ContinuousClock.Instant, from start: ContinuousClock.Instant = .now
    ) async -> (RegistryError.Code?, Duration) {
        do {
            try await scheduler.withPermit(agency: "A", deadline: deadline) { _ in }
            return (nil, start.duration(to: .now))
        } catch let error as RegistryError {
            return (error.code, start.duration(to: .now))
        } catch {
            return (nil, start.duration(to: .now))
        }
    }

    @Test("each waiting call gives up at its own deadline, an earlier one queued after a later one too")
    func deadlinesInAnyOrder() async throws {
        let scheduler = try FairScheduler(limiter: NeverLimiter())
        let now = ContinuousClock.now
        // A waiter with a distant deadline first: the watcher then sleeps until that one, and the
        // earlier deadlines queued after it must wake it sooner.
        async let late = Self.wait(scheduler, deadline: now + .seconds(120), from: now)
        try await Task.sleep(for: .milliseconds(50))
        async let early = Self.wait(scheduler, deadline: now + .milliseconds(300), from: now)
        async let middle = Self.wait(scheduler, deadline: now + .milliseconds(700), from: now)

        let (earlyCode, earlyAfter) = await early
        let (middleCode, middleAfter) = await middle
        #expect(earlyCode == .deadlineExceeded)
        #expect(middleCode == .deadlineExceeded)
        #expect(earlyAfter >= .milliseconds(300), "early gave up after \(earlyAfter)")
        #expect(middleAfter >= .milliseconds(700), "middle gave up after \(middleAfter)")
        // Still waiting: only its own deadline (or shutdown) ends it.
        #expect(scheduler.load.waiting == 1)
        scheduler.shutdown()
        let (lateCode, lateAfter) = await late
        #expect(lateCode == .shutDown, "late ended with \(String(describing: lateCode)) after \(lateAfter)")
        #expect(scheduler.load.waiting == 0)
        #expect(scheduler.load.inFlight == 0)
    }

    @Test("a call whose deadline has passed fails at once; shutdown fails the waiting ones")
    func pastDeadlineAndShutdown() async throws {
        let scheduler = try FairScheduler(limiter: NeverLimiter())
        let (pastCode, _) = await Self.wait(scheduler, deadline: .now - .milliseconds(1))
        #expect(pastCode == .deadlineExceeded)
        async let waiting = Self.wait(scheduler, deadline: .now + .seconds(60))
        try await Task.sleep(for: .milliseconds(100))
        scheduler.shutdown()
        let (code, after) = await waiting
        #expect(code == .shutDown)
        #expect(after < .seconds(5))
    }

    /// Counts how often the scheduler had to wait for a slot.
    final class CountingLimiter: RegistryRateLimiter {
        let inner: LocalRateLimiter
        let waits = Atomic<Int>(0)
        init(_ inner: LocalRateLimiter) { self.inner = inner }
        func acquire() async throws -> RegistryRateSlot {
            self.waits.add(1, ordering: .relaxed)
            return try await self.inner.acquire()
        }
        func acquire(notBefore: ContinuousClock.Instant) async throws -> RegistryRateSlot {
            self.waits.add(1, ordering: .relaxed)
            return try await self.inner.acquire(notBefore: notBefore)
        }
        func tryAcquireNow() -> RegistryRateSlot? { self.inner.tryAcquireNow() }
    }

    @Test("at a high limit the pump wakes once per group of slots, and every slot keeps its place in the schedule")
    func slotsComeInGroups() async throws {
        let limit = try LocalRateLimiter(callsPerSecond: 5_000)
        let limiter = CountingLimiter(limit)
        let scheduler = try FairScheduler(limiter: limiter)
        let calls = 600
        final class Times: Sendable { let slots = Mutex<[ContinuousClock.Instant]>([]) }
        let times = Times()
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<calls {
                group.addTask {
                    try? await scheduler.withPermit(agency: index % 3 == 0 ? "A" : "B") { slot in
                        times.slots.withLock { $0.append(slot.time) }
                    }
                }
            }
        }
        let slots = times.slots.withLock { $0 }.sorted()
        #expect(slots.count == calls)
        // Never closer than the limit allows, whatever the grouping.
        let interval = limit.rateLimit.emissionInterval
        for (earlier, later) in zip(slots, slots.dropFirst()) {
            #expect(later - earlier >= interval, "slots \(later - earlier) apart, the limit needs \(interval)")
        }
        // One wait per slot without grouping; with 1-ms groups at 5,000/s (a slot every 0.2 ms) about
        // one per five slots, fewer when the machine is busy.
        let waits = limiter.waits.load(ordering: .relaxed)
        #expect(waits < calls / 2, "the pump waited \(waits) times for \(calls) slots")
        scheduler.shutdown()
    }
}
