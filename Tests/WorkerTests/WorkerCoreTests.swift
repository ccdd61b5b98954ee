import Kafka
import Testing
@testable import Worker

@Suite("The worker's core: lanes, read-ahead, offsets, revocation and shutdown, without Kafka or PostgreSQL")
struct WorkerCoreTests {
    let p0 = TopicPartition(topic: "requests", partition: 0)
    let p1 = TopicPartition(topic: "requests", partition: 1)

    private func at(_ partition: TopicPartition, _ offset: Int64) -> TopicPartitionOffset {
        TopicPartitionOffset(partition, offset: offset)
    }

    private func started(_ actions: [WorkerCore<Int>.Action]) -> Int? {
        let jobs: [Int] = started(actions)
        return jobs.first
    }

    private func started(_ actions: [WorkerCore<Int>.Action]) -> [Int] {
        actions.compactMap { if case .start(let job) = $0 { job } else { nil } }
    }

    private func resumesReading(_ actions: [WorkerCore<Int>.Action]) -> Bool {
        actions.contains { if case .resumeReading = $0 { true } else { false } }
    }

    @Test("a lane runs one job at a time, in read order; other lanes run beside it")
    func lanesKeepOrder() {
        var core = WorkerCore<Int>(maxJobs: 100)
        core.read((0..<4).map { at(p0, $0) })
        #expect(started(core.submit(0, lane: "a", position: at(p0, 0))) == 0)
        #expect(started(core.submit(1, lane: "a", position: at(p0, 1))) == nil)
        #expect(started(core.submit(2, lane: "b", position: at(p0, 2))) == 2)
        #expect(started(core.submit(3, lane: "a", position: at(p0, 3))) == nil)
        #expect(core.running == 2)
        #expect(core.waiting == 2)
        #expect(started(core.ended(lane: "a", position: at(p0, 0), leftUnfinished: false)) == [1])
        #expect(started(core.ended(lane: "b", position: at(p0, 2), leftUnfinished: false)) == [])
        #expect(started(core.ended(lane: "a", position: at(p0, 1), leftUnfinished: false)) == [3])
        #expect(started(core.ended(lane: "a", position: at(p0, 3), leftUnfinished: false)) == [])
        #expect(core.running == 0)
        #expect(core.waiting == 0)
        // The lane is free again: its next job starts at once.
        core.read([at(p0, 4)])
        #expect(started(core.submit(4, lane: "a", position: at(p0, 4))) == 4)
    }

    @Test("the commit is the lowest offset not finished; a job's end is not its offset's completion")
    func offsets() {
        var core = WorkerCore<Int>(maxJobs: 100)
        core.read((0..<3).map { at(p0, $0) })
        for offset in 0..<3 { _ = core.submit(Int(offset), lane: "k\(offset)", position: at(p0, Int64(offset))) }
        _ = core.ended(lane: "k1", position: at(p0, 1), leftUnfinished: false)
        core.completed(at(p0, 1))
        #expect(core.takeCommittable() == [at(p0, 0)], "offset 0 is not finished: the commit stays at it")
        #expect(core.inFlight() == 2, "offset 1 is finished, though above an unfinished one")
        _ = core.ended(lane: "k0", position: at(p0, 0), leftUnfinished: false)
        #expect(core.takeCommittable().isEmpty, "ended, but its verdict is not safe yet")
        core.completed(at(p0, 0))
        #expect(core.takeCommittable() == [at(p0, 2)])
        #expect(core.takeCommittable().isEmpty, "nothing moved since")
        core.commitFailed([at(p0, 2)])
        #expect(core.takeCommittable() == [at(p0, 2)], "a failed commit is offered again")
        #expect(core.inFlight() == 1)
    }

    @Test("reading pauses at the read-ahead bound and resumes when a job ends")
    func readAhead() {
        var core = WorkerCore<Int>(maxJobs: 2)
        core.read([at(p0, 0), at(p0, 1)])
        #expect(core.mayRead)
        _ = core.submit(0, lane: "a", position: at(p0, 0))
        _ = core.submit(1, lane: "a", position: at(p0, 1))
        #expect(!core.mayRead, "two jobs read ahead: the bound")
        let waits = core.readerShouldWait()
        #expect(waits)
        let actions = core.ended(lane: "a", position: at(p0, 0), leftUnfinished: false)
        #expect(started(actions) == [1])
        #expect(resumesReading(actions))
        #expect(core.mayRead)
        // No reader waiting: no wake-up.
        core.read([at(p0, 2)])
        _ = core.submit(2, lane: "b", position: at(p0, 2))
        #expect(!resumesReading(core.ended(lane: "b", position: at(p0, 2), leftUnfinished: false)))
    }

