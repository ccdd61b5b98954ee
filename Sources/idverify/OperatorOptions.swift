import ArgumentParser
import CommandSupport
import Contract
import Foundation
import Kafka
import Logging
import Ops
import PostgresNIO
import Store

/// Kafka settings shared by the operator commands: flags override `KAFKA_BROKERS`,
/// `KAFKA_GROUP_ID` and `TOPIC_PREFIX`.
struct KafkaOptions: ParsableArguments {
    @Option(help: "Bootstrap brokers, host:port[,host:port] (default: KAFKA_BROKERS).")
    var brokers: String?

    @Option(help: "The worker's consumer group (default: KAFKA_GROUP_ID, else tthc-identity-verifier).")
    var group: String?

    @Option(help: "Topic name prefix (default: TOPIC_PREFIX, else tthc.).")
    var topicPrefix: String?

    func bootstrapServers() throws -> [String] {
        try settingOrExit { () throws(SettingError) in
            try OpsSettings.brokers(OpsSettings.required(self.brokers, variable: "KAFKA_BROKERS", flagName: "--brokers"))
        }
    }

    /// The brokers with the security settings and `KAFKA_PROPERTIES` every client of `serve` uses.
    func connection() throws -> KafkaConnectionSettings {
        let brokers = try self.bootstrapServers()
        return try settingOrExit { () throws(SettingError) in try OpsSettings.kafkaConnection(brokers: brokers) }
    }

    var groupID: String {
        OpsSettings.value(self.group, variable: "KAFKA_GROUP_ID", default: "tthc-identity-verifier")!
    }

    var topics: Topics {
        Topics(prefix: OpsSettings.value(self.topicPrefix, variable: "TOPIC_PREFIX", default: "tthc.")!)
    }
}

/// `DATABASE_URL`, overridable by `--database-url`.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "PostgreSQL URL, postgres://user@host:port/database (default: DATABASE_URL).")
    var databaseURL: String?

    func withPostgres<Result: Sendable>(
        logger: Logger, _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        try await withOperatorPostgres(flag: self.databaseURL, logger: logger, body)
    }
}

/// Runs `body` with a PostgreSQL client on `DATABASE_URL` (or `flag`), at most
/// ``DatabaseURL/operatorPoolSize`` connections unless the URL has `pool_size`, after one
/// connection check whose failure names the setting (a TLS failure names sslmode and sslrootcert).
func withOperatorPostgres<Result: Sendable>(
    flag: String?, logger: Logger, _ body: @Sendable (PostgresClient) async throws -> Result
) async throws -> Result {
    let url = try settingOrExit { () throws(SettingError) in try OpsSettings.databaseURL(flag) }
    let configuration: PostgresClient.Configuration
    do {
        configuration = try url.configuration(defaultPoolSize: DatabaseURL.operatorPoolSize)
    } catch {
        throw ValidationError(error.description)
    }
    do {
        try await url.checkConnection(logger: logger)
    } catch {
        throw ValidationError(error.description)
    }
    return try await OpsSettings.withPostgres(configuration, logger: logger) { client in
        try await body(client)
    }
}


/// An instant as support staff read it: RFC 3339 in Viet Nam time (UTC+7, no daylight saving).
func vietnamTime(_ date: Date) -> String {
    let shifted = Timestamp(date.addingTimeInterval(7 * 3600)).text  // ...Z, UTC clock fields
    return String(shifted.dropLast()) + "+07:00"
}
