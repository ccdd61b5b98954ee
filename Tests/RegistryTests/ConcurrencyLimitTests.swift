import Synchronization
import Testing

@testable import Registry

/// The calls allowed in flight: the ramp, the fixed bound, and the bound that follows the
/// registry's latency (issue 13: a slow registry needs rate × latency calls in flight).
@Suite struct ConcurrencyLimitTests {
    static let start = ContinuousClock.now

    /// Feeds `count` finished calls of `latency`, 1 ms apart from `at` on; returns the time after.
    static func feed(
        _ limit: inout ConcurrencyLimit, _ count: Int, latency: Duration, saturated: Bool, at: ContinuousClock.Instant
    ) -> ContinuousClock.Instant {
        var now = at
        for _ in 0..<count {
            limit.finished(latency: latency, saturated: saturated, now: now)
            now += .milliseconds(1)
        }
        return now
    }

    @Test("the ramp reaches the base one call at a time; a fixed limit stays there; an idle restart begins again")
    func rampAndFixed() {
        var limit = ConcurrencyLimit(.init(base: 8, ceiling: 64, adaptive: false))
        #expect(limit.limit == 1)
        _ = Self.feed(&limit, 3, latency: .milliseconds(100), saturated: true, at: Self.start)
        #expect(limit.limit == 4)
        _ = Self.feed(&limit, 100, latency: .milliseconds(100), saturated: true, at: Self.start)
        #expect(limit.limit == 8)
        limit.restart()
        #expect(limit.limit == 1)
    }

    @Test("adaptive: grows while every allowed call is in flight and answers keep their pace, up to the ceiling")
    func growsWhenSaturatedAtSteadyLatency() {
        var limit = ConcurrencyLimit(.init(base: 8, ceiling: 40, adaptive: true))
        var now = Self.feed(&limit, 7, latency: .milliseconds(100), saturated: true, at: Self.start)
        #expect(limit.limit == 8)
        now = Self.feed(&limit, 10, latency: .milliseconds(100), saturated: true, at: now)
        #expect(limit.limit == 18)
        _ = Self.feed(&limit, 100, latency: .milliseconds(100), saturated: true, at: now)
        #expect(limit.limit == 40)
    }

    @Test("adaptive: does not grow while the quota, not the calls in flight, holds the rate back")
    func staysWhenNotSaturated() {
        var limit = ConcurrencyLimit(.init(base: 8, ceiling: 40, adaptive: true))
        _ = Self.feed(&limit, 200, latency: .milliseconds(100), saturated: false, at: Self.start)
        #expect(limit.limit == 8)
    }

    @Test("adaptive: answers that slow down as calls are added shrink it back, never below the base")
    func shrinksWhenAnswersSlowDown() {
        var limit = ConcurrencyLimit(.init(base: 8, ceiling: 100, adaptive: true))
        var now = Self.feed(&limit, 60, latency: .milliseconds(10), saturated: true, at: Self.start)
        #expect(limit.limit == 61)
        // Queueing: the same registry now answers in 50 ms. The smoothed latency crosses twice the
        // usual (plus 1 ms) within a few answers; from then on each answer takes one off.
        now = Self.feed(&limit, 20, latency: .milliseconds(50), saturated: true, at: now)
        #expect(limit.limit < 50)
        _ = Self.feed(&limit, 200, latency: .milliseconds(50), saturated: true, at: now)
        #expect(limit.limit == 8)
    }

    @Test("adaptive: sub-millisecond answers that vary by their own size are not a slowdown (the slack)")
    func slackForFastAnswers() {
        var limit = ConcurrencyLimit(.init(base: 8, ceiling: 100, adaptive: true))
        var now = Self.feed(&limit, 10, latency: .microseconds(200), saturated: true, at: Self.start)
        now = Self.feed(&limit, 10, latency: .microseconds(900), saturated: true, at: now)
        #expect(limit.limit == 21)
    }

    @Test("adaptive: a registry slower for good becomes the usual pace within two windows")
    func slowerRegistryBecomesUsual() {
        var limit = ConcurrencyLimit(.init(base: 8, ceiling: 1_000, adaptive: true, window: .seconds(10)))
        var now = Self.feed(&limit, 20, latency: .milliseconds(20), saturated: true, at: Self.start)
        let grown = limit.limit
        // From now on every answer takes 200 ms: slower than usual, so it shrinks...
        now = Self.feed(&limit, 50, latency: .milliseconds(200), saturated: true, at: now)
        #expect(limit.limit < grown)
        // ...until the 20-ms answers are two windows old; then 200 ms is the usual, and it grows.
        now += .seconds(21)
        now = Self.feed(&limit, 1, latency: .milliseconds(200), saturated: true, at: now)
        now += .seconds(11)
        let before = limit.limit
        _ = Self.feed(&limit, 30, latency: .milliseconds(200), saturated: true, at: now)
        #expect(limit.limit == before + 30)
    }

    @Test("calls that were not made leave the pace alone")
    func callsNotMadeDoNotCount() {
        var limit = ConcurrencyLimit(.init(base: 2, ceiling: 50, adaptive: true))
        var now = Self.feed(&limit, 10, latency: .milliseconds(100), saturated: true, at: Self.start)
        // A missed slot or an open circuit finishes at once; it must not set the usual pace to zero.
        for _ in 0..<5 {
            limit.finished(latency: nil, saturated: true, now: now)
            now += .milliseconds(1)
        }
        let before = limit.limit
        _ = Self.feed(&limit, 5, latency: .milliseconds(100), saturated: true, at: now)
        #expect(limit.limit == before + 5)
    }

