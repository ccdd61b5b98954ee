import Contract
import Foundation
import Kafka
import RegistrySimulator
import Synchronization
import Testing
import Worker

/// Time to verdict (send to the verdict's publication, by Kafka timestamps) per agency.
struct AgencyTimes: Sendable, CustomStringConvertible {
    var byAgency: [String: [Double]]
    /// Each request's send time and time to verdict, per agency.
    var sent: [String: [(at: Date, seconds: Double)]] = [:]

    func percentile(_ agency: String, _ p: Double) -> Double {
        Self.percentile(of: byAgency[agency] ?? [], p)
    }

    /// The percentile over the agency's requests sent outside `window`.
    func percentile(_ agency: String, _ p: Double, sentOutside window: Range<Date>) -> Double {
        Self.percentile(of: (sent[agency] ?? []).filter { !window.contains($0.at) }.map(\.seconds), p)
    }

    static func percentile(of values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .infinity }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }

    var description: String {
        byAgency.keys.sorted().map { agency in
            String(
                format: "%@: %d verdicts, p50 %.2f s, p90 %.2f s, max %.2f s", agency, byAgency[agency]!.count,
                percentile(agency, 0.5), percentile(agency, 0.9), percentile(agency, 1))
        }.joined(separator: "; ")
    }
}

/// A flood of one agency and a trickle of another: the flood's `floodSize` submissions sent at once,
/// the trickle's one every half second for `trickleSeconds`.
final class FloodAndTrickle: Sendable {
    static let flooding = "000.00.01.H01"
    static let trickling = "000.00.02.H02"

    let harness: WorkerHarness
    let floodSize: Int
    let trickleSeconds: Int
    /// Request id → (agency, when it was sent).
    private let sent = Mutex<[String: (String, Date)]>([:])

    init(harness: WorkerHarness, floodSize: Int, trickleSeconds: Int) {
        self.harness = harness
        self.floodSize = floodSize
        self.trickleSeconds = trickleSeconds
    }

    var total: Int { floodSize + 2 * trickleSeconds }

    /// Sends the flood and, meanwhile, the trickle; returns when the trickle is sent.
    func send(offset: Int) async throws {
        let population = harness.population()
        let topic = harness.topics.requests(.submission)
        var flood: [KafkaOutgoingMessage] = []
        var floodIDs: [String] = []
        for i in 0..<floodSize {
            let request = Requests.make(.submission, sample: population.sample(offset + i), dossierCode: "FLOOD-\(i)", agency: Self.flooding)
            floodIDs.append(request.requestId)
            flood.append(KafkaOutgoingMessage(topic: topic, key: Array("flood-\(i)".utf8), value: request.encodedJSON()))
        }
        let now = Date()
        sent.withLock { map in for id in floodIDs { map[id] = (Self.flooding, now) } }
        async let floodSent = harness.producer.send(flood)
        for i in 0..<(2 * trickleSeconds) {
            let request = Requests.make(
                .submission, sample: population.sample(offset + floodSize + i), dossierCode: "TRICKLE-\(i)", agency: Self.trickling)
            let at = Date()
            sent.withLock { $0[request.requestId] = (Self.trickling, at) }
            try await harness.send(request, key: "trickle-\(i)")
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(await floodSent.allSatisfy { $0.error == nil })
    }

    /// Reads the verdicts of every request sent and gives each agency's times to verdict.
    func times(seconds: Double) async throws -> AgencyTimes {
        let sent = self.sent.withLock { $0 }
        // The topic also holds the warm-up's verdicts and, after a kill, re-emitted copies: read
        // everything there is until every request sent has its verdict.
        let until = Date().addingTimeInterval(seconds)
        var messages: [KafkaMessage] = []
        while true {
            let available = try await harness.messageCount(harness.topics.verdicts)
            messages = try await harness.read(harness.topics.verdicts, count: available, seconds: 30)
            let ids = Set(try messages.map { try Verdict(json: $0.value).requestId })
            if sent.keys.allSatisfy(ids.contains) || Date() > until { break }
            try await Task.sleep(for: .seconds(1))
        }
        var times: [String: [Double]] = [:]
        var sentAndTimes: [String: [(at: Date, seconds: Double)]] = [:]
        var seen: Set<String> = []
        for message in messages {
            let verdict = try Verdict(json: message.value)
            guard let (agency, at) = sent[verdict.requestId], seen.insert(verdict.requestId).inserted else { continue }
            #expect(verdict.outcome != .unavailable, "decided, not given up")
            let seconds = Double(message.timestampMilliseconds) / 1_000 - at.timeIntervalSince1970
            times[agency, default: []].append(seconds)
            sentAndTimes[agency, default: []].append((at, seconds))
        }
        #expect(seen.count == sent.count, "every request has a verdict")
        return AgencyTimes(byAgency: times, sent: sentAndTimes)
    }
}

/// Issue 13: one agency's flood does not hold another agency's requests behind it, on one
/// instance and on three sharing the fleet limit. Real time: in the timed pass of scripts/test.
@Suite("Fair shares between agencies", .serialized)
struct AgencyFairnessTests {
    static let limit = 50

