import Foundation
import NIOSSL
import PostgresNIO

/// `DATABASE_URL` as a PostgresNIO client configuration.
public enum DatabaseURL {
    public static func parse(_ text: String) throws(SettingsError) -> PostgresClient.Configuration {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, !host.isEmpty
        else {
            throw SettingsError(setting: "DATABASE_URL", problem: "must look like postgres://user@host:port/database")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let sslmode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        let tls: PostgresClient.Configuration.TLS
        switch sslmode {
        case "disable":
            tls = .disable
        case "require", "verify-full", "verify-ca":
            tls = .require(.makeClientConfiguration())
        default:
            throw SettingsError(setting: "DATABASE_URL", problem: "sslmode must be disable or require")
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres",
            password: components.password, database: database.isEmpty ? nil : database, tls: tls)
        configuration.options.maximumConnections = 20
        return configuration
    }
}
