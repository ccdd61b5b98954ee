import ArgumentParser
import CommandSupport
import Contract
import Foundation
import Kafka
import Ops

/// `idverify dead-letters ...`: look at the dead-letter topic and put messages back after a fix.
struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters",
        abstract: "List dead letters, or replay them to their source topics after a fix.",
        subcommands: [DeadLettersListCommand.self, DeadLettersReplayCommand.self]
    )
}

/// The selection shared by `list` and `replay`.
struct DeadLetterSelection: ParsableArguments {
    @Option(help: "Only this dlq_reason (not_json, too_large, missing_request_id, invalid_event, ...).")
    var reason: String?

    @Option(help: "Only those dead-lettered at or after this time: RFC 3339, YYYY-MM-DD (Viet Nam midnight), or an age such as 30m, 6h, 7d.")
    var since: String?

    @Option(help: "Only those dead-lettered before this time (same forms as --since).")
    var until: String?

    @Option(help: "Only those that came from this topic.")
    var sourceTopic: String?

    func validate() throws {
        _ = try self.filter(now: Date())
    }

    func filter(now: Date) throws -> DeadLetterFilter {
        DeadLetterFilter(
            reason: self.reason,
            since: try self.since.map { try Self.instant($0, flag: "--since", now: now) },
            until: try self.until.map { try Self.instant($0, flag: "--until", now: now) },
            sourceTopic: self.sourceTopic)
    }

    static func instant(_ text: String, flag: String, now: Date) throws -> Date {
        if let timestamp = Timestamp(rfc3339: text) { return timestamp.date }
        if let midnight = Timestamp(rfc3339: text + "T00:00:00+07:00"), text.count == 10 { return midnight.date }
        if let unit = text.last, let amount = Double(text.dropLast()), amount >= 0 {
            let seconds: Double? =
                switch unit {
                case "s": 1
                case "m": 60
                case "h": 3600
                case "d": 86_400
                default: nil
                }
            if let seconds { return now.addingTimeInterval(-amount * seconds) }
        }
        throw ValidationError("\(flag) must be an RFC 3339 time, YYYY-MM-DD, or an age such as 30m, 6h, 7d")
    }
}

/// Opens the dead-letter topic for one command.
func withDeadLetterArchive<T>(
    _ kafka: KafkaOptions, _ body: (DeadLetterArchive) async throws -> T
) async throws -> T {
    let connection = try kafka.connection()
    var configuration = DeadLetterArchive.Configuration(
        bootstrapServers: connection.bootstrapServers, topic: kafka.topics.deadLetter,
        clientProperties: connection.properties(for: .consumer))
    configuration.security = connection.security
    let archive = try DeadLetterArchive(configuration: configuration, logger: operatorLogger("idverify.dead-letters"))
    do {
        let result = try await body(archive)
        await archive.close()
        return result
    } catch {
        await archive.close()
        throw error
    }
}

/// One line per dead letter, never its payload.
func deadLetterLine(_ record: DeadLetterRecord) -> String {
    let time = record.timestamp.map(vietnamTime) ?? "-"
    guard let metadata = record.metadata else {
        return "partition=\(record.partition) offset=\(record.offset) reason=- source=- time=\(time)"
    }
    return "partition=\(record.partition) offset=\(record.offset) reason=\(metadata.reason) "
        + "source=\(metadata.sourceTopic)/\(metadata.sourcePartition)/\(metadata.sourceOffset) time=\(time)"
}

/// `idverify dead-letters list`.
struct DeadLettersListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Print one line per dead letter: partition, offset, reason, source topic/partition/offset, time (never the payload)."
    )

    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var selection: DeadLetterSelection

    func run() async throws {
        let filter = try self.selection.filter(now: Date())
        let count = try await withDeadLetterArchive(self.kafka) { archive in
            var count = 0
            try await archive.scan(filter) { record in
                print(deadLetterLine(record))
                count += 1
            }
            return count
        }
        print("\(count) dead letter\(count == 1 ? "" : "s")")
    }
}

/// `idverify dead-letters replay`.
struct DeadLettersReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-publish the selected dead letters to their source topics: original key, value and headers, without the dlq_* headers."
    )

    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var selection: DeadLetterSelection

    @Flag(help: "Only print what would be replayed.")
    var dryRun = false

    func run() async throws {
        let filter = try self.selection.filter(now: Date())
        let selected = try await withDeadLetterArchive(self.kafka) { try await $0.list(filter) }
        var replayable: [(DeadLetterRecord, KafkaOutgoingMessage)] = []
        var skipped = 0
        for record in selected {
            if let message = record.replayMessage {
                replayable.append((record, message))
            } else {
                skipped += 1
                print("skip \(deadLetterLine(record)) (no dlq_source_* headers)")
            }
        }
        if self.dryRun {
            for (record, _) in replayable { print("would replay \(deadLetterLine(record))") }
            print("dry run: \(replayable.count) would be replayed, \(skipped) skipped")
            return
        }
        let producer = try KafkaProducer(
            configuration: try self.kafka.connection().producerConfiguration(), logger: operatorLogger("idverify.replay"))
        var failed = 0
        var start = 0
        while start < replayable.count {
            let chunk = Array(replayable[start..<min(start + 500, replayable.count)])
            let reports = await producer.send(chunk.map(\.1))
            for ((record, _), report) in zip(chunk, reports) {
                if let error = report.error {
                    failed += 1
                    print("failed \(deadLetterLine(record)): \(error)")
                } else {
                    print("replayed \(deadLetterLine(record)) -> \(report.topic)/\(report.partition)/\(report.offset)")
                }
            }
            start += chunk.count
        }
        await producer.close()
        print("\(replayable.count - failed) replayed, \(failed) failed, \(skipped) skipped")
        if failed > 0 { throw ExitCode(1) }
    }
}
