import Logging
import NIOSSL
import PostgresNIO

/// The first connection to PostgreSQL failed. For a TLS failure (a certificate not signed by
/// `sslrootcert`, a certificate that does not name the host, a server without TLS under
/// `sslmode=require`) the message names `DATABASE_URL`, its `sslmode` and `sslrootcert`, so that
/// the setting to fix is plain; PostgresNIO's own error says only "connectionError".
public struct DatabaseConnectionError: Error, Sendable, CustomStringConvertible {
    /// Whether TLS was at fault.
    public var isTLSFailure: Bool
    public var description: String
}

extension DatabaseURL {
    /// Opens one connection (not through a pool, which would retry a refused handshake forever and
    /// keep the caller waiting), runs `SELECT 1` and closes it. A failure becomes a
    /// ``DatabaseConnectionError`` naming the setting. Call it once at start-up, before the pool.
    public func checkConnection(logger: Logger) async throws(DatabaseConnectionError) {
        do {
            let connection = try await PostgresConnection.connect(
                configuration: try self.connectionConfiguration(), id: 0, logger: logger)
            do {
                _ = try await connection.query("SELECT 1", logger: logger)
            } catch {
                try? await connection.close()
                throw error
            }
            try await connection.close()
        } catch let error as DatabaseURLError {
            throw DatabaseConnectionError(isTLSFailure: false, description: error.description)
        } catch {
            throw self.explain(error)
        }
    }

    /// The settings of a single connection (``checkConnection(logger:)``, tools and tests).
    public func connectionConfiguration() throws(DatabaseURLError) -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch self.sslMode {
        case .disable: tls = .disable
        case .allow, .prefer: tls = .prefer(try self.sslContext())
        case .require, .verifyCA, .verifyFull: tls = .require(try self.sslContext())
        }
        var configuration = PostgresConnection.Configuration(
            host: self.host, port: self.port, username: self.username, password: self.password, database: self.database,
            tls: tls)
        if let seconds = self.connectTimeoutSeconds { configuration.options.connectTimeout = .seconds(Int64(seconds)) }
        configuration.options.additionalStartupParameters = self.startupParameters
        return configuration
    }

    private func sslContext() throws(DatabaseURLError) -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: try self.tlsConfiguration()!)
        } catch let error as DatabaseURLError {
            throw error
        } catch {
            throw DatabaseURLError("has TLS settings NIOSSL cannot use (sslrootcert, sslcert, sslkey): \(error)")
        }
    }

    /// What a connection error means in terms of this URL's settings.
    public func explain(_ error: any Error) -> DatabaseConnectionError {
        let psql = error as? PSQLError
        let underlying = psql?.underlying ?? error
        let place = "PostgreSQL at \(self.host):\(self.port)"
        let tls = "sslmode=\(self.sslMode.rawValue), sslrootcert=\(self.sslRootCert ?? "system trust store")"
        if psql?.code == .sslUnsupported {
            return DatabaseConnectionError(
                isTLSFailure: true,
                description: "DATABASE_URL: \(place) does not offer TLS, which \(tls) requires; turn ssl on in the server or lower sslmode")
        }
        if underlying is NIOSSLError || underlying is NIOSSLExtraError {
            let hint =
                self.sslMode == .verifyFull
                ? "check that sslrootcert is the CA that signed the server's certificate and that the certificate names \(self.host)"
                : "check that sslrootcert is the CA that signed the server's certificate"
            return DatabaseConnectionError(
                isTLSFailure: true,
                description: "DATABASE_URL: the TLS handshake with \(place) failed (\(tls)): \(underlying); \(hint)")
        }
        return DatabaseConnectionError(
            isTLSFailure: false,
            description: "DATABASE_URL: cannot use \(place): \(psql.map { "\($0.code)" } ?? "error"): \(underlying)")
    }
}
