import Logging

extension ResilientRegistryClient {
    /// How hard to try, how fast to give up, and how to share the quota.
    public struct Configuration: Sendable, Hashable {
        /// Time allowed for one call, capped by the request's own deadline. Default: 5 s
        /// (`REGISTRY_TIMEOUT_MS`).
        public var callTimeout: Duration
        /// Retries with backoff and jitter. Default: ``RetryPolicy/init(maxAttempts:initialBackoff:maxBackoff:multiplier:maxRetryAfter:)``'s defaults.
        public var retry: RetryPolicy
        /// The circuit breaker. Default: 5 consecutive failures open it for 5 s.
        public var circuitBreaker: CircuitBreaker.Configuration
        /// Fair sharing of the rate limit between agencies and the bound on calls in flight.
        /// Default: 128 calls in flight, equal weights.
        public var scheduler: FairScheduler.Configuration

        public init(
            callTimeout: Duration = .seconds(5),
            retry: RetryPolicy = .init(),
            circuitBreaker: CircuitBreaker.Configuration = .init(),
            scheduler: FairScheduler.Configuration = .init()
        ) {
            self.callTimeout = callTimeout
            self.retry = retry
            self.circuitBreaker = circuitBreaker
            self.scheduler = scheduler
        }

        /// Checks the values, naming the one that cannot work.
        public func validate() throws {
            guard self.callTimeout > .zero else { throw RegistryConfigurationError("REGISTRY_TIMEOUT_MS must be positive") }
            try self.retry.validate()
            try self.circuitBreaker.validate()
            try self.scheduler.validate()
        }
    }
}

/// Per-request inputs of a resilient call.
public struct RegistryCallContext: Sendable {
    /// The agency on whose behalf the check is made: its fair share of the quota. Not personal data,
    /// but never a metric label either (agencies are not a bounded set).
    public var agency: String
    /// When the answer stops being useful (the channel's verdict deadline). No call or retry starts
    /// after it, and no call runs past it. `nil`: bounded by the retry policy only.
    public var deadline: ContinuousClock.Instant?
    /// Logger carrying the caller's metadata (request id, ...). Default: the client's logger.
    public var logger: Logger?

    public init(agency: String, deadline: ContinuousClock.Instant? = nil, logger: Logger? = nil) {
        self.agency = agency
        self.deadline = deadline
        self.logger = logger
    }
}
