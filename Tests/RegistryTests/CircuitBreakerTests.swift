import Registry
import Testing

/// The breaker's state machine, without any I/O: instants are made up.
@Suite struct CircuitBreakerTests {
    let t0 = ContinuousClock.now
    let configuration = CircuitBreaker.Configuration(
        failureThreshold: 3, openDuration: .seconds(10), halfOpenProbes: 1, successesToClose: 1)

    private func ticket(_ breaker: inout CircuitBreaker, at now: ContinuousClock.Instant) -> CircuitBreaker.Ticket? {
        switch breaker.requestPermission(now: now) {
        case .proceed(let ticket), .proceedAfterHalfOpening(let ticket): ticket
        case .reject: nil
        }
    }

    @Test func opensAfterConsecutiveFailuresOnly() throws {
        var breaker = CircuitBreaker(configuration: self.configuration)
        for _ in 0..<2 {
            let ticket = try #require(self.ticket(&breaker, at: self.t0))
            #expect(breaker.record(.failure, for: ticket, now: self.t0) == .none)
        }
        // A success resets the count.
        let success = try #require(self.ticket(&breaker, at: self.t0))
        #expect(breaker.record(.success, for: success, now: self.t0) == .none)
        for _ in 0..<2 {
            let ticket = try #require(self.ticket(&breaker, at: self.t0))
            #expect(breaker.record(.failure, for: ticket, now: self.t0) == .none)
        }
        // Neutral outcomes (429) neither count nor reset.
        let neutral = try #require(self.ticket(&breaker, at: self.t0))
        #expect(breaker.record(.neutral, for: neutral, now: self.t0) == .none)
        let third = try #require(self.ticket(&breaker, at: self.t0))
        #expect(breaker.record(.failure, for: third, now: self.t0) == .opened(until: self.t0 + .seconds(10)))
        #expect(breaker.state(now: self.t0) == .open)
    }

    @Test func openRejectsThenHalfOpensOneProbeThenCloses() throws {
        var breaker = CircuitBreaker(configuration: self.configuration)
        try self.open(&breaker)

        #expect(breaker.requestPermission(now: self.t0 + .seconds(5)) == .reject(retryAt: self.t0 + .seconds(10)))
        #expect(breaker.rejectsUntil(now: self.t0 + .seconds(5)) == self.t0 + .seconds(10))

        let probeTime = self.t0 + .seconds(10)
        guard case .proceedAfterHalfOpening(let probe) = breaker.requestPermission(now: probeTime) else {
            Issue.record("expected a probe after the open duration")
            return
        }
        #expect(probe.isProbe)
        #expect(breaker.state(now: probeTime) == .halfOpen)
        // Only one probe at a time.
        guard case .reject = breaker.requestPermission(now: probeTime) else {
            Issue.record("a second concurrent probe was let through")
            return
        }
        #expect(breaker.record(.success, for: probe, now: probeTime) == .closed)
        #expect(breaker.state(now: probeTime) == .closed)
        guard case .proceed(let normal) = breaker.requestPermission(now: probeTime) else {
            Issue.record("closed breaker rejected a call")
            return
        }
        #expect(!normal.isProbe)
    }

    @Test func failedProbeReopens() throws {
        var breaker = CircuitBreaker(configuration: self.configuration)
        try self.open(&breaker)
        let probeTime = self.t0 + .seconds(11)
        let probe = try #require(self.ticket(&breaker, at: probeTime))
        #expect(breaker.record(.failure, for: probe, now: probeTime) == .opened(until: probeTime + .seconds(10)))
        #expect(breaker.state(now: probeTime + .seconds(1)) == .open)
    }

    @Test func lateResultsOfAnEarlierStateAreIgnored() throws {
        var breaker = CircuitBreaker(configuration: self.configuration)
        let slowCall = try #require(self.ticket(&breaker, at: self.t0))
        try self.open(&breaker)
        // The slow call, let through while closed, succeeds after the circuit opened: no effect.
        #expect(breaker.record(.success, for: slowCall, now: self.t0 + .seconds(1)) == .none)
        #expect(breaker.state(now: self.t0 + .seconds(1)) == .open)
        // Nor may it close a later half-open circuit.
        let probe = try #require(self.ticket(&breaker, at: self.t0 + .seconds(10)))
        #expect(breaker.record(.success, for: slowCall, now: self.t0 + .seconds(10)) == .none)
        #expect(breaker.state(now: self.t0 + .seconds(10)) == .halfOpen)
        #expect(breaker.record(.success, for: probe, now: self.t0 + .seconds(10)) == .closed)
    }

    @Test func severalProbesAndSuccessesToClose() throws {
        var breaker = CircuitBreaker(configuration: .init(failureThreshold: 1, openDuration: .seconds(1), halfOpenProbes: 2, successesToClose: 2))
        let first = try #require(self.ticket(&breaker, at: self.t0))
        #expect(breaker.record(.failure, for: first, now: self.t0) == .opened(until: self.t0 + .seconds(1)))
        let later = self.t0 + .seconds(2)
        let probeA = try #require(self.ticket(&breaker, at: later))
        let probeB = try #require(self.ticket(&breaker, at: later))
        #expect(self.ticket(&breaker, at: later) == nil)
        #expect(breaker.record(.success, for: probeA, now: later) == .none)
        #expect(breaker.state(now: later) == .halfOpen)
        #expect(breaker.record(.success, for: probeB, now: later) == .closed)
    }

    @Test func neutralProbeFreesItsSlot() throws {
        var breaker = CircuitBreaker(configuration: self.configuration)
        try self.open(&breaker)
        let later = self.t0 + .seconds(10)
        let probe = try #require(self.ticket(&breaker, at: later))
        #expect(breaker.record(.neutral, for: probe, now: later) == .none)
        let next = try #require(self.ticket(&breaker, at: later))
        #expect(next.isProbe)
    }

    private func open(_ breaker: inout CircuitBreaker) throws {
        for _ in 0..<3 {
            let ticket = try #require(self.ticket(&breaker, at: self.t0))
            _ = breaker.record(.failure, for: ticket, now: self.t0)
        }
        #expect(breaker.state(now: self.t0) == .open)
    }
}
