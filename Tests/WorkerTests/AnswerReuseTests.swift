import Contract
import Crypto
import Foundation
import Identity
import Kafka
import Logging
import PostgresNIO
import RegistrySimulator
import Store
import Testing
import Worker

/// Answer reuse on the real worker, broker, PostgreSQL and simulator: the same person checked
/// again within an answer's expiry costs no registry call (issue 13).
@Suite("Registry answer reuse", .serialized)
struct AnswerReuseTests {
    static let simulatorConfiguration = RegistrySimulator.Configuration(port: 0, population: 20_000)
    static let logger = Logger(label: "answer-reuse-test")

    static func withClient<T: Sendable>(_ url: String, _ body: @Sendable (PostgresClient) async throws -> T) async throws -> T {
        let client = PostgresClient(configuration: try DatabaseURL.parse(url), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    @Test("reused within expiry (attempts 0, reusedFrom), mismatch expires sooner, autofill still calls, a second instance reuses, audited, no raw value stored")
    func reuse() async throws {
        try await RegistrySimulator.withRunning(configuration: Self.simulatorConfiguration) { simulator in
            let harness = try await WorkerHarness(name: "answer_reuse", simulator: simulator) { settings in
                settings.worker.answerReuseVerified = .seconds(3_600)
                settings.worker.answerReuseMismatch = .seconds(4)
            }
            let population = harness.population()
            let person = Requests.sample(population) { $0.expectMatch && $0.variant == "exact" && $0.idNumber.count == 12 }
            let wrong = Requests.sample(population) { !$0.expectMatch && $0.variant == "wrong_date" }
            let calls: @Sendable () -> Int = { simulator.simulator.statistics().totalCalls }
            let privateKey = Curve25519.KeyAgreement.PrivateKey()
            let recipient = AutofillRecipientKey(rawRepresentation: Array(privateKey.publicKey.rawRepresentation))!

            let registration = Requests.make(.registration, sample: person)
            let submission = Requests.make(.submission, sample: person)
            let counter = Requests.make(.counter, sample: person)
            let autofill = Requests.make(.counter, sample: person, recipientKey: recipient)
            let wrongRegistration = Requests.make(.registration, sample: wrong)
            let wrongSubmission = Requests.make(.submission, sample: wrong, dossierCode: "H23.45.10-241129-0008")
            let wrongLater = Requests.make(.submission, sample: wrong, dossierCode: "H23.45.10-241129-0009")
            let laterSubmission = Requests.make(.submission, sample: person, dossierCode: "H23.45.10-241129-0010")

            let verdicts = try await harness.withWorker {
                try await harness.send(registration, key: "acc-1")
                _ = try await harness.verdicts(count: 1)
                #expect(calls() == 1)
                try await harness.send(submission, key: "dossier-1")
                try await harness.send(counter, key: "desk-1")
                try await harness.send(autofill, key: "desk-2")
                _ = try await harness.verdicts(count: 4)
                #expect(calls() == 2, "only the counter asking for autofill called")

                try await harness.send(wrongRegistration, key: "acc-2")
                _ = try await harness.verdicts(count: 5)
                try await harness.send(wrongSubmission, key: "dossier-2")
                _ = try await harness.verdicts(count: 6)
                #expect(calls() == 3, "the mismatch was reused within its 4 s")
                try await Task.sleep(for: .milliseconds(4_500))
                try await harness.send(wrongLater, key: "dossier-3")
                try await harness.send(laterSubmission, key: "dossier-4")
                return try await harness.verdicts(count: 8)
            }
            let byRequest = Dictionary(uniqueKeysWithValues: verdicts.map { ($0.requestId, $0) })
            let first = try #require(byRequest[registration.requestId])
            #expect(first.attempts == 1 && first.reusedFrom == nil && first.outcome == .verified)
            for reused in [submission, counter] {
                let verdict = try #require(byRequest[reused.requestId])
                #expect(verdict.outcome == .verified)
                #expect(verdict.attempts == 0)
                // The registration's answer, or the autofill counter's when it was kept first (same batch of sends).
                #expect([registration.requestId, autofill.requestId].contains(verdict.reusedFrom ?? ""))
            }
            #expect(byRequest[submission.requestId]?.dossier?.state == .accepted)
            let filled = try #require(byRequest[autofill.requestId])
            #expect(filled.attempts == 1 && filled.reusedFrom == nil && filled.autofill != nil)
            #expect(byRequest[wrongRegistration.requestId]?.outcome == .mismatch)
            let wrongReused = try #require(byRequest[wrongSubmission.requestId])
            #expect(wrongReused.outcome == .mismatch && wrongReused.attempts == 0 && wrongReused.reusedFrom == wrongRegistration.requestId)
            #expect(wrongReused.dossier?.state == .needsCorrection)
            let wrongAgain = try #require(byRequest[wrongLater.requestId])
            #expect(wrongAgain.attempts >= 1 && wrongAgain.reusedFrom == nil, "the mismatch answer had expired: asked again")
            let stillVerified = try #require(byRequest[laterSubmission.requestId])
            #expect(stillVerified.attempts == 0 && stillVerified.reusedFrom != nil, "the verified answer outlives the mismatch one")
            #expect(calls() == 4)

            // A second worker instance (a fresh runtime on the same database) reuses the first's answer.
            let fleetCounter = Requests.make(.counter, sample: person)
            let afterRestart = try await harness.withWorker {
                try await harness.send(fleetCounter, key: "desk-3")
                return try await harness.verdicts(count: 9)
            }
            let fleet = try #require(afterRestart.first { $0.requestId == fleetCounter.requestId })
            #expect(fleet.attempts == 0 && fleet.reusedFrom != nil)
            #expect(calls() == 4)

            try await Self.withClient(harness.settings.databaseURL) { client in
                // The audit trail shows the reuse, and its chain verifies.
                let trail = AuditTrail(client: client, logger: Self.logger)
                let entries = try await trail.entries(AuditTrail.Query())
                let audited = try #require(entries.first { $0.requestID == submission.requestId })
                #expect(audited.reusedFrom == byRequest[submission.requestId]?.reusedFrom)
                #expect(audited.reusedFrom != nil)
                #expect(entries.first { $0.requestID == registration.requestId }?.reusedFrom == nil)
                #expect(try await trail.verify().isIntact)
                // Hiding the reuse from auditors breaks the chain at that row.
                try await client.query(
                    "UPDATE audit_trail SET reused_from = NULL WHERE request_id = \(submission.requestId)", logger: Self.logger)
                #expect(try await trail.verify().brokenAt == audited.seq)

                // Nothing raw in the answers: scan every row's bytes for the number, name and date.
                let rows = try await client.query(
                    "SELECT answer_key, outcome || source_request_id || answered_at::text || expires_at::text FROM registry_answers",
                    logger: Self.logger)
                var count = 0
                for try await (key, text) in rows.decode((ByteBuffer, String).self) {
                    count += 1
                    let keyBytes = Array(key.readableBytesView)
                    let bytes = keyBytes + Array(text.utf8)
                    #expect(key.readableBytes == 32)
                    for sample in [person, wrong] {
                        for raw in [sample.idNumber, sample.fullName, PersonName.comparisonKey(sample.fullName)] {
                            #expect(!Self.contains(bytes, Array(raw.utf8)), "a raw value is in registry_answers")
                        }
                        // The date only against the key: a year's digits can turn up in a timestamp's text.
                        #expect(!Self.contains(keyBytes, Array(sample.dateOfBirth.utf8)))
                    }
                }
                #expect(count == 2, "one row per person")
            }
        }
    }

    @Test("0 turns reuse off: every check calls, nothing is kept")
    func off() async throws {
        try await RegistrySimulator.withRunning(configuration: Self.simulatorConfiguration) { simulator in
            let harness = try await WorkerHarness(name: "answer_reuse_off", simulator: simulator) { settings in
                settings.worker.answerReuseVerified = .zero
                settings.worker.answerReuseMismatch = .zero
            }
            let person = Requests.sample(harness.population()) { $0.expectMatch && $0.variant == "exact" }
            let registration = Requests.make(.registration, sample: person)
            let submission = Requests.make(.submission, sample: person)
            let verdicts = try await harness.withWorker {
                try await harness.send(registration, key: "acc-1")
                _ = try await harness.verdicts(count: 1)
                try await harness.send(submission, key: "dossier-1")
                return try await harness.verdicts(count: 2)
            }
            #expect(verdicts.allSatisfy { $0.attempts == 1 && $0.reusedFrom == nil })
            #expect(simulator.simulator.statistics().totalCalls == 2)
            let kept = try await Self.withClient(harness.settings.databaseURL) { client in
                try await RetentionTests.count(client, "registry_answers")
            }
            #expect(kept == 0)
        }
    }

    @Test("retention deletes expired answers in batches and keeps the others")
    func retention() async throws {
        try await Self.withClient(try await freshDatabase("answer_reuse_retention")) { client in
            try await MigrationRunner(client: client, logger: Self.logger).run()
            let store = VerificationStore(client: client, logger: Self.logger)
            let records = (0..<25).map { index in
                var record = RetentionTests.decision("answer-\(index)", decidedAt: Date())
                let expires = Date().addingTimeInterval(index < 20 ? -60 : 3_600)
                record.keptAnswer = KeptRegistryAnswer(
                    key: Array(SHA256.hash(data: Array("person-\(index)".utf8))),
                    answer: RegistryAnswer(outcome: .verified, sourceRequestID: "answer-\(index)", expiresAt: expires), answeredAt: Date())
                return record
            }
            _ = try await store.record(records, verdictTopic: "v", cloudEventSource: "/t")
            #expect(try await RetentionTests.count(client, "registry_answers") == 25)
            // Expired answers are not found any more, before retention too.
            let found = try await store.lookUp(requestKeys: [], laneKeys: [], answerKeys: records.compactMap { $0.keptAnswer?.key }).answers
            #expect(found.count == 5)
            var configuration = RetentionConfiguration()
            configuration.batchSize = 8
            configuration.pause = .milliseconds(1)
            let retention = RetentionService(store: RetentionStore(client: client, logger: Self.logger), configuration: configuration, logger: Self.logger)
            #expect(try await retention.runOnce().registryAnswers == 20)
            #expect(try await RetentionTests.count(client, "registry_answers") == 5)
        }
    }

    /// The measurement in docs/benchmarks.md ("Answer reuse"): 40 people (a fifth of them with a
    /// wrong birth date, so mismatches), each a registration, then one to three submissions and
    /// corrections (seeded random) sent round by round, through the real worker and simulator, with
    /// reuse at its defaults and off. Prints the registry calls of each.
    @Test("measure: calls saved on a registration-then-submissions mix")
    func measure() async throws {
        var counts: [Bool: (calls: Int, verdicts: Int, reused: Int, outcomes: [Verdict.Outcome: Int])] = [:]
        for reuse in [true, false] {
            try await RegistrySimulator.withRunning(configuration: Self.simulatorConfiguration) { simulator in
                let harness = try await WorkerHarness(name: "answer_reuse_mix_\(reuse ? "on" : "off")", simulator: simulator) { settings in
                    if !reuse {
                        settings.worker.answerReuseVerified = .zero
                        settings.worker.answerReuseMismatch = .zero
                    }
                }
                let population = harness.population()
                var random: UInt64 = 2026
                func next(_ bound: Int) -> Int {
                    random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    return Int((random >> 33) % UInt64(bound))
                }
                var people: [(sample: SampleQuery, followUps: Int)] = []
                var index = 0
                while people.count < 40 {
                    let sample = population.sample(index)
                    index += 1
                    let wanted = people.count % 5 == 4 ? (!sample.expectMatch && sample.variant == "wrong_date") : (sample.expectMatch && sample.variant == "exact")
                    if wanted { people.append((sample, 1 + next(3))) }
                }
                let total = people.count + people.map(\.followUps).reduce(0, +)
                let mix = people
                let verdicts = try await harness.withWorker {
                    var sent = 0
                    for round in 0...3 {
                        for (n, person) in mix.enumerated() where round <= person.followUps {
                            let request = round == 0
                                ? Requests.make(.registration, sample: person.sample)
                                : Requests.make(.submission, sample: person.sample, dossierCode: "H23.45.10-241129-\(1000 + n * 4 + round)")
                            try await harness.send(request, key: "person-\(n)")
                            sent += 1
                        }
                        _ = try await harness.verdicts(count: sent, seconds: 120)
                    }
                    return try await harness.verdicts(count: total, seconds: 120)
                }
                counts[reuse] = (
                    simulator.simulator.statistics().totalCalls, verdicts.count, verdicts.filter { $0.reusedFrom != nil }.count,
                    Dictionary(grouping: verdicts, by: \.outcome).mapValues(\.count))
            }
        }
        let on = try #require(counts[true])
        let off = try #require(counts[false])
        print("answer reuse mix: \(on.verdicts) verdicts; registry calls with reuse \(on.calls) (\(on.reused) reused), without \(off.calls); saved \(off.calls - on.calls) (\(Int((Double(off.calls - on.calls) / Double(off.calls) * 100).rounded())) %)")
        #expect(on.verdicts == off.verdicts)
        #expect(on.outcomes == off.outcomes, "the same outcomes with and without reuse")
        #expect(off.calls >= off.verdicts)
        #expect(on.calls >= on.verdicts - on.reused)
        #expect(on.calls < off.calls)
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start..<start + needle.count].elementsEqual(needle) { return true }
        return false
    }
}