    @Test("one instance: a flood of agency A (30 s of quota) and a trickle of B; B's p90 time to verdict ≤ 3 s")
    func singleInstance() async throws {
        try await RegistrySimulator.withRunning(
            configuration: .init(port: 0, population: 20_000, behaviour: .init(latencyMs: 100, latencySpreadMs: 100))
        ) { simulator in
            let harness = try await WorkerHarness(name: "fair_one", simulator: simulator, partitions: 6) { settings in
                settings.registryRateLimit = Self.limit
                settings.registryLimiter = "fleet"
            }
            let run = FloodAndTrickle(harness: harness, floodSize: Self.limit * 30, trickleSeconds: 30)
            let (times, figures) = try await harness.withWorker {
                try await Self.warmUp(harness)
                simulator.simulator.resetStatistics()
                async let figures = QuotaFigures.measure(simulator.simulator, limit: Self.limit, warmUp: 2, seconds: 20)
                try await run.send(offset: 100)
                return (try await run.times(seconds: 60), try await figures)
            }
            print("fairness, one instance: \(times); quota \(figures)")
            #expect(times.percentile(FloodAndTrickle.trickling, 0.9) <= 3, "\(times)")
            #expect(times.percentile(FloodAndTrickle.flooding, 1) <= 40, "the flood finishes in about its share of the quota: \(times)")
            #expect(figures.busiestSecond <= Self.limit, "\(figures)")
        }
    }

