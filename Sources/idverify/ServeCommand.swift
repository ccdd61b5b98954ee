import ArgumentParser
import CommandSupport
import Foundation
import Logging
import PostgresNIO
import Store
import ServiceLifecycle
import Worker

/// `idverify serve`: the production worker, configured by environment variables.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the worker (KAFKA_BROKERS, DATABASE_URL, REGISTRY_URL, REGISTRY_TOKEN, SUBJECT_REF_KEY, ...).")

    @Option(help: "Log level (LOG_LEVEL).") var logLevel: String?
    @Option(help: "Log format: text or json (LOG_FORMAT).") var logFormat: String?

    func run() async throws {
        let logger = try LogSetup.bootstrap(level: logLevel, format: logFormat)
        let settings: ServiceSettings
        do {
            settings = try ServiceSettings.fromEnvironment(ProcessInfo.processInfo.environment)
        } catch {
            throw ValidationError(error.description)
        }
        let metrics = MetricsSetup.bootstrap()
        let (_, services) = try OpsWiring.services(settings: settings, metrics: metrics, logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// `idverify migrate`: applies the database migrations and exits.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Apply database migrations (DATABASE_URL).")

    func run() async throws {
        let logger = try LogSetup.bootstrap(level: nil, format: nil)
        try await withOperatorPostgres(flag: nil, logger: logger) { client in
            let applied = try await MigrationRunner(client: client, logger: logger).run()
            print(applied.isEmpty ? "database schema is up to date" : "applied migrations \(applied)")
        }
    }
}
