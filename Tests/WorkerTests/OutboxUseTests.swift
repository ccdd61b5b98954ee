import Foundation
import Logging
import PostgresNIO
import RegistrySimulator
import Store
import Testing
import Worker

/// Which verdicts go through the outbox (docs/worker.md, "Outbox"): a consumed message's verdict
/// does not (its offset waits for the delivery instead); a parked check's does.
@Suite("Outbox use end to end (embedded Kafka, PostgreSQL, simulator)", .serialized)
struct OutboxUseTests {
    @Test("consumed requests' verdicts write no outbox row; a parked check's verdict still goes through the outbox")
    func onlyParkedChecksUseTheOutbox() async throws {
        try await RegistrySimulator.withRunning(
            configuration: .init(port: 0, population: 20_000, behaviour: .init(errorRate: 1))
        ) { simulator in
            let harness = try await WorkerHarness(name: "worker_outbox_use", simulator: simulator) { settings in
                settings.worker.quickRetryWindow = .milliseconds(500)
                settings.worker.parkedRetryInitial = .milliseconds(300)
                settings.worker.parkedRetryMax = .milliseconds(500)
                settings.worker.parkedPollInterval = .milliseconds(200)
            }
            let logger = Logger(label: "outbox-use-test")
            let client = PostgresClient(configuration: try DatabaseURL.parse(harness.settings.databaseURL), backgroundLogger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                // Every outbox insert, remembered even after the row is cleared on delivery.
                try await MigrationRunner(client: client, logger: logger).run()
                try await client.query("CREATE TABLE outbox_seen (request_id text NOT NULL)", logger: logger)
                try await client.query(
                    """
                    CREATE FUNCTION outbox_seen_record() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN INSERT INTO outbox_seen VALUES (NEW.request_id); RETURN NEW; END $$
                    """, logger: logger)
                try await client.query(
                    "CREATE TRIGGER outbox_seen AFTER INSERT ON verdict_outbox FOR EACH ROW EXECUTE FUNCTION outbox_seen_record()",
                    logger: logger)

                let population = harness.population()
                let samples = (0..<6).map { n in Requests.sample(population) { $0.expectMatch && $0.citizenIndex % 6 == n } }
                let parked = Requests.make(.submission, sample: samples[0], dossierCode: "OB-1")
                let direct = samples.dropFirst().map { Requests.make(.registration, sample: $0) }
                let verdicts = try await harness.withWorker {
                    try await harness.send(parked, key: "OB-1")
                    try await withTimeout(30, "the submission parked") {
                        while !harness.logs.all.contains(where: { $0.contains("check parked") }) {
                            try await Task.sleep(for: .milliseconds(100))
                        }
                    }
                    try simulator.simulator.setBehaviour(.init())
                    for (index, request) in direct.enumerated() { try await harness.send(request, key: "acc-\(index)") }
                    return try await harness.verdicts(count: 1 + direct.count, seconds: 60)
                }
                #expect(Set(verdicts.map(\.requestId)) == Set([parked.requestId] + direct.map(\.requestId)))
                #expect(verdicts.allSatisfy { $0.outcome == .verified })

                var seen: [String] = []
                for try await key in try await client.query("SELECT request_id FROM outbox_seen", logger: logger).decode(String.self) {
                    seen.append(key)
                }
                #expect(seen == [parked.requestId], "only the parked check's verdict went through the outbox")
            }
        }
    }
}
