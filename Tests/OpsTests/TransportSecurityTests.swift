import Foundation
import Kafka
import Logging
import Ops
import PostgresNIO
import Prometheus
import Registry
import RegistrySimulator
import Store
import Synchronization
import Testing
import Worker

/// Transport security with real TLS on loopback: a PostgreSQL cluster started with `ssl=on` and a
/// throwaway CA made with openssl (`scripts/tls-test-certs`).
@Suite("Transport security (real TLS on loopback)", .serialized)
struct TransportSecurityTests {
    @Test("PostgreSQL over TLS: verify-full connects with the right CA; a wrong CA fails naming sslrootcert")
    func postgresTLS() async throws {
        let certs = try await TLSTestMaterial.make()
        defer { try? FileManager.default.removeItem(atPath: certs.directory) }
        let cluster = try await TLSPostgres.start(sslDirectory: certs.directory)
        do {
            try await self.postgresTLS(cluster: cluster, certs: certs)
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    func postgresTLS(cluster: TLSPostgres, certs: TLSTestMaterial) async throws {
        let base = "postgres://postgres@127.0.0.1:\(cluster.port)/postgres"

        // verify-full: chain to the CA and the name 127.0.0.1 (an IP SAN) or localhost (a DNS SAN).
        for host in ["127.0.0.1", "localhost"] {
            let url = try DatabaseURL(
                parsing: "postgres://postgres@\(host):\(cluster.port)/postgres?sslmode=verify-full&sslrootcert=\(certs.ca)")
            #expect(try await TLSPostgres.sessionUsesTLS(url) == true, "verify-full via \(host)")
        }
        // require without sslrootcert: encrypted, certificate unchecked (libpq's meaning).
        #expect(try await TLSPostgres.sessionUsesTLS(DatabaseURL(parsing: "\(base)?sslmode=require")) == true)
        // verify-ca with the right CA.
        #expect(try await TLSPostgres.sessionUsesTLS(DatabaseURL(parsing: "\(base)?sslmode=verify-ca&sslrootcert=\(certs.ca)")) == true)
        // disable: plaintext to the same server.
        #expect(try await TLSPostgres.sessionUsesTLS(DatabaseURL(parsing: "\(base)?sslmode=disable")) == false)

        // A wrong CA: verify-full, verify-ca and require-with-sslrootcert all refuse, naming the setting.
        for mode in ["verify-full", "verify-ca", "require"] {
            let url = try DatabaseURL(parsing: "\(base)?sslmode=\(mode)&sslrootcert=\(certs.otherCA)")
            let error = await TLSPostgres.connectionError(url)
            #expect(error?.isTLSFailure == true, "\(mode): \(error.map { "\($0)" } ?? "connected")")
            let text = error.map { "\($0)" } ?? ""
            #expect(text.contains("DATABASE_URL") && text.contains("sslrootcert=\(certs.otherCA)") && text.contains("sslmode=\(mode)"), "\(text)")
        }

        // The executable: `serve` (before migrating) and an operator command stop with that message.
        let wrong = "\(base)?sslmode=verify-full&sslrootcert=\(certs.otherCA)"
        let serve = try await OpsTestEnvironment.runIDVerify(
            ["serve"],
            environment: [
                "DATABASE_URL": wrong, "KAFKA_BROKERS": "127.0.0.1:1", "REGISTRY_URL": "http://127.0.0.1:1",
                "REGISTRY_TOKEN": "t", "SUBJECT_REF_KEY": Data("0123456789abcdef0123".utf8).base64EncodedString(),
                "OPS_PORT": "0",
            ])
        #expect(serve.status != 0)
        #expect(serve.stderr.contains("sslrootcert=\(certs.otherCA)") && serve.stderr.contains("DATABASE_URL"), "\(serve.stderr.suffix(600))")
        let stats = try await OpsTestEnvironment.runIDVerify(
            ["stats", "--agency", "H23.45.10", "--month", "2026-01"], environment: ["DATABASE_URL": wrong])
        #expect(stats.status != 0)
        #expect(stats.stderr.contains("sslrootcert=\(certs.otherCA)"), "\(stats.stderr.suffix(600))")
    }

    @Test("the simulator over TLS: the client verifies it with REGISTRY_CA_FILE and refuses it without")
    func registryTLS() async throws {
        let certs = try await TLSTestMaterial.make()
        defer { try? FileManager.default.removeItem(atPath: certs.directory) }
        var configuration = RegistrySimulator.Configuration(port: 0, population: 1_000)
        configuration.tls = .init(certificateFile: certs.serverCert, keyFile: certs.serverKey)
        try await RegistrySimulator.withRunning(configuration: configuration, logger: OpsTestEnvironment.logger) { simulator in
            #expect(simulator.baseURL.hasPrefix("https://"))
            let query = Self.query(simulator)
            for host in ["127.0.0.1", "localhost"] {
                var trusted = HTTPRegistryClient.Configuration(baseURL: "https://\(host):\(simulator.port)", token: simulator.token)
                trusted.caFile = certs.ca
                let result = try await Self.withClient(trusted) { try await $0.verify(query, deadline: .now + .seconds(10)) }
                #expect(result.match, "verified over TLS via \(host)")
            }
            // Without the CA (system trust store) and with the wrong one: no call gets through.
            var wrong = HTTPRegistryClient.Configuration(baseURL: simulator.baseURL, token: simulator.token)
            for ca in [nil, certs.otherCA] {
                wrong.caFile = ca
                await #expect(throws: RegistryError.self, "CA \(ca ?? "system")") {
                    _ = try await Self.withClient(wrong) { try await $0.verify(query, deadline: .now + .seconds(10)) }
                }
            }
            #expect(simulator.simulator.statistics().totalCalls == 2)
        }
    }

    @Test("mutual TLS: a client certificate from REGISTRY_CLIENT_CERT_FILE/KEY_FILE is required and accepted")
    func registryMutualTLS() async throws {
        let certs = try await TLSTestMaterial.make()
        defer { try? FileManager.default.removeItem(atPath: certs.directory) }
        var configuration = RegistrySimulator.Configuration(port: 0, population: 1_000)
        configuration.tls = .init(certificateFile: certs.serverCert, keyFile: certs.serverKey, clientCAFile: certs.ca)
        try await RegistrySimulator.withRunning(configuration: configuration, logger: OpsTestEnvironment.logger) { simulator in
            let query = Self.query(simulator)
            var client = HTTPRegistryClient.Configuration(baseURL: simulator.baseURL, token: simulator.token)
            client.caFile = certs.ca
            await #expect(throws: RegistryError.self, "no client certificate") {
                _ = try await Self.withClient(client) { try await $0.verify(query, deadline: .now + .seconds(10)) }
            }
            client.clientCertificateFile = certs.clientCert
            client.clientKeyFile = certs.clientKey
            let result = try await Self.withClient(client) { try await $0.verify(query, deadline: .now + .seconds(10)) }
            #expect(result.match)
        }
    }

