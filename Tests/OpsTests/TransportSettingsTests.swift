import Foundation
import Kafka
import NIOSSL
import Ops
import PostgresNIO
import Store
import Testing
import Worker

/// The transport-security settings as `serve` (``ServiceSettings``) and the operator commands
/// (``OpsSettings``) read them: the same values from the same variables, secrets from `*_FILE`,
/// and a setting that cannot work named at start-up.
@Suite("Transport settings")
struct TransportSettingsTests {
    static let complete: [String: String] = [
        "KAFKA_BROKERS": "127.0.0.1:9092", "DATABASE_URL": "postgres://svc@127.0.0.1:5432/tthc?sslmode=disable",
        "REGISTRY_URL": "http://127.0.0.1:8081", "REGISTRY_TOKEN": "token",
        "SUBJECT_REF_KEY": Data("0123456789abcdef0123".utf8).base64EncodedString(),
    ]

    /// A file with `content` in a fresh temporary directory.
    static func secretFile(_ content: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("transport-settings-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("secret").path
        try content.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func settingsError(_ environment: [String: String]) -> SettingsError? {
        do {
            _ = try ServiceSettings.fromEnvironment(environment)
            return nil
        } catch {
            return error
        }
    }

    @Test("Kafka security: serve and the operator commands read the same settings")
    func kafkaSecurity() throws {
        let password = try Self.secretFile("kafka-pass\n")
        let ca = try Self.secretFile("-----BEGIN CERTIFICATE-----\n")
        var environment = Self.complete
        environment["KAFKA_SECURITY_PROTOCOL"] = "SASL_SSL"
        environment["KAFKA_SASL_MECHANISM"] = "scram-sha-256"
        environment["KAFKA_SASL_USERNAME"] = "svc"
        environment["KAFKA_SASL_PASSWORD_FILE"] = password
        environment["KAFKA_SSL_CA_LOCATION"] = ca
        environment["KAFKA_PROPERTIES"] = "socket.keepalive.enable=true;producer.linger.ms=20"
        let expected = KafkaSecurity(
            securityProtocol: .saslSSL, saslMechanism: .scramSHA256, saslUsername: "svc", saslPassword: "kafka-pass",
            sslCALocation: ca)

        let settings = try ServiceSettings.fromEnvironment(environment)
        #expect(settings.kafkaSecurity == expected)
        let operatorSide = try OpsSettings.kafkaConnection(brokers: ["127.0.0.1:9092"], environment: environment)
        #expect(operatorSide.security == expected)
        #expect(operatorSide.properties == settings.kafkaProperties)
        #expect(operatorSide.properties(for: .consumer) == ["socket.keepalive.enable": "true"])
        #expect(operatorSide.properties(for: .producer) == ["socket.keepalive.enable": "true", "linger.ms": "20"])
    }

    @Test(
        "Kafka settings that cannot work are named",
        arguments: [
            (["KAFKA_SECURITY_PROTOCOL": "tls"], "KAFKA_SECURITY_PROTOCOL"),
            (["KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "KAFKA_SASL_USERNAME": "u"], "KAFKA_SASL_PASSWORD"),
            (["KAFKA_SECURITY_PROTOCOL": "sasl_plaintext", "KAFKA_SASL_PASSWORD": "p"], "KAFKA_SASL_USERNAME"),
            (["KAFKA_SASL_MECHANISM": "GSSAPI"], "KAFKA_SASL_MECHANISM"),
            (["KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"], "KAFKA_SECURITY_PROTOCOL"),
            (["KAFKA_SECURITY_PROTOCOL": "ssl", "KAFKA_SSL_CA_LOCATION": "/nonexistent/ca.pem"], "KAFKA_SSL_CA_LOCATION"),
            (["KAFKA_PROPERTIES": "linger.ms"], "KAFKA_PROPERTIES"),
        ])
    func kafkaProblems(extra: [String: String], setting: String) {
        let environment = Self.complete.merging(extra) { $1 }
        #expect(Self.settingsError(environment)?.setting == setting)
        #expect(throws: SettingError.self) {
            try OpsSettings.kafkaConnection(brokers: ["127.0.0.1:9092"], environment: environment)
        }
    }

    @Test("a secret and its _FILE variant together are an error naming both")
    func bothSecretForms() throws {
        let file = try Self.secretFile("x")
        for name in ["REGISTRY_TOKEN", "SUBJECT_REF_KEY", "KAFKA_SASL_PASSWORD"] {
            var environment = Self.complete
            environment[name] = "direct"
            environment[name + "_FILE"] = file
            environment["KAFKA_SECURITY_PROTOCOL"] = "sasl_plaintext"
            environment["KAFKA_SASL_USERNAME"] = "u"
            if name != "KAFKA_SASL_PASSWORD" { environment["KAFKA_SASL_PASSWORD"] = "p" }
            let error = Self.settingsError(environment)
            #expect(error?.setting == "\(name) and \(name)_FILE", "\(name): \(error.map { "\($0)" } ?? "no error")")
        }
    }

    @Test("a _FILE that cannot be read or is empty is named")
    func unreadableSecretFile() throws {
        var environment = Self.complete
        environment["KAFKA_SECURITY_PROTOCOL"] = "sasl_plaintext"
        environment["KAFKA_SASL_USERNAME"] = "u"
        environment["KAFKA_SASL_PASSWORD_FILE"] = "/nonexistent/secret"
        #expect(Self.settingsError(environment)?.setting == "KAFKA_SASL_PASSWORD_FILE")
        environment["KAFKA_SASL_PASSWORD_FILE"] = try Self.secretFile("\n")
        #expect(Self.settingsError(environment)?.setting == "KAFKA_SASL_PASSWORD_FILE")
    }

    @Test("DATABASE_URL: one parser with libpq's sslmode semantics, pool_size, and the password from a file")
    func databaseURL() throws {
        let plain = try DatabaseURL(parsing: "postgres://svc:p%40ss@db.internal/tthc")
        #expect(plain.sslMode == .prefer)  // libpq's default
        #expect(plain.port == 5432 && plain.username == "svc" && plain.password == "p@ss" && plain.database == "tthc")
        #expect(try plain.configuration().options.maximumConnections == DatabaseURL.defaultPoolSize)
        #expect(try plain.configuration(defaultPoolSize: DatabaseURL.operatorPoolSize).options.maximumConnections == 4)
        #expect(try DatabaseURL(parsing: "postgres://h/d?pool_size=7").configuration().options.maximumConnections == 7)
        // No connections kept open while idle: PostgresNIO 1.33 traps on a lease below its minimum.
        #expect(try plain.configuration().options.minimumConnections == 0)
        func applicationName(_ url: String) throws -> String? {
            try DatabaseURL(parsing: url).configuration().options.additionalStartupParameters.first { $0.0 == "application_name" }?.1
        }
        #expect(try applicationName("postgres://h/d") == "idverify")
        #expect(try applicationName("postgres://h/d?application_name=idverify-hcm") == "idverify-hcm")
        #expect(!"\(plain)".contains("p@ss"))

        let ca = try Self.secretFile("not checked here")
        func verification(_ query: String) throws -> CertificateVerification? {
            try DatabaseURL(parsing: "postgres://h/d?\(query)").tlsConfiguration()?.certificateVerification
        }
        #expect(try verification("sslmode=disable") == nil)
        #expect(try verification("sslmode=allow") == CertificateVerification.none)
        #expect(try verification("sslmode=prefer") == CertificateVerification.none)
        #expect(try verification("sslmode=require") == CertificateVerification.none)
        #expect(try verification("sslmode=verify-ca") == .noHostnameVerification)
        #expect(try verification("sslmode=verify-full") == .fullVerification)
        #expect(try DatabaseURL(parsing: "postgres://h/d?sslmode=require&sslrootcert=\(ca)").verifiesCertificate)
        #expect(try DatabaseURL(parsing: "postgres://h/d?sslmode=verify-full&sslrootcert=system").sslRootCert == nil)

        for bad in [
            "mysql://h/d", "postgres://h/d?sslmode=on", "postgres://h/d?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            "postgres://h/d?pool_size=0", "postgres://h/d?sslcert=\(ca)", "postgres://h/d?ssl=true",
            "postgres://h/d?pool_min=4", "postgres://h/d?application_name=",
            "postgres://h/d?application_name=\(String(repeating: "a", count: 64))", "postgres://h/d?application_name=a%0Ab",
        ] {
            #expect(throws: DatabaseURLError.self, "\(bad)") { try DatabaseURL(parsing: bad) }
        }
        do {
            _ = try DatabaseURL(parsing: "postgres://u:secret@h/d?sslmode=strict")
        } catch {
            #expect(error.description.hasPrefix("DATABASE_URL sslmode must be one of disable, allow, prefer"))
            #expect(!error.description.contains("secret"))
        }

        // DATABASE_PASSWORD_FILE replaces the URL's password, for serve and the operator commands.
        var environment = Self.complete
        environment["DATABASE_URL"] = "postgres://svc:old@127.0.0.1/tthc?sslmode=disable"
        environment["DATABASE_PASSWORD_FILE"] = try Self.secretFile("from-file\n")
        let settings = try ServiceSettings.fromEnvironment(environment)
        #expect(try settings.postgresConfiguration().password == "from-file")
        #expect(try OpsSettings.databaseURL(nil, environment: environment).password == "from-file")
        environment["DATABASE_PASSWORD"] = "direct"
        #expect(Self.settingsError(environment)?.setting == "DATABASE_PASSWORD and DATABASE_PASSWORD_FILE")
        #expect(throws: SettingError.self) { try OpsSettings.databaseURL(nil, environment: environment) }
        environment["DATABASE_PASSWORD"] = nil
        environment["DATABASE_URL"] = "postgres://127.0.0.1/tthc?sslmode=bogus"
        #expect(Self.settingsError(environment)?.setting == "DATABASE_URL")
    }

    @Test("REGISTRY_URL: https required except on loopback; TLS files are checked at start-up", arguments: [
        (["REGISTRY_URL": "http://registry.internal:8080"], "REGISTRY_URL"),
        (["REGISTRY_URL": "http://10.0.0.5"], "REGISTRY_URL"),
        (["REGISTRY_URL": "https://registry.internal", "REGISTRY_CA_FILE": "/nonexistent/ca.pem"], "REGISTRY_CA_FILE"),
        (["REGISTRY_URL": "https://registry.internal", "REGISTRY_CLIENT_CERT_FILE": "/etc/hostname"], "REGISTRY_CLIENT_CERT_FILE"),
        (["REGISTRY_URL": "http://127.0.0.1:8089", "REGISTRY_CA_FILE": "/etc/hostname"], "REGISTRY_URL"),
        (["REGISTRY_URL": "https://registry.internal", "REGISTRY_CA_FILE": "/etc/hostname"], "REGISTRY_CA_FILE"),
    ])
    func registryTransportProblems(extra: [String: String], setting: String) {
        let error = Self.settingsError(Self.complete.merging(extra) { $1 })
        #expect(error?.setting == setting, "\(error.map { "\($0)" } ?? "accepted")")
    }

    @Test("REGISTRY_URL: loopback may use http; the TLS files and the token file reach the client's configuration")
    func registryTransport() throws {
        for url in ["http://127.0.0.1:8089", "http://localhost:8089", "http://[::1]:8089", "https://registry.gov.vn"] {
            var environment = Self.complete
            environment["REGISTRY_URL"] = url
            #expect(Self.settingsError(environment) == nil, "\(url)")
        }
        let token = try Self.secretFile("file-token\n")
        var environment = Self.complete
        environment["REGISTRY_URL"] = "https://registry.gov.vn"
        environment["REGISTRY_TOKEN"] = nil
        environment["REGISTRY_TOKEN_FILE"] = token
        let settings = try ServiceSettings.fromEnvironment(environment)
        #expect(settings.registryTransport.token == "file-token")
        #expect(settings.registryTransport.tokenFile == token)
    }
}
