import Contract
import Foundation
import Kafka
import Registry
import RegistrySimulator
import Store
import Testing
import Worker

/// What the simulator saw over a run: steady calls per second and the busiest second.
struct QuotaFigures: Sendable, CustomStringConvertible {
    var limit: Int
    var steadyCallsPerSecond: Double
    var busiestSecond: Int
    var schedulingLagMs: Double
    /// Slots the worker gave up over the span because it woke, or was scheduled, later than the
    /// slot's late tolerance (``FleetRateLimiter/Statistics/slotsSkipped`` and
    /// ``ResilientRegistryClient/staleSlots``): quota the machine's CPU starvation cost, which the
    /// limit's guarantee forbids using late. 0 when not measured.
    var slotsLostLate = 0
    var spanSeconds = 0.0
    var steadyShare: Double { steadyCallsPerSecond / Double(limit) }
    /// The share of the limit those late slots were.
    var lateShare: Double { spanSeconds > 0 ? Double(slotsLostLate) / spanSeconds / Double(limit) : 0 }

    /// Steady use of at least `share` of the limit. On a starved machine (the debug build, the
    /// simulator, PostgreSQL and the broker on two cores) the worker wakes late at moments and
    /// must give those slots up; they count as used when they cost at most 2 % of the limit, so
    /// that a scheduler leaving slots unused while calls wait (no call ready, leases too late, too
    /// few calls allowed) still fails, and the machine's starvation alone does not.
    func usesQuota(atLeast share: Double) -> Bool {
        steadyShare >= share || (steadyShare >= share - 0.02 && steadyShare + lateShare >= share)
    }
    /// The most calls the busiest second may show without exceeding the limit: when the machine
    /// starves the simulator of CPU, it records arrivals up to its timer lag late and bunched, so a
    /// window may count about that many milliseconds' worth of calls more than arrived in it
    /// (``SimulatorStatistics/maxSchedulingLagMs``; 0 on a quiet machine).
    var busiestAllowed: Int { limit + Int((schedulingLagMs / 1_000 * Double(limit)).rounded(.up)) }
    var description: String {
        String(
            format: "limit %d/s: steady %.2f calls/s (%.2f %%), busiest second %d, simulator lag %.0f ms, slots given up late %d (%.2f %%)",
            limit, steadyCallsPerSecond, 100 * steadyShare, busiestSecond, schedulingLagMs, slotsLostLate, 100 * lateShare)
    }

    /// Waits for the first call, lets `warmUp` pass (group join, connections, the first calls in
    /// flight), then measures the rate over about `seconds`: the calls that arrived after the last
    /// arrival before the span, up to and including the last one in it, over the time between those
    /// two arrivals (k calls in k intervals: no error of up to a call at either end of the span,
    /// which at 20/s over 20 s alone was ±0.25 %).
    static func measure(
        _ simulator: RegistrySimulator, limit: Int, warmUp: Double = 3, seconds: Double, slotsLostLate: @Sendable () -> Int = { 0 }
    ) async throws -> QuotaFigures {
        try await withTimeout(60, "the first registry call") {
            while simulator.statistics().totalCalls == 0 { try await Task.sleep(for: .milliseconds(20)) }
        }
        try await Task.sleep(for: .seconds(warmUp))
        let before = simulator.statistics()
        let lostBefore = slotsLostLate()
        try await Task.sleep(for: .seconds(seconds))
        let after = simulator.statistics()
        let lostAfter = slotsLostLate()
        let span = (after.lastCallAtSeconds ?? 0) - (before.lastCallAtSeconds ?? 0)
        return QuotaFigures(
            limit: limit,
            steadyCallsPerSecond: span > 0 ? Double(after.totalCalls - before.totalCalls) / span : 0,
            busiestSecond: after.maxCallsInOneSecond, schedulingLagMs: after.maxSchedulingLagMs,
            slotsLostLate: lostAfter - lostBefore, spanSeconds: span)
    }
}

/// Issue 13: with defaults and a backlog, the worker uses the quota (≥ 97 % of the limit once
/// warmed up; the schedule's ceiling is 98.0 %) and never exceeds it. Real time: in the timed pass of scripts/test.
@Suite("Quota use under a backlog", .serialized)
struct QuotaUseTests {
    @Test("a single instance with a backlog uses at least 97 % of the limit (98.0 % at best), never more", arguments: [20, 300])
    func backlog(limit: Int) async throws {
        let figures = try await Self.backlog(limit: limit, seconds: 30, measuring: 20)
        // The limiter's schedule allows 1 s / (1 s + 20 ms margin) = 98.0 % of the limit at best
        // (docs/benchmarks.md, "Quota use and fairness"). Before issue 13 it parked its backlog and used ~70 %.
        #expect(figures.usesQuota(atLeast: 0.97), "\(figures)")
        #expect(figures.busiestSecond <= figures.busiestAllowed, "\(figures)")
    }

    /// The lowest limit: one call a second. A slot is lost only if its caller wakes more than the
    /// late tolerance after it, and each lost one costs 2 % of a 50-s span.
    @Test("at 1 call/s a backlog uses at least 97 % of the limit, never 2 calls in a second")
    func backlogAtOnePerSecond() async throws {
        let figures = try await Self.backlog(limit: 1, seconds: 60, measuring: 45)
        #expect(figures.usesQuota(atLeast: 0.97), "\(figures)")
        #expect(figures.busiestSecond <= 1, "\(figures)")
    }