    @Test("REGISTRY_TOKEN_FILE: a changed token file is used without a restart")
    func registryTokenRotation() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tthc-token-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let tokenFile = directory.appendingPathComponent("token").path
        try "old-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: directory) }
        let configuration = RegistrySimulator.Configuration(port: 0, token: "rotated-token", population: 1_000)
        try await RegistrySimulator.withRunning(configuration: configuration, logger: OpsTestEnvironment.logger) { simulator in
            let query = Self.query(simulator)
            var settings = HTTPRegistryClient.Configuration(baseURL: simulator.baseURL, token: "old-token")
            settings.tokenFile = tokenFile
            settings.tokenCheckInterval = .milliseconds(200)
            try await Self.withClient(settings) { client in
                await #expect(throws: RegistryError.self, "the old token is refused") {
                    _ = try await client.verify(query, deadline: .now + .seconds(10))
                }
                // The secret is rotated the way a Kubernetes volume does it: a new file moved in place.
                try "rotated-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
                try await Task.sleep(for: .milliseconds(300))
                let result = try await client.verify(query, deadline: .now + .seconds(10))
                #expect(result.match, "the same client, the new token")
                // A token that could split a header (no header check on the way out) is not taken.
                try "rotated-token\u{1}\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
                try await Task.sleep(for: .milliseconds(300))
                let kept = try await client.verify(query, deadline: .now + .seconds(10))
                #expect(kept.match, "the control character was refused; the previous token is still sent")
            }
        }
    }

    static func query(_ simulator: RunningSimulator) -> RegistryQuery {
        let sample = simulator.simulator.population.samples(count: 1)[0]
        return RegistryQuery(idNumber: sample.idNumber, fullName: sample.fullName, dateOfBirth: sample.dateOfBirth)
    }

    static func withClient<T>(_ configuration: HTTPRegistryClient.Configuration, _ body: (HTTPRegistryClient) async throws -> T) async throws -> T {
        var configuration = configuration
        configuration.connectTimeout = .seconds(5)
        let client = try HTTPRegistryClient(configuration: configuration, backgroundLogger: OpsTestEnvironment.logger)
        do {
            let result = try await body(client)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    @Test("sslmode=require against a server without TLS fails naming DATABASE_URL")
    func requireWithoutServerTLS() async throws {
        let plain = try DatabaseURL(parsing: OpsTestEnvironment.databaseURL())
        var url = plain
        url.sslMode = .require
        let error = await TLSPostgres.connectionError(url)
        #expect(error?.isTLSFailure == true)
        #expect(error.map { "\($0)" }?.contains("does not offer TLS") == true, "\(error.map { "\($0)" } ?? "connected")")
    }
}

/// The files `scripts/tls-test-certs` writes.
struct TLSTestMaterial {
    let directory: String
    var ca: String { self.directory + "/ca.crt" }
    var otherCA: String { self.directory + "/other-ca.crt" }
    var serverCert: String { self.directory + "/server.crt" }
    var serverKey: String { self.directory + "/server.key" }
    var clientCert: String { self.directory + "/client.crt" }
    var clientKey: String { self.directory + "/client.key" }

    /// The repository's root (tests run from it, but do not rely on that).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static func make() async throws -> TLSTestMaterial {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tthc-tls-\(UUID().uuidString.prefix(8))").path
        _ = try await runTool(root + "/scripts/tls-test-certs", [directory])
        return TLSTestMaterial(directory: directory)
    }
}

