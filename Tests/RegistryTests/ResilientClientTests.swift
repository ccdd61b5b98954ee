import Foundation
import Registry
import RegistrySimulator
import Synchronization
import Testing
import Tracing

extension RegistryIntegrationTests {
    /// Retries, `Retry-After`, timeouts, the circuit breaker and the metric hooks, against the
    /// simulator on loopback.
    @Suite struct ResilientClientTests {
        static func withClient<Result>(
            _ simulator: RunningSimulator,
            configuration: ResilientRegistryClient.Configuration,
            metrics: TestMetrics = TestMetrics(),
            _ body: (ResilientRegistryClient) async throws -> Result
        ) async throws -> Result {
            try await TestEnvironment.withTransport(for: simulator) { transport in
                let client = try ResilientRegistryClient(
                    transport: transport,
                    limiter: try LocalRateLimiter(callsPerSecond: 1_000),
                    configuration: configuration,
                    metricsFactory: metrics,
                    logger: TestEnvironment.logger)
                defer { client.shutdown() }
                return try await body(client)
            }
        }

        static let fastRetries = RetryPolicy(maxAttempts: 4, initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(100))

        @Test func fiveHundredThreesThenSuccessAndTheMetricsSeeEveryCall() async throws {
            try await TestEnvironment.withSimulator { simulator in
                let metrics = TestMetrics()
                try await Self.withClient(simulator, configuration: .init(retry: Self.fastRetries), metrics: metrics) { client in
                    simulator.simulator.scriptFailures(.init(count: 2, status: 503))
                    let citizen = simulator.simulator.population.citizen(at: 11)
                    let reply = try await client.verify(TestEnvironment.query(citizen), context: .init(agency: "A"))
                    #expect(reply.value.match)
                    #expect(reply.attempts == 3)
                    let stats = simulator.simulator.statistics()
                    #expect(stats.calls["verify"] == ["503": 2, "200": 1])

                    let requests = "identity_registry_requests_total"
                    #expect(metrics.counter(requests, [("endpoint", "verify"), ("status", "503")]) == 2)
                    #expect(metrics.counter(requests, [("endpoint", "verify"), ("status", "200")]) == 1)
                    #expect(metrics.counter("identity_registry_retries_total", [("endpoint", "verify")]) == 2)
                    #expect(metrics.timerCount("identity_registry_request_duration_seconds", [("endpoint", "verify")]) == 3)

                    // Lookup too, and a 500.
                    simulator.simulator.scriptFailures(.init(count: 1, status: 500))
                    let looked = try await client.lookup(TestEnvironment.query(citizen), context: .init(agency: "A"))
                    #expect(looked.attempts == 2)
                    #expect(looked.value.citizen?.personalIdNumber == citizen.personalIdNumber)
                    #expect(metrics.counter(requests, [("endpoint", "lookup"), ("status", "500")]) == 1)
                    #expect(metrics.counter(requests, [("endpoint", "lookup"), ("status", "200")]) == 1)
                }
            }
        }

        @Test func retryAfterIsObeyed() async throws {
            try await TestEnvironment.withSimulator { simulator in
                try await Self.withClient(simulator, configuration: .init(retry: Self.fastRetries)) { client in
                    simulator.simulator.scriptFailures(.init(count: 1, status: 429, retryAfterSeconds: 1))
                    let start = ContinuousClock.now
                    let reply = try await client.verify(
                        TestEnvironment.query(simulator.simulator.population.citizen(at: 12)), context: .init(agency: "A"))
                    let elapsed = start.duration(to: .now)
                    #expect(reply.attempts == 2)
                    // The backoff alone would have waited at most 20 ms.
                    #expect(elapsed >= .seconds(1))
                    let stats = simulator.simulator.statistics()
                    #expect(stats.calls["verify"] == ["429": 1, "200": 1])
                    let gap = try #require(stats.lastCallAtSeconds) - (try #require(stats.firstCallAtSeconds))
                    #expect(gap >= 1.0, "second call came \(gap) s after the 429")

                    // A Retry-After beyond what the policy waits out ends the call at once, retriable.
                    simulator.simulator.scriptFailures(.init(count: 1, status: 503, retryAfterSeconds: 120))
                    let error = await #expect(throws: RegistryError.self) {
                        try await client.verify(
                            TestEnvironment.query(simulator.simulator.population.citizen(at: 13)), context: .init(agency: "A"))
                    }
                    #expect(error?.code == .serverError)
                    #expect(error?.retryAfter == .seconds(120))
                    #expect(error?.attempts == 1)
                    #expect(error?.isRetriable == true)
                }
            }
        }

