import ArgumentParser
import CommandSupport
import Foundation
import Kafka
import Ops

/// `idverify lag`: the worker group's lag per request-topic partition, as the cluster sees it now.
struct LagCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lag",
        abstract: "Show the worker group's lag per topic and partition: committed, end, lag in messages and seconds."
    )

    @OptionGroup var kafka: KafkaOptions

    @Option(parsing: .upToNextOption, help: "Topics to measure (default: the three request topics).")
    var topic: [String] = []

    func run() async throws {
        let logger = operatorLogger("idverify.lag")
        let connection = try self.kafka.connection()
        var configuration = KafkaConsumerGroupLag.Configuration(
            bootstrapServers: connection.bootstrapServers, groupID: self.kafka.groupID,
            topics: self.topic.isEmpty ? self.kafka.topics.requestTopics : self.topic,
            clientProperties: connection.properties(for: .consumer))
        configuration.security = connection.security
        let source = try KafkaConsumerGroupLag(configuration: configuration, logger: logger)
        let figures: [PartitionLag]
        do {
            figures = try await source.sampleLag()
        } catch {
            await source.close()
            throw error
        }
        await source.close()
        print("group \(self.kafka.groupID)")
        print(Self.table(figures), terminator: "")
    }

    /// One row per partition; `-` for a partition without a committed offset, `?` for an age that
    /// could not be read in time.
    static func table(_ figures: [PartitionLag]) -> String {
        var rows = [["TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "LAG SECONDS"]]
        for figure in figures {
            rows.append([
                figure.topic, String(figure.partition), figure.committed.map(String.init) ?? "-", String(figure.end),
                String(figure.lagMessages), figure.lagSeconds.map { String(format: "%.1f", $0) } ?? "?",
            ])
        }
        let total = figures.reduce(Int64(0)) { $0 + $1.lagMessages }
        let oldest = figures.compactMap(\.lagSeconds).max() ?? 0
        rows.append(["TOTAL", "", "", "", String(total), String(format: "%.1f", oldest)])
        return formatTable(rows, rightAligned: [1, 2, 3, 4, 5])
    }
}

/// Columns padded to their widest cell, two spaces apart.
func formatTable(_ rows: [[String]], rightAligned: Set<Int> = []) -> String {
    guard let columns = rows.map(\.count).max() else { return "" }
    var widths = [Int](repeating: 0, count: columns)
    for row in rows {
        for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
    }
    var text = ""
    for row in rows {
        var cells: [String] = []
        for (index, cell) in row.enumerated() {
            let padding = String(repeating: " ", count: widths[index] - cell.count)
            cells.append(rightAligned.contains(index) ? padding + cell : cell + padding)
        }
        text += cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces.subtracting(.newlines)) + "\n"
    }
    return text
}