/// Runs a bash script to its end and returns its standard output (its standard error goes to the
/// test's); waited for through the termination handler, without blocking the cooperative pool.
func runTool(_ path: String, _ arguments: [String], environment extra: [String: String] = [:]) async throws -> String {
    let process = Process()
    // Foundation learns that a child ended when a descriptor it shares with the child closes; a
    // server the script starts would inherit it and hold it open. python3's close_fds keeps it
    // from the script and its server.
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments =
        ["-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:], close_fds=True))", "/bin/bash", path]
        + arguments
    process.environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.standardError
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
        }
    }
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    guard status == 0 else { throw ToolFailure(description: "\(path) \(arguments.joined(separator: " ")) exited with \(status)") }
    return output
}

struct ToolFailure: Error, CustomStringConvertible {
    var description: String
}

/// A throwaway PostgreSQL cluster with `ssl=on` (`TTHC_PG_SSL_DIR` of `deploy/local-postgres.sh`).
struct TLSPostgres: Sendable {
    let directory: String
    let port: Int

    static func start(sslDirectory: String) async throws -> TLSPostgres {
        let directory = OpsTestEnvironment.clusterDirectory("tls")
        let output = try await runTool(
            TLSTestMaterial.root + "/deploy/local-postgres.sh", ["start", directory],
            environment: ["TTHC_PG_SSL_DIR": sslDirectory])
        let port = output.split(separator: "\n").compactMap { line -> Int? in
            guard line.hasPrefix("DATABASE_URL="), let url = URLComponents(string: String(line.dropFirst(13))) else { return nil }
            return url.port
        }.first
        guard let port else { throw ToolFailure(description: "local-postgres.sh printed no DATABASE_URL: \(output)") }
        return TLSPostgres(directory: directory, port: port)
    }

    func stop() async {
        _ = try? await runTool(TLSTestMaterial.root + "/deploy/local-postgres.sh", ["stop", self.directory])
    }

    /// Connects and tells whether the session is encrypted.
    static func sessionUsesTLS(_ url: DatabaseURL) async throws -> Bool {
        try await url.checkConnection(logger: OpsTestEnvironment.logger)
        let connection = try await PostgresConnection.connect(
            configuration: url.connectionConfiguration(), id: 1, logger: OpsTestEnvironment.logger)
        defer { Task { try? await connection.close() } }
        let rows = try await connection.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: OpsTestEnvironment.logger)
        for try await ssl in rows.decode(Bool.self) { return ssl }
        return false
    }

    /// The error of a first connection, or `nil` if it connected.
    static func connectionError(_ url: DatabaseURL) async -> DatabaseConnectionError? {
        do {
            try await url.checkConnection(logger: OpsTestEnvironment.logger)
            return nil
        } catch {
            return error
        }
    }
}


