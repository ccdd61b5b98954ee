import ArgumentParser
import CommandSupport
import Contract
import Foundation
import Kafka
import Logging
import Ops
import Prometheus
import RegistrySimulator
import ServiceLifecycle
import Worker

/// `idverify dev`: everything on this machine — a local PostgreSQL, the
/// embedded broker, the registry simulator, the worker, operations, sample
/// traffic on all three channels and a live summary of verdicts. Ctrl-C stops it.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev", abstract: "Run the whole service locally with sample traffic (the README's first command).")

    @Option(help: "Sample requests per second (0 = none).") var rate: Double = 20
    @Option(help: "Partitions of each topic.") var partitions: Int = 6
    @Option(help: "People in the simulated population.") var population: Int = 1_000_000
    @Option(help: "Registry calls per second for the fleet.") var registryRateLimit: Int = 200
    @Option(help: "Operations port.") var opsPort: Int = 8080
    @Option(help: "Log level.") var logLevel: String = "notice"
    @Option(help: "Write the broker's bootstrap string here (for kcat and other clients).") var bootstrapFile: String = "/tmp/tthc-dev-bootstrap"
    @Option(help: "Where the throwaway PostgreSQL lives when DATABASE_URL is not set (stopped and deleted on exit).")
    var postgresDirectory: String = "/tmp/tthc-pg-dev-\(getuid())"

    func run() async throws {
        let logger = try LogSetup.bootstrap(level: logLevel, format: nil)
        let metrics = MetricsSetup.bootstrap()
        if let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty {
            try await run(databaseURL: url, logger: logger, metrics: metrics)
            return
        }
        Console.line("starting a throwaway PostgreSQL in \(postgresDirectory) …")
        let postgres = try await LocalPostgres.start(directory: postgresDirectory)
        do {
            try await run(databaseURL: postgres.url, logger: logger, metrics: metrics)
        } catch {
            await postgres.stop()
            throw error
        }
        await postgres.stop()
        Console.line("PostgreSQL stopped.")
    }

    private func run(databaseURL: String, logger: Logger, metrics: PrometheusCollectorRegistry) async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: logger)
        let topics = Topics()
        for topic in topics.requestTopics + [topics.verdicts, topics.deadLetter, topics.dossierEvents] {
            try cluster.createTopic(topic, partitions: partitions)
        }
        try (cluster.bootstrapServers + "\n").write(toFile: bootstrapFile, atomically: true, encoding: .utf8)
        let simulator = try RegistrySimulator(
            configuration: .init(port: 0, population: population), logger: logger)
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)

        // The simulator in a group of its own, stopped gracefully once the rest has: cancelled, its
        // server logged an error at every Ctrl-C.
        let simulatorGroup = ServiceGroup(
            configuration: .init(
                services: [RegistrySimulatorService(simulator: simulator) { portContinuation.yield($0) }], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await simulatorGroup.run() }
            var portIterator = ports.makeAsyncIterator()
            guard let port = await portIterator.next() else { throw SetupError("the registry simulator did not start") }

            var settings = ServiceSettings(
                kafkaBrokers: [cluster.bootstrapServers], databaseURL: databaseURL,
                registryURL: "http://127.0.0.1:\(port)", registryToken: simulator.configuration.token,
                subjectRefKey: Array("dev-subject-ref-key-not-secret".utf8))
            settings.registryRateLimit = registryRateLimit
            settings.opsPort = opsPort
            settings.kafkaProperties = EmbeddedKafkaCluster.consumerOnlyProperties
            let (_, workerServices) = try OpsWiring.services(settings: settings, metrics: metrics, logger: logger)
            let trafficProducer = try KafkaProducer(configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: logger)
            var summaryConfiguration = KafkaConsumerConfiguration(
                bootstrapServers: [cluster.bootstrapServers], groupID: "idverify-dev-summary",
                topics: [topics.verdicts, topics.deadLetter])
            summaryConfiguration.sessionTimeoutMilliseconds = 6_000
            summaryConfiguration.autoOffsetReset = "latest"
            let summary = try KafkaConsumer(configuration: summaryConfiguration, logger: logger)

            Console.line("""
                idverify dev
                  Kafka (embedded)    \(cluster.bootstrapServers)   (also in \(bootstrapFile); try: kcat -b $(cat \(bootstrapFile)) -L)
                  PostgreSQL          \(databaseURL)
                  registry simulator  http://127.0.0.1:\(port)   (token \(simulator.configuration.token))
                  operations          http://127.0.0.1:\(opsPort)/metrics  /healthz  /readyz  /v1/stats
                  sample traffic      \(rate) requests/s on \(topics.requestTopics.joined(separator: ", "))
                Ctrl-C stops everything.
                """)
            var services = workerServices
            services.append(.init(service: VerdictSummary(consumer: summary, topics: topics)))
            if rate > 0 {
                services.append(.init(service: SampleTraffic(
                    producer: trafficProducer, topics: topics, population: simulator.population, ratePerSecond: rate, logger: logger)))
            }
            let serviceGroup = ServiceGroup(
                configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await serviceGroup.run()
            await trafficProducer.close()
            await simulatorGroup.triggerGracefulShutdown()
            try await group.waitForAll()
        }
        try? FileManager.default.removeItem(atPath: bootstrapFile)
        withExtendedLifetime(cluster) {}
        Console.line("stopped.")
    }
}
