import Contract
import Foundation
import Identity
import Logging
import PostgresNIO
import RegistrySimulator
import Store
import Testing
import Worker

/// `SUBJECT_REF_KEY` rotation: a check parked under an older key still opens when that key is listed
/// in `SUBJECT_REF_KEY_PREVIOUS`; when no key opens it, it is settled `unavailable` and its lane moves on.
@Suite("Subject key rotation", .serialized)
struct KeyRotationTests {
    static let keyA = Array("subject-ref-key-A-0123456789abcdef".utf8)
    static let keyB = Array("subject-ref-key-B-0123456789abcdef".utf8)

    static func parkingSettings(_ settings: inout ServiceSettings) {
        settings.subjectRefKey = keyA
        settings.worker.quickRetryWindow = .milliseconds(500)
        settings.worker.parkedRetryInitial = .milliseconds(300)
        settings.worker.parkedRetryMax = .milliseconds(500)
        settings.worker.parkedPollInterval = .milliseconds(200)
    }

    /// Runs `body` with a client on the harness's database.
    static func withDatabase<T: Sendable>(_ harness: WorkerHarness, _ body: @Sendable (PostgresClient) async throws -> T) async throws -> T {
        let logger = Logger(label: "rotation-test")
        let client = PostgresClient(configuration: try DatabaseURL.parse(harness.settings.databaseURL), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// Waits until at least `count` checks are parked, and returns how many each key sealed.
    static func waitParked(_ harness: WorkerHarness, count: Int) async throws -> [String?: Int] {
        try await withDatabase(harness) { client in
            let store = VerificationStore(client: client, logger: Logger(label: "rotation-test"))
            return try await withTimeout(30, "\(count) parked checks") {
                while true {
                    // Until the worker has migrated the database, the table is missing.
                    if let byKey = try? await store.parkedCountByKey(), byKey.values.reduce(0, +) >= count { return byKey }
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
        }
    }

    @Test("parked with key A, restarted with key B and previous A: the check opens and is verified")
    func previousKeyOpens() async throws {
        try await RegistrySimulator.withRunning(configuration: .init(port: 0, population: 20_000, behaviour: .init(errorRate: 1))) { simulator in
            let harness = try await WorkerHarness(name: "rotation_previous", simulator: simulator, configure: Self.parkingSettings)
            let sample = Requests.sample(harness.population()) { $0.expectMatch && $0.variant == "exact" }
            let submission = Requests.make(.submission, sample: sample, dossierCode: "ROT-1")
            let parked = try await harness.withWorker {
                try await harness.send(submission, key: "lane-1")
                return try await Self.waitParked(harness, count: 1)
            }
            #expect(parked == [SubjectRefKey.keyID(of: Self.keyA): 1], "the check records the key that sealed it")

            try simulator.simulator.setBehaviour(.init())
            let verdicts = try await harness.withWorker(adjusting: {
                $0.subjectRefKey = Self.keyB
                $0.previousSubjectRefKeys = [Self.keyA]
            }) { _ in try await harness.verdicts(count: 1, seconds: 30) }
            #expect(verdicts.first?.requestId == submission.requestId)
            #expect(verdicts.first?.outcome == .verified)
            #expect(verdicts.first?.dossier?.state == .accepted)
            #expect(verdicts.first?.subject?.ref == SubjectRefKey(keyBytes: Self.keyB).ref(for: sample.idNumber), "refs come from the current key")
            #expect(try await Self.waitParked(harness, count: 0).isEmpty)
        }
    }

    @Test("parked with key A, restarted with only key B: unavailable, and the lane's next request is decided")
    func noKeyOpens() async throws {
        try await RegistrySimulator.withRunning(configuration: .init(port: 0, population: 20_000, behaviour: .init(errorRate: 1))) { simulator in
            let harness = try await WorkerHarness(name: "rotation_lost", simulator: simulator, configure: Self.parkingSettings)
            let population = harness.population()
            let samples = (0..<2).map { n in Requests.sample(population) { $0.expectMatch && $0.variant == "exact" && $0.citizenIndex % 2 == n } }
            let first = Requests.make(.submission, sample: samples[0], dossierCode: "ROT-2")
            let next = Requests.make(.submission, sample: samples[1], dossierCode: "ROT-3")
            try await harness.withWorker {
                try await harness.send(first, key: "lane-2")
                _ = try await Self.waitParked(harness, count: 1)
            }

            try simulator.simulator.setBehaviour(.init())
            let verdicts = try await harness.withWorker(adjusting: { $0.subjectRefKey = Self.keyB }) { _ in
                // Same lane: parked behind the unopenable check until it is settled.
                try await harness.send(next, key: "lane-2")
                return try await harness.verdicts(count: 2, seconds: 90)
            }
            #expect(verdicts.map(\.requestId) == [first.requestId, next.requestId], "the lane keeps its order and moves on")
            #expect(verdicts.first?.outcome == .unavailable)
            #expect(verdicts.first?.verdictId == first.verdictId)
            #expect(verdicts.first?.dossier == VerdictDossier(code: "ROT-2", state: .verificationUnavailable))
            #expect(verdicts.last?.outcome == .verified)
            #expect(harness.logs.all.contains { $0.contains("opens with no configured key") })
        }
    }

    @Test("SUBJECT_REF_KEY_PREVIOUS is read; a malformed one stops start-up naming it")
    func previousKeysSetting() throws {
        let complete = [
            "KAFKA_BROKERS": "127.0.0.1:9092", "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
            "REGISTRY_URL": "http://127.0.0.1:8089", "REGISTRY_TOKEN": "t", "SUBJECT_REF_KEY": "MDEyMzQ1Njc4OWFiY2RlZg==",
        ]
        #expect(try ServiceSettings.fromEnvironment(complete).previousSubjectRefKeys.isEmpty)
        let a = Data(Self.keyA).base64EncodedString()
        let b = Data(Self.keyB).base64EncodedString()
        let settings = try ServiceSettings.fromEnvironment(complete.merging(["SUBJECT_REF_KEY_PREVIOUS": "\(a), \(b)"]) { $1 })
        #expect(settings.previousSubjectRefKeys == [Self.keyA, Self.keyB])
        for bad in ["not base64!", "\(a),", "c2hvcnQ="] {
            #expect {
                _ = try ServiceSettings.fromEnvironment(complete.merging(["SUBJECT_REF_KEY_PREVIOUS": bad]) { $1 })
            } throws: { ($0 as? SettingsError)?.setting == "SUBJECT_REF_KEY_PREVIOUS" }
        }
    }
}