/// The operator commands' Kafka clients (the lag reader behind `idverify lag` and `/metrics`, the
/// dead-letter archive behind `idverify dead-letters`) take the security settings from the same
/// environment as `serve`. The embedded broker has no SASL listener, so a SASL client is refused
/// with an error naming its mechanism: that refusal shows the setting reached the client.
@Suite("Kafka security in the operator commands")
struct OperatorKafkaSecurityTests {
    static let environment = [
        "KAFKA_SECURITY_PROTOCOL": "sasl_plaintext", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "KAFKA_SASL_USERNAME": "ops", "KAFKA_SASL_PASSWORD": "pw",
    ]

    @Test("lag and dead-letters authenticate with KAFKA_SASL_MECHANISM")
    func operatorClients() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: OpsTestEnvironment.logger)
        let connection = try OpsSettings.kafkaConnection(brokers: [cluster.bootstrapServers], environment: Self.environment)

        let lagLogs = CapturedLines()
        var lagConfiguration = KafkaConsumerGroupLag.Configuration(
            bootstrapServers: connection.bootstrapServers, topics: ["tthc.identity.requests.counter"],
            clientProperties: connection.properties(for: .consumer), queryTimeout: .seconds(1))
        lagConfiguration.security = connection.security
        let lag = try KafkaConsumerGroupLag(configuration: lagConfiguration, logger: lagLogs.logger("lag"))
        await #expect(throws: (any Error).self) { _ = try await lag.sampleLag() }
        await lag.close()
        #expect(lagLogs.contains("required by mechanism SCRAM-SHA-256"), "\(lagLogs.all.prefix(3))")

        let archiveLogs = CapturedLines()
        var archiveConfiguration = DeadLetterArchive.Configuration(
            bootstrapServers: connection.bootstrapServers, topic: "tthc.identity.dead-letter",
            clientProperties: connection.properties(for: .consumer), queryTimeout: .seconds(1))
        archiveConfiguration.security = connection.security
        let archive = try DeadLetterArchive(configuration: archiveConfiguration, logger: archiveLogs.logger("dead-letters"))
        await #expect(throws: (any Error).self) { _ = try await archive.list() }
        await archive.close()
        #expect(archiveLogs.contains("required by mechanism SCRAM-SHA-256"), "\(archiveLogs.all.prefix(3))")
    }
}

extension OperatorKafkaSecurityTests {
    @Test("serve: the worker's consumer AND producer, the lag reader and the dossier-events consumer all take the SASL settings")
    func serveClients() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: OpsTestEnvironment.logger)
        var environment = Self.environment
        environment["KAFKA_BROKERS"] = cluster.bootstrapServers
        environment["DATABASE_URL"] = "postgres://svc@127.0.0.1:1/tthc?sslmode=disable"
        environment["REGISTRY_URL"] = "http://127.0.0.1:1"
        environment["REGISTRY_TOKEN"] = "t"
        environment["SUBJECT_REF_KEY"] = Data("0123456789abcdef0123".utf8).base64EncodedString()
        environment["OPS_PORT"] = "0"
        let settings = try ServiceSettings.fromEnvironment(environment)
        let logs = CapturedLines()
        let logger = logs.logger("serve")
        let runtime = try WorkerRuntime(settings: settings, logger: logger)
        let prometheus = PrometheusCollectorRegistry()
        let operations = try OperationsServices(
            runtime: runtime, prometheus: prometheus, metricsFactory: PrometheusMetricsFactory(registry: prometheus), logger: logger)
        #expect(operations.dossierEvents.configuration.consumer.client.security == settings.kafkaSecurity)
        // Each client connects on creation and names itself in librdkafka's lines:
        // "<client.id>#producer-N: ...".
        for client in ["tthc-identity-verifier#producer", "tthc-identity-verifier#consumer", "tthc-identity-verifier-lag#consumer"] {
            try await OpsTestEnvironment.eventually(30, "\(client) refused with SCRAM-SHA-256") {
                logs.all.contains { $0.contains(client) && $0.contains("required by mechanism SCRAM-SHA-256") }
            }
        }
        await operations.lag.close()
        await runtime.consumer.close()
        await runtime.producer.close(flushTimeoutMilliseconds: 100)
        await runtime.shutdown()
    }
}

/// Log lines of one component.
final class CapturedLines: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { self.lines.withLock { $0 } }
    func contains(_ text: String) -> Bool { self.all.contains { $0.contains(text) } }

    func logger(_ label: String) -> Logger {
        Logger(label: label) { _ in Handler(sink: self) }
    }

    struct Handler: LogHandler {
        let sink: CapturedLines
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { self.metadata[key] }
            set { self.metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            self.sink.lines.withLock { $0.append("\(event.message)") }
        }
    }
}
