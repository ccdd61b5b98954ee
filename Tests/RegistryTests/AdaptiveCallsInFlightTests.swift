import Registry
import RegistrySimulator
import Testing

/// Calls in flight that adapt compare each answer's latency with the fastest seen: on a loaded
/// machine (the rest of the suite beside it) an in-process simulator's 100-ms answers come back
/// late enough to read as "slower than usual", so this runs in the timed pass, alone.
@Suite struct AdaptiveCallsInFlightTests {
    /// Calls in flight that adapt (issue 13) take their pace from answers only: calls cut short by
    /// their request's deadline fail in a few ms, and counted they would make every 100-ms answer
    /// look "slower than usual", so the bound would never grow.
    @Test func failedCallsDoNotSetThePaceOfAdaptiveCallsInFlight() async throws {
        try await TestEnvironment.withSimulator(behaviour: SimulatorBehaviour(latencyMs: 100)) { simulator in
            let configuration = ResilientRegistryClient.Configuration(
                callTimeout: .seconds(5), retry: .init(maxAttempts: 1),
                scheduler: .init(maxConcurrentCalls: 64, adaptiveFrom: 4))
            // As many connections as calls allowed, as the service has: fewer would queue calls in
            // the HTTP pool, which the bound reads as answers slowing down.
            try await TestEnvironment.withTransport(for: simulator, concurrency: 64) { transport in
                let client = try ResilientRegistryClient(
                    transport: transport, limiter: try LocalRateLimiter(callsPerSecond: 1_000),
                    configuration: configuration, logger: TestEnvironment.logger)
                defer { client.shutdown() }
                let query = TestEnvironment.query(simulator.simulator.population.citizen(at: 7))
                // The ramp to 4, one answer at a time.
                for _ in 0..<3 { _ = try await client.verify(query, context: .init(agency: "A")) }
                // Four calls sent at once with 30 ms left before their deadline: all time out.
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<4 {
                        group.addTask { _ = try? await client.verify(query, context: .init(agency: "A", deadline: .now + .milliseconds(30))) }
                    }
                }
                // A backlog of 100-ms answers: every allowed call in flight, others waiting.
                await withTaskGroup(of: Void.self) { group in
                    for caller in 0..<48 {
                        group.addTask {
                            for _ in 0..<3 { _ = try? await client.verify(query, context: .init(agency: "A\(caller % 3)")) }
                        }
                    }
                }
                #expect(client.callsAllowed > 8, "calls allowed stayed at \(client.callsAllowed)")
            }
        }
    }
}