    @Test("a revocation drops the revoked partitions' jobs not started and waits only for those running")
    func revocation() {
        var core = WorkerCore<Int>(maxJobs: 100)
        core.read([at(p0, 0), at(p1, 0), at(p0, 1), at(p1, 1)])
        _ = core.submit(0, lane: "a", position: at(p0, 0))  // runs
        _ = core.submit(10, lane: "a", position: at(p1, 0))  // waits behind it (another topic's partition, same key)
        _ = core.submit(1, lane: "a", position: at(p0, 1))  // waits
        _ = core.submit(11, lane: "b", position: at(p1, 1))  // runs
        _ = core.revoke([p1])
        #expect(core.waiting == 1, "the job of p1 that had not started is dropped")
        #expect(core.unsettled([p1]) == 1, "the running job of p1 is waited for; the dropped one is not")
        #expect(core.running(in: [p1]) == 1)
        _ = core.ended(lane: "b", position: at(p1, 1), leftUnfinished: false)
        core.completed(at(p1, 1))
        #expect(core.unsettled([p1]) == 0)
        #expect(core.takeCommittable([p1]) == [at(p1, 0)], "offset 0 of p1 was dropped: the new owner reads it again")
        core.forget([p1])
        // Lane a goes on with p0's job; the dropped one does not run.
        #expect(started(core.ended(lane: "a", position: at(p0, 0), leftUnfinished: false)) == [1])
        #expect(core.unsettled([p0]) == 2)
    }

    @Test("a job interrupted by a revocation is not waited for")
    func interruptedJob() {
        var core = WorkerCore<Int>(maxJobs: 100)
        core.read([at(p1, 5)])
        _ = core.submit(5, lane: "a", position: at(p1, 5))
        _ = core.revoke([p1])
        #expect(core.unsettled([p1]) == 1)
        _ = core.ended(lane: "a", position: at(p1, 5), leftUnfinished: true)
        #expect(core.unsettled([p1]) == 0)
        #expect(core.takeCommittable([p1]) == [at(p1, 5)])
        core.forget([p1])
        // Assigned again later: counts start afresh (nothing given up carries over).
        core.read([at(p1, 5)])
        _ = core.submit(5, lane: "a", position: at(p1, 5))
        #expect(core.unsettled([p1]) == 1)
    }

    @Test("draining drops what has not started, starts nothing more, and stops reading")
    func draining() {
        var core = WorkerCore<Int>(maxJobs: 100)
        core.read([at(p0, 0), at(p0, 1), at(p0, 2)])
        _ = core.submit(0, lane: "a", position: at(p0, 0))
        _ = core.submit(1, lane: "a", position: at(p0, 1))
        _ = core.submit(2, lane: "b", position: at(p0, 2))
        core.drain()
        #expect(core.phase == .draining)
        #expect(!core.mayRead)
        #expect(core.waiting == 0)
        #expect(core.unsettled() == 2, "the two running jobs")
        #expect(started(core.ended(lane: "a", position: at(p0, 0), leftUnfinished: false)) == [], "its successor was dropped")
        core.completed(at(p0, 0))
        _ = core.ended(lane: "b", position: at(p0, 2), leftUnfinished: true)
        #expect(core.unsettled() == 0)
        #expect(core.takeCommittable() == [at(p0, 1)], "committed up to the first request left unfinished")
        core.read([at(p0, 3)])
        let whileDraining: [Int] = started(core.submit(3, lane: "c", position: at(p0, 3)))
        #expect(whileDraining.isEmpty, "nothing starts while draining")
        #expect(core.unsettled() == 0)
        core.stop()
        #expect(core.phase == .stopped)
    }

    @Test("a lane that parked a check stays parked until the given time")
    func parkedLanes() {
        var core = WorkerCore<Int>(maxJobs: 10)
        let now = ContinuousClock.now
        core.laneParked("a", until: now + .seconds(60))
        let parked = core.isLaneParked("a", now: now)
        let other = core.isLaneParked("b", now: now)
        let later = core.isLaneParked("a", now: now + .seconds(61))
        let again = core.isLaneParked("a", now: now)
        #expect(parked)
        #expect(!other)
        #expect(!later)
        #expect(!again, "forgotten once it has passed")
    }

    @Test("many jobs of one hot key wait as values and run in order")
    func hotKey() {
        var core = WorkerCore<Int>(maxJobs: 100_000)
        core.read((0..<10_000).map { at(p0, Int64($0)) })
        var order: [Int] = []
        for job in 0..<10_000 {
            if let first = started(core.submit(job, lane: "hot", position: at(p0, Int64(job)))) { order.append(first) }
        }
        #expect(core.running == 1)
        #expect(core.waiting == 9_999)
        var current = 0
        while true {
            guard let next: Int = started(core.ended(lane: "hot", position: at(p0, Int64(current)), leftUnfinished: false)) else { break }
            order.append(next)
            current = next
        }
        #expect(order == Array(0..<10_000))
    }