    /// A high limit, as high as this machine drives: the simulator answers in 2–6 ms (a fast registry;
    /// 128 calls in flight by default carry 128 / 4 ms = 32,000 calls/s).
    @Test("a high limit: a backlog never exceeds it")
    func backlogAtHighLimit() async throws {
        let limit = Int(ProcessInfo.processInfo.environment["QUOTA_HIGH_LIMIT"] ?? "") ?? 10_000
        let figures = try await Self.backlog(limit: limit, seconds: 10, measuring: 5, latencyMs: 2, latencySpreadMs: 4)
        #expect(figures.busiestSecond <= figures.busiestAllowed, "\(figures)")
    }

    /// A slow registry: answers in 600–800 ms, so 300 calls/s need about 210 in flight, more than
    /// the 128 calls in flight a fixed default allowed (which reached 128 / 0.7 s ≈ 183/s, 61 %).
    /// With `REGISTRY_CONCURRENCY` unset, calls in flight grow to what the limit needs. The warm-up
    /// covers the ramp (calls in flight double about every answer: some 6 s).
    @Test("a slow registry: calls in flight grow until the backlog uses at least 97 % of the limit, never more")
    func backlogWithSlowAnswers() async throws {
        let figures = try await Self.backlog(limit: 300, seconds: 30, measuring: 15, warmUp: 9, latencyMs: 600, latencySpreadMs: 200)
        #expect(figures.usesQuota(atLeast: 0.97), "\(figures)")
        #expect(figures.busiestSecond <= figures.busiestAllowed, "\(figures)")
    }

    /// A slow registry at a high limit: more calls in flight than the least running bound (512)
    /// needs more requests running, so the running bound follows the calls allowed. Answers take
    /// 1 s: the ramp to 128 takes about 7 s, then calls allowed grow past 128 and running past 512.
    @Test("a slow registry at a high limit: requests running grow past 512 with the calls allowed")
    func runningBoundFollowsCallsAllowed() async throws {
        try await RegistrySimulator.withRunning(
            configuration: .init(port: 0, population: 20_000, behaviour: .init(latencyMs: 1_000))
        ) { simulator in
            let harness = try await WorkerHarness(name: "quota_running", simulator: simulator) { settings in
                settings.registryRateLimit = 2_000
                settings.registryLimiter = "local"
            }
            let population = harness.population()
            let messages = (0..<3_000).map { i in
                let request = Requests.make(.submission, sample: population.sample(i), dossierCode: "RUN-\(i)", agency: "A\(i % 3)")
                return KafkaOutgoingMessage(
                    topic: harness.topics.requests(.submission), key: Array("running-\(i)".utf8), value: request.encodedJSON())
            }
            #expect(await harness.producer.send(messages).allSatisfy { $0.error == nil })
            let (running, allowed) = try await harness.withWorker(adjusting: { _ in }) { runtime in
                var most = (running: 0, allowed: 0)
                let until = ContinuousClock.now + .seconds(30)
                while ContinuousClock.now < until, most.running <= 512 {
                    try await Task.sleep(for: .milliseconds(100))
                    most = (max(most.running, runtime.worker.runningRequests), max(most.allowed, runtime.registry.callsAllowed))
                }
                return most
            }
            print("slow registry at 2,000/s: most requests running \(running), most calls allowed \(allowed)")
            #expect(allowed > 128)
            #expect(running > 512, "the running bound stayed at its least, 512")
        }
    }

    /// A backlog of `seconds` worth of quota, submissions from three agencies; the simulator's
    /// figures over `measuring` seconds once warmed up. Every call answered 200 (none refused).
    static func backlog(
        limit: Int, seconds: Int, measuring: Double, warmUp: Double = 3, latencyMs: Double = 100, latencySpreadMs: Double = 100
    ) async throws -> QuotaFigures {
        try await RegistrySimulator.withRunning(
            // One person per request: no answer to reuse (issue 13.5), every request a registry call.
            configuration: .init(
                port: 0, population: max(20_000, limit * seconds), behaviour: .init(latencyMs: latencyMs, latencySpreadMs: latencySpreadMs))
        ) { simulator in
            let harness = try await WorkerHarness(name: "quota_\(limit)", simulator: simulator) { settings in
                settings.registryRateLimit = limit
                settings.registryLimiter = "fleet"
            }
            let total = limit * seconds
            let population = harness.population()
            let messages = (0..<total).map { i in
                let request = Requests.make(.submission, sample: population.sample(i), dossierCode: "QUOTA-\(i)", agency: "A\(i % 3)")
                return KafkaOutgoingMessage(
                    topic: harness.topics.requests(.submission), key: Array("quota-\(i)".utf8), value: request.encodedJSON())
            }
            #expect(await harness.producer.send(messages).allSatisfy { $0.error == nil })
            simulator.simulator.resetStatistics()
            let figures = try await harness.withWorker(adjusting: { _ in }) { runtime in
                try await QuotaFigures.measure(simulator.simulator, limit: limit, warmUp: warmUp, seconds: measuring) {
                    // With a backlog every slot has a caller: a slot skipped was woken for too late.
                    ((runtime.limiter as? FleetRateLimiter)?.statistics.slotsSkipped ?? 0) + runtime.registry.staleSlots
                }
            }
            print("quota use, single instance, backlog of \(total): \(figures)")
            let answers = simulator.simulator.statistics().calls.values.reduce(into: [String: Int]()) { $0.merge($1) { $0 + $1 } }
            #expect(answers.keys.allSatisfy { $0 == "200" }, "no call refused or failed: \(answers)")
            return figures
        }
    }
}