    /// Answers that come back together find the limit full only at the first of them: the pump
    /// refills the room slot by slot at the quota's pace. One look at each finish would say "not
    /// saturated" nine times in ten (with 1-s answers the bound grew by only 10–25 a second); over
    /// time the calls in flight used all but a sliver of the limit, and held the rate back.
    @Test("saturated: the limit full most of the time while others wait, not only at the one finish that found it full")
    func saturationIsAnAverage() {
        var limit = ConcurrencyLimit(.init(base: 100, ceiling: 1_000, adaptive: true))
        _ = Self.feed(&limit, 99, latency: .milliseconds(100), saturated: true, at: Self.start)
        #expect(limit.limit == 100)
        var now = Self.start
        var saturated: [Bool] = []
        for _ in 0..<20 {
            // 100 ms full, then ten answers 50 µs apart, then their room refilled 100 µs apart.
            limit.observe(inFlight: 100, waiting: true, now: now)
            now += .milliseconds(100)
            for finished in 1...10 {
                limit.observe(inFlight: 100 - finished, waiting: true, now: now)
                saturated.append(limit.saturated(waiting: true))
                now += .microseconds(50)
            }
            for refilled in 1...10 {
                limit.observe(inFlight: 90 + refilled, waiting: true, now: now)
                now += .microseconds(100)
            }
        }
        #expect(saturated.allSatisfy { $0 }, "saturated at \(saturated.filter { $0 }.count) of 200 finishes")
        // Nobody waits: never saturated, however full.
        #expect(!limit.saturated(waiting: false))
    }

    /// A worker that cannot feed the calls (the yardstick's CPU-bound burst) leaves a third of the
    /// limit empty most of the time, with the odd moment when it is full: that must not grow it.
    @Test("not saturated: the limit mostly part-empty, though calls wait and some finishes find it full")
    func partEmptyIsNotSaturated() {
        var limit = ConcurrencyLimit(.init(base: 128, ceiling: 1_000, adaptive: true))
        _ = Self.feed(&limit, 127, latency: .milliseconds(1), saturated: true, at: Self.start)
        var now = Self.start
        var saturated: [Bool] = []
        for step in 0..<2_000 {
            let unused = [0, 10, 40, 60, 90][step % 5]
            limit.observe(inFlight: 128 - unused, waiting: true, now: now)
            if now - Self.start > .milliseconds(100) { saturated.append(limit.saturated(waiting: true)) }
            now += .microseconds(150)
        }
        #expect(!saturated.isEmpty && saturated.allSatisfy { !$0 }, "saturated at \(saturated.filter { $0 }.count) of \(saturated.count)")
    }
}

/// The scheduler with a bound that adapts: a registry that answers slowly gets more calls in flight.
/// In the timed pass (alone): on a loaded machine the pump refills room late, the calls in flight
/// leave much of the limit unused, and the bound rightly does not grow (failed once in CI so).
@Suite struct AdaptiveSchedulerTests {
    struct Unlimited: RegistryRateLimiter {
        let rate = try! LocalRateLimiter(callsPerSecond: 100_000)
        func acquire() async throws -> RegistryRateSlot { try await self.rate.acquire() }
        func tryAcquireNow() -> RegistryRateSlot? { self.rate.tryAcquireNow() }
    }

    /// 64 callers, each making three calls that take 100 ms (long enough that a loaded machine's
    /// timer lateness stays well within "twice the usual pace"); the most calls in flight at once.
    static func peakInFlight(_ configuration: FairScheduler.Configuration) async throws -> (peak: Int, allowed: Int) {
        let scheduler = try FairScheduler(limiter: Unlimited(), configuration: configuration)
        final class Counts: Sendable {
            let inFlight = Atomic<Int>(0)
            let peak = Atomic<Int>(0)
        }
        let counts = Counts()
        await withTaskGroup(of: Void.self) { group in
            for caller in 0..<64 {
                group.addTask {
                    for _ in 0..<3 {
                        try? await scheduler.withPermit(agency: "A\(caller % 3)") { _ in
                            let now = counts.inFlight.add(1, ordering: .relaxed).newValue
                            _ = counts.peak.max(now, ordering: .relaxed)
                            try await Task.sleep(for: .milliseconds(100))
                            counts.inFlight.subtract(1, ordering: .relaxed)
                        }
                    }
                }
            }
        }
        let allowed = scheduler.callsAllowed
        scheduler.shutdown()
        return (counts.peak.load(ordering: .relaxed), allowed)
    }

    @Test("fixed, calls in flight stay at the bound; adaptive, they grow past it while answers keep their pace")
    func slowAnswersGetMoreCallsInFlight() async throws {
        let fixed = try await Self.peakInFlight(.init(maxConcurrentCalls: 8))
        #expect(fixed.peak <= 8)
        #expect(fixed.allowed == 8)
        let adaptive = try await Self.peakInFlight(.init(maxConcurrentCalls: 64, adaptiveFrom: 8))
        #expect(adaptive.peak > 16, "peak \(adaptive.peak), allowed \(adaptive.allowed)")
        #expect(adaptive.allowed > 16 && adaptive.allowed <= 64)
    }
}
