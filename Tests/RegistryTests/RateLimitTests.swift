import Foundation
import Registry
import RegistrySimulator
import Testing

extension RegistryIntegrationTests {
    /// The local limiter and the fair scheduler, against the simulator's own count.
    @Suite struct RateLimitTests {
        /// Calls per second as the simulator saw them between two snapshots.
        static func rate(_ from: SimulatorStatistics, _ to: SimulatorStatistics) -> Double {
            Double(to.totalCalls - from.totalCalls) / (to.elapsedSeconds - from.elapsedSeconds)
        }

        @Test func localLimiterNeverExceedsTheLimitAndUsesIt() async throws {
            let limit = 100
            let behaviour = SimulatorBehaviour(quota: limit)
            try await TestEnvironment.withSimulator(behaviour: behaviour) { simulator in
                try await TestEnvironment.withTransport(for: simulator, concurrency: 32) { transport in
                    let client = try ResilientRegistryClient(
                        transport: transport,
                        limiter: try LocalRateLimiter(callsPerSecond: limit),
                        configuration: .init(scheduler: .init(maxConcurrentCalls: 32)),
                        logger: TestEnvironment.logger)
                    defer { client.shutdown() }
                    let queries = simulator.simulator.population.samples(count: 500).map(TestEnvironment.query)
                    let end = ContinuousClock.now + .seconds(4)
                    let snapshots = Locked<[SimulatorStatistics]>([])
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for worker in 0..<64 {
                            group.addTask {
                                var next = worker
                                while ContinuousClock.now < end {
                                    _ = try? await client.verify(queries[next % queries.count], context: .init(agency: "A", deadline: end))
                                    next += 64
                                }
                            }
                        }
                        group.addTask {
                            try await Task.sleep(for: .seconds(1))
                            snapshots.withLock { $0.append(simulator.simulator.statistics()) }
                            try await Task.sleep(for: .seconds(2.5))
                            snapshots.withLock { $0.append(simulator.simulator.statistics()) }
                        }
                        try await group.waitForAll()
                    }
                    let stats = simulator.simulator.statistics()
                    let steady = snapshots.value
                    let rate = Self.rate(steady[0], steady[1])
                    print("local limiter, limit \(limit)/s: steady \(Int(rate))/s, most in one second \(stats.maxCallsInOneSecond), stall \(Int(stats.maxSchedulingLagMs)) ms")
                    TestEnvironment.expectTimely(stallMs: stats.maxSchedulingLagMs) {
                        #expect(stats.maxCallsInOneSecond <= limit)
                        #expect(stats.calls["verify"]?["429"] == nil)
                        #expect(rate >= 0.95 * Double(limit), "used \(rate) of \(limit) calls per second")
                    }
                }
            }
        }

        @Test func floodingAgencyDoesNotStarveQuietOnes() async throws {
            let limit = 100
            try await TestEnvironment.withSimulator { simulator in
                try await TestEnvironment.withTransport(for: simulator, concurrency: 16) { transport in
                    let client = try ResilientRegistryClient(
                        transport: transport,
                        limiter: try LocalRateLimiter(callsPerSecond: limit),
                        configuration: .init(scheduler: .init(maxConcurrentCalls: 16)),
                        logger: TestEnvironment.logger)
                    defer { client.shutdown() }
                    let query = TestEnvironment.query(simulator.simulator.population.citizen(at: 21))
                    let end = ContinuousClock.now + .seconds(4)
                    let answered = Locked<[String: Int]>([:])
                    let trickleLatencies = Locked<[Duration]>([])

                    try await withThrowingTaskGroup(of: Void.self) { group in
                        // FLOOD: 300 callers, far more than the quota.
                        for _ in 0..<300 {
                            group.addTask {
                                while ContinuousClock.now < end {
                                    if (try? await client.verify(query, context: .init(agency: "FLOOD", deadline: end))) != nil {
                                        answered.withLock { $0["FLOOD", default: 0] += 1 }
                                    }
                                }
                            }
                        }
                        // STEADY: 5 callers, also always waiting: it should get as much as FLOOD.
                        for _ in 0..<5 {
                            group.addTask {
                                while ContinuousClock.now < end {
                                    if (try? await client.verify(query, context: .init(agency: "STEADY", deadline: end))) != nil {
                                        answered.withLock { $0["STEADY", default: 0] += 1 }
                                    }
                                }
                            }
                        }
                        // QUIET: one call every 200 ms, behind a backlog of seconds: served within a round.
                        group.addTask {
                            try await Task.sleep(for: .milliseconds(500))
                            while ContinuousClock.now + .milliseconds(300) < end {
                                let start = ContinuousClock.now
                                _ = try await client.verify(query, context: .init(agency: "QUIET", deadline: end))
                                trickleLatencies.withLock { $0.append(start.duration(to: .now)) }
                                try await Task.sleep(for: .milliseconds(200))
                            }
                        }
                        try await group.waitForAll()
                    }
                    let counts = answered.value
                    let flood = counts["FLOOD", default: 0]
                    let steady = counts["STEADY", default: 0]
                    let latencies = trickleLatencies.value
                    #expect(flood > 0 && steady > 0)
                    // Equal shares while both wait (within 20 %), although FLOOD has 60 times the callers.
                    #expect(Double(steady) >= 0.8 * Double(flood), "FLOOD \(flood), STEADY \(steady)")
                    #expect(latencies.count >= 10)
                    // FLOOD's backlog is seconds long; QUIET waits about one slot (10 ms) per call.
                    let slowest = latencies.max() ?? .zero
                    let stall = simulator.simulator.statistics().maxSchedulingLagMs
                    print("fairness at \(limit)/s: FLOOD \(flood), STEADY \(steady), slowest QUIET call \(slowest), stall \(Int(stall)) ms")
                    TestEnvironment.expectTimely(stallMs: stall) {
                        #expect(slowest < .milliseconds(100), "slowest QUIET call took \(slowest)")
                    }
                }
            }
        }

        @Test func waitingCallsGiveUpAtTheirDeadline() async throws {
            try await TestEnvironment.withSimulator { simulator in
                try await TestEnvironment.withTransport(for: simulator) { transport in
                    let client = try ResilientRegistryClient(
                        transport: transport,
                        limiter: try LocalRateLimiter(callsPerSecond: 2),
                        logger: TestEnvironment.logger)
                    defer { client.shutdown() }
                    let query = TestEnvironment.query(simulator.simulator.population.citizen(at: 2))
                    let outcomes = try await withThrowingTaskGroup(of: RegistryError.Code?.self) { group in
                        for _ in 0..<6 {
                            group.addTask {
                                do {
                                    _ = try await client.verify(query, context: .init(agency: "A", deadline: .now + .milliseconds(1_200)))
                                    return nil
                                } catch let error as RegistryError {
                                    return error.code
                                }
                            }
                        }
                        var outcomes: [RegistryError.Code?] = []
                        for try await outcome in group { outcomes.append(outcome) }
                        return outcomes
                    }
                    // About 2 calls per second: two or three get through, the rest give up waiting.
                    let answered = outcomes.filter { $0 == nil }.count
                    #expect((2...4).contains(answered), "answered \(answered)")
                    #expect(outcomes.allSatisfy { $0 == nil || $0 == .deadlineExceeded })
                    #expect(client.load.waiting == 0)
                    #expect(client.load.inFlight == 0)
                }
            }
        }
    }
}
