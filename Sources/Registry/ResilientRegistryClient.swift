import Logging
import Metrics
import Synchronization
import Tracing

/// The registry as the worker uses it: any ``RegistryClient`` transport behind a fair, rate-limited
/// admission (``FairScheduler`` over a ``RegistryRateLimiter``), a circuit breaker, a per-call
/// timeout, retries with exponential backoff and full jitter that honour `Retry-After`, and metrics
/// and a trace span for every call.
///
/// ```swift
/// let transport = try HTTPRegistryClient(
///     configuration: .init(baseURL: registryURL, token: registryToken, concurrency: 64),
///     backgroundLogger: logger)
/// let limiter = try FleetRateLimiter(client: postgres, configuration: .init(rateLimit: .init(callsPerSecond: 50)), logger: logger)
/// let registry = try ResilientRegistryClient(transport: transport, limiter: limiter, logger: logger)
///
/// let reply = try await registry.verify(query, context: .init(agency: "H23.45.10", deadline: .now + .seconds(15)))
/// // reply.value.match, reply.attempts
/// ```
///
/// Errors are ``RegistryError``s whose ``RegistryError/attempts`` counts the calls made; a
/// cancelled task gets `CancellationError`.
public final class ResilientRegistryClient: Sendable {
    public let configuration: Configuration
    private let transport: any RegistryClient
    private let scheduler: FairScheduler
    private let breaker: Mutex<CircuitBreaker>
    private let metrics: RegistryMetrics
    private let staleSlotCount = Atomic<Int>(0)
    private let logger: Logger
    private let tracer: any Tracer
    private let spansFor: @Sendable (ServiceContext) -> Bool

    /// - Parameters:
    ///   - transport: One call per invocation (``HTTPRegistryClient``, or another transport).
    ///   - limiter: Gates every call (``LocalRateLimiter`` or the fleet limiter).
    ///   - configuration: Timeouts, retries, breaker and scheduling.
    ///   - metricsFactory: Where metrics go. Default: `MetricsSystem.factory`.
    ///   - logger: For retries, breaker transitions and failures (at `debug`, transitions at `warning`/`info`).
    ///   - tracer: One client span per call, retries included, child of the caller's. Default: the
    ///     bootstrapped tracer.
    ///   - spansFor: Whether a call made in a context gets its span. Default: always. A tracer that
    ///     records and propagates nothing for work without a trace (``W3CTracer`` with telemetry
    ///     off) says so here, and such a call costs no span: starting one, the task-local context
    ///     it sets and ending it were about 3 % of the worker's CPU in a burst.
    /// - Throws: ``RegistryConfigurationError`` when the configuration is invalid.
    public init(
        transport: any RegistryClient,
        limiter: any RegistryRateLimiter,
        configuration: Configuration = .init(),
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        logger: Logger,
        tracer: any Tracer = InstrumentationSystem.tracer,
        spansFor: @escaping @Sendable (ServiceContext) -> Bool = { _ in true }
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.transport = transport
        self.scheduler = try FairScheduler(limiter: limiter, configuration: configuration.scheduler)
        self.breaker = Mutex(CircuitBreaker(configuration: configuration.circuitBreaker))
        self.metrics = RegistryMetrics(factory: metricsFactory)
        self.logger = logger
        self.tracer = tracer
        self.spansFor = spansFor
        self.metrics.recordCircuitState(.closed)
    }

    /// The circuit breaker's state now (for readiness and dashboards).
    public var circuitState: CircuitBreaker.State {
        let now = ContinuousClock.now
        return self.breaker.withLock { $0.state(now: now) }
    }

    /// Calls waiting for a slot, and calls in flight.
    public var load: (waiting: Int, inFlight: Int) { self.scheduler.load }

    /// Rate-limit slots given up since start because the call could not be sent within the
    /// slot's late tolerance (the process was scheduled late: CPU starvation). Also counted by
    /// `identity_registry_stale_slots_total`; readable here for tests and diagnostics.
    public var staleSlots: Int { self.staleSlotCount.load(ordering: .relaxed) }

    /// Registry calls allowed in flight now (fixed, or adapting to the registry's latency:
    /// ``FairScheduler/Configuration/adaptiveFrom``).
    public var callsAllowed: Int { self.scheduler.callsAllowed }

    /// Fails waiting calls and refuses new ones. Does not shut the transport down.
    public func shutdown() {
        self.scheduler.shutdown()
    }

    /// `POST /v1/citizens/verify`, with retries.
    public func verify(_ query: RegistryQuery, context: RegistryCallContext) async throws -> RegistryReply<VerifyResult> {
        try await self.call(.verify, context: context) { transport, deadline in
            try await transport.verify(query, deadline: deadline)
        }
    }

