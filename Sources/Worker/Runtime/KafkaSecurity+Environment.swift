import Foundation
import Kafka

extension KafkaSecurity {
    /// `KAFKA_SECURITY_PROTOCOL` (plaintext|ssl|sasl_plaintext|sasl_ssl, default plaintext),
    /// `KAFKA_SASL_MECHANISM` (PLAIN|SCRAM-SHA-256|SCRAM-SHA-512, default PLAIN),
    /// `KAFKA_SASL_USERNAME`, `KAFKA_SASL_PASSWORD` or `KAFKA_SASL_PASSWORD_FILE`,
    /// `KAFKA_SSL_CA_LOCATION` (a readable PEM file). The error names the setting that cannot work.
    public static func fromEnvironment(_ environment: [String: String]) throws(SettingsError) -> KafkaSecurity {
        func text(_ name: String) -> String? {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        var security = KafkaSecurity()
        if let text = text("KAFKA_SECURITY_PROTOCOL") {
            guard let value = KafkaSecurity.SecurityProtocol(rawValue: text.lowercased()) else {
                throw SettingsError(setting: "KAFKA_SECURITY_PROTOCOL", problem: "must be plaintext, ssl, sasl_plaintext or sasl_ssl")
            }
            security.securityProtocol = value
        }
        if let text = text("KAFKA_SASL_MECHANISM") {
            guard let value = KafkaSecurity.SASLMechanism(rawValue: text.uppercased()) else {
                throw SettingsError(setting: "KAFKA_SASL_MECHANISM", problem: "must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
            }
            security.saslMechanism = value
        }
        security.saslUsername = text("KAFKA_SASL_USERNAME")
        security.saslPassword = try EnvironmentSecret.value("KAFKA_SASL_PASSWORD", environment: environment)
        if let path = text("KAFKA_SSL_CA_LOCATION") {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw SettingsError(setting: "KAFKA_SSL_CA_LOCATION", problem: "names a file that cannot be read (\(path))")
            }
            security.sslCALocation = path
        }
        if let problem = security.problem { throw SettingsError(setting: problem.setting, problem: problem.message) }
        return security
    }
}
