import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import Registry
import RegistrySimulator
import Store

/// `idverify-bench registry-load`: drives a registry with verify calls through the full
/// resilient client, for a fixed time, sharing a rate limit with other processes through
/// PostgreSQL (`--database-url`) or limiting locally; prints one JSON line of counts.
///
/// The fleet-limit test starts several of these against one simulator and checks the simulator's
/// own sliding-window count.
struct RegistryLoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry-load",
        abstract: "Load a registry through the resilient client under a local or fleet-wide rate limit (for tests)."
    )

    @Option(help: "The registry's base URL.")
    var url: String

    @Option(help: "Bearer token.")
    var token = "dev-registry-token"

    @Option(help: "Share the limit through this PostgreSQL database (postgres://...); without it the limit is local.")
    var databaseURL: String?

    @Option(help: "Rate limit in calls per second (for the whole fleet with --database-url).")
    var rate: Int

    @Option(help: "Safety margin of the limiter, in milliseconds.")
    var marginMs: Int = 20

    @Option(help: "Name of the fleet quota row.")
    var quotaName = "registry"

    @Option(help: "How long to generate load, in seconds.")
    var seconds: Double = 5

    @Option(help: "Calls in flight at most (and concurrent callers is twice this).")
    var concurrency = 16

    @Option(help: "Agency codes to spread the calls over (repeatable).")
    var agency: [String] = []

    @Option(help: "Seed of the simulator's population, for sample queries.")
    var seed: UInt64 = 1

    @Option(help: "Size of the simulator's population, for sample queries.")
    var population = 1_000_000

    func validate() throws {
        guard self.rate > 0, self.seconds > 0, self.concurrency > 0 else {
            throw ValidationError("--rate, --seconds and --concurrency must be positive")
        }
    }

    func run() async throws {
        var logger = Logger(label: "idverify.registry-load")
        logger.logLevel = .warning
        let rateLimit = RegistryRateLimit(
            callsPerSecond: self.rate, safetyMargin: .milliseconds(self.marginMs),
            lateTolerance: RegistryRateLimit.defaultLateTolerance(margin: .milliseconds(self.marginMs)))

        if let databaseURL = self.databaseURL {
            let postgres = PostgresClient(
                configuration: try RegistryLoadDatabase.configuration(url: databaseURL), backgroundLogger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await postgres.run() }
                try await MigrationRunner(client: postgres, logger: logger).run()
                let limiter = try FleetRateLimiter(
                    client: postgres,
                    configuration: .init(rateLimit: rateLimit, quotaName: self.quotaName),
                    logger: logger)
                var report = try await self.generateLoad(limiter: limiter, logger: logger)
                report.limiter = limiter.statistics
                print(report.jsonLine)
                group.cancelAll()
            }
        } else {
            let report = try await self.generateLoad(limiter: try LocalRateLimiter(rateLimit: rateLimit), logger: logger)
            print(report.jsonLine)
        }
    }

    private func generateLoad(limiter: any RegistryRateLimiter, logger: Logger) async throws -> RegistryLoadReport {
        let samples = SyntheticPopulation(seed: self.seed, size: self.population).samples(count: 4_000)
        let queries = samples.map { RegistryQuery(idNumber: $0.idNumber, fullName: $0.fullName, dateOfBirth: $0.dateOfBirth) }
        let transport = try HTTPRegistryClient(
            configuration: .init(baseURL: self.url, token: self.token, concurrency: self.concurrency), backgroundLogger: logger)
        let client = try ResilientRegistryClient(
            transport: transport, limiter: limiter,
            configuration: .init(callTimeout: .seconds(5), scheduler: .init(maxConcurrentCalls: self.concurrency)),
            logger: logger)
        let agencies = self.agency.isEmpty ? ["load"] : self.agency
        let end = ContinuousClock.now + .seconds(self.seconds)

        let report = try await withThrowingTaskGroup(of: RegistryLoadReport.self) { group in
            for worker in 0..<(self.concurrency * 2) {
                group.addTask {
                    var report = RegistryLoadReport()
                    var next = worker * 131
                    while ContinuousClock.now < end {
                        let query = queries[next % queries.count]
                        next += 1
                        do {
                            // Calls start until `end`; the last ones may finish a little after it.
                            let reply = try await client.verify(
                                query, context: .init(agency: agencies[worker % agencies.count], deadline: end + .seconds(2)))
                            report.answered += 1
                            report.attempts += reply.attempts
                            if reply.value.match { report.matches += 1 }
                        } catch let error as RegistryError {
                            report.attempts += error.attempts
                            if error.code != .deadlineExceeded || error.attempts > 0 {
                                report.errors["\(error.code)", default: 0] += 1
                            }
                        }
                    }
                    return report
                }
            }
            var total = RegistryLoadReport()
            for try await part in group { total.add(part) }
            return total
        }
        client.shutdown()
        try await transport.shutdown()
        return report
    }
}

struct RegistryLoadReport: Sendable {
    var answered = 0
    var matches = 0
    var attempts = 0
    var errors: [String: Int] = [:]
    var limiter: FleetRateLimiter.Statistics?

    mutating func add(_ other: RegistryLoadReport) {
        self.answered += other.answered
        self.matches += other.matches
        self.attempts += other.attempts
        self.errors.merge(other.errors, uniquingKeysWith: +)
    }

    var jsonLine: String {
        let errors = self.errors.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
        var line = #"{"answered":\#(self.answered),"matches":\#(self.matches),"attempts":\#(self.attempts),"errors":{\#(errors)}"#
        if let limiter {
            line += #","limiter":{"leases":\#(limiter.leases),"slotsLeased":\#(limiter.slotsLeased),"#
            func milliseconds(_ duration: Duration) -> String {
                String(Double(duration.components.seconds) * 1e3 + Double(duration.components.attoseconds) / 1e15)
            }
            let roundTrip = limiter.bestRoundTrip.map(milliseconds) ?? "null"
            line += #""slotsUsed":\#(limiter.slotsUsed),"slotsSkipped":\#(limiter.slotsSkipped),"bestRoundTripMs":\#(roundTrip),"#
            line += #""maxWakeLatenessMs":\#(milliseconds(limiter.maxWakeLateness))}"#
        }
        return line + "}"
    }
}

/// `DATABASE_URL` (read by the service's one parser, ``DatabaseURL``) as a
/// `PostgresClient` configuration.
enum RegistryLoadDatabase {
    static func configuration(url: String) throws -> PostgresClient.Configuration {
        do {
            return try DatabaseURL.parse(url, defaultPoolSize: DatabaseURL.operatorPoolSize)
        } catch {
            throw ValidationError(error.description)
        }
    }
}
