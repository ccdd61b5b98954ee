import Contract
import Foundation
import Kafka
import Logging
import PostgresNIO
import RegistrySimulator
import Testing
import Worker
import Store

/// A database blip is not a registry outage: while PostgreSQL is down the worker decides nothing
/// it cannot store, the fleet limiter's errors are not registry failures (no `unavailable`, no
/// parking for them), and once the database is back every request is decided exactly once, with
/// the registry's outcome.
@Suite("Worker database outage", .serialized)
struct WorkerDatabaseOutageTests {
    @Test("PostgreSQL crashed mid-stream and back 8 s later: every request gets the registry's outcome, once")
    func databaseCrashAndRestart() async throws {
        let postgres = try await OwnPostgres.start("outage")
        do {
            try await run(postgres)
        } catch {
            await postgres.stop()
            throw error
        }
        await postgres.stop()
    }

    private func run(_ postgres: OwnPostgres) async throws {
        try await RegistrySimulator.withRunning(
            configuration: .init(port: 0, population: 20_000, behaviour: .init(latencyMs: 2, latencySpreadMs: 4))
        ) { simulator in
            let harness = try await WorkerHarness(name: "worker_db_outage", simulator: simulator, databaseURL: postgres.url) { settings in
                // The fleet limiter keeps its slots in PostgreSQL: the path that once turned a
                // database blip into registry failures.
                settings.registryLimiter = "fleet"
                settings.registryRateLimit = 1_000
                // Deadlines far off: a counter request past its 15 s would rightly be unavailable,
                // and this test is about the database, not deadlines (WorkerDeadlineTests).
                for channel in [Contract.Channel.counter, .registration, .submission] { settings.worker.deadlines[channel] = .seconds(600) }
            }
            let population = harness.population()
            let total = 3_000
            var expected: [String: Verdict.Outcome] = [:]
            var messages: [KafkaOutgoingMessage] = []
            var n = 0
            let channels: [Contract.Channel] = [.registration, .submission, .counter]
            while messages.count < total {
                let sample = population.sample(n)
                n += 1
                guard sample.variant == "exact" || sample.variant == "wrong_given_name" else { continue }
                let channel = channels[messages.count % 3]
                let request = Requests.make(channel, sample: sample, dossierCode: "OUTAGE-\(messages.count)")
                expected[request.requestId] = sample.expectMatch ? .verified : .mismatch
                messages.append(KafkaOutgoingMessage(
                    topic: harness.topics.requests(channel), key: Array("key-\(messages.count % 300)".utf8), value: request.encodedJSON()))
            }
            let toSend = messages

            let outcomes = try await harness.withWorker {
                let reports = await harness.producer.send(toSend)
                #expect(reports.allSatisfy { $0.error == nil })
                try await withTimeout(120, "the first verdicts") {
                    while try await harness.verdictCount() < 300 { try await Task.sleep(for: .milliseconds(50)) }
                }
                try await postgres.crash()
                let atCrash = try await harness.verdictCount()
                try await Task.sleep(for: .seconds(8))
                let duringOutage = try await harness.verdictCount()
                try await postgres.resume()
                #expect(atCrash < total, "crashed in the middle of the stream")
                // What was recorded before the crash may still be delivered; nothing new is decided.
                #expect(duringOutage - atCrash < 1_000, "verdicts published while the database was down: \(duringOutage - atCrash)")

                // Work resumes within seconds of the database's return.
                try await withTimeout(30, "verdicts after the database came back") {
                    while try await harness.verdictCount() <= duringOutage { try await Task.sleep(for: .milliseconds(50)) }
                }
                _ = try await harness.read(harness.topics.verdicts, count: total, seconds: 180)
                // Re-emissions may add copies: give them a moment, then read everything there is.
                try await Task.sleep(for: .seconds(2))
                return try await harness.read(harness.topics.verdicts, count: try await harness.verdictCount(), seconds: 60)
                    .map { ($0.value, try Verdict(json: $0.value)) }
                    .reduce(into: [String: Set<[UInt8]>]()) { $0[$1.1.requestId, default: []].insert($1.0) }
            }

            #expect(Set(outcomes.keys) == Set(expected.keys), "every request has a verdict")
            #expect(outcomes.values.allSatisfy { $0.count == 1 }, "one outcome per request: copies are byte-identical re-emissions")
            var wrong: [String: Int] = [:]
            for (requestId, copies) in outcomes {
                guard let bytes = copies.first, let verdict = try? Verdict(json: bytes) else { continue }
                if verdict.outcome != expected[requestId] { wrong["\(expected[requestId]!.rawValue)->\(verdict.outcome.rawValue)", default: 0] += 1 }
            }
            #expect(wrong.isEmpty, "outcomes other than the registry's: \(wrong)")
            let stored = try await harness.storedResults()
            #expect(stored == total, "one stored result per request id: \(stored) stored for \(total) requests")
            #expect(try await harness.parkedChecks() == 0, "nothing parked for a database blip")
        }
    }
}

extension WorkerHarness {
    /// Rows in `parked_checks`.
    func parkedChecks() async throws -> Int {
        let client = PostgresClient(configuration: try DatabaseURL.parse(settings.databaseURL), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                await client.run()
                return -1
            }
            defer { group.cancelAll() }
            let rows = try await client.query("SELECT count(*) FROM parked_checks", logger: logger)
            for try await count in rows.decode(Int64.self) { return Int(count) }
            return 0
        }
    }
}
