import Contract
import Identity

/// Everything the worker pipeline needs to know, with documented defaults.
/// The executable fills it from the environment (contract section 7).
public struct WorkerConfiguration: Sendable {
    /// Topic names. Default prefix `tthc.` (`TOPIC_PREFIX`).
    public var topics: Topics = Topics()
    /// `ce_source` of verdicts. Default: `/tthc/identity-verifier`.
    public var cloudEventSource: String = Verdict.defaultCloudEventSource
    /// Deadlines per channel, counted from the first consumption of a request.
    /// Defaults: counter 15 s, registration 30 s, submission 24 h
    /// (`DEADLINE_COUNTER_SECONDS`, `DEADLINE_REGISTRATION_SECONDS`, `DEADLINE_SUBMISSION_SECONDS`).
    public var deadlines: [Channel: Duration] = [.counter: .seconds(15), .registration: .seconds(30), .submission: .seconds(24 * 3600)]
    /// How long a submission is retried in process after the registry's first failure (error,
    /// timeout, open circuit) before it is parked in PostgreSQL; waiting for its turn or for a
    /// rate-limit slot does not count. Default: 10 s.
    public var quickRetryWindow: Duration = .seconds(10)
    /// Requests read but not yet finished, across all lanes: a bound on memory, not on the quota.
    /// Above this the consumer stops taking messages, its buffer fills and its partitions pause;
    /// fairness between agencies holds for backlogs that fit in it. Measured with the yardstick, a
    /// request read ahead costs about 32 KB (its message and a suspended task): 20,000 peaked at
    /// 760 MiB and ran slower than 4,000 (243 MiB), so the default stays 4,000
    /// (`WORKER_MAX_IN_FLIGHT`; docs/benchmarks.md, "Issue 12 figures").
    public var maxInFlight: Int = 4_000
    /// Requests running at once (being decided, at the registry, or handing in their verdict); the
    /// others read ahead wait as values, taking running slots in turn, fair between agencies (the
    /// same policy as ``admissionWindow``'s turns). `nil` (default): four times the registry
    /// client's calls in flight, at least 512, at most ``maxInFlight``. More would only queue at the
    /// registry client as suspended tasks: measured with the yardstick, 2,048 ran no faster than 512
    /// and peaked at 240 MiB against 115 (docs/benchmarks.md, "Issue 12, second pass").
    public var maxRunning: Int?
    /// The registry's rate limit for the fleet, calls per second (`REGISTRY_RATE_LIMIT`; the runtime
    /// fills it in). It sizes how many requests go on to the registry client at once: about
    /// ``admissionWindow`` of quota. `nil`: twice the registry client's calls in flight.
    public var registryCallsPerSecond: Int?
    /// How much quota the requests admitted to the registry client at once may be worth: enough
    /// that a rate-limit slot always finds a call waiting (registry answers within it), little
    /// enough that a request admitted waits about this long for its slot at most. The rest wait
    /// their turn in the worker, fair between agencies. Default: 1 s (at least 4 requests).
    public var admissionWindow: Duration = .seconds(1)
    /// Decisions written per group-commit transaction at most. Default: 2,000 (500 capped a burst
    /// near 6,600 verdicts/s on the yardstick: one transaction at a time, the audit chain's order).
    public var groupCommitBatch: Int = 2_000
    /// Group commits start at least this far apart unless a full batch is waiting
    /// (`GROUP_COMMIT_INTERVAL_MS`; 0: as soon as the one before ends). Measured with the yardstick
    /// at 2,000 requests/s, 20 ms took a third off PostgreSQL's CPU and a sixth off the worker's
    /// for 8 ms more time to verdict at the median; a burst's commits take longer and never wait.
    /// One key's requests go one per group commit, so one key gets at most 50 verdicts/s.
    /// Default: 20 ms (docs/worker.md, "Group commit pace").
    public var groupCommitInterval: Duration = .milliseconds(20)
    /// Offsets are committed this often. Default: 1 s.
    public var commitInterval: Duration = .seconds(1)
    /// Parked checks are looked for this often. Default: 1 s.
    public var parkedPollInterval: Duration = .seconds(1)
    /// First and largest wait between two tries of a parked check. Defaults: 5 s and 5 min.
    public var parkedRetryInitial: Duration = .seconds(5)
    public var parkedRetryMax: Duration = .seconds(300)
    /// On SIGTERM, how long in-flight requests may take to finish. Default: 20 s.
    public var shutdownGrace: Duration = .seconds(20)
    /// Outbox rows older than this are published again (crash leftovers,
    /// failed deliveries). Default: 60 s.
    public var outboxRepublishAge: Duration = .seconds(60)
    /// Citizen record fields sealed into autofill. Default: all but ethnicity
    /// and religion (`AUTOFILL_FIELDS`, comma-separated).
    public var autofillFields: Set<AutofillField> = AutofillField.defaultFields
    /// How long a registry answer is reused for the same person (same normalised id number, name
    /// key and birth date) instead of calling again: `verified` 24 h, `mismatch` 5 min (a typo
    /// corrected and sent again must be asked again soon). Zero turns reuse off for that outcome
    /// (`ANSWER_REUSE_VERIFIED_SECONDS`, `ANSWER_REUSE_MISMATCH_SECONDS`; docs/worker.md "Answer reuse").
    public var answerReuseVerified: Duration = .seconds(86_400)
    public var answerReuseMismatch: Duration = .seconds(300)
    /// Identity-rule relaxations (`ALLOW_SINGLE_WORD_NAMES`, `BIRTH_YEAR_MISMATCH_AS_WARNING`).
    public var identityPolicy: IdentityPolicy = IdentityPolicy()

    public init() {}

    /// Requests running at once (see ``maxRunning``).
    public func runningBound(registryConcurrency: Int) -> Int {
        min(max(1, maxInFlight), max(1, maxRunning ?? max(512, 4 * registryConcurrency)))
    }

    /// Requests admitted to the registry client at once (see ``admissionWindow``).
    public func admissionCapacity(registryConcurrency: Int) -> Int {
        guard let rate = registryCallsPerSecond else { return max(4, 2 * registryConcurrency) }
        let seconds = Double(admissionWindow.components.seconds) + Double(admissionWindow.components.attoseconds) / 1e18
        return max(4, Int((Double(rate) * seconds).rounded(.up)))
    }

    public func deadline(for channel: Channel) -> Duration {
        deadlines[channel] ?? .seconds(30)
    }
}