    @Test("three instances sharing the fleet limit, one killed midway: every request decided, B's median ≤ 3 s, p90 ≤ 3 s away from the failover, never above the limit")
    func threeInstancesOneKilled() async throws {
        try await RegistrySimulator.withRunning(
            configuration: .init(port: 0, population: 20_000, behaviour: .init(latencyMs: 100, latencySpreadMs: 100))
        ) { simulator in
            let harness = try await WorkerHarness(name: "fair_three", simulator: simulator, partitions: 6)
            let executable = try idverifyExecutable()
            var environment = harness.serveEnvironment()
            environment["REGISTRY_LIMITER"] = "fleet"
            environment["REGISTRY_RATE_LIMIT"] = "\(Self.limit)"
            let instances = try (0..<3).map { _ in try harness.startServe(executable, environment: environment) }
            defer { for process in instances where process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            try await Self.warmUp(harness, instances: 3)
            simulator.simulator.resetStatistics()
            let run = FloodAndTrickle(harness: harness, floodSize: Self.limit * 30, trickleSeconds: 30)
            async let figures = QuotaFigures.measure(simulator.simulator, limit: Self.limit, warmUp: 2, seconds: 25)
            async let killed: Date = {
                try await Task.sleep(for: .seconds(12))
                kill(instances[0].processIdentifier, SIGKILL)
                return Date()
            }()
            try await run.send(offset: 5_000)
            let killedAt = try await killed
            let times = try await run.times(seconds: 90)
            let quota = try await figures
            for process in instances.dropFirst() {
                process.terminate()
                process.waitUntilExit()
            }
            // B's requests sent around the kill wait for the killed instance's session to time out (4 s
            // with the mock profile, up to 1 s more for the mock's timer) and the rebalance, in which
            // the mock holds the whole group for another 3 s even once the survivors have rejoined:
            // 6 to 11 of B's 60 requests, up to 12.3 s (measured). With them, B's p90 measured 1.47 to
            // 5.09 s, so a bound on it tested the mock's timers more than the worker (one run in
            // eleven failed 5 s). Fairness is asserted away from the failover: B's requests sent more
            // than 3 s before the kill or 12 s after it meet the issue's 3 s; those around it are all
            // decided, within 20 s.
            let failover = killedAt.addingTimeInterval(-3)..<killedAt.addingTimeInterval(12)
            let awayFromFailover = times.percentile(FloodAndTrickle.trickling, 0.9, sentOutside: failover)
            print(
                "fairness, three instances, one killed at 12 s: \(times); B's p90 away from the failover "
                    + String(format: "%.2f s", awayFromFailover) + "; quota \(quota)")
            #expect(times.percentile(FloodAndTrickle.trickling, 0.5) <= 3, "\(times)")
            #expect(awayFromFailover <= 3, "\(times)")
            #expect(times.percentile(FloodAndTrickle.trickling, 1) <= 20, "\(times)")
            #expect(times.percentile(FloodAndTrickle.trickling, 0.5) < times.percentile(FloodAndTrickle.flooding, 0.5) / 4, "\(times)")
            // Four processes share two cores here: the simulator records arrivals up to its timer lag
            // late and bunched, so a window may count about that many milliseconds' worth of calls
            // more than arrived in it (SimulatorStatistics.maxSchedulingLagMs).
            let allowance = Int((quota.schedulingLagMs / 1_000 * Double(Self.limit)).rounded(.up))
            #expect(quota.busiestSecond <= Self.limit + allowance, "\(quota)")
        }
    }

    /// `REGISTRY_AGENCY_WEIGHTS` end to end: `idverify serve` with A=3, B=1 and both agencies flooding
    /// (interleaved, 20 s of quota together); while both have a backlog, the registry's calls, and so
    /// the verdicts, split 3:1.
    @Test("weights A=3, B=1 with both flooding: verdicts split about 3:1 while both have a backlog")
    func weightsSplitTheQuota() async throws {
        let limit = 40
        try await RegistrySimulator.withRunning(
            configuration: .init(port: 0, population: 20_000, behaviour: .init(latencyMs: 100, latencySpreadMs: 100))
        ) { simulator in
            let harness = try await WorkerHarness(name: "fair_weights", simulator: simulator, partitions: 6)
            var environment = harness.serveEnvironment()
            environment["REGISTRY_LIMITER"] = "fleet"
            environment["REGISTRY_RATE_LIMIT"] = "\(limit)"
            environment["REGISTRY_AGENCY_WEIGHTS"] = "\(FloodAndTrickle.flooding)=3,\(FloodAndTrickle.trickling)=1"
            let process = try harness.startServe(try idverifyExecutable(), environment: environment)
            defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            try await Self.warmUp(harness)
            // 400 each: A's share (30/s) takes ~13 s, B's (10/s) as long for 133 of its 400.
            let each = 400
            let population = harness.population()
            var messages: [KafkaOutgoingMessage] = []
            var agencyOf: [String: String] = [:]
            for i in 0..<(2 * each) {
                let agency = i % 2 == 0 ? FloodAndTrickle.flooding : FloodAndTrickle.trickling
                let request = Requests.make(.submission, sample: population.sample(200 + i), dossierCode: "WEIGHT-\(i)", agency: agency)
                agencyOf[request.requestId] = agency
                messages.append(
                    KafkaOutgoingMessage(topic: harness.topics.requests(.submission), key: Array("weight-\(i)".utf8), value: request.encodedJSON()))
            }
            let sentAt = Date().timeIntervalSince1970
            #expect(await harness.producer.send(messages).allSatisfy { $0.error == nil })
            // Wait until every request has its verdict (A's in ~13 s, B's by ~17 s), then read them
            // all. Read while the worker was still producing, the first `available` messages (taken
            // from the partitions unevenly) left out some partitions' last seconds and took later
            // messages instead: B seemed to lose whole seconds it had in fact been served (issue 13).
            let expected = 6 + 2 * each
            var available = 0
            while available < expected, Date().timeIntervalSince1970 - sentAt < 45 {
                try await Task.sleep(for: .milliseconds(500))
                available = try await harness.messageCount(harness.topics.verdicts)
            }
            #expect(available == expected, "every request has its verdict")
            let verdicts = try await harness.read(harness.topics.verdicts, count: available, seconds: 30)
            process.terminate()
            process.waitUntilExit()
            var times: [String: [Double]] = [:]
            for message in verdicts {
                let verdict = try Verdict(json: message.value)
                guard let agency = agencyOf[verdict.requestId] else { continue }
                times[agency, default: []].append(Double(message.timestampMilliseconds) / 1_000 - sentAt)
            }
            // From 3 s (warmed up) to 11 s (before A's backlog runs out): both agencies waiting.
            func decided(_ agency: String) -> Int { (times[agency] ?? []).filter { $0 >= 3 && $0 < 11 }.count }
            let a = decided(FloodAndTrickle.flooding)
            let b = decided(FloodAndTrickle.trickling)
            let ratio = Double(a) / Double(max(b, 1))
            for agency in [FloodAndTrickle.flooding, FloodAndTrickle.trickling] {
                var perSecond = [Int](repeating: 0, count: 20)
                for t in times[agency] ?? [] { perSecond[min(19, max(0, Int(t)))] += 1 }
                print("weights A=3, B=1: \(agency) verdicts per second after the send: \(perSecond)")
            }
            print("weights A=3, B=1 at \(limit)/s: from 3 to 11 s after the send A \(a), B \(b) verdicts (\(String(format: "%.2f", ratio)):1); \(AgencyTimes(byAgency: times))")
            // Read once every verdict is in, the split is 3.00–3.03:1 (A 234–236, B 78); the band
            // leaves room for a loaded host and still fails an unweighted split (1:1) or one weight
            // ignored by a stage (9:1).
            #expect(ratio >= 2.6 && ratio <= 3.5, "A \(a), B \(b)")
            #expect(Double(a + b) >= 8 * Double(limit) * 0.9, "the quota is used meanwhile: \(a + b) in 8 s")
        }
    }

    /// One request per instance decided: the group has joined and the registry connections are open.
    static func warmUp(_ harness: WorkerHarness, instances: Int = 1) async throws {
        let population = harness.population()
        for i in 0..<(6 * instances) {
            try await harness.send(Requests.make(.submission, sample: population.sample(19_000 + i), agency: "warm"), key: "warm-\(i)")
        }
        _ = try await harness.read(harness.topics.verdicts, count: 6 * instances, seconds: 60)
    }
}
