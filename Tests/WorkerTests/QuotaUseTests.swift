import Contract
import Foundation
import Kafka
import RegistrySimulator
import Testing
import Worker

/// What the simulator saw over a run: steady calls per second and the busiest second.
struct QuotaFigures: Sendable, CustomStringConvertible {
    var limit: Int
    var steadyCallsPerSecond: Double
    var busiestSecond: Int
    var schedulingLagMs: Double
    var steadyShare: Double { steadyCallsPerSecond / Double(limit) }
    var description: String {
        String(
            format: "limit %d/s: steady %.1f calls/s (%.1f %%), busiest second %d, simulator lag %.0f ms", limit,
            steadyCallsPerSecond, 100 * steadyShare, busiestSecond, schedulingLagMs)
    }

    /// Waits for the first call, lets `warmUp` pass (group join, connections, the first calls in
    /// flight), then counts calls over `seconds`.
    static func measure(_ simulator: RegistrySimulator, limit: Int, warmUp: Double = 3, seconds: Double) async throws -> QuotaFigures {
        try await withTimeout(60, "the first registry call") {
            while simulator.statistics().totalCalls == 0 { try await Task.sleep(for: .milliseconds(20)) }
        }
        try await Task.sleep(for: .seconds(warmUp))
        let before = simulator.statistics()
        try await Task.sleep(for: .seconds(seconds))
        let after = simulator.statistics()
        return QuotaFigures(
            limit: limit,
            steadyCallsPerSecond: Double(after.totalCalls - before.totalCalls) / (after.elapsedSeconds - before.elapsedSeconds),
            busiestSecond: after.maxCallsInOneSecond, schedulingLagMs: after.maxSchedulingLagMs)
    }
}

/// Issue 13: with defaults and a backlog, the worker uses the quota (≥ 95 % of the limit once
/// warmed up; the schedule's ceiling is 97.1 %) and never exceeds it. Real time: in the timed pass of scripts/test.
@Suite("Quota use under a backlog", .serialized)
struct QuotaUseTests {
    @Test("a single instance with a backlog uses at least 95 % of the limit (97.1 % at best), never more", arguments: [20, 300])
    func backlog(limit: Int) async throws {
        try await RegistrySimulator.withRunning(
            configuration: .init(port: 0, population: 20_000, behaviour: .init(latencyMs: 100, latencySpreadMs: 100))
        ) { simulator in
            let harness = try await WorkerHarness(name: "quota_\(limit)", simulator: simulator) { settings in
                settings.registryRateLimit = limit
                settings.registryLimiter = "fleet"
            }
            // About 30 s of quota, submissions (they may wait as long as it takes).
            let total = limit * 30
            let population = harness.population()
            let messages = (0..<total).map { i in
                let request = Requests.make(.submission, sample: population.sample(i), dossierCode: "QUOTA-\(i)", agency: "A\(i % 3)")
                return KafkaOutgoingMessage(
                    topic: harness.topics.requests(.submission), key: Array("quota-\(i)".utf8), value: request.encodedJSON())
            }
            #expect(await harness.producer.send(messages).allSatisfy { $0.error == nil })
            simulator.simulator.resetStatistics()
            let figures = try await harness.withWorker {
                try await QuotaFigures.measure(simulator.simulator, limit: limit, seconds: 20)
            }
            print("quota use, single instance, backlog of \(total): \(figures)")
            // The limiter's schedule allows 1 s / (1 s + 30 ms margin) = 97.1 % of the limit at
            // best; on this shared 2-core machine the worker reached 95.6–97.2 % (docs/benchmarks.md,
            // "Quota use and fairness"). Before issue 13 it parked its backlog and used ~70 %.
            #expect(figures.steadyShare >= 0.95, "\(figures)")
            #expect(figures.busiestSecond <= limit, "\(figures)")
            let answers = simulator.simulator.statistics().calls.values.reduce(into: [String: Int]()) { $0.merge($1) { $0 + $1 } }
            #expect(answers.keys.allSatisfy { $0 == "200" }, "no call refused or failed: \(answers)")
        }
    }
}
