import Kafka

/// The worker's bookkeeping as a value: which offsets are read and which are done, which requests
/// run and which wait behind their lane (as values, not suspended tasks), which lanes parked a
/// check lately, and the phase (running → draining → stopped). Events go in, and what to do comes
/// out; it does no I/O and reads no clock (times are given), so it is unit-tested on its own.
/// ``VerificationWorker`` keeps it behind a lock and carries the actions out.
///
/// A *job* is one consumed request. Jobs of one lane (one message key) run one after another, in
/// the order they were read; jobs of different lanes run side by side. A job that is read and not
/// started waits in its lane's queue; dropping it (revocation, shutdown) leaves its offset
/// uncommitted, so it is read again, by this instance after a restart or by the partition's new owner.
struct WorkerCore<Job: Sendable>: Sendable {
    enum Phase: Sendable, Equatable {
        /// Reading and deciding.
        case running
        /// Shutting down: nothing new is read or started; running jobs finish or are interrupted.
        case draining
        /// Done: nothing runs.
        case stopped
    }

    /// What the worker does next, returned by an event.
    enum Action: Sendable {
        /// Run this job now (its lane is free).
        case start(Job)
        /// The read-ahead has room again: reading may go on.
        case resumeReading
    }

    private struct Waiting: Sendable {
        var job: Job
        var position: TopicPartitionOffset
        /// Its turn among the lanes ready to run: fair between agencies, earliest deadline first within one.
        var agency: String
        var queue: Int
        var deadline: ContinuousClock.Instant?
    }

    /// The jobs of one lane waiting behind the running one, in read order.
    private struct LaneQueue: Sendable {
        private var items: [Waiting] = []
        private var head = 0

        var isEmpty: Bool { head == items.count }

        mutating func append(_ item: Waiting) { items.append(item) }

        mutating func popFirst() -> Waiting? {
            guard head < items.count else { return nil }
            defer {
                head += 1
                if head == items.count {
                    items.removeAll(keepingCapacity: true)
                    head = 0
                }
            }
            return items[head]
        }

        /// Removes the waiting jobs `drop` selects; returns them.
        mutating func remove(where drop: (Waiting) -> Bool) -> [Waiting] {
            let rest = items[head...]
            let dropped = rest.filter(drop)
            if dropped.isEmpty { return [] }
            items = rest.filter { !drop($0) }
            head = 0
            return dropped
        }
    }

    /// A lane with work: its first job runs, or is ready and waits for a running slot
    /// (``readyID``); the others wait behind it.
    private struct Lane: Sendable {
        var readyID: UInt64?
        var queue = LaneQueue()
    }

    private(set) var phase: Phase = .running
    /// Most jobs (running and waiting) read ahead before reading pauses: `WORKER_MAX_IN_FLIGHT`.
    let maxJobs: Int
    private var offsets = OffsetTracker()
    private var lanes: [String: Lane] = [:]
    /// Jobs whose lane is free, waiting for a running slot, by id.
    private var ready: [UInt64: (lane: String, waiting: Waiting)] = [:]
    /// Which ready job runs next, and how many run at once (fair between agencies).
    private var slots: AdmissionSchedule
    private var nextID: UInt64 = 0
    private var runningByPartition: [TopicPartition: Int] = [:]
    /// Offsets left unfinished on purpose (dropped before they started, or interrupted): what a
    /// revocation or the shutdown does not wait for.
    private var givenUp: [TopicPartition: Int] = [:]
    /// Lanes that parked a check, until when: their next requests park behind it.
    private var parkedLanes: [String: ContinuousClock.Instant] = [:]
    /// Jobs running now.
    private(set) var running = 0
    /// Jobs read and not running: behind their lane, or ready for a slot.
    private(set) var waiting = 0
    /// Reading waits for room (``readerShouldWait()`` said so).
    private var readerWaits = false

    /// - Parameters:
    ///   - maxJobs: jobs read ahead at most (running and waiting).
    ///   - maxRunning: jobs running at once at most; the rest wait as values.
    ///   - weights: an agency's share of the running slots where not `defaultWeight` (`REGISTRY_AGENCY_WEIGHTS`).
    init(maxJobs: Int, maxRunning: Int? = nil, weights: [String: Int] = [:], defaultWeight: Int = 1) {
        self.maxJobs = max(1, maxJobs)
        self.slots = AdmissionSchedule(capacity: max(1, maxRunning ?? maxJobs), weights: weights, defaultWeight: defaultWeight)
    }

