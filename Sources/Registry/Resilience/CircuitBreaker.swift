/// The circuit breaker's state machine: a plain value with no I/O, no clock and no lock.
///
/// The caller owns the lock and the clock: it asks ``requestPermission(now:)`` before a call,
/// reports the call's ``Outcome`` with ``record(_:for:now:)``, and performs the returned action
/// (log, metric) after releasing its lock.
///
/// - **closed**: calls pass; ``Configuration/failureThreshold`` consecutive failures open the circuit.
/// - **open**: calls are rejected at once, without touching the registry, for ``Configuration/openDuration``.
/// - **half-open**: after that, up to ``Configuration/halfOpenProbes`` trial calls pass; a failed probe
///   opens the circuit again, ``Configuration/successesToClose`` successful probes close it.
///
/// Every permission carries the breaker's generation (bumped on each transition), so a slow call
/// that was let through before the circuit opened cannot later close it or count as a probe.
public struct CircuitBreaker: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// Consecutive failures (5xx, timeouts, connection failures) that open the circuit.
        /// Default: `5` (`REGISTRY_BREAKER_FAILURES`).
        public var failureThreshold: Int
        /// How long the circuit stays open before a probe is let through. Default: 5 s (`REGISTRY_BREAKER_OPEN_MS`).
        public var openDuration: Duration
        /// Trial calls allowed at the same time while half-open. Default: `1`.
        public var halfOpenProbes: Int
        /// Successful probes that close the circuit. Default: `1`.
        public var successesToClose: Int

        public init(
            failureThreshold: Int = 5,
            openDuration: Duration = .seconds(5),
            halfOpenProbes: Int = 1,
            successesToClose: Int = 1
        ) {
            self.failureThreshold = failureThreshold
            self.openDuration = openDuration
            self.halfOpenProbes = halfOpenProbes
            self.successesToClose = successesToClose
        }

        /// Checks the values, naming the one that cannot work.
        public func validate() throws {
            guard self.failureThreshold >= 1 else { throw RegistryConfigurationError("breaker failureThreshold must be at least 1") }
            guard self.openDuration > .zero else { throw RegistryConfigurationError("breaker openDuration must be positive") }
            guard self.halfOpenProbes >= 1 else { throw RegistryConfigurationError("breaker halfOpenProbes must be at least 1") }
            guard self.successesToClose >= 1 else { throw RegistryConfigurationError("breaker successesToClose must be at least 1") }
        }
    }

    /// The externally visible state, for readiness, metrics and logs.
    public enum State: String, Sendable, Hashable, CustomStringConvertible {
        case closed
        case open
        case halfOpen = "half_open"

        public var description: String { self.rawValue }
    }

    /// How a permitted call ended, as far as the breaker cares.
    public enum Outcome: Sendable, Hashable {
        /// The registry answered (200, and also 400/401/403: it is up, the request or token is wrong).
        case success
        /// The registry failed (5xx, timeout, broken connection, garbage body).
        case failure
        /// Says nothing about the registry's health: a 429, or a call abandoned before it was made.
        case neutral
    }

    /// A permission to make one call. Hand it back with ``CircuitBreaker/record(_:for:now:)``.
    public struct Ticket: Sendable, Hashable {
        fileprivate let generation: UInt64
        /// Whether this call is a half-open trial.
        public let isProbe: Bool
    }

    /// What ``requestPermission(now:)`` decided.
    public enum PermissionAction: Sendable, Hashable {
        /// Make the call, then record its outcome with the ticket.
        case proceed(Ticket)
        /// Do not call; the circuit is open (or all probe slots are taken) until about `retryAt`.
        case reject(retryAt: ContinuousClock.Instant)
        /// The call is a probe and the circuit just went from open to half-open: log it.
        case proceedAfterHalfOpening(Ticket)
    }

    /// A transition that ``record(_:for:now:)`` caused, for the caller to log and count.
    public enum TransitionAction: Sendable, Hashable {
        case none
        /// The circuit opened (from closed or half-open) until `until`.
        case opened(until: ContinuousClock.Instant)
        /// A probe succeeded often enough: the circuit closed.
        case closed
    }

    private enum InternalState: Sendable, Hashable {
        case closed(consecutiveFailures: Int)
        case open(until: ContinuousClock.Instant)
        case halfOpen(probesInFlight: Int, successes: Int)
    }

    public let configuration: Configuration
    private var state: InternalState
    private var generation: UInt64

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        self.state = .closed(consecutiveFailures: 0)
        self.generation = 0
    }

    /// The state as of `now` (an open circuit whose time is up reports `halfOpen`).
    public func state(now: ContinuousClock.Instant) -> State {
        switch self.state {
        case .closed: .closed
        case .open(let until): now >= until ? .halfOpen : .open
        case .halfOpen: .halfOpen
        }
    }

    /// When the circuit is open and will stay so past `now`: the instant a probe may go. For a cheap
    /// check before queueing for a rate-limit slot; it changes nothing.
    public func rejectsUntil(now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        if case .open(let until) = self.state, now < until { return until }
        return nil
    }

    /// Asks to make one call now.
    public mutating func requestPermission(now: ContinuousClock.Instant) -> PermissionAction {
        switch self.state {
        case .closed:
            return .proceed(Ticket(generation: self.generation, isProbe: false))

        case .open(let until):
            guard now >= until else { return .reject(retryAt: until) }
            self.generation &+= 1
            self.state = .halfOpen(probesInFlight: 1, successes: 0)
            return .proceedAfterHalfOpening(Ticket(generation: self.generation, isProbe: true))

        case .halfOpen(let probesInFlight, let successes):
            guard probesInFlight < self.configuration.halfOpenProbes else {
                // Busy probing; the answer is at most one call timeout away. Suggest a short wait.
                return .reject(retryAt: now + min(self.configuration.openDuration, .seconds(1)))
            }
            self.state = .halfOpen(probesInFlight: probesInFlight + 1, successes: successes)
            return .proceed(Ticket(generation: self.generation, isProbe: true))
        }
    }

    /// Reports how a permitted call ended.
    public mutating func record(_ outcome: Outcome, for ticket: Ticket, now: ContinuousClock.Instant) -> TransitionAction {
        // A call let through in an earlier state (before the circuit opened, or an earlier half-open
        // round) no longer says anything about the present one.
        guard ticket.generation == self.generation else { return .none }

        switch self.state {
        case .closed(let failures):
            precondition(!ticket.isProbe, "probe ticket recorded in state closed of its own generation")
            switch outcome {
            case .success:
                self.state = .closed(consecutiveFailures: 0)
                return .none
            case .neutral:
                return .none
            case .failure:
                let failures = failures + 1
                guard failures >= self.configuration.failureThreshold else {
                    self.state = .closed(consecutiveFailures: failures)
                    return .none
                }
                return self.open(now: now)
            }

        case .open:
            // Opening bumps the generation and an open circuit issues no tickets, so no ticket of
            // the current generation can exist.
            fatalError("CircuitBreaker: outcome recorded in state open with a ticket of the current generation")

        case .halfOpen(let probesInFlight, let successes):
            guard ticket.isProbe, probesInFlight > 0 else {
                fatalError("CircuitBreaker: non-probe outcome recorded in state halfOpen(probesInFlight: \(probesInFlight))")
            }
            switch outcome {
            case .success:
                let successes = successes + 1
                guard successes >= self.configuration.successesToClose else {
                    self.state = .halfOpen(probesInFlight: probesInFlight - 1, successes: successes)
                    return .none
                }
                self.generation &+= 1
                self.state = .closed(consecutiveFailures: 0)
                return .closed
            case .neutral:
                self.state = .halfOpen(probesInFlight: probesInFlight - 1, successes: successes)
                return .none
            case .failure:
                return self.open(now: now)
            }
        }
    }

    private mutating func open(now: ContinuousClock.Instant) -> TransitionAction {
        let until = now + self.configuration.openDuration
        self.generation &+= 1
        self.state = .open(until: until)
        return .opened(until: until)
    }
}
