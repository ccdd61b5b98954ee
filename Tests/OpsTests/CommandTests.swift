import Contract
import Foundation
import Kafka
import PostgresNIO
import Store
import Testing

/// The operator commands, run as the built `idverify` executable against the embedded broker and
/// a real PostgreSQL.
@Suite("Operator commands")
struct CommandTests {
    @Test("idverify lag prints committed, end and lag per partition")
    func lag() async throws {
        let topics = TopicNames()
        let cluster = try OpsTestEnvironment.makeCluster(topics: topics, partitions: 2)
        try await OpsTestEnvironment.produce(LagTests.requests(topics.registration, count: 8), to: cluster)
        let result = try await OpsTestEnvironment.runIDVerify(
            ["lag"], environment: ["KAFKA_BROKERS": cluster.bootstrapServers, "KAFKA_GROUP_ID": "cli-group"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "group cli-group")
        #expect(lines.dropFirst().first?.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            == ["TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "LAG", "SECONDS"])
        let rows = lines.filter { $0.hasPrefix("tthc.identity.") }.map { $0.split(separator: " ").map(String.init) }
        #expect(rows.count == 6)
        let registration = rows.filter { $0[0] == topics.registration }
        #expect(registration.map { Int($0[3]) ?? -1 }.reduce(0, +) == 8, "END column")
        #expect(registration.map { Int($0[4]) ?? -1 }.reduce(0, +) == 8, "LAG column")
        #expect(registration.allSatisfy { $0[2] == "-" }, "no committed offset yet")
        let total = try #require(lines.last?.split(separator: " ").map(String.init))
        #expect(total.first == "TOTAL")
        #expect(total.dropFirst().first == "8")

        // The flag overrides the environment; a missing setting is named.
        let flagged = try await OpsTestEnvironment.runIDVerify(
            ["lag", "--brokers", cluster.bootstrapServers, "--group", "other-group"], environment: ["KAFKA_BROKERS": "127.0.0.1:1"])
        #expect(flagged.status == 0, "\(flagged.stderr)")
        #expect(flagged.stdout.hasPrefix("group other-group"))
        let missing = try await OpsTestEnvironment.runIDVerify(["lag"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("KAFKA_BROKERS is not set (or pass --brokers)"), "\(missing.stderr)")
    }

    @Test("idverify stats prints the processing board, or the endpoint's JSON")
    func stats() async throws {
        try await OpsTestEnvironment.withDatabase { postgres, url in
            try await DossierStatistics(client: postgres, logger: OpsTestEnvironment.logger).record(DossierStatisticsTests.crafted)
            let board = try await OpsTestEnvironment.runIDVerify(
                ["stats", "--agency", "H23.45.10", "--month", "2026-11"], environment: ["DATABASE_URL": url])
            #expect(board.status == 0, "\(board.stderr)")
            #expect(board.stdout.contains("agency H23.45.10, 2026-11"))
            func value(_ label: String) -> String? {
                board.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                    .first { $0.hasPrefix(label) }
                    .flatMap { $0.split(separator: " ").last.map(String.init) }
            }
            #expect(value("Handled") == "9")
            #expect(value("resolved") == "7")
            #expect(value("returned") == "2")
            #expect(value("On time") == "6")
            #expect(value("Late (") == "3")
            #expect(board.stdout.contains("33.33 %"))

            let json = try await OpsTestEnvironment.runIDVerify(
                ["stats", "--month", "2026-11", "--json", "--database-url", url])
            #expect(json.status == 0, "\(json.stderr)")
            #expect(json.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                == #"{"agency":null,"month":"2026-11","handled":10,"resolved":8,"returned":2,"onTime":6,"late":4,"lateRate":0.4}"#)

            let badMonth = try await OpsTestEnvironment.runIDVerify(["stats", "--month", "2026-13"], environment: ["DATABASE_URL": url])
            #expect(badMonth.status != 0)
            #expect(badMonth.stderr.contains("--month must be YYYY-MM"))
        }
        let missing = try await OpsTestEnvironment.runIDVerify(["stats", "--month", "2026-11"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("DATABASE_URL is not set (or pass --database-url)"), "\(missing.stderr)")
    }

    @Test("idverify stats --recompute counts from the raw events; --rebuild-rollup repairs the rollup")
    func statsRecomputeAndRebuild() async throws {
        try await OpsTestEnvironment.withDatabase { postgres, url in
            try await DossierStatistics(client: postgres, logger: OpsTestEnvironment.logger).record(DossierStatisticsTests.crafted)
            let right = #"{"agency":null,"month":"2026-11","handled":10,"resolved":8,"returned":2,"onTime":6,"late":4,"lateRate":0.4}"#
            // A damaged rollup (as after a manual edit): the plain query shows it, the recount does not.
            try await postgres.query("UPDATE dossier_monthly_figures SET resolved = resolved + 5", logger: OpsTestEnvironment.logger)
            func stats(_ flags: [String]) async throws -> CommandResult {
                try await OpsTestEnvironment.runIDVerify(["stats", "--month", "2026-11", "--json"] + flags, environment: ["DATABASE_URL": url])
            }
            let damaged = try await stats([])
            #expect(damaged.stdout.contains(#""resolved":18"#), "\(damaged.stdout)")
            let recomputed = try await stats(["--recompute"])
            #expect(recomputed.status == 0, "\(recomputed.stderr)")
            #expect(recomputed.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == right)
            let rebuilt = try await stats(["--rebuild-rollup"])
            #expect(rebuilt.status == 0, "\(rebuilt.stderr)")
            #expect(rebuilt.stderr.contains("rollup rebuilt: 11 closed dossiers"))
            #expect(rebuilt.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == right)
            #expect(try await stats([]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == right)
        }
    }

    @Test("idverify-bench stats loads, builds the rollup, checks it against a recount and times the queries")
    func benchStats() async throws {
        let url = try OpsTestEnvironment.databaseURL()
        let result = try await OpsTestEnvironment.runIDVerify(
            ["stats", "--dossiers", "3000", "--agencies", "5", "--repetitions", "3", "--batches", "2"],
            environment: ["DATABASE_URL": url], executable: "idverify-bench")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("check: recount from raw events (the old query) took"))
        #expect(result.stdout.contains("; rollup equal"))
        #expect(result.stdout.contains("after the re-closings: rollup equal to the recount"))
        #expect(!result.stdout.contains("DIFFERENT"))
        #expect(result.stdout.contains("board, every agency (/v1/board):"))
    }

    @Test("idverify dead-letters list filters and never prints payloads; replay restores the original message")
    func deadLetters() async throws {
        let topics = TopicNames()
        let cluster = try OpsTestEnvironment.makeCluster(topics: topics, partitions: 2)
        func deadLetter(_ reason: String, source: String, offset: Int64, value: String) -> KafkaOutgoingMessage {
            KafkaOutgoingMessage(
                topic: topics.deadLetter, key: Array("desk-1".utf8), value: Array(value.utf8),
                headers: [
                    KafkaHeader(name: "traceparent", string: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
                    KafkaHeader(name: "dlq_reason", string: reason),
                    KafkaHeader(name: "dlq_source_topic", string: source),
                    KafkaHeader(name: "dlq_source_partition", string: "1"),
                    KafkaHeader(name: "dlq_source_offset", string: String(offset)),
                ])
        }
        try await OpsTestEnvironment.produce(
            [
                deadLetter("not_json", source: topics.counter, offset: 4, value: "SECRET-PAYLOAD-1"),
                deadLetter("too_large", source: topics.submission, offset: 9, value: "SECRET-PAYLOAD-2"),
            ], to: cluster)
        try await Task.sleep(for: .milliseconds(1500))
        let cutoff = Timestamp(Date()).text
        try await Task.sleep(for: .milliseconds(500))
        try await OpsTestEnvironment.produce(
            [deadLetter("not_json", source: topics.registration, offset: 7, value: "SECRET-PAYLOAD-3")], to: cluster)
        let env = ["KAFKA_BROKERS": cluster.bootstrapServers]

        let all = try await OpsTestEnvironment.runIDVerify(["dead-letters", "list"], environment: env)
        #expect(all.status == 0, "\(all.stderr)")
        #expect(!all.stdout.contains("SECRET-PAYLOAD"))
        let lines = all.stdout.split(separator: "\n").filter { $0.hasPrefix("partition=") }
        #expect(lines.count == 3)
        #expect(lines.contains { $0.contains("reason=not_json source=\(topics.counter)/1/4 time=") })
        #expect(lines.contains { $0.contains("reason=too_large source=\(topics.submission)/1/9") })
        #expect(all.stdout.contains("3 dead letters"))

        let byReason = try await OpsTestEnvironment.runIDVerify(["dead-letters", "list", "--reason", "not_json"], environment: env)
        #expect(byReason.stdout.split(separator: "\n").filter { $0.hasPrefix("partition=") }.count == 2)
        let since = try await OpsTestEnvironment.runIDVerify(["dead-letters", "list", "--since", cutoff], environment: env)
        #expect(since.stdout.split(separator: "\n").filter { $0.hasPrefix("partition=") }.count == 1, "\(since.stdout)")
        #expect(since.stdout.contains(topics.registration))
        let until = try await OpsTestEnvironment.runIDVerify(["dead-letters", "list", "--until", cutoff], environment: env)
        #expect(until.stdout.split(separator: "\n").filter { $0.hasPrefix("partition=") }.count == 2)
        let badTime = try await OpsTestEnvironment.runIDVerify(["dead-letters", "list", "--since", "yesterday"], environment: env)
        #expect(badTime.status != 0)
        #expect(badTime.stderr.contains("--since must be"))

        // A dry run publishes nothing.
        let dryRun = try await OpsTestEnvironment.runIDVerify(
            ["dead-letters", "replay", "--reason", "not_json", "--dry-run"], environment: env)
        #expect(dryRun.status == 0, "\(dryRun.stderr)")
        #expect(dryRun.stdout.contains("dry run: 2 would be replayed, 0 skipped"))
        #expect(try await Self.endOffsets(cluster, topics.counter) == 0)

        let replay = try await OpsTestEnvironment.runIDVerify(
            ["dead-letters", "replay", "--reason", "not_json", "--until", cutoff], environment: env)
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stdout.contains("1 replayed, 0 failed, 0 skipped"))
        #expect(!replay.stdout.contains("SECRET-PAYLOAD"))
        let restored = try await Self.readAll(cluster, topics.counter)
        #expect(restored.count == 1)
        #expect(restored.first?.key == Array("desk-1".utf8))
        #expect(restored.first?.value == Array("SECRET-PAYLOAD-1".utf8))
        #expect(restored.first?.headers == [
            KafkaHeader(name: "traceparent", string: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        ])
        #expect(try await Self.endOffsets(cluster, topics.registration) == 0, "--until kept the later one back")
    }

    @Test("idverify verdict tells what happened to one request")
    func verdict() async throws {
        try await OpsTestEnvironment.withDatabase { postgres, url in
            try await postgres.query(
                """
                INSERT INTO verification_results (request_id, verdict_id, channel, agency_code, outcome, attempts,
                    id_number_masked, subject_ref, dossier_code, dossier_state, source_topic, source_partition, source_offset,
                    consumed_at, decided_at, message_key, verdict, verdict_headers)
                VALUES ('4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a10', '0d1f7a9e-6f7b-5c43-9d2e-1a2b3c4d5e6f', 'submission', 'H23.45.10',
                    'verified', 2, '030******345', 'c3ViamVjdA', 'H23.45.10-241129-0007', 'accepted', 'tthc.identity.submission', 2, 41,
                    '2026-11-29T02:15:00Z', '2026-11-29T02:15:01.250Z', NULL, '\\x7b7d', '[]')
                """)
            try await postgres.query(
                """
                INSERT INTO parked_checks (request_id, lane_key, channel, agency_code, sealed_request, source_topic,
                    source_partition, source_offset, consumed_at, deadline_at, next_attempt_at, attempts)
                VALUES ('parked-1', 'k', 'submission', 'H23.45.10', '\\x00', 'tthc.identity.submission', 0, 7,
                    '2026-11-29T02:00:00Z', '2026-11-30T02:00:00Z', '2026-11-29T03:00:00Z', 4)
                """)
            let env = ["DATABASE_URL": url]
            let decided = try await OpsTestEnvironment.runIDVerify(["verdict", "4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a10"], environment: env)
            #expect(decided.status == 0, "\(decided.stderr)")
            #expect(decided.stdout.contains("request 4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a10: verified"))
            #expect(decided.stdout.contains("attempts:    2 registry calls"))
            #expect(decided.stdout.contains("consumed at: 2026-11-29T09:15:00.000+07:00"))
            #expect(decided.stdout.contains("decided at:  2026-11-29T09:15:01.250+07:00 (1.250 s after consumption)"))
            #expect(decided.stdout.contains("dossier:     H23.45.10-241129-0007, state accepted"))
            #expect(decided.stdout.contains("published:   yes"))
            #expect(!decided.stdout.contains("030******345"), "no identity data, not even masked")

            let parked = try await OpsTestEnvironment.runIDVerify(["verdict", "parked-1"], environment: env)
            #expect(parked.stdout.contains("request parked-1: parked, next attempt at 2026-11-29T10:00:00.000+07:00"))
            #expect(parked.stdout.contains("attempts:    4 registry calls so far"))

            let unseen = try await OpsTestEnvironment.runIDVerify(["verdict", "never-sent"], environment: env)
            #expect(unseen.status == 0)
            #expect(unseen.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "request never-sent: not seen")
        }
    }

    static func endOffsets(_ cluster: EmbeddedKafkaCluster, _ topic: String) async throws -> Int64 {
        let consumer = try KafkaConsumer(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers], topics: []), logger: OpsTestEnvironment.logger)
        var total: Int64 = 0
        for partition in 0..<Int32(try await consumer.partitionCounts([topic])[topic] ?? 0) {
            total += try await consumer.watermarks(TopicPartition(topic: topic, partition: partition)).high
        }
        await consumer.close()
        return total
    }

    static func readAll(_ cluster: EmbeddedKafkaCluster, _ topic: String) async throws -> [KafkaMessage] {
        let expected = try await endOffsets(cluster, topic)
        let consumer = try KafkaConsumer(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers], topics: []), logger: OpsTestEnvironment.logger)
        let partitions = try await consumer.partitionCounts([topic])[topic] ?? 0
        try consumer.assign((0..<Int32(partitions)).map { TopicPartitionOffset(topic: topic, partition: $0, offset: KafkaOffset.beginning) })
        var messages: [KafkaMessage] = []
        var iterator = consumer.events.makeAsyncIterator()
        while messages.count < expected {
            for case .message(let message) in await iterator.nextBatch() { messages.append(message) }
        }
        await consumer.close()
        return messages
    }
}