    // MARK: Reading

    /// Reading may go on: running, and fewer jobs than ``maxJobs`` read ahead.
    var mayRead: Bool { phase == .running && running + waiting < maxJobs }

    /// The reader asks whether to wait: `true` when the read-ahead is full while running; it then
    /// waits for ``Action/resumeReading`` (or the drain).
    mutating func readerShouldWait() -> Bool {
        readerWaits = phase == .running && !mayRead
        return readerWaits
    }

    /// Messages were read (every message, requests or not): their offsets are now tracked.
    mutating func read(_ positions: some Sequence<TopicPartitionOffset>) {
        for position in positions { offsets.received(position.topicPartition, offset: position.offset) }
    }

    /// A request to decide. It waits behind its lane's earlier jobs; once first in its lane, it runs
    /// when a running slot is free and it is its agency's turn (the agency's queue `queue`,
    /// earliest `deadline` first).
    mutating func submit(
        _ job: Job, lane: String, position: TopicPartitionOffset, agency: String = "", queue: Int = 0,
        deadline: ContinuousClock.Instant? = nil
    ) -> [Action] {
        guard phase == .running else {
            if offsets.tracks(position.topicPartition) { givenUp[position.topicPartition, default: 0] += 1 }
            return []
        }
        let item = Waiting(job: job, position: position, agency: agency, queue: queue, deadline: deadline)
        waiting += 1
        if var existing = lanes[lane] {
            lanes[lane] = nil  // keeps the queue uniquely referenced while it grows
            existing.queue.append(item)
            lanes[lane] = existing
            return []
        }
        lanes[lane] = Lane()
        return makeReady(item, lane: lane)
    }

    /// A job ended: decided (its offset completes separately, by ``completed(_:)``, once its
    /// verdict is safe), or left unfinished (interrupted by a shutdown or revocation: it is read
    /// again). Its slot goes to the next ready job, and its lane's next job becomes ready.
    mutating func ended(lane: String, position: TopicPartitionOffset, leftUnfinished: Bool) -> [Action] {
        running -= 1
        let partition = position.topicPartition
        if let count = runningByPartition[partition] {
            runningByPartition[partition] = count > 1 ? count - 1 : nil
        }
        // (A partition forgotten meanwhile, revoked while this job ran, keeps no count.)
        if leftUnfinished, offsets.tracks(partition) { givenUp[partition, default: 0] += 1 }
        var actions = start(slots.finish())
        if phase == .running, var current = lanes[lane], let next = current.queue.popFirst() {
            lanes[lane] = current
            actions += makeReady(next, lane: lane)
        } else {
            lanes.removeValue(forKey: lane)
        }
        if readerWaits, phase == .running, running + waiting < maxJobs {
            readerWaits = false
            actions.append(.resumeReading)
        }
        return actions
    }

    /// Jobs that may run at once now.
    var runningBound: Int { slots.capacity }

    /// Changes how many jobs may run at once (the registry's calls allowed in flight changed);
    /// raising it starts waiting jobs, lowering it starts none until enough have ended.
    mutating func setRunningBound(_ bound: Int) -> [Action] {
        start(slots.setCapacity(bound))
    }

    /// A message is finished for good (its verdict delivered or safely stored, dead-lettered, or parked).
    mutating func completed(_ position: TopicPartitionOffset) {
        offsets.completed(position.topicPartition, offset: position.offset)
    }

    private mutating func makeReady(_ item: Waiting, lane: String) -> [Action] {
        nextID &+= 1
        let id = nextID
        lanes[lane]?.readyID = id
        ready[id] = (lane, item)
        return start(slots.enqueue(id, agency: item.agency, queue: item.queue, deadline: item.deadline))
    }

    private mutating func start(_ granted: [UInt64]) -> [Action] {
        granted.compactMap { id in
            guard let (lane, item) = ready.removeValue(forKey: id) else { return nil }
            lanes[lane]?.readyID = nil
            waiting -= 1
            running += 1
            runningByPartition[item.position.topicPartition, default: 0] += 1
            return .start(item.job)
        }
    }

