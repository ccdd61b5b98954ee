import ArgumentParser
import Foundation
import Logging
import RegistrySimulator
import ServiceLifecycle

/// `idverify registry-sim`: the population registry simulator (contract section 5) on a synthetic
/// population, until SIGINT or SIGTERM. With `--export-samples N --out FILE` it writes sample
/// queries as JSON lines instead and exits.
struct RegistrySimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry-sim",
        abstract: "Run the population registry simulator (or export sample queries with --export-samples)."
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one (see --port-file).")
    var port = 8089

    @Option(help: "Bearer token callers must send.")
    var token = "dev-registry-token"

    @Option(help: "Seed of the synthetic population.")
    var seed: UInt64 = 1

    @Option(help: "People in the synthetic population.")
    var population = 1_000_000

    @Option(help: "Fixed latency added to every answer, in milliseconds.")
    var latencyMs: Double = 0

    @Option(help: "Random extra latency, uniformly up to this many milliseconds.")
    var latencySpreadMs: Double = 0

    @Option(help: "Share of calls answered 500 or 503 (0...1).")
    var errorRate: Double = 0

    @Option(help: "Share of calls never answered (0...1).")
    var hangRate: Double = 0

    @Option(help: "How long a hanging call hangs, in seconds.")
    var hangSeconds: Double = 60

    @Option(help: "Calls per second admitted in any sliding one-second window (429 beyond); 0 = no quota.")
    var quota = 0

    @Option(help: "Write the bound port to this file once listening (for other processes).")
    var portFile: String?

    @Option(help: "Write this many sample queries (matching and mismatching) as JSON lines to --out, then exit.")
    var exportSamples: Int?

    @Option(help: "Where --export-samples writes.")
    var out: String?

    @Option(help: "Serve HTTPS with this certificate chain (PEM); needs --tls-key.")
    var tlsCert: String?

    @Option(help: "The private key (PEM) of --tls-cert.")
    var tlsKey: String?

    @Option(help: "Require client certificates signed by this CA (PEM): mutual TLS. Needs --tls-cert.")
    var tlsClientCa: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func run() async throws {
        var logger = Logger(label: "idverify.registry-sim")
        logger.logLevel = Logger.Level(rawValue: self.logLevel) ?? .info

        var configuration = RegistrySimulator.Configuration(
            host: self.host,
            port: self.port,
            token: self.token,
            seed: self.seed,
            population: self.population,
            behaviour: SimulatorBehaviour(
                latencyMs: self.latencyMs,
                latencySpreadMs: self.latencySpreadMs,
                errorRate: self.errorRate,
                hangRate: self.hangRate,
                hangSeconds: self.hangSeconds,
                quota: self.quota
            )
        )
        switch (self.tlsCert, self.tlsKey) {
        case (let cert?, let key?):
            configuration.tls = .init(certificateFile: cert, keyFile: key, clientCAFile: self.tlsClientCa)
        case (nil, nil):
            if self.tlsClientCa != nil { throw ValidationError("--tls-client-ca needs --tls-cert and --tls-key") }
        default:
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        if let problem = configuration.problem { throw ValidationError(problem) }

        if let count = self.exportSamples {
            guard let out = self.out else { throw ValidationError("--export-samples needs --out FILE") }
            guard count >= 0 else { throw ValidationError("--export-samples must not be negative") }
            let population = SyntheticPopulation(seed: self.seed, size: self.population)
            try population.writeSamples(count: count, to: out)
            print("wrote \(count) sample queries to \(out)")
            return
        }

        let simulator = try RegistrySimulator(configuration: configuration, logger: logger)
        let host = self.host
        let scheme = configuration.tls == nil ? "http" : "https"
        let portFile = self.portFile
        let population = self.population
        let serviceLogger = logger
        let service = RegistrySimulatorService(simulator: simulator) { port in
            if let portFile {
                do {
                    try Data("\(port)\n".utf8).write(to: URL(fileURLWithPath: portFile), options: .atomic)
                } catch {
                    serviceLogger.error("Cannot write the port file", metadata: ["registry_sim.error": "\(error)"])
                }
            }
            serviceLogger.info(
                "Registry simulator listening",
                metadata: ["registry_sim.url": "\(scheme)://\(host):\(port)", "registry_sim.population": "\(population)"])
        }
        let group = ServiceGroup(
            configuration: .init(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