        @Test func permanentErrorsAreNotRetriedAndTransientOnesStopAtMaxAttempts() async throws {
            try await TestEnvironment.withSimulator { simulator in
                try await Self.withClient(simulator, configuration: .init(retry: Self.fastRetries)) { client in
                    let malformed = RegistryQuery(idNumber: "1234567890", fullName: "Nguyễn Văn A", dateOfBirth: "1990")
                    let badRequest = await #expect(throws: RegistryError.self) {
                        try await client.verify(malformed, context: .init(agency: "A"))
                    }
                    #expect(badRequest?.code == .badRequest)
                    #expect(badRequest?.attempts == 1)

                    simulator.simulator.scriptFailures(.init(count: 10, status: 503))
                    let exhausted = await #expect(throws: RegistryError.self) {
                        try await client.verify(
                            TestEnvironment.query(simulator.simulator.population.citizen(at: 1)), context: .init(agency: "A"))
                    }
                    #expect(exhausted?.code == .serverError)
                    #expect(exhausted?.attempts == 4)
                    #expect(exhausted?.isRetriable == true)
                    #expect(simulator.simulator.statistics().calls["verify"]?["503"] == 4)
                }
                try await TestEnvironment.withTransport(for: simulator, token: "wrong") { transport in
                    let client = try ResilientRegistryClient(
                        transport: transport, limiter: try LocalRateLimiter(callsPerSecond: 1_000),
                        configuration: .init(retry: Self.fastRetries), logger: TestEnvironment.logger)
                    let error = await #expect(throws: RegistryError.self) {
                        try await client.verify(
                            TestEnvironment.query(simulator.simulator.population.citizen(at: 1)), context: .init(agency: "A"))
                    }
                    #expect(error?.code == .unauthorized)
                    #expect(error?.attempts == 1)
                }
            }
        }

        @Test func breakerOpensHalfOpensAndCloses() async throws {
            try await TestEnvironment.withSimulator { simulator in
                let configuration = ResilientRegistryClient.Configuration(
                    retry: .none,
                    circuitBreaker: .init(failureThreshold: 3, openDuration: .milliseconds(400)))
                try await Self.withClient(simulator, configuration: configuration) { client in
                    let query = TestEnvironment.query(simulator.simulator.population.citizen(at: 5))
                    func call() async -> RegistryError? {
                        do {
                            _ = try await client.verify(query, context: .init(agency: "A"))
                            return nil
                        } catch {
                            return error as? RegistryError
                        }
                    }

                    // The registry fails: three failures open the circuit.
                    try simulator.simulator.setBehaviour(.init(errorRate: 1))
                    for _ in 0..<3 { #expect(await call()?.code == .serverError) }
                    #expect(client.circuitState == .open)

                    // Open: calls fail fast without reaching the registry.
                    let callsBefore = simulator.simulator.statistics().totalCalls
                    let fast = await call()
                    #expect(fast?.code == .circuitOpen)
                    #expect(fast?.attempts == 0)
                    #expect(fast?.isRetriable == true)
                    #expect(fast.flatMap(\.retryAfter).map { $0 > .zero && $0 <= .milliseconds(400) } == true)
                    #expect(simulator.simulator.statistics().totalCalls == callsBefore)

                    // Half-open: one probe; it fails, so the circuit opens again.
                    try await Task.sleep(for: .milliseconds(450))
                    #expect(client.circuitState == .halfOpen)
                    #expect(await call()?.code == .serverError)
                    #expect(client.circuitState == .open)
                    #expect(await call()?.code == .circuitOpen)

                    // The registry recovers: the next probe succeeds and closes the circuit.
                    try simulator.simulator.setBehaviour(.init())
                    try await Task.sleep(for: .milliseconds(450))
                    #expect(await call() == nil)
                    #expect(client.circuitState == .closed)
                    #expect(await call() == nil)
                    #expect(simulator.simulator.statistics().totalCalls == callsBefore + 3)
                }
            }
        }

        @Test func hangingRegistryTimesOutAndDeadlinesHold() async throws {
            let behaviour = SimulatorBehaviour(hangRate: 1, hangSeconds: 30)
            try await TestEnvironment.withSimulator(behaviour: behaviour) { simulator in
                defer { simulator.simulator.releaseHangingCalls() }
                let configuration = ResilientRegistryClient.Configuration(
                    callTimeout: .milliseconds(300),
                    retry: .init(maxAttempts: 2, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(10)))
                try await Self.withClient(simulator, configuration: configuration) { client in
                    let query = TestEnvironment.query(simulator.simulator.population.citizen(at: 6))
                    let start = ContinuousClock.now
                    let timedOut = await #expect(throws: RegistryError.self) {
                        try await client.verify(query, context: .init(agency: "A"))
                    }
                    let elapsed = start.duration(to: .now)
                    #expect(timedOut?.code == .timeout)
                    #expect(timedOut?.attempts == 2)
                    #expect(timedOut?.isRetriable == true)
                    #expect(elapsed >= .milliseconds(600) && elapsed < .seconds(10))
                }
                // The request's own deadline caps the call timeout and stops retries. The client's
                // own timeout is long here, so that the bound below tells the cap from no cap
                // however loaded the machine is.
                let patient = ResilientRegistryClient.Configuration(
                    callTimeout: .seconds(20),
                    retry: .init(maxAttempts: 2, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(10)))
                try await Self.withClient(simulator, configuration: patient) { client in
                    let query = TestEnvironment.query(simulator.simulator.population.citizen(at: 6))
                    let deadlineStart = ContinuousClock.now
                    let capped = await #expect(throws: RegistryError.self) {
                        try await client.lookup(query, context: .init(agency: "A", deadline: .now + .milliseconds(150)))
                    }
                    #expect(capped?.code == .timeout)
                    #expect(capped?.attempts == 1)
                    #expect(deadlineStart.duration(to: .now) < .seconds(10))
                    // Each attempt reached the registry; under load the second one's new connection
                    // can reach the simulator's handler after the client gave it up: wait for it.
                    let counted = ContinuousClock.now + .seconds(5)
                    while simulator.simulator.statistics().calls["verify"]?["hang"] ?? 0 < 2, ContinuousClock.now < counted {
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    #expect(simulator.simulator.statistics().calls["verify"]?["hang"] == 2)
                }
            }
        }

        /// Hands out a first slot already older than its late tolerance (its caller was scheduled
        /// too late), then fresh ones, which tolerate a second's delay so that a loaded machine
        /// cannot make them stale too.
        final class LateFirstSlot: RegistryRateLimiter {
            let handedOut = Atomic<Int>(0)
            func acquire() async throws -> RegistryRateSlot {
                let late = self.handedOut.add(1, ordering: .relaxed).oldValue == 0
                return late
                    ? RegistryRateSlot(time: .now - .milliseconds(50), lateTolerance: .milliseconds(5))
                    : RegistryRateSlot(time: .now, lateTolerance: .seconds(1))
            }
        }

        @Test("a slot too late to use is given up, counted, and the call waits for another: never sent late")
        func staleSlotIsGivenUpAndCounted() async throws {
            try await TestEnvironment.withSimulator { simulator in
                try await TestEnvironment.withTransport(for: simulator) { transport in
                    let metrics = TestMetrics()
                    let limiter = LateFirstSlot()
                    let client = try ResilientRegistryClient(
                        transport: transport, limiter: limiter, configuration: .init(retry: Self.fastRetries), metricsFactory: metrics,
                        logger: TestEnvironment.logger)
                    defer { client.shutdown() }
                    let reply = try await client.verify(
                        TestEnvironment.query(simulator.simulator.population.citizen(at: 21)), context: .init(agency: "A"))
                    #expect(reply.value.match)
                    #expect(reply.attempts == 1, "a missed slot is not an attempt")
                    #expect(limiter.handedOut.load(ordering: .relaxed) == 2)
                    #expect(client.staleSlots == 1)
                    #expect(metrics.counter("identity_registry_stale_slots_total", []) == 1)
                    #expect(simulator.simulator.statistics().totalCalls == 1, "one call went out, on the fresh slot")
                }
            }
        }

        /// Its first slot is handed out late (after 100 ms, already stale); from then on a slot is
        /// due whenever asked. Those later slots tolerate a second's delay, so that on a loaded
        /// machine only the first one goes stale.
        final class LateFirstSlotThenDue: RegistryRateLimiter {
            let acquired = Atomic<Int>(0)
            let armed = Atomic<Bool>(false)
            func acquire() async throws -> RegistryRateSlot {
                guard self.acquired.add(1, ordering: .relaxed).oldValue == 0 else { return RegistryRateSlot(time: .now, lateTolerance: .seconds(1)) }
                try await Task.sleep(for: .milliseconds(100))
                self.armed.store(true, ordering: .relaxed)
                return RegistryRateSlot(time: .now - .milliseconds(50), lateTolerance: .milliseconds(5))
            }
            func tryAcquireNow() -> RegistryRateSlot? {
                self.armed.load(ordering: .relaxed) ? RegistryRateSlot(time: .now, lateTolerance: .seconds(1)) : nil
            }
        }

        @Test("a stale slot is replaced by one due now, ahead of the calls queued meanwhile")
        func staleSlotIsReplacedBySlotDueNow() async throws {
            try await TestEnvironment.withSimulator { simulator in
                try await TestEnvironment.withTransport(for: simulator) { transport in
                    let limiter = LateFirstSlotThenDue()
                    // One call in flight at first (the ramp), so the order the calls go out is the order they finish.
                    let client = try ResilientRegistryClient(
                        transport: transport, limiter: limiter, configuration: .init(retry: Self.fastRetries), logger: TestEnvironment.logger)
                    defer { client.shutdown() }
                    final class Finished: Sendable { let order = Mutex<[String]>([]) }
                    let finished = Finished()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for (agency, citizen) in [("A", 22), ("B", 23)] {
                            group.addTask {
                                let reply = try await client.verify(
                                    TestEnvironment.query(simulator.simulator.population.citizen(at: citizen)), context: .init(agency: agency))
                                #expect(reply.value.match)
                                finished.order.withLock { $0.append(agency) }
                            }
                            // B queues while A waits for its (late) slot.
                            try await Task.sleep(for: .milliseconds(30))
                        }
                        try await group.waitForAll()
                    }
                    #expect(client.staleSlots == 1, "the stale slot is still counted as given up")
                    #expect(finished.order.withLock { $0 } == ["A", "B"], "A went out on a slot due now, before B")
                    #expect(limiter.acquired.load(ordering: .relaxed) == 1, "no call waited for a second slot")
                }
            }
        }

        @Test("a call gets its client span unless spansFor says the context needs none; retries stay in one span")
        func spanOnlyWhereWanted() async throws {
            try await TestEnvironment.withSimulator { simulator in
                try await TestEnvironment.withTransport(for: simulator) { transport in
                    let citizen = simulator.simulator.population.citizen(at: 31)
                    for wanted in [true, false] {
                        let tracer = CountingTracer()
                        let asked = Mutex(0)
                        let client = try ResilientRegistryClient(
                            transport: transport, limiter: try LocalRateLimiter(callsPerSecond: 1_000),
                            configuration: .init(retry: Self.fastRetries), logger: TestEnvironment.logger, tracer: tracer,
                            spansFor: { _ in
                                asked.withLock { $0 += 1 }
                                return wanted
                            })
                        defer { client.shutdown() }
                        simulator.simulator.scriptFailures(.init(count: 1, status: 503))
                        let reply = try await client.verify(TestEnvironment.query(citizen), context: .init(agency: "A"))
                        _ = try await client.lookup(TestEnvironment.query(citizen), context: .init(agency: "A"))
                        #expect(reply.attempts == 2 && reply.value.match, "the call is made either way")
                        #expect(asked.withLock { $0 } == 2, "asked once per call, not per attempt")
                        #expect(tracer.names.withLock { $0 } == (wanted ? ["registry.verify", "registry.lookup"] : []))
                    }
                }
            }
        }
    }
}

/// Counts the spans started (their names); records nothing.
final class CountingTracer: Tracer, Sendable {
    typealias Span = NoOpTracer.NoOpSpan
    let names = Mutex<[String]>([])

    func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> ServiceContext, ofKind kind: SpanKind, at instant: @autoclosure () -> Instant,
        function: String, file fileID: String, line: UInt
    ) -> NoOpTracer.NoOpSpan {
        names.withLock { $0.append(operationName) }
        return NoOpTracer.NoOpSpan(context: context())
    }

    func forceFlush() {}
    func inject<Carrier, Inject: Injector>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject.Carrier == Carrier {}
    func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
    where Extract.Carrier == Carrier {}
}
