import Contract
import Foundation
import Identity
import Kafka
import Logging
import Registry
import ServiceLifecycle
import Store
import Synchronization
import Telemetry
import Tracing

/// The worker: consumes the request topics, reads each message, dead-letters
/// what is not a request, re-emits what was decided before, decides the rest
/// against the registry in lanes by key, records verdicts with group commit,
/// publishes them, parks submissions the registry cannot answer, and commits
/// offsets below which everything is done.
public final class VerificationWorker: Service, Sendable {
    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    private let store: VerificationStore
    private let registry: ResilientRegistryClient
    private let configuration: WorkerConfiguration
    private let logger: Logger
    private let tracer: any Tracer
    private let reader: RequestReader
    private let recorder: VerdictRecorder
    private let decider: RequestDecider
    private let parkedSealer: ParkedRequestSealer
    private let answerReuse: AnswerReuse
    private let metrics: WorkerMetrics
    /// Requests take turns here before the registry: fair between agencies, about a second of quota admitted at once.
    private let admission: RegistryAdmission
    /// The bookkeeping (offsets, lanes, read-ahead, phase; ``WorkerCore``) and the reader waiting for room.
    private let state: Mutex<State>
    /// Jobs to start, taken by the runner tasks of ``dispatchLoop()``; a lane's next job runs in the
    /// same task. A queue that ignores cancellation: at shutdown every job handed in is still
    /// started (cancelled, so it ends at once, unfinished) and none is left counted as running.
    private let startQueue = HandOffQueue<Job>()
    /// At most how many tasks run jobs: as many as the core lets run at once, so a started job
    /// never waits for one. They are started as jobs find none idle (``dispatchLoop()``).
    private let runners: Int
    /// Set when the registry's calls in flight adapt (``FairScheduler/Configuration/adaptiveFrom``)
    /// and no fixed running bound was given: the running bound then follows the calls allowed.
    private let adaptiveRunningFrom: Int?
    /// A job was kept because no runner was idle: start another (up to ``runners``).
    private let runnerWanted: AsyncStream<Void>.Continuation
    private let runnerRequests: AsyncStream<Void>
    private let startedRunners = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)

    /// One consumed request to decide, with what the batch's lookups found for it.
    /// A class: the core moves jobs between its queues, and a copy is then one retain, not one per field.
    private final class Job: Sendable {
        let read: ReadMessage
        let prior: PublishableVerdict?
        let laneParkedInStore: Bool
        let answer: RegistryAnswer?

        init(read: ReadMessage, prior: PublishableVerdict?, laneParkedInStore: Bool, answer: RegistryAnswer?) {
            self.read = read
            self.prior = prior
            self.laneParkedInStore = laneParkedInStore
            self.answer = answer
        }

        var position: TopicPartitionOffset { TopicPartitionOffset(read.message.topicPartition, offset: read.message.offset) }
    }

    private struct State: ~Copyable {
        var core: WorkerCore<Job>
        /// The consume loop, waiting for room in the read-ahead.
        var reader: CheckedContinuation<Void, Never>?
    }

    /// - Parameters:
    ///   - consumer: subscribed to the three request topics, in the worker's group.
    ///   - producer: idempotent; it carries verdicts and dead letters.
    ///   - subjectRefKey: `SUBJECT_REF_KEY` bytes: subject refs, and the key parked requests are sealed with.
    ///   - previousSubjectRefKeys: `SUBJECT_REF_KEY_PREVIOUS`: older keys that still open checks parked under them.
    ///   - tracer: One span per request, continuing its `traceparent`; the registry call is its
    ///     child and the verdict carries its id. Default: the bootstrapped tracer.
    public init(
        consumer: KafkaConsumer, producer: KafkaProducer, store: VerificationStore, registry: ResilientRegistryClient,
        subjectRefKey: [UInt8], previousSubjectRefKeys: [[UInt8]] = [], configuration: WorkerConfiguration, logger: Logger,
        tracer: any Tracer = InstrumentationSystem.tracer
    ) {
        self.consumer = consumer
        self.producer = producer
        self.store = store
        self.registry = registry
        self.configuration = configuration
        self.logger = logger
        self.tracer = tracer
        self.reader = RequestReader(policy: configuration.identityPolicy)
        self.metrics = WorkerMetrics()
        self.recorder = VerdictRecorder(store: store, producer: producer, configuration: configuration, metrics: metrics, logger: logger)
        self.decider = RequestDecider(
            registry: registry, subjectRefKey: SubjectRefKey(keyBytes: subjectRefKey),
            sealer: AutofillSealer(fields: configuration.autofillFields), configuration: configuration, logger: logger)
        self.parkedSealer = ParkedRequestSealer(subjectRefKey: subjectRefKey, previousKeys: previousSubjectRefKeys)
        self.answerReuse = AnswerReuse(
            subjectRefKey: subjectRefKey, verifiedFor: configuration.answerReuseVerified, mismatchFor: configuration.answerReuseMismatch)
        self.metrics.trackParkedKeys(parkedSealer.keyIDs)
        let scheduler = registry.configuration.scheduler
        self.runners = configuration.runningBound(registryConcurrency: scheduler.maxConcurrentCalls)
        // Calls in flight that adapt to the registry's latency take the running bound with them.
        self.adaptiveRunningFrom = configuration.maxRunning == nil ? scheduler.adaptiveFrom : nil
        (self.runnerRequests, self.runnerWanted) = AsyncStream.makeStream(of: Void.self)
        self.state = Mutex(
            State(
                core: WorkerCore(
                    maxJobs: configuration.maxInFlight,
                    maxRunning: configuration.runningBound(registryConcurrency: scheduler.adaptiveFrom ?? scheduler.maxConcurrentCalls),
                    weights: scheduler.weights, defaultWeight: scheduler.defaultWeight)))
        self.admission = RegistryAdmission(
            capacity: configuration.admissionCapacity(registryConcurrency: scheduler.maxConcurrentCalls),
            weights: scheduler.weights, defaultWeight: scheduler.defaultWeight)
    }

    /// Requests read and not yet finished.
    public var inFlight: Int { state.withLock { $0.core.inFlight() } }

    /// Requests being decided or recorded right now (not those waiting behind their lane).
    public var runningRequests: Int { state.withLock { $0.core.running } }

    /// Runner tasks started so far: as many as the most jobs running at once needed, at most the running bound.
    public var runnersStarted: Int { startedRunners.load(ordering: .relaxed) }

    public func run() async throws {
        await republishOutbox(olderThan: .zero)
        // The recorder outlives the other loops: on shutdown it first writes what
        // the lanes still hand in, and is cancelled only after the grace period.
        // High priority: the group commit is the one serial stage, and each of its round trips
        // resumes it; at the default priority every resumption waited behind hundreds of lanes'
        // jobs (a burst ran 6 % faster without that wait: docs/benchmarks.md, "Recorder priority").
        let recorderTask = Task(priority: .high) { await self.recorder.run() }
        // The jobs' tasks live apart from the loops below: at shutdown they are cancelled and waited
        // for (bounded) before the recorder is finished, which they may still be handing verdicts to.
        let dispatchTask = Task { await self.dispatchLoop() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.commitLoop() }
            group.addTask { await self.parkedLoop() }
            group.addTask { await self.outboxLoop() }
            group.addTask { await self.admission.expireLoop() }
            await cancelWhenGracefulShutdown {
                await self.consumeLoop()
            }
            // Shutdown: stop taking messages, let in-flight requests finish (bounded),
            // write and deliver what is recorded, commit, leave the group.
            stopping.store(true, ordering: .releasing)
            // Requests not started, and those still waiting for their turn, are left unfinished
            // (read again after the restart); those at the registry finish.
            state.withLock { $0.core.drain() }
            resumeReader()
            admission.close()
            let drainUntil = ContinuousClock.now + configuration.shutdownGrace
            while state.withLock({ $0.core.unsettled() }) > 0, ContinuousClock.now < drainUntil {
                try? await Task.sleep(for: .milliseconds(50))
            }
            // What is still in flight (waiting for the registry, say) is interrupted, not decided:
            // it stays unfinished and is read again after the restart.
            startQueue.finish()
            runnerWanted.finish()
            dispatchTask.cancel()
            let idleUntil = ContinuousClock.now + .seconds(5)
            while runningRequests > 0, ContinuousClock.now < idleUntil {
                try? await Task.sleep(for: .milliseconds(20))
            }
            if runningRequests > 0 {
                logger.warning("requests still running after shutdown", metadata: ["worker.count": "\(runningRequests)"])
            }
            group.cancelAll()
            await group.waitForAll()
        }
        recorder.finish()
        let finished = await withTaskGroup(of: Bool.self) { race in
            race.addTask {
                await recorderTask.value
                return true
            }
            race.addTask {
                try? await Task.sleep(for: .seconds(10))
                return false
            }
            let first = await race.next() ?? false
            race.cancelAll()
            return first
        }
        if !finished {
            recorderTask.cancel()
            await recorderTask.value
        }
        await commit(sync: true)
        state.withLock { $0.core.stop() }
        await consumer.close()
        await producer.close()
        await dispatchTask.value
        logger.info("worker stopped", metadata: ["worker.unfinished": "\(inFlight)"])
    }

    // MARK: Jobs

    /// Runs the jobs handed in on long-lived runner tasks until the queue is finished (a task per
    /// job cost a task's creation each time): one more runner whenever a job found none idle, up to
    /// ``runners``, so an idle worker holds only as many as its busiest moment needed. Cancelling it
    /// cancels the jobs (and those taken afterwards begin cancelled).
    private func dispatchLoop() async {
        await withDiscardingTaskGroup { group in
            // Only this loop counts up, so the load and the add need not be one step.
            for await _ in runnerRequests where runnersStarted < runners {
                startedRunners.add(1, ordering: .relaxed)
                group.addTask {
                    while let job = await self.startQueue.take() { await self.runLane(from: job) }
                }
            }
        }
    }

    /// Hands jobs to the runners; after the shutdown finished the queue (nothing starts then, but
    /// to be sure) a job is ended unfinished rather than left counted as running.
    private func start(_ jobs: some Sequence<Job>) {
        for job in jobs {
            switch startQueue.push(job) {
            case .handedOver: break
            case .kept: runnerWanted.yield()
            case .refused:
                _ = state.withLock { $0.core.ended(lane: job.read.laneKey, position: job.position, leftUnfinished: true) }
            }
        }
    }

    /// Runs a job, then its lane's next ones as they come due (in this task: a lane's successor
    /// costs no task of its own).
    private func runLane(from first: Job) async {
        var next: Job? = first
        while let job = next {
            let leftUnfinished = await process(job)
            next = nil
            let (starts, reader) = state.withLock { state -> ([Job], CheckedContinuation<Void, Never>?) in
                var starts: [Job] = []
                var reader: CheckedContinuation<Void, Never>?
                var actions = state.core.ended(lane: job.read.laneKey, position: job.position, leftUnfinished: leftUnfinished)
                if let from = adaptiveRunningFrom {
                    let bound = configuration.runningBound(registryConcurrency: max(from, registry.callsAllowed))
                    if bound != state.core.runningBound { actions += state.core.setRunningBound(bound) }
                }
                for action in actions {
                    switch action {
                    case .start(let job): starts.append(job)
                    case .resumeReading: reader = state.reader.take()
                    }
                }
                return (starts, reader)
            }
            reader?.resume()
            // The first job started runs on in this task; the others go to idle runners.
            next = starts.first
            start(starts.dropFirst())
        }
    }

    /// Waits until the read-ahead has room (``WorkerCore/mayRead``), the worker drains, or the task is cancelled.
    private func waitForRoom() async {
        if state.withLock({ $0.core.mayRead }) { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if Task.isCancelled || !state.core.readerShouldWait() { return true }
                    state.reader = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            resumeReader()
        }
    }

    private func resumeReader() {
        state.withLock { $0.reader.take() }?.resume()
    }

    // MARK: Consuming

    private func consumeLoop() async {
        var iterator = consumer.events.makeAsyncIterator()
        while !Task.isCancelled {
            await waitForRoom()
            if Task.isCancelled { return }
            let events = await iterator.nextBatch()
            if events.isEmpty { return }
            var messages: [KafkaMessage] = []
            for event in events {
                switch event {
                case .message(let message):
                    messages.append(message)
                case .assigned(let partitions):
                    admission.reopen(Set(partitions))
                    logger.info("partitions assigned", metadata: ["kafka.partitions": "\(partitions.count)"])
                case .revoked(let partitions, let revocation, let lost):
                    await handle(messages)
                    messages = []
                    await revoke(partitions, revocation: revocation, lost: lost)
                case .error(let error):
                    logger.warning("consumer error", metadata: ["kafka.error": "\(error)"])
                }
            }
            await handle(messages)
        }
    }

    private struct ReadMessage: Sendable {
        var message: KafkaMessage
        var result: ReadResult
        /// When this instance consumed it (the verdict latency counts from here).
        var consumedAt: Date
        /// When the service first consumed it, as far as can be known: its deadline counts from
        /// here. The message's Kafka timestamp is never later than a first consumption by any
        /// instance, so a restart or a rebalance does not start the clock again.
        var firstSeenAt: Date
        /// The lane (in its stored form): requests of one message key, one after another.
        var laneKey: String
        /// The idempotency key in its stored form (``StorableText``).
        var requestKey: String?
        /// The subject's registry answer key (``AnswerReuse``), when reuse is on.
        var answerKey: [UInt8]?
    }

    /// The lane of a message: its key, stored safely; a keyless message has a lane of its own
    /// (the contract orders verdicts per key, and it has none).
    private static func laneKey(of message: KafkaMessage) -> String {
        guard let key = message.key else {
            return StorableText.reserved("\(message.topic)/\(message.partition)/\(message.offset)")
        }
        return StorableText.encode(bytes: key)
    }

    /// The earlier of now and the message's timestamp (a timestamp from the future, a producer's
    /// clock ahead of ours, counts as now).
    private static func firstSeen(_ message: KafkaMessage, now: Date) -> Date {
        guard message.timestampMilliseconds > 0 else { return now }
        return min(now, Date(timeIntervalSince1970: Double(message.timestampMilliseconds) / 1_000))
    }

    private func handle(_ messages: [KafkaMessage]) async {
        if messages.isEmpty { return }
        let now = Date()
        var deadLetters: [(ReadMessage, DeadLetterReason)] = []
        var requests: [ReadMessage] = []
        state.withLock { $0.core.read(messages.lazy.map { TopicPartitionOffset($0.topicPartition, offset: $0.offset) }) }
        for message in messages {
            guard let channel = configuration.topics.channel(ofTopic: message.topic) else {
                // Not ours (a subscription wider than the request topics): nothing to decide.
                completed(message)()
                continue
            }
            let result: ReadResult =
                message.isTombstone ? .deadLetter(.tombstone) : reader.read(value: message.value, topic: channel, now: now)
            var read = ReadMessage(
                message: message, result: result, consumedAt: now, firstSeenAt: Self.firstSeen(message, now: now),
                laneKey: Self.laneKey(of: message))
            switch result {
            case .deadLetter(let reason):
                deadLetters.append((read, reason))
            case .request(let request):
                read.requestKey = StorableText.encode(request.idempotencyKey)
                read.answerKey = answerReuse.key(for: request)
                requests.append(read)
            case .invalid(let invalid):
                read.requestKey = StorableText.encode(invalid.idempotencyKey)
                requests.append(read)
            }
        }
        await deadLetter(deadLetters)
        if requests.isEmpty { return }

        guard let (prior, parkedLanes, answers, refused) = await lookUp(requests) else {
            // Shutting down: leave these unfinished; they are read again after the restart.
            return
        }
        if !refused.isEmpty {
            await deadLetter(refused.map { ($0, .unprocessable) })
            let positions = Set(refused.map { TopicPartitionOffset($0.message.topicPartition, offset: $0.message.offset) })
            requests.removeAll { positions.contains(TopicPartitionOffset($0.message.topicPartition, offset: $0.message.offset)) }
        }
        if Task.isCancelled { return }
        let clock = ContinuousClock.now
        let (starts, jobCount) = state.withLock { state -> ([Job], Int) in
            var starts: [Job] = []
            for read in requests {
                let job = Job(
                    read: read, prior: read.requestKey.flatMap { prior[$0] }, laneParkedInStore: parkedLanes.contains(read.laneKey),
                    answer: read.answerKey.flatMap { answers[$0] })
                let (agency, queue, deadline) = turnFacts(read, now: now, clock: clock)
                for case .start(let job) in state.core.submit(
                    job, lane: read.laneKey, position: job.position, agency: agency, queue: queue, deadline: deadline)
                {
                    starts.append(job)
                }
            }
            return (starts, state.core.running + state.core.waiting)
        }
        start(starts)
        metrics.setInFlight(jobCount)
    }

    /// Where a request takes its turn for a running slot: its agency, its channel's queue, its deadline.
    private func turnFacts(_ read: ReadMessage, now: Date, clock: ContinuousClock.Instant) -> (String, Int, ContinuousClock.Instant?) {
        let agency: String
        let channel: Channel
        switch read.result {
        case .request(let request):
            (agency, channel) = (request.agencyCode, request.channel)
        case .invalid(let invalid):
            // Decided locally, at once: first in the agency's queue order.
            return (invalid.agencyCode, 0, nil)
        case .deadLetter:
            return ("", 0, nil)
        }
        let seconds = read.firstSeenAt.addingTimeInterval(configuration.deadline(for: channel).seconds).timeIntervalSince(now)
        return (agency, Self.admissionQueue(channel), clock + .milliseconds(Int64(max(0, min(seconds, 7 * 86_400)) * 1_000)))
    }

    /// The stored verdicts, the parked lanes and the reusable registry answers of a batch, in one
    /// query (``VerificationStore/lookUp(requestKeys:laneKeys:answerKeys:)``), retried while the database is unreachable (nothing
    /// may be skipped; consumption waits meanwhile). Requests whose keys the database refuses are
    /// handed back to be dead-lettered. `nil` when shutting down.
    private func lookUp(
        _ requests: [ReadMessage]
    ) async -> (prior: [String: PublishableVerdict], parkedLanes: Set<String>, answers: [[UInt8]: RegistryAnswer], refused: [ReadMessage])? {
        typealias Found = ([String: PublishableVerdict], Set<String>, [[UInt8]: RegistryAnswer])
        func query(_ reads: [ReadMessage]) async -> RetryOutcome<Found> {
            await retrying("reading prior verdicts", logger: logger) {
                let found = try await self.store.lookUp(
                    requestKeys: reads.compactMap(\.requestKey), laneKeys: Array(Set(reads.map(\.laneKey))),
                    answerKeys: Array(Set(reads.compactMap(Self.reusableAnswerKey))))
                return (found.prior, found.parkedLanes, found.answers)
            }
        }
        switch await query(requests) {
        case .success(let (prior, lanes, answers)):
            return (prior, lanes, answers, [])
        case .cancelled:
            return nil
        case .permanent:
            // One by one, to set the refused apart from the rest.
            var prior: [String: PublishableVerdict] = [:]
            var lanes: Set<String> = []
            var answers: [[UInt8]: RegistryAnswer] = [:]
            var refused: [ReadMessage] = []
            for read in requests {
                switch await query([read]) {
                case .success(let (one, parked, found)):
                    prior.merge(one) { $1 }
                    lanes.formUnion(parked)
                    answers.merge(found) { $1 }
                case .permanent:
                    refused.append(read)
                case .cancelled:
                    return nil
                }
            }
            return (prior, lanes, answers, refused)
        }
    }

    /// The answer key to look up for a request that may take a kept answer (see ``AnswerReuse/mayReuse(_:)``).
    private static func reusableAnswerKey(_ read: ReadMessage) -> [UInt8]? {
        guard case .request(let request) = read.result, AnswerReuse.mayReuse(request) else { return nil }
        return read.answerKey
    }

    private func completed(_ message: KafkaMessage) -> @Sendable () -> Void {
        let position = TopicPartitionOffset(message.topicPartition, offset: message.offset)
        return { self.state.withLock { $0.core.completed(position) } }
    }

    // MARK: One request

    /// Decides one job; `true` if it was left unfinished on purpose (interrupted: read again later).
    private func process(_ job: Job) async -> Bool {
        await traced(job.read, name: "verify request") { requestLogger in
            await self.processTraced(
                job.read, prior: job.prior, laneParkedInStore: job.laneParkedInStore, answer: job.answer, requestLogger: requestLogger)
        }
    }

    /// Runs `body` in the request's span (its `traceparent` continued, its id in the service
    /// context) with a logger that names the request and the trace.
    private func traced<Result: Sendable>(_ read: ReadMessage, name: String, _ body: (Logger) async -> Result) async -> Result {
        var context = ServiceContext.current ?? .topLevel
        tracer.extract(read.message.headers, into: &context, using: KafkaHeadersExtractor())
        context.requestID = read.requestKey
        return await tracer.withSpan(name, context: context, ofKind: .consumer) { span in
            var requestLogger = self.logger
            // With a metadata provider and a tracer that sets the trace id (serve, dev, the tests),
            // the provider adds both ids from the service context when a line is logged: copying
            // them into the logger for every request cost CPU for lines that are mostly never written.
            // Without a trace to name (none given, and the tracer started none), the provider still
            // names the request from the context.
            if requestLogger.metadataProvider != nil,
                span.context.hasTrace || !TraceParent.isValid(read.message.headers.string(named: "traceparent") ?? "")
            {
                return await body(requestLogger)
            }
            requestLogger[metadataKey: "request.id"] = "\(read.requestKey ?? "")"
            if let traceID = span.context.traceID {
                requestLogger[metadataKey: "trace.id"] = "\(traceID)"
            } else if let traceparent = read.message.headers.string(named: "traceparent"), TraceParent.isValid(traceparent) {
                requestLogger[metadataKey: "trace.id"] = "\(traceparent.split(separator: "-")[1])"
            }
            return await body(requestLogger)
        }
    }

    /// Decides one request; `true` if it was left unfinished on purpose (interrupted by shutdown).
    private func processTraced(
        _ read: ReadMessage, prior: PublishableVerdict?, laneParkedInStore: Bool, answer: RegistryAnswer?, requestLogger: Logger
    ) async -> Bool {
        let done = completed(read.message)
        if let prior {
            requestLogger.debug("request seen before: stored verdict re-emitted")
            await recorder.reemit(prior, onDurable: done)
            return false
        }
        if laneParkedInStore || laneRecentlyParked(read.laneKey) {
            // Keep the key's order: this request waits behind the lane's parked checks.
            await park(read, attempts: 0, logger: requestLogger)
            return false
        }
        switch read.result {
        case .deadLetter:
            done()
        case .invalid(let invalid):
            requestLogger.debug("request broke local rules", metadata: ["request.reasons": "\(invalid.reasons.count)"])
            let verdict = Verdict(invalid: invalid, subjectRefKey: decider.subjectRefKey, decidedAt: Timestamp(Date()))
            let dossier = invalid.dossierCode.map {
                DossierChange(code: $0, agencyCode: invalid.agencyCode, occurredAt: invalid.occurredAt?.date ?? read.consumedAt)
            }
            let result = await recorder.record(
                decisionRecord(verdict, key: read.requestKey ?? "", dossier: dossier, read: read), consumedAt: read.consumedAt,
                onDurable: done)
            if case .refused = result { await deadLetter([(read, .unprocessable)]) }
        case .request(let request):
            for warning in request.warnings {
                requestLogger.info("identity rule relaxed to a warning", metadata: ["request.warning": "\(warning.code)"])
            }
            if let answer, AnswerReuse.mayReuse(request) {
                // The same person was asked recently: that answer, no call, no registry slot.
                let verdict = answerReuse.verdict(request, reusing: answer, subjectRefKey: decider.subjectRefKey)
                requestLogger.debug("registry answer reused", metadata: ["request.outcome": "\(verdict.outcome.rawValue)"])
                metrics.answerReused()
                let result = await recorder.record(
                    decisionRecord(verdict, key: read.requestKey ?? "", dossier: dossierChange(request), read: read),
                    consumedAt: read.consumedAt, onDurable: done)
                if case .refused = result { await deadLetter([(read, .unprocessable)]) }
                return false
            }
            let decision = await decideInTurn(
                request, consumedAt: read.firstSeenAt, priorAttempts: 0, parkAllowed: request.channel == .submission,
                logger: requestLogger, partition: read.message.topicPartition)
            switch decision {
            case .verdict(let verdict):
                requestLogger.debug("request decided", metadata: ["request.outcome": "\(verdict.outcome.rawValue)"])
                let kept = answerReuse.answerToKeep(verdict, key: read.answerKey)
                let result = await recorder.record(
                    decisionRecord(verdict, key: read.requestKey ?? "", dossier: dossierChange(request), read: read, kept: kept),
                    consumedAt: read.consumedAt, onDurable: done)
                if case .refused = result { await deadLetter([(read, .unprocessable)]) }
            case .park(let attempts):
                await park(read, attempts: attempts, logger: requestLogger)
            case .interrupted:
                // Left unfinished: its offset is not committed, so it is read again after the restart.
                requestLogger.debug("request interrupted by shutdown; left for redelivery")
                return true
            }
        }
        return false
    }

    /// Waits for the request's turn at the registry (``RegistryAdmission``: its agency's share, its
    /// deadline first within the agency), then decides it. A request whose deadline passes while
    /// it waits is `unavailable` at once; at shutdown it is left unfinished.
    private func decideInTurn(
        _ request: VerificationRequest, consumedAt: Date, priorAttempts: Int, parkAllowed: Bool, logger: Logger,
        partition: TopicPartition? = nil
    ) async -> RequestDecider.Decision {
        let deadline = consumedAt.addingTimeInterval(configuration.deadline(for: request.channel).seconds)
        let remaining = max(0, min(deadline.timeIntervalSinceNow, 7 * 86_400))
        let turn = await admission.turn(
            agency: request.agencyCode, queue: Self.admissionQueue(request.channel),
            deadline: .now + .milliseconds(Int64(remaining * 1_000)), partition: partition)
        switch turn {
        case .admitted:
            let decision = await decider.decide(
                request, consumedAt: consumedAt, priorAttempts: priorAttempts, parkAllowed: parkAllowed, logger: logger)
            admission.finish()
            return decision
        case .expired:
            logger.debug("deadline passed while waiting for the registry")
            return .verdict(
                Verdict(
                    request: request, outcome: .unavailable, attempts: priorAttempts, decidedAt: Timestamp(Date()),
                    subjectRefKey: decider.subjectRefKey))
        case .closed:
            return .interrupted
        }
    }

    private static func admissionQueue(_ channel: Channel) -> Int {
        switch channel {
        case .counter: 0
        case .registration: 1
        case .submission: 2
        }
    }

    private func dossierChange(_ request: VerificationRequest) -> DossierChange? {
        guard case .submission(_, let dossier) = request.details else { return nil }
        return DossierChange(code: dossier.code, agencyCode: request.agencyCode, occurredAt: request.occurredAt.date)
    }

    /// (Built where it is handed over, so that it is moved into the recorder rather than copied.)
    private func decisionRecord(
        _ verdict: Verdict, key: String, dossier: DossierChange?, read: ReadMessage, settlesParked: Bool = false, kept: KeptRegistryAnswer? = nil
    ) -> DecisionRecord {
        let headers = read.message.headers
        var record = DecisionRecord(
            verdict: verdict, requestKey: key, dossier: dossier,
            source: SourcePosition(topic: read.message.topic, partition: read.message.partition, offset: read.message.offset),
            consumedAt: read.firstSeenAt, messageKey: read.message.key,
            traceparent: TraceContext.verdictParent(of: headers.string(named: "traceparent"), span: ServiceContext.current),
            tracestate: TraceContext.tracestate(headers.string(named: "tracestate")), settlesParkedCheck: settlesParked,
            audit: auditFacts(read.result))
        record.keptAnswer = kept
        return record
    }

    /// Who asked (as far as the request says validly) and, for a counter asking autofill, the
    /// configured fields and the recipient key's fingerprint (kept only when the verdict carries autofill).
    private func auditFacts(_ result: ReadResult) -> AuditFacts {
        switch result {
        case .request(let request):
            var facts = AuditFacts(actorKind: request.actor.kind.rawValue, actorID: request.actor.id)
            switch request.details {
            case .counter(let recipient?):
                facts.autofillFields = configuration.autofillFields.map(\.rawValue)
                facts.recipientFingerprint = AuditFacts.fingerprint(recipientKey: recipient.rawRepresentation)
            case .counter(nil):
                break
            case .registration(let account), .submission(let account, _):
                facts.accountID = account
            }
            return facts
        case .invalid(let invalid):
            return AuditFacts(actorKind: invalid.actor?.kind.rawValue, actorID: invalid.actor?.id, accountID: invalid.accountId)
        case .deadLetter:
            return AuditFacts()
        }
    }

    // MARK: Parking

    private func laneRecentlyParked(_ lane: String) -> Bool {
        let now = ContinuousClock.now
        return state.withLock { $0.core.isLaneParked(lane, now: now) }
    }

    private func park(_ read: ReadMessage, attempts: Int, logger: Logger) async {
        guard let requestKey = read.requestKey else { return }
        let channel = configuration.topics.channel(ofTopic: read.message.topic) ?? .submission
        var agency = ""
        var dossier: DossierChange?
        switch read.result {
        case .request(let request):
            agency = request.agencyCode
            dossier = dossierChange(request)
        case .invalid(let invalid):
            agency = invalid.agencyCode
        case .deadLetter:
            break
        }
        let until = ContinuousClock.now + .seconds(60)
        state.withLock { $0.core.laneParked(read.laneKey, until: until) }
        let sealed: [UInt8]
        let keyID: String
        do {
            (sealed, keyID) = try parkedSealer.seal(read.message.value, requestKey: requestKey)
        } catch {
            logger.error("a check could not be sealed for parking", metadata: ["worker.error": "\(error)"])
            await deadLetter([(read, .unprocessable)])
            return
        }
        let check = ParkedCheck(
            requestKey: requestKey, laneKey: read.laneKey, messageKey: read.message.key,
            traceparent: TraceContext.traceparent(read.message.headers.string(named: "traceparent")),
            channel: channel.rawValue, agencyCode: agency, sealedRequest: sealed,
            source: SourcePosition(topic: read.message.topic, partition: read.message.partition, offset: read.message.offset),
            consumedAt: read.firstSeenAt,
            deadline: read.firstSeenAt.addingTimeInterval(configuration.deadline(for: channel).seconds),
            nextAttemptAt: Date().addingTimeInterval(configuration.parkedRetryInitial.seconds), attempts: attempts,
            dossier: dossier, tracestate: TraceContext.tracestate(read.message.headers.string(named: "tracestate")),
            sealedKeyID: keyID)
        let outcome = await retrying("parking a check", logger: logger) { try await self.store.park([check]) }
        switch outcome {
        case .success:
            logger.info("check parked until the registry answers", metadata: ["request.attempts": "\(attempts)"])
            completed(read.message)()
        case .permanent:
            await deadLetter([(read, .unprocessable)])
        case .cancelled:
            return
        }
    }

    private func parkedLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.parkedPollInterval)
            if Task.isCancelled || stopping.load(ordering: .acquiring) { return }
            do {
                let due = try await store.leaseDueParkedChecks(limit: 200, lease: configuration.quickRetryWindow + .seconds(30))
                await withTaskGroup(of: Void.self) { group in
                    for check in due { group.addTask { await self.retry(check) } }
                }
                let byKey = try await store.parkedCountByKey()
                metrics.setParked(byKey.values.reduce(0, +))
                metrics.setParkedByKey(byKey)
            } catch {
                logger.warning("parked checks could not be read", metadata: ["worker.error": "\(error)"])
            }
        }
    }

    private func retry(_ check: ParkedCheck) async {
        var checkLogger = logger
        checkLogger[metadataKey: "request.id"] = "\(check.requestKey)"
        guard let channel = Channel(rawValue: check.channel) else {
            checkLogger.error("parked check has an unknown channel")
            return
        }
        guard let value = parkedSealer.open(check.sealedRequest, requestKey: check.requestKey, keyID: check.sealedKeyID) else {
            await settleUnopenable(check, channel: channel, logger: checkLogger)
            return
        }
        let message = KafkaMessage(
            topic: check.source.topic, partition: check.source.partition, offset: check.source.offset, key: check.messageKey,
            value: value, headers: Self.traceHeaders(traceparent: check.traceparent, tracestate: check.tracestate),
            timestampMilliseconds: -1)
        let read = ReadMessage(
            message: message, result: reader.read(value: value, topic: channel, now: check.consumedAt),
            consumedAt: check.consumedAt, firstSeenAt: check.consumedAt, laneKey: check.laneKey, requestKey: check.requestKey)
        await traced(read, name: "retry parked check") { checkLogger in
            await self.retryTraced(check, read: read, checkLogger: checkLogger)
        }
    }

    /// A parked check that no configured key opens (its key was dropped from
    /// `SUBJECT_REF_KEY_PREVIOUS` too early): it cannot be asked again, so it gets `unavailable` from
    /// what the row holds, instead of being leased for ever and holding its lane back.
    private func settleUnopenable(_ check: ParkedCheck, channel: Channel, logger: Logger) async {
        logger.error(
            "parked request opens with no configured key: settled unavailable (was its key dropped from SUBJECT_REF_KEY_PREVIOUS?)",
            metadata: ["worker.key_id": "\(check.sealedKeyID ?? "unknown")"])
        let verdict = Verdict(
            verdictId: VerdictID.derive(fromRequestId: check.requestKey), requestId: check.requestKey, channel: channel,
            agencyCode: check.agencyCode, decidedAt: Timestamp(Date()), outcome: .unavailable, attempts: check.attempts)
        let record = DecisionRecord(
            verdict: verdict, requestKey: check.requestKey, dossier: check.dossier, source: check.source, consumedAt: check.consumedAt,
            messageKey: check.messageKey, traceparent: TraceContext.verdictParent(of: check.traceparent, span: ServiceContext.current),
            tracestate: check.tracestate, settlesParkedCheck: true)
        await recorder.record(record, consumedAt: check.consumedAt, onDurable: {})
    }

    /// The trace headers a parked check kept, as the request carried them.
    private static func traceHeaders(traceparent: String?, tracestate: String?) -> [KafkaHeader] {
        guard let traceparent else { return [] }
        var headers = [KafkaHeader(name: "traceparent", string: traceparent)]
        if let tracestate { headers.append(KafkaHeader(name: "tracestate", string: tracestate)) }
        return headers
    }

    private func retryTraced(_ check: ParkedCheck, read: ReadMessage, checkLogger: Logger) async {
        let record: DecisionRecord
        switch read.result {
        case .deadLetter:
            return
        case .invalid(let invalid):
            let verdict = Verdict(invalid: invalid, subjectRefKey: decider.subjectRefKey, decidedAt: Timestamp(Date()))
            let dossier = invalid.dossierCode.map {
                DossierChange(code: $0, agencyCode: invalid.agencyCode, occurredAt: invalid.occurredAt?.date ?? check.consumedAt)
            }
            record = decisionRecord(verdict, key: check.requestKey, dossier: dossier, read: read, settlesParked: true)
        case .request(let request):
            let decision = await decideInTurn(
                request, consumedAt: check.consumedAt, priorAttempts: check.attempts, parkAllowed: true, logger: checkLogger)
            switch decision {
            case .verdict(let verdict):
                var decided = decisionRecord(verdict, key: check.requestKey, dossier: dossierChange(request), read: read, settlesParked: true)
                decided.keptAnswer = answerReuse.answerToKeep(verdict, key: answerReuse.key(for: request))
                record = decided
            case .park(let attempts):
                let backoff = min(configuration.parkedRetryInitial.seconds * pow(2, Double(min(attempts, 16))), configuration.parkedRetryMax.seconds)
                let next = min(Date().addingTimeInterval(backoff), check.deadline)
                try? await store.reschedule(requestKey: check.requestKey, nextAttemptAt: next, attempts: attempts)
                return
            case .interrupted:
                // Shutting down: its lease is handed back, so that another instance (or this one
                // after its restart) takes it at once rather than when the lease runs out.
                // (In a task of its own: this one may be cancelled, and the hand-back must still be written.)
                let store = self.store
                await Task {
                    try? await store.reschedule(requestKey: check.requestKey, nextAttemptAt: Date(), attempts: check.attempts)
                }.value
                return
            }
        }
        await recorder.record(record, consumedAt: check.consumedAt, onDurable: {})
        checkLogger.info("parked check settled", metadata: ["request.outcome": "\(record.verdict.outcome.rawValue)"])
    }

    // MARK: Dead letters

    /// Publishes messages to the dead-letter topic unchanged (a null value stays null), with the
    /// reason and the source position; their offsets are done once the broker has them.
    private func deadLetter(_ reads: [(ReadMessage, DeadLetterReason)]) async {
        if reads.isEmpty { return }
        var pending = reads.map { read, reason -> (ReadMessage, DeadLetterReason, KafkaOutgoingMessage) in
            let metadata = DeadLetterMetadata(
                reason: reason, sourceTopic: read.message.topic, sourcePartition: read.message.partition,
                sourceOffset: read.message.offset)
            let message = KafkaOutgoingMessage(
                topic: configuration.topics.deadLetter, key: read.message.key, value: read.message.nullableValue,
                headers: read.message.headers + metadata.headers.map { KafkaHeader(name: $0.name, value: $0.value) })
            return (read, reason, message)
        }
        var backoff = Backoff()
        while !pending.isEmpty, !Task.isCancelled {
            let reports = await producer.send(pending.map(\.2))
            var failed: [(ReadMessage, DeadLetterReason, KafkaOutgoingMessage)] = []
            for (item, report) in zip(pending, reports) {
                if report.error != nil {
                    failed.append(item)
                    continue
                }
                metrics.deadLettered(reason: item.1.rawValue)
                logger.info(
                    "message dead-lettered",
                    metadata: ["kafka.topic": "\(item.0.message.topic)", "kafka.partition": "\(item.0.message.partition)",
                        "kafka.offset": "\(item.0.message.offset)", "dlq.reason": "\(item.1.rawValue)"])
                completed(item.0.message)()
            }
            pending = failed
            if !pending.isEmpty {
                logger.error("dead-letter delivery failed; retrying", metadata: ["worker.count": "\(pending.count)"])
                try? await Task.sleep(for: backoff.next())
            }
        }
    }

    // MARK: Offsets

    private func commitLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.commitInterval)
            if Task.isCancelled { return }
            await commit(sync: false)
        }
    }

    private func commit(sync: Bool) async {
        let offsets = state.withLock { $0.core.takeCommittable() }
        if offsets.isEmpty { return }
        do {
            if sync {
                try await consumer.commit(offsets)
            } else {
                try consumer.commitAsync(offsets)
            }
        } catch {
            state.withLock { $0.core.commitFailed(offsets) }
            logger.warning("offset commit failed", metadata: ["kafka.error": "\(error)"])
        }
    }

    private func revoke(_ partitions: [TopicPartition], revocation: KafkaRevocation, lost: Bool) async {
        let revoked = Set(partitions)
        // Requests of these partitions not started yet, or still waiting for their turn, are left
        // to the new owner; those at the registry finish first.
        // (The reader is this loop: there is no one to wake.)
        start(state.withLock { $0.core.revoke(revoked) }.compactMap { if case .start(let job) = $0 { job } else { nil } })
        admission.close(revoked)
        let until = ContinuousClock.now + .milliseconds(consumer.configuration.revocationTimeoutMilliseconds - 5_000)
        while !lost, state.withLock({ $0.core.unsettled(revoked) }) > 0, ContinuousClock.now < until {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let offsets = lost ? [] : state.withLock { $0.core.takeCommittable(revoked) }
        revocation.done(committing: offsets)
        state.withLock { $0.core.forget(partitions) }
    }

    // MARK: Outbox

    private func outboxLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.outboxRepublishAge)
            if Task.isCancelled { return }
            await republishOutbox(olderThan: configuration.outboxRepublishAge)
        }
    }

    /// Publishes outbox rows left by a crash or a failed delivery, oldest first.
    private func republishOutbox(olderThan age: Duration) async {
        do {
            while true {
                let rows = try await store.pendingOutbox(olderThan: age, limit: 1_000)
                if rows.isEmpty { return }
                let reports = await producer.send(
                    rows.map {
                        KafkaOutgoingMessage(
                            topic: $0.topic, key: $0.verdict.messageKey, value: $0.verdict.value,
                            headers: $0.verdict.headers.map { KafkaHeader(name: $0.name, value: $0.value) })
                    })
                let delivered = zip(rows, reports).filter { $0.1.error == nil }.map(\.0.id)
                try await store.clearOutbox(delivered)
                logger.info("outbox rows published", metadata: ["worker.count": "\(delivered.count)"])
                if delivered.count < rows.count { return }
            }
        } catch {
            logger.warning("outbox could not be published", metadata: ["worker.error": "\(error)"])
        }
    }
}
