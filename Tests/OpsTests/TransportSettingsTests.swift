import Foundation
import Kafka
import Ops
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
}