    /// `POST /v1/citizens/lookup`, with retries.
    public func lookup(_ query: RegistryQuery, context: RegistryCallContext) async throws -> RegistryReply<LookupResult> {
        try await self.call(.lookup, context: context) { transport, deadline in
            try await transport.lookup(query, deadline: deadline)
        }
    }

    // MARK: The retry loop

    private func call<Value: Sendable>(
        _ endpoint: RegistryEndpoint,
        context: RegistryCallContext,
        _ operation: @Sendable (any RegistryClient, ContinuousClock.Instant) async throws -> Value
    ) async throws -> RegistryReply<Value> {
        // The endpoint goes into each line's metadata rather than into a logger copy: lines are
        // rare (failures, breaker changes) and setting logger metadata on every call cost CPU.
        let logger = context.logger ?? self.logger

        guard self.spansFor(ServiceContext.current ?? .topLevel) else {
            return try await self.attempts(endpoint, context: context, logger: logger, span: nil, operation)
        }
        return try await self.tracer.withSpan(endpoint.spanName, ofKind: .client) { span in
            try await self.attempts(endpoint, context: context, logger: logger, span: span, operation)
        }
    }

    /// Attempts until an answer, an error not worth retrying, or the deadline; `span` (if any)
    /// gets the errors and the number of attempts.
    private func attempts<Value: Sendable>(
        _ endpoint: RegistryEndpoint,
        context: RegistryCallContext,
        logger: Logger,
        span: (any Span)?,
        _ operation: @Sendable (any RegistryClient, ContinuousClock.Instant) async throws -> Value
    ) async throws -> RegistryReply<Value> {
        var attempts = 0
        // Set only on a span that keeps it: setting it built a dictionary per call for nothing.
        defer { if let span, span.isRecording { span.attributes["registry.attempts"] = attempts } }
        while true {
            let outcome = try await self.attempt(
                endpoint, number: attempts + 1, context: context, logger: logger, operation)
            switch outcome {
            case .answered(let value):
                attempts += 1
                return RegistryReply(value: value, attempts: attempts)

            case .notMade(var error):
                error.attempts = attempts
                span?.recordError(error)
                throw error

            case .slotMissed:
                continue

            case .failed(var error):
                attempts += 1
                error.attempts = attempts
                guard let delay = self.retryDelay(after: error, attempts: attempts, deadline: context.deadline) else {
                    span?.recordError(error)
                    logger.debug(
                        "Registry call failed; not retrying",
                        metadata: .registry([.endpoint: "\(endpoint)", .errorCode: "\(error.code)", .attempt: "\(attempts)"]))
                    throw error
                }
                logger.debug(
                    "Registry call failed; retrying",
                    metadata: .registry([.endpoint: "\(endpoint)", .errorCode: "\(error.code)", .attempt: "\(attempts)", .delay: "\(delay)"]))
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    throw CancellationError()
                }
            }
        }
    }

    private enum AttemptOutcome<Value: Sendable>: Sendable {
        /// The registry answered 200.
        case answered(Value)
        /// The call was made and failed.
        case failed(RegistryError)
        /// No call was made (breaker open, deadline passed while queueing, limiter failure).
        case notMade(RegistryError)
        /// The slot came too late to use; queue again (no call was made).
        case slotMissed
    }

    /// One call: breaker check, fair admission, breaker permission, the call, bookkeeping.
    private func attempt<Value: Sendable>(
        _ endpoint: RegistryEndpoint,
        number: Int,
        context: RegistryCallContext,
        logger: Logger,
        _ operation: @Sendable (any RegistryClient, ContinuousClock.Instant) async throws -> Value
    ) async throws -> AttemptOutcome<Value> {
        // Fail fast while the circuit is open: do not even queue for a slot.
        let openUntil = self.breaker.withLock { $0.rejectsUntil(now: .now) }
        if let openUntil {
            self.metrics.recordCircuitRejection(endpoint: endpoint)
            return .notMade(self.circuitOpenError(endpoint, until: openUntil))
        }

        let queuedAt = ContinuousClock.now
        // Admission and release directly, not through the generic `withPermit`: this path runs for
        // every call, and the unspecialised generic cost a frame allocation and metadata lookups.
        let slot: RegistryRateSlot
        do {
            slot = try await self.scheduler.admit(agency: context.agency, deadline: context.deadline)
        } catch let error as RegistryError {
            // From admission: deadline passed while queueing, limiter unavailable, shut down.
            return .notMade(error)
        }
        let admittedAt = ContinuousClock.now
        // Set once the call goes out, and kept if it is answered: the answer's latency sizes the
        // calls allowed in flight. A failure says nothing of the pace (a call cut short by its
        // request's deadline fails in a few ms and would make every answer look slow).
        var sentAt: ContinuousClock.Instant?
        defer { self.scheduler.release(sentAt: sentAt) }
        // The last moment before sending that is ours: too late for the slot, give it up. On a
        // busy machine a resumed call often runs more than the tolerance after its slot; a slot
        // due now, if the limiter has one, sends it at once instead of queueing it again (which
        // cost a whole admission per stale slot: about two per call in a burst).
        if slot.isStale(at: admittedAt) {
            self.metrics.recordStaleSlot()
            self.staleSlotCount.add(1, ordering: .relaxed)
            // The call goes out on the fresh slot.
            guard let fresh = self.scheduler.slotDueNow(), !fresh.isStale(at: .now) else { return .slotMissed }
        }
        self.metrics.recordAdmissionWait(queuedAt.duration(to: admittedAt))

        let permission = self.breaker.withLock { $0.requestPermission(now: admittedAt) }
        let ticket: CircuitBreaker.Ticket
        switch permission {
        case .proceed(let granted):
            ticket = granted
        case .proceedAfterHalfOpening(let granted):
            ticket = granted
            self.metrics.recordCircuitState(.halfOpen)
            logger.info("Registry circuit half-open: probing", metadata: .registry([.endpoint: "\(endpoint)", .circuitState: "half_open"]))
        case .reject(let retryAt):
            self.metrics.recordCircuitRejection(endpoint: endpoint)
            return .notMade(self.circuitOpenError(endpoint, until: retryAt))
        }

        var callDeadline = admittedAt + self.configuration.callTimeout
        var cappedByRequest = false
        if let deadline = context.deadline, deadline < callDeadline {
            callDeadline = deadline
            cappedByRequest = true
        }

        let result: Result<Value, RegistryError>
        sentAt = admittedAt
        do {
            result = .success(try await operation(self.transport, callDeadline))
        } catch let error as RegistryError {
            result = .failure(error)
        } catch {
            // Cancelled: the call says nothing about the registry's health, nor its latency.
            sentAt = nil
            self.record(.neutral, ticket: ticket, endpoint: endpoint, logger: logger)
            throw error
        }

        let finishedAt = ContinuousClock.now
        let error = result.failure
        if error != nil { sentAt = nil }
        self.metrics.recordCall(
            endpoint: endpoint,
            status: RegistryMetrics.statusLabel(httpStatus: error?.httpStatus, error: error),
            duration: admittedAt.duration(to: finishedAt),
            isRetry: number > 1
        )
        switch result {
        case .success(let value):
            self.record(.success, ticket: ticket, endpoint: endpoint, logger: logger)
            return .answered(value)
        case .failure(let error):
            // A call cut short by the request's own deadline says nothing about the registry.
            let outcome: CircuitBreaker.Outcome =
                cappedByRequest && error.code == .timeout ? .neutral : Self.breakerOutcome(for: error)
            self.record(outcome, ticket: ticket, endpoint: endpoint, logger: logger)
            return .failed(error)
        }

    }

    private func record(_ outcome: CircuitBreaker.Outcome, ticket: CircuitBreaker.Ticket, endpoint: RegistryEndpoint, logger: Logger) {
        let now = ContinuousClock.now
        let transition = self.breaker.withLock { $0.record(outcome, for: ticket, now: now) }
        switch transition {
        case .none:
            break
        case .opened(let until):
            self.metrics.recordCircuitState(.open)
            logger.warning(
                "Registry circuit opened: failing fast",
                metadata: .registry([.endpoint: "\(endpoint)", .circuitState: "open", .openUntil: "\(now.duration(to: until))"]))
        case .closed:
            self.metrics.recordCircuitState(.closed)
            logger.info("Registry circuit closed", metadata: .registry([.endpoint: "\(endpoint)", .circuitState: "closed"]))
        }
    }

    private func circuitOpenError(_ endpoint: RegistryEndpoint, until: ContinuousClock.Instant) -> RegistryError {
        RegistryError(code: .circuitOpen, endpoint: endpoint, retryAfter: max(.zero, ContinuousClock.now.duration(to: until)))
    }

    /// How long to wait before the next attempt, or `nil` to give up now.
    private func retryDelay(after error: RegistryError, attempts: Int, deadline: ContinuousClock.Instant?) -> Duration? {
        guard error.isRetriable, attempts < self.configuration.retry.maxAttempts else { return nil }
        guard let delay = self.configuration.retry.delay(beforeRetry: attempts, retryAfter: error.retryAfter) else {
            return nil
        }
        // A retry that could not start before the deadline is pointless.
        if let deadline, ContinuousClock.now + delay >= deadline { return nil }
        return delay
    }

    static func breakerOutcome(for error: RegistryError) -> CircuitBreaker.Outcome {
        switch error.code {
        case .serverError, .timeout, .connectionFailed, .invalidResponse:
            .failure
        case .badRequest, .unauthorized, .forbidden, .unexpectedStatus:
            // The registry answered; the request or our credentials are at fault.
            .success
        default:
            .neutral
        }
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
