import Foundation
import Kafka
import Testing
@testable import Worker

@Suite("Admission to the registry: capacity, fair turns, deadlines")
struct AdmissionScheduleTests {
    let now = ContinuousClock.now

    @Test("at most `capacity` requests are admitted; each finish admits the next")
    func capacity() {
        var schedule = AdmissionSchedule(capacity: 2)
        #expect(schedule.enqueue(1, agency: "A", queue: 2, deadline: nil) == [1])
        #expect(schedule.enqueue(2, agency: "A", queue: 2, deadline: nil) == [2])
        #expect(schedule.enqueue(3, agency: "A", queue: 2, deadline: nil) == [])
        #expect(schedule.waiting == 1)
        #expect(schedule.finish() == [3])
        #expect(schedule.admitted == 2)
        #expect(schedule.finish() == [])
        #expect(schedule.admitted == 1)
    }

    @Test("a raised capacity admits waiting requests at once; a lowered one admits none until below it")
    func capacityChanges() {
        var schedule = AdmissionSchedule(capacity: 1)
        for id in 1...4 { _ = schedule.enqueue(UInt64(id), agency: "A", queue: 2, deadline: nil) }
        #expect(schedule.setCapacity(3) == [2, 3])
        #expect(schedule.setCapacity(1) == [])
        #expect(schedule.finish() == [])
        #expect(schedule.finish() == [])
        #expect(schedule.finish() == [4])
    }

    @Test("a backlog of one agency does not hold another's requests behind it")
    func fairBetweenAgencies() {
        var schedule = AdmissionSchedule(capacity: 1)
        _ = schedule.enqueue(0, agency: "A", queue: 2, deadline: nil)
        for id in 1...1_000 { _ = schedule.enqueue(UInt64(id), agency: "A", queue: 2, deadline: nil) }
        _ = schedule.enqueue(5_001, agency: "B", queue: 2, deadline: nil)
        _ = schedule.enqueue(5_002, agency: "B", queue: 2, deadline: nil)
        var order: [UInt64] = []
        for _ in 0..<5 { order += schedule.finish() }
        #expect(order == [1, 5_001, 2, 5_002, 3], "A and B alternate while both wait")
    }

    @Test("weights: an agency of weight 3 takes three turns for one of weight 1")
    func weights() {
        var schedule = AdmissionSchedule(capacity: 1, weights: ["A": 3])
        _ = schedule.enqueue(0, agency: "X", queue: 2, deadline: nil)
        for id in 1...6 { _ = schedule.enqueue(UInt64(id), agency: "A", queue: 2, deadline: nil) }
        for id in 101...106 { _ = schedule.enqueue(UInt64(id), agency: "B", queue: 2, deadline: nil) }
        var order: [UInt64] = []
        for _ in 0..<8 { order += schedule.finish() }
        #expect(order == [1, 2, 3, 101, 4, 5, 6, 102])
    }

    @Test("within an agency, the queue whose first deadline comes first goes first (counters before submissions)")
    func earliestDeadlineWithinAgency() {
        var schedule = AdmissionSchedule(capacity: 1)
        _ = schedule.enqueue(0, agency: "A", queue: 2, deadline: now + .seconds(86_400))
        _ = schedule.enqueue(1, agency: "A", queue: 2, deadline: now + .seconds(86_400))
        _ = schedule.enqueue(2, agency: "A", queue: 2, deadline: now + .seconds(86_401))
        _ = schedule.enqueue(3, agency: "A", queue: 0, deadline: now + .seconds(15))
        #expect(schedule.finish() == [3])
        #expect(schedule.finish() == [1])
    }

    @Test("a waiter whose deadline passes is handed back; a cancelled one is skipped")
    func expiryAndCancel() {
        var schedule = AdmissionSchedule(capacity: 1)
        _ = schedule.enqueue(0, agency: "A", queue: 2, deadline: nil)
        _ = schedule.enqueue(1, agency: "B", queue: 0, deadline: now + .seconds(1))
        _ = schedule.enqueue(2, agency: "B", queue: 0, deadline: now + .seconds(30))
        _ = schedule.enqueue(3, agency: "C", queue: 2, deadline: nil)
        #expect(schedule.expire(at: now + .seconds(2)) == [1])
        let cancelled = schedule.cancel(3)
        let cancelledAgain = schedule.cancel(3)
        #expect(cancelled && !cancelledAgain)
        #expect(schedule.waiting == 1)
        #expect(schedule.finish() == [2])
        #expect(schedule.finish() == [])
        #expect(schedule.waiting == 0 && schedule.admitted == 0)
        // Agencies that emptied come back on the ring.
        #expect(schedule.enqueue(4, agency: "C", queue: 2, deadline: nil) == [4])
    }

    @Test("capacity follows the rate limit: about a second of quota, at least 4")
    func capacityFromRate() {
        var configuration = WorkerConfiguration()
        configuration.registryCallsPerSecond = 300
        #expect(configuration.admissionCapacity(registryConcurrency: 128) == 300)
        configuration.registryCallsPerSecond = 1
        #expect(configuration.admissionCapacity(registryConcurrency: 128) == 4)
        configuration.registryCallsPerSecond = 10_000
        configuration.admissionWindow = .milliseconds(500)
        #expect(configuration.admissionCapacity(registryConcurrency: 128) == 5_000)
        configuration.registryCallsPerSecond = nil
        #expect(configuration.admissionCapacity(registryConcurrency: 128) == 256)
    }

    @Test("the gate: waiters resume in turn, expire at their deadline, and are handed back on close")
    func gate() async throws {
        let gate = RegistryAdmission(capacity: 1, weights: [:], defaultWeight: 1)
        #expect(await gate.turn(agency: "A", queue: 2, deadline: nil) == .admitted)
        async let second = gate.turn(agency: "A", queue: 2, deadline: nil)
        async let late = gate.turn(agency: "B", queue: 0, deadline: .now + .milliseconds(50))
        async let third = gate.turn(agency: "C", queue: 2, deadline: nil)
        while gate.load.waiting < 3 { try await Task.sleep(for: .milliseconds(5)) }
        try await Task.sleep(for: .milliseconds(100))
        gate.expire()
        #expect(await late == .expired)
        gate.finish()
        #expect(await second == .admitted)
        gate.close()
        #expect(await third == .closed)
        #expect(await gate.turn(agency: "D", queue: 2, deadline: nil) == .closed)
    }

    @Test("revoking a partition hands back its waiters and its later arrivals, until it is assigned again")
    func revokedPartitions() async throws {
        let gate = RegistryAdmission(capacity: 1, weights: [:], defaultWeight: 1)
        let revoked = TopicPartition(topic: "t", partition: 1)
        let kept = TopicPartition(topic: "t", partition: 2)
        #expect(await gate.turn(agency: "A", queue: 2, deadline: nil, partition: kept) == .admitted)
        async let waiting = gate.turn(agency: "A", queue: 2, deadline: nil, partition: revoked)
        async let other = gate.turn(agency: "B", queue: 2, deadline: nil, partition: kept)
        while gate.load.waiting < 2 { try await Task.sleep(for: .milliseconds(5)) }
        gate.close([revoked])
        #expect(await waiting == .closed)
        #expect(await gate.turn(agency: "C", queue: 2, deadline: nil, partition: revoked) == .closed)
        gate.finish()
        #expect(await other == .admitted)
        gate.reopen([revoked])
        gate.finish()
        #expect(await gate.turn(agency: "C", queue: 2, deadline: nil, partition: revoked) == .admitted)
    }
}