    // MARK: Parked lanes

    /// The lane parked a check: requests read for it until `until` park behind it (the store
    /// has the lasting answer; this spares a query while the lane is busy).
    mutating func laneParked(_ lane: String, until: ContinuousClock.Instant) {
        parkedLanes[lane] = until
    }

    /// Whether the lane parked a check lately (as of `now`); forgets it once that has passed.
    mutating func isLaneParked(_ lane: String, now: ContinuousClock.Instant) -> Bool {
        guard let until = parkedLanes[lane] else { return false }
        if until < now {
            parkedLanes.removeValue(forKey: lane)
            return false
        }
        return true
    }

    // MARK: Offsets

    /// Messages read and not finished, in these partitions (or all).
    func inFlight(_ only: Set<TopicPartition>? = nil) -> Int { offsets.inFlight(only) }

    /// What a revocation or the shutdown still waits for: messages read, not finished and not
    /// given up, in these partitions (or all).
    func unsettled(_ only: Set<TopicPartition>? = nil) -> Int {
        let abandoned = givenUp.reduce(0) { sum, entry in (only?.contains(entry.key) ?? true) ? sum + entry.value : sum }
        return offsets.inFlight(only) - abandoned
    }

    /// Jobs running now that were read from these partitions.
    func running(in partitions: Set<TopicPartition>) -> Int {
        partitions.reduce(0) { $0 + (runningByPartition[$1] ?? 0) }
    }

    /// Offsets to commit that moved since the last commit (in these partitions, or all).
    mutating func takeCommittable(_ only: Set<TopicPartition>? = nil) -> [TopicPartitionOffset] {
        offsets.takeCommittable(only)
    }

    /// The commit of these offsets failed: they are offered again.
    mutating func commitFailed(_ failed: [TopicPartitionOffset]) {
        offsets.commitFailed(failed)
    }

    // MARK: Revocation and shutdown

    /// Partitions are being revoked: their jobs that have not started are dropped (the new owner
    /// reads them again). Returns the jobs that start in their place, and whether reading may go on.
    mutating func revoke(_ partitions: Set<TopicPartition>) -> [Action] {
        dropWaiting { partitions.contains($0.topicPartition) }
    }

    /// The revocation is over: these partitions are forgotten.
    mutating func forget(_ partitions: some Sequence<TopicPartition>) {
        let revoked = Array(partitions)
        offsets.remove(revoked)
        for partition in revoked {
            givenUp.removeValue(forKey: partition)
            runningByPartition.removeValue(forKey: partition)
        }
    }

    /// Shutting down: nothing more is read or started, and the jobs that have not started are dropped.
    mutating func drain() {
        guard phase == .running else { return }
        phase = .draining
        readerWaits = false
        _ = dropWaiting { _ in true }
    }

    /// The worker has stopped.
    mutating func stop() {
        drain()
        phase = .stopped
    }

    private mutating func dropWaiting(_ drop: (TopicPartitionOffset) -> Bool) -> [Action] {
        var dropped: [Waiting] = []
        var promote: [(String, Waiting)] = []
        for lane in Array(lanes.keys) {
            guard var current = lanes[lane] else { continue }
            dropped += current.queue.remove { drop($0.position) }
            if let id = current.readyID, let (_, item) = ready[id], drop(item.position), slots.cancel(id) {
                // The lane's first job is dropped before it started: the next one left takes its place.
                ready.removeValue(forKey: id)
                dropped.append(item)
                current.readyID = nil
                lanes[lane] = current
                if phase == .running, let next = current.queue.popFirst() {
                    lanes[lane] = current
                    promote.append((lane, next))
                } else {
                    lanes.removeValue(forKey: lane)
                }
                continue
            }
            lanes[lane] = current
        }
        waiting -= dropped.count
        for item in dropped where offsets.tracks(item.position.topicPartition) {
            givenUp[item.position.topicPartition, default: 0] += 1
        }
        var actions: [Action] = []
        for (lane, item) in promote { actions += makeReady(item, lane: lane) }
        if !dropped.isEmpty, readerWaits, phase == .running, running + waiting < maxJobs {
            readerWaits = false
            actions.append(.resumeReading)
        }
        return actions
    }
}
