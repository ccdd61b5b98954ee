import Contract
import Foundation
import Kafka
import Logging
import PostgresNIO
import Store
import Testing
@testable import Worker

/// What the database refuses is refused once, not retried for ever: the store says so with a
/// non-retriable error, and the recorder sets the refused decision apart from the rest of its batch.
@Suite("Store refusals", .serialized)
struct StoreRefusalTests {
    static func decision(_ requestId: String) -> DecisionRecord {
        let verdict = Verdict(
            verdictId: UUID(), requestId: requestId, channel: .registration, agencyCode: "H23.45", decidedAt: Timestamp(Date()),
            outcome: .verified, attempts: 1)
        return DecisionRecord(
            verdict: verdict, requestKey: requestId, dossier: nil,
            source: SourcePosition(topic: "tthc.identity.registration", partition: 0, offset: 1), consumedAt: Date(),
            messageKey: nil, traceparent: nil, tracestate: "vendor=1")
    }

    /// A value only a bug could let through: a request key not in its storable form, with a NUL
    /// that `text` refuses (SQLSTATE 22021).
    static let refusedKey = "bad\u{0}"

    static func withStore<T: Sendable>(_ name: String, _ body: (PostgresClient, VerificationStore, Logger) async throws -> T) async throws -> T {
        let logger = Logger(label: "store-refusal-test")
        let client = PostgresClient(configuration: try DatabaseURL.parse(try await freshDatabase(name)), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            _ = try await MigrationRunner(client: client, logger: logger).run()
            return try await body(client, VerificationStore(client: client, logger: logger), logger)
        }
    }

    /// A producer to the verdict topic of a one-broker embedded cluster, for a recorder under test.
    static func withVerdictProducer(_ body: (KafkaProducer) async throws -> Void) async throws {
        var quiet = Logger(label: "kafka")
        quiet.logLevel = .critical
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: quiet)
        try cluster.createTopic(Topics().verdicts, partitions: 1)
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: quiet)
        do {
            try await body(producer)
        } catch {
            await producer.close()
            throw error
        }
        await producer.close()
    }

    static func storedRequestIDs(_ client: PostgresClient, _ logger: Logger) async throws -> Set<String> {
        var ids: Set<String> = []
        for try await id in try await client.query("SELECT request_id FROM verification_results", logger: logger).decode(String.self) {
            ids.insert(id)
        }
        return ids
    }

    @Test("a value the database refuses gives a non-retriable error, and nothing of the batch is written")
    func refusedValuesAreNotRetriable() async throws {
        try await Self.withStore("store_refusal") { client, store, logger in
            do {
                _ = try await store.record(
                    [Self.decision("a"), Self.decision(Self.refusedKey)], verdictTopic: "v", cloudEventSource: "/t")
                Issue.record("the refused value was written")
            } catch let error as StoreError {
                #expect(error.code == .rejected)
                #expect(!error.isRetriable)
                #expect(error.cause?.contains("22021") == true)
            }
            let stored = try await Self.storedRequestIDs(client, logger)
            #expect(stored.isEmpty)
        }
    }

    @Test("the recorder records the rest of a batch and hands back only the refused decision")
    func recorderSetsTheRefusedApart() async throws {
        try await Self.withVerdictProducer { producer in
            try await Self.withStore("store_refusal_batch") { client, store, logger in
                var configuration = WorkerConfiguration()
                configuration.groupCommitBatch = 100
                let recorder = VerdictRecorder(
                    store: store, producer: producer, configuration: configuration, metrics: WorkerMetrics(), logger: logger)
                let running = Task { await recorder.run() }
                let decisions = ["r1", "r2", Self.refusedKey, "r3", "r4"].map { Self.decision($0) }
                // All five in one batch: handed in together before the recorder's loop takes them.
                let results = await withTaskGroup(of: (String, VerdictRecorder.RecordResult).self) { group in
                    for decision in decisions {
                        group.addTask { (decision.requestKey, await recorder.record(decision, consumedAt: nil, onDurable: {})) }
                    }
                    var results: [String: VerdictRecorder.RecordResult] = [:]
                    for await (key, result) in group { results[key] = result }
                    return results
                }
                for key in ["r1", "r2", "r3", "r4"] {
                    guard case .handedOver = results[key] else {
                        Issue.record("\(key) was not recorded: \(String(describing: results[key]))")
                        continue
                    }
                }
                guard case .refused = results[Self.refusedKey] else {
                    Issue.record("the refused decision came back as \(String(describing: results[Self.refusedKey]))")
                    return
                }
                let stored = try await Self.storedRequestIDs(client, logger)
                #expect(stored == ["r1", "r2", "r3", "r4"])
                recorder.finish()
                await running.value
            }
        }
    }
}

@Suite("Storable text")
struct StorableTextTests {
    @Test("ordinary text is kept; NUL, U+0001, long text and invalid UTF-8 become short distinct digests")
    func encoding() {
        #expect(StorableText.encode("4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a10") == "4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a10")
        #expect(StorableText.encode("Nguyễn Thị Thuỷ") == "Nguyễn Thị Thuỷ")
        let withNUL = StorableText.encode("a\u{0}b")
        #expect(!withNUL.utf8.contains(0))
        #expect(withNUL.hasPrefix("\u{1}"))
        #expect(withNUL != StorableText.encode("a\u{0}c"))
        #expect(StorableText.encode("\u{1}x") != "\u{1}x")
        let long = String(repeating: "k", count: 10_000)
        #expect(StorableText.encode(long).utf8.count < 64)
        #expect(StorableText.encode(long) != StorableText.encode(long + "k"))
        #expect(StorableText.encode(bytes: Array("desk-7".utf8)) == "desk-7")
        #expect(StorableText.encode(bytes: [0xFF, 0xFE]) != StorableText.encode(bytes: [0xFF, 0xFD]))
        #expect(StorableText.encode(bytes: Array(long.utf8)) == StorableText.encode(long))
        #expect(StorableText.reserved("t/0/1") != StorableText.encode("t/0/1"))
        #expect(!StorableText.reserved("t/0/1").utf8.contains(0))
    }
}