    @Test("at most maxRunning jobs run; the others wait as values and start as slots free up")
    func runningBound() {
        var core = WorkerCore<Int>(maxJobs: 100, maxRunning: 2)
        core.read((0..<4).map { at(p0, $0) })
        var starts: [Int] = []
        for job in 0..<4 { starts += started(core.submit(job, lane: "k\(job)", position: at(p0, Int64(job)))) as [Int] }
        #expect(starts == [0, 1])
        #expect(core.running == 2)
        #expect(core.waiting == 2)
        let next: [Int] = started(core.ended(lane: "k0", position: at(p0, 0), leftUnfinished: false))
        #expect(next == [2])
        #expect(core.running == 2)
    }

    @Test("the running bound follows the registry's calls allowed: raised, waiting jobs start; lowered, none until below it")
    func runningBoundChanges() {
        var core = WorkerCore<Int>(maxJobs: 100, maxRunning: 2)
        core.read((0..<6).map { at(p0, $0) })
        var starts: [Int] = []
        for job in 0..<6 { starts += started(core.submit(job, lane: "k\(job)", position: at(p0, Int64(job)))) as [Int] }
        #expect(starts == [0, 1])
        let raised: [Int] = started(core.setRunningBound(4))
        #expect(raised == [2, 3])
        #expect(core.runningBound == 4 && core.running == 4 && core.waiting == 2)
        #expect((started(core.setRunningBound(2)) as [Int]).isEmpty)
        // Four run against a bound of two: the next start waits until fewer than two run.
        for job in 0..<2 {
            let next: [Int] = started(core.ended(lane: "k\(job)", position: at(p0, Int64(job)), leftUnfinished: false))
            #expect(next.isEmpty)
        }
        let next: [Int] = started(core.ended(lane: "k2", position: at(p0, 2), leftUnfinished: false))
        #expect(next == [4])
        #expect(core.running == 2)
    }

    @Test("running slots go round robin between agencies: a flood of one does not hold back another")
    func fairSlots() {
        var core = WorkerCore<Int>(maxJobs: 1_000, maxRunning: 1)
        core.read((0..<201).map { at(p0, $0) })
        // Agency A floods 200 requests, then B sends one.
        for job in 0..<200 { _ = core.submit(job, lane: "a\(job)", position: at(p0, Int64(job)), agency: "A") }
        _ = core.submit(1_000, lane: "b", position: at(p0, 200), agency: "B")
        var order: [Int] = []
        var current = 0
        var lane = "a0"
        for _ in 0..<3 {
            guard let next: Int = started(core.ended(lane: lane, position: at(p0, Int64(current)), leftUnfinished: false)) else { break }
            order.append(next)
            current = next == 1_000 ? 200 : next
            lane = next == 1_000 ? "b" : "a\(next)"
        }
        #expect(order.prefix(2).contains(1_000), "B's request runs within one round, not after A's 199")
    }

    @Test("within an agency, the channel whose first deadline is earliest runs first")
    func deadlineFirst() {
        var core = WorkerCore<Int>(maxJobs: 100, maxRunning: 1)
        let now = ContinuousClock.now
        core.read((0..<3).map { at(p0, $0) })
        _ = core.submit(0, lane: "x", position: at(p0, 0), agency: "A", queue: 2, deadline: now + .seconds(86_400))
        _ = core.submit(1, lane: "y", position: at(p0, 1), agency: "A", queue: 2, deadline: now + .seconds(86_400))
        _ = core.submit(2, lane: "z", position: at(p0, 2), agency: "A", queue: 0, deadline: now + .seconds(15))
        let next: Int? = started(core.ended(lane: "x", position: at(p0, 0), leftUnfinished: false))
        #expect(next == 2, "the counter (15 s) before the waiting submission (24 h)")
    }

    @Test("a revocation that drops a lane's ready job lets the lane's next job (of another partition) take its place")
    func revokeReadyHead() {
        var core = WorkerCore<Int>(maxJobs: 100, maxRunning: 1)
        core.read([at(p0, 0), at(p1, 0), at(p0, 1)])
        _ = core.submit(0, lane: "busy", position: at(p0, 0))  // takes the only slot
        _ = core.submit(10, lane: "k", position: at(p1, 0))  // ready, no slot
        _ = core.submit(1, lane: "k", position: at(p0, 1))  // behind it
        _ = core.revoke([p1])
        #expect(core.waiting == 1)
        #expect(core.unsettled([p1]) == 0)
        let next: Int? = started(core.ended(lane: "busy", position: at(p0, 0), leftUnfinished: false))
        #expect(next == 1)
    }
}
