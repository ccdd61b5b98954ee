import Contract
import Foundation
import Kafka
import Logging
import Ops
import Prometheus
import ServiceLifecycle
import Store
import Testing

/// `tthc.dossier.events` into PostgreSQL through the real broker: idempotent inserts, dead letters
/// for unreadable events, offsets committed after the insert.
@Suite("Dossier events consumer")
struct DossierEventsConsumerTests {
    @Test("events are stored once, unreadable ones dead-lettered, offsets committed, nothing stops")
    func consumes() async throws {
        let topics = TopicNames()
        let cluster = try OpsTestEnvironment.makeCluster(topics: topics, partitions: 3)
        try await OpsTestEnvironment.withDatabase { postgres, _ in
            let events = [
                DossierStatisticsTests.event("D-1", .received, "2026-11-02T08:00:00+07:00", due: "2026-11-05T17:00:00+07:00"),
                DossierStatisticsTests.event("D-1", .resolved, "2026-11-04T08:00:00+07:00"),
                DossierStatisticsTests.event("D-2", .received, "2026-11-02T08:00:00+07:00", due: "2026-11-03T17:00:00+07:00"),
                DossierStatisticsTests.event("D-2", .returned, "2026-11-09T08:00:00+07:00"),
            ]
            var messages = events.map {
                KafkaOutgoingMessage(
                    topic: topics.dossierEvents, key: Array($0.dossierCode.utf8), value: $0.encodedJSON(),
                    headers: [KafkaHeader(name: "traceparent", string: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")])
            }
            // A redelivered event (same eventId), a value that is not JSON, an object that breaks field rules.
            messages.append(messages[1])
            messages.append(KafkaOutgoingMessage(topic: topics.dossierEvents, key: Array("D-3".utf8), value: Array("not json".utf8)))
            messages.append(
                KafkaOutgoingMessage(
                    topic: topics.dossierEvents, key: Array("D-4".utf8),
                    value: Array(#"{"eventId":"6c1f0d52-3d7b-4c1e-9a53-0e2f6f3b9d11","dossierCode":"D-4","agencyCode":"H23.45.10","type":"lost","occurredAt":"2026-11-02T08:00:00+07:00"}"#.utf8),
                    headers: [KafkaHeader(name: "source", string: "back-office")]))
            try await OpsTestEnvironment.produce(messages, to: cluster)

            let prometheus = PrometheusCollectorRegistry()
            let factory = PrometheusMetricsFactory(registry: prometheus)
            let producer = try KafkaProducer(
                configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: OpsTestEnvironment.logger)
            var configuration = DossierEventsConsumer.Configuration(
                bootstrapServers: [cluster.bootstrapServers], workerGroupID: "ops-test", topics: Topics(prefix: topics.prefix))
            configuration.consumer.sessionTimeoutMilliseconds = 6_000
            configuration.consumer.client.properties["heartbeat.interval.ms"] = "500"
            #expect(configuration.consumer.groupID == "ops-test-dossier-events")
            let statistics = DossierStatistics(client: postgres, logger: OpsTestEnvironment.logger)
            let service = DossierEventsConsumer(
                configuration: configuration, store: statistics, producer: producer, metricsFactory: factory,
                logger: OpsTestEnvironment.logger)
            let group = ServiceGroup(services: [service], gracefulShutdownSignals: [], logger: OpsTestEnvironment.logger)
            let running = Task { try await group.run() }

            try await OpsTestEnvironment.eventually(40, "4 events stored") {
                let rows = try await postgres.query("SELECT count(*) FROM dossier_events")
                for try await count in rows.decode(Int.self) { return count == 4 }
                return false
            }
            let committedGroup = try KafkaConsumer(
                configuration: .init(bootstrapServers: [cluster.bootstrapServers], groupID: "ops-test-dossier-events", topics: []),
                logger: OpsTestEnvironment.logger)
            let partitions = (0..<3).map { TopicPartition(topic: topics.dossierEvents, partition: Int32($0)) }
            try await OpsTestEnvironment.eventually(20, "offsets committed to the end") {
                let committed = try await committedGroup.committed(partitions)
                for partition in partitions {
                    let end = try await committedGroup.watermarks(partition).high
                    if end > 0, committed[partition] != end { return false }
                }
                return true
            }
            await group.triggerGracefulShutdown()
            try await running.value
            await committedGroup.close()
            await producer.close()

            let figures = try await statistics.figures(agency: "H23.45.10", month: try #require(StatisticsMonth("2026-11")))
            #expect(figures.handled == 2)
            #expect(figures.late == 1)

            let archive = try DeadLetterArchive(
                configuration: .init(bootstrapServers: [cluster.bootstrapServers], topic: topics.deadLetter),
                logger: OpsTestEnvironment.logger)
            let deadLetters = try await archive.list()
            await archive.close()
            #expect(deadLetters.count == 2)
            let byReason = Dictionary(uniqueKeysWithValues: deadLetters.map { ($0.metadata?.reason.rawValue ?? "-", $0) })
            let notJSON = try #require(byReason["not_json"])
            #expect(notJSON.value == Array("not json".utf8))
            #expect(notJSON.key == Array("D-3".utf8))
            #expect(notJSON.metadata?.sourceTopic == topics.dossierEvents)
            let invalid = try #require(byReason["invalid_event"])
            #expect(invalid.originalHeaders == [KafkaHeader(name: "source", string: "back-office")])
            #expect(invalid.replayMessage?.topic == topics.dossierEvents)

            let text = prometheus.emitToString()
            #expect(text.contains(#"identity_dossier_events_total{result="recorded"} 4"#))
            #expect(text.contains(#"identity_dossier_events_total{result="duplicate"} 1"#))
            #expect(text.contains(#"identity_dossier_events_total{result="dead_lettered"} 2"#))
            #expect(text.contains(#"identity_dead_letters_total{reason="not_json"} 1"#))
            #expect(text.contains(#"identity_dead_letters_total{reason="invalid_event"} 1"#))
        }
    }

    @Test("an event with NUL in dossierCode and agencyCode is stored or dead-lettered, and the events after it flow")
    func nulCodes() async throws {
        let topics = TopicNames(prefix: "nul.")
        let cluster = try OpsTestEnvironment.makeCluster(topics: topics, partitions: 1)
        try await OpsTestEnvironment.withDatabase { postgres, _ in
            func value(_ id: String, _ code: String, _ agency: String, _ type: String, _ occurred: String) -> [UInt8] {
                Array(
                    #"{"eventId":"\#(id)","dossierCode":"\#(code)","agencyCode":"\#(agency)","type":"\#(type)","occurredAt":"\#(occurred)"}"#
                        .utf8)
            }
            let messages = [
                // NUL in both codes: the agency code breaks section 2's character rule.
                value("6c1f0d52-3d7b-4c1e-9a53-0e2f6f3b9d01", #"D-\u0000-1"#, #"H23\u0000"#, "resolved", "2026-11-02T08:00:00+07:00"),
                // NUL in the dossier code only: a valid event, stored through StorableText.
                value("6c1f0d52-3d7b-4c1e-9a53-0e2f6f3b9d02", #"D-\u0000-2"#, "H23.45.10", "resolved", "2026-11-03T08:00:00+07:00"),
                // The events after them.
                value("6c1f0d52-3d7b-4c1e-9a53-0e2f6f3b9d03", "D-AFTER-1", "H23.45.10", "resolved", "2026-11-04T08:00:00+07:00"),
                value("6c1f0d52-3d7b-4c1e-9a53-0e2f6f3b9d04", "D-AFTER-2", "H23.45.10", "returned", "2026-11-05T08:00:00+07:00"),
            ].map { KafkaOutgoingMessage(topic: topics.dossierEvents, key: Array("k".utf8), value: $0) }
            try await OpsTestEnvironment.produce(messages, to: cluster)

            let producer = try KafkaProducer(
                configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: OpsTestEnvironment.logger)
            var configuration = DossierEventsConsumer.Configuration(
                bootstrapServers: [cluster.bootstrapServers], workerGroupID: "nul", topics: Topics(prefix: topics.prefix))
            configuration.consumer.sessionTimeoutMilliseconds = 6_000
            configuration.retryInitialDelay = .milliseconds(20)
            configuration.retryMaximumDelay = .milliseconds(100)
            let statistics = DossierStatistics(client: postgres, logger: OpsTestEnvironment.logger)
            let service = DossierEventsConsumer(
                configuration: configuration, store: statistics, producer: producer, logger: OpsTestEnvironment.logger)
            let group = ServiceGroup(services: [service], gracefulShutdownSignals: [], logger: OpsTestEnvironment.logger)
            let running = Task { try await group.run() }
            try await OpsTestEnvironment.eventually(40, "3 events stored") {
                let rows = try await postgres.query("SELECT count(*) FROM dossier_events")
                for try await count in rows.decode(Int.self) { return count == 3 }
                return false
            }
            await group.triggerGracefulShutdown()
            try await running.value
            await producer.close()

            let figures = try await statistics.figures(agency: "H23.45.10", month: try #require(StatisticsMonth("2026-11")))
            #expect(figures.resolved == 2)
            #expect(figures.returned == 1)
            let stored = try await postgres.query("SELECT dossier_code FROM dossier_events WHERE dossier_code LIKE E'\\x01%'")
            var hashed = 0
            for try await code in stored.decode(String.self) {
                #expect(code == StorableText.encode("D-\u{0}-2"))
                hashed += 1
            }
            #expect(hashed == 1)

            let archive = try DeadLetterArchive(
                configuration: .init(bootstrapServers: [cluster.bootstrapServers], topic: topics.deadLetter),
                logger: OpsTestEnvironment.logger)
            let deadLetters = try await archive.list()
            await archive.close()
            #expect(deadLetters.map { $0.metadata?.reason.rawValue } == ["invalid_event"])
        }
    }

    @Test("an unavailable database is retried, not skipped; shutdown stops the retries")
    func retriesStore() async throws {
        let topics = TopicNames(prefix: "retry.")
        let cluster = try OpsTestEnvironment.makeCluster(topics: topics, partitions: 1)
        let event = DossierStatisticsTests.event("D-R", .received, "2026-11-02T08:00:00+07:00")
        try await OpsTestEnvironment.produce(
            [KafkaOutgoingMessage(topic: topics.dossierEvents, key: Array("D-R".utf8), value: event.encodedJSON())], to: cluster)
        let store = FlakyStore(failures: 3)
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: OpsTestEnvironment.logger)
        var configuration = DossierEventsConsumer.Configuration(
            bootstrapServers: [cluster.bootstrapServers], workerGroupID: "retry", topics: Topics(prefix: topics.prefix))
        configuration.consumer.sessionTimeoutMilliseconds = 6_000
        configuration.retryInitialDelay = .milliseconds(20)
        configuration.retryMaximumDelay = .milliseconds(100)
        let service = DossierEventsConsumer(
            configuration: configuration, store: store, producer: producer, logger: OpsTestEnvironment.logger)
        let group = ServiceGroup(services: [service], gracefulShutdownSignals: [], logger: OpsTestEnvironment.logger)
        let running = Task { try await group.run() }
        try await OpsTestEnvironment.eventually(30, "stored after the failures") { store.stored.withLock { $0 } == [event.eventId] }
        #expect(store.attempts.withLock { $0 } == 4)
        await group.triggerGracefulShutdown()
        try await running.value
        await producer.close()
    }
}

/// A store that fails a few times first.
final class FlakyStore: DossierEventStore {
    let attempts = Shared(0)
    let stored = Shared<[UUID]>([])
    let failures: Int

    init(failures: Int) { self.failures = failures }

    struct Unavailable: Error {}

    func record(_ events: [DossierEvent]) async throws -> Int {
        let attempt = self.attempts.withLock { count -> Int in
            count += 1
            return count
        }
        if attempt <= self.failures { throw Unavailable() }
        self.stored.withLock { $0.append(contentsOf: events.map(\.eventId)) }
        return events.count
    }
}
