import Foundation
import Kafka
import Logging
import PostgresNIO
import Store
import Worker

/// The contract's settings (section 7) as the operator commands read them: a flag wins over the
/// environment variable, which wins over the default; a required setting that is missing stops
/// with a ``SettingError`` naming it.
public enum OpsSettings {
    /// The value of a setting: `flag` if given, else `environment[variable]` (empty counts as
    /// unset), else `defaultValue`.
    public static func value(
        _ flag: String?, variable: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        default defaultValue: String? = nil
    ) -> String? {
        if let flag, !flag.isEmpty { return flag }
        if let value = environment[variable], !value.isEmpty { return value }
        return defaultValue
    }

    /// Like ``value(_:variable:environment:default:)`` but required.
    public static func required(
        _ flag: String?, variable: String, flagName: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(SettingError) -> String {
        guard let value = self.value(flag, variable: variable, environment: environment) else {
            throw SettingError.missing(variable, flag: flagName)
        }
        return value
    }

    /// `KAFKA_BROKERS` (`host:port,host:port`) as a list.
    public static func brokers(_ text: String) throws(SettingError) -> [String] {
        let brokers = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !brokers.isEmpty else { throw SettingError.invalid("KAFKA_BROKERS", "must list at least one host:port") }
        return brokers
    }

    /// How the operator commands reach Kafka: `brokers` with the same security settings
    /// (`KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`, `KAFKA_SSL_CA_LOCATION`) and `KAFKA_PROPERTIES` as
    /// `serve`, so that `lag` and `dead-letters` work against the cluster the worker uses.
    public static func kafkaConnection(
        brokers: [String], environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(SettingError) -> KafkaConnectionSettings {
        var properties: [String: String] = [:]
        if let text = environment["KAFKA_PROPERTIES"], !text.isEmpty {
            guard let parsed = KafkaConnectionSettings.parseProperties(text) else {
                throw SettingError.invalid("KAFKA_PROPERTIES", "must be name=value pairs separated by ';'")
            }
            properties = parsed
        }
        do {
            let security = try KafkaSecurity.fromEnvironment(environment)
            return KafkaConnectionSettings(bootstrapServers: brokers, security: security, properties: properties)
        } catch {
            throw SettingError(setting: error.setting, message: "\(error.setting) \(error.problem)")
        }
    }

    /// `DATABASE_URL` (the flag wins over the variable) through the service's one parser
    /// (``DatabaseURL``: libpq's `sslmode`, `sslrootcert`, `pool_size`, default `prefer`), with the
    /// password from `DATABASE_PASSWORD` or `DATABASE_PASSWORD_FILE` when set. The password never
    /// appears in an error.
    public static func databaseURL(
        _ flag: String?, flagName: String = "--database-url",
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(SettingError) -> DatabaseURL {
        let text = try self.required(flag, variable: "DATABASE_URL", flagName: flagName, environment: environment)
        do {
            let password = try EnvironmentSecret.value("DATABASE_PASSWORD", environment: environment)
            return try DatabaseURL(parsing: text, password: password)
        } catch let error as SettingsError {
            throw SettingError(setting: error.setting, message: "\(error.setting) \(error.problem)")
        } catch let error as DatabaseURLError {
            throw SettingError(setting: error.setting, message: error.description)
        } catch {
            throw SettingError(setting: "DATABASE_URL", message: "DATABASE_URL \(error)")
        }
    }

    /// Runs `body` with a running `PostgresClient`, shut down afterwards.
    public static func withPostgres<Result: Sendable>(
        _ configuration: PostgresClient.Configuration, logger: Logger,
        _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }
}
