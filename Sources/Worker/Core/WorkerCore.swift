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

    private(set) var phase: Phase = .running
    /// Most jobs (running and waiting) read ahead before reading pauses: `WORKER_MAX_IN_FLIGHT`.
    let maxJobs: Int
    private var offsets = OffsetTracker()
    /// Lanes with a running job, and the jobs waiting behind it.
    private var lanes: [String: LaneQueue] = [:]
    private var runningByPartition: [TopicPartition: Int] = [:]
    /// Offsets left unfinished on purpose (dropped before they started, or interrupted): what a
    /// revocation or the shutdown does not wait for.
    private var givenUp: [TopicPartition: Int] = [:]
    /// Lanes that parked a check, until when: their next requests park behind it.
    private var parkedLanes: [String: ContinuousClock.Instant] = [:]
    /// Jobs running now.
    private(set) var running = 0
    /// Jobs read and waiting behind their lane.
    private(set) var waiting = 0
    /// Reading waits for room (``mayRead`` was false when it last asked).
    private var readerWaits = false

    init(maxJobs: Int) {
        self.maxJobs = max(1, maxJobs)
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

    /// A request to decide: it starts now if its lane is free, or waits behind it.
    mutating func submit(_ job: Job, lane: String, position: TopicPartitionOffset) -> Action? {
        guard phase == .running else {
            if offsets.tracks(position.topicPartition) { givenUp[position.topicPartition, default: 0] += 1 }
            return nil
        }
        if var queue = lanes[lane] {
            lanes[lane] = nil  // keeps the queue uniquely referenced while it grows
            queue.append(Waiting(job: job, position: position))
            lanes[lane] = queue
            waiting += 1
            return nil
        }
        lanes[lane] = LaneQueue()
        running += 1
        runningByPartition[position.topicPartition, default: 0] += 1
        return .start(job)
    }

    /// A job ended: `finished` if it was decided (its offset completes separately, by
    /// ``completed(_:)``, once its verdict is safe), or left unfinished (interrupted by a shutdown
    /// or revocation: it is read again). Its lane's next job starts, unless the phase or a
    /// revocation keeps it back.
    mutating func ended(lane: String, position: TopicPartitionOffset, leftUnfinished: Bool) -> [Action] {
        var actions: [Action] = []
        running -= 1
        let partition = position.topicPartition
        if let count = runningByPartition[partition] {
            runningByPartition[partition] = count > 1 ? count - 1 : nil
        }
        // (A partition forgotten meanwhile, revoked while this job ran, keeps no count.)
        if leftUnfinished, offsets.tracks(partition) { givenUp[partition, default: 0] += 1 }
        if var queue = lanes[lane], phase == .running, let next = queue.popFirst() {
            lanes[lane] = queue
            waiting -= 1
            running += 1
            runningByPartition[next.position.topicPartition, default: 0] += 1
            actions.append(.start(next.job))
        } else {
            lanes.removeValue(forKey: lane)
        }
        if readerWaits, phase == .running, running + waiting < maxJobs {
            readerWaits = false
            actions.append(.resumeReading)
        }
        return actions
    }

    /// A message is finished for good (its verdict delivered or safely stored, dead-lettered, or parked).
    mutating func completed(_ position: TopicPartitionOffset) {
        offsets.completed(position.topicPartition, offset: position.offset)
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
    /// reads them again). Returns what reading should do (room may have opened).
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
        var droppedCount = 0
        for lane in Array(lanes.keys) {
            guard var queue = lanes[lane], !queue.isEmpty else { continue }
            let dropped = queue.remove { drop($0.position) }
            if dropped.isEmpty { continue }
            lanes[lane] = queue
            droppedCount += dropped.count
            for item in dropped { givenUp[item.position.topicPartition, default: 0] += 1 }
        }
        waiting -= droppedCount
        if droppedCount > 0, readerWaits, phase == .running, running + waiting < maxJobs {
            readerWaits = false
            return [.resumeReading]
        }
        return []
    }
}
