import ArgumentParser
import Contract
import Foundation
import Kafka
import Logging
import ServiceLifecycle

/// `idverify broker`: the embedded Kafka broker (librdkafka's mock cluster) for
/// other processes on this machine.
struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Run an embedded Kafka broker on loopback with the contract's topics, until SIGINT/SIGTERM."
    )

    @Option(help: "Number of brokers in the embedded cluster.")
    var brokers: Int = 1

    @Option(help: "Partitions of each contract topic.")
    var partitions: Int = 12

    @Option(help: "Topic name prefix (TOPIC_PREFIX).")
    var topicPrefix: String = ProcessInfo.processInfo.environment["TOPIC_PREFIX"] ?? "tthc."

    @Option(help: "Write the bootstrap string to this file (removed again on exit).")
    var bootstrapFile: String?

    func validate() throws {
        guard (1...16).contains(brokers) else { throw ValidationError("--brokers must be 1...16") }
        guard (1...1000).contains(partitions) else { throw ValidationError("--partitions must be 1...1000") }
    }

    func run() async throws {
        let logger = Logger(label: "idverify.broker")
        let cluster = try EmbeddedKafkaCluster(brokers: brokers, logger: logger)
        for topic in TopicNames(prefix: topicPrefix).all {
            try cluster.createTopic(topic, partitions: partitions)
        }
        if let bootstrapFile {
            try (cluster.bootstrapServers + "\n").write(toFile: bootstrapFile, atomically: true, encoding: .utf8)
        }
        // Unbuffered, so a parent process reading a pipe sees it at once.
        FileHandle.standardOutput.write(Data((cluster.bootstrapServers + "\n").utf8))
        // The mock answers an empty fetch only after the whole fetch wait (see EmbeddedKafkaCluster).
        let advice = EmbeddedKafkaCluster.consumerProperties.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        FileHandle.standardError.write(Data("consumers of this broker: set \(advice.joined(separator: " ")) for prompt delivery\n".utf8))
        let group = ServiceGroup(
            services: [WaitForShutdown()], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
        if let bootstrapFile { try? FileManager.default.removeItem(atPath: bootstrapFile) }
        withExtendedLifetime(cluster) {}
    }
}

/// Holds a process open until a shutdown signal.
struct WaitForShutdown: Service {
    func run() async throws {
        try? await gracefulShutdown()
    }
}
