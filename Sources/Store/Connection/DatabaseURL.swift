import Foundation
import NIOSSL
import PostgresNIO

/// `DATABASE_URL`, the one parser every part of the service uses (`serve`, `dev`, the operator
/// commands, the benchmarks and the tests):
///
///     postgres[ql]://user[:password]@host[:port]/database[?sslmode=…&sslrootcert=…&sslcert=…&sslkey=…&pool_size=…&connect_timeout=…&application_name=…]
///
/// - `sslmode` follows libpq (default `prefer`, as libpq's):
///   - `disable`: no TLS.
///   - `allow`, `prefer`: TLS when the server offers it, else plaintext; the certificate is not
///     checked. (libpq's `allow` tries plaintext first; PostgresNIO can only try TLS first, so
///     `allow` behaves as `prefer`.)
///   - `require`: TLS or no connection; the certificate is not checked — unless `sslrootcert` is
///     given, when it is checked as with `verify-ca` (libpq does the same).
///   - `verify-ca`: TLS, and the server's certificate must chain to `sslrootcert`.
///   - `verify-full`: as `verify-ca`, and the certificate must name the host (DNS name or IP).
/// - `sslrootcert`: a PEM file of the CA(s) to trust; `system` (or absent) for the system's store.
/// - `sslcert`, `sslkey`: a client certificate and its key (PEM), both or neither.
/// - `pool_size` (ours, not libpq's): connections at most. Default: the caller's (20 for `serve`,
///   4 for an operator command).
/// - `connect_timeout` (seconds, as libpq's). Default: 10.
/// - `application_name` (as libpq's): how the connections show in `pg_stat_activity`. Default:
///   `idverify`.
///
/// The password can also come from `DATABASE_PASSWORD` or `DATABASE_PASSWORD_FILE`, which replaces
/// the one in the URL. Errors name `DATABASE_URL` and never print the password.
public struct DatabaseURL: Sendable, Hashable {
    public var host: String
    /// Default: 5432.
    public var port: Int
    /// Default: `postgres`.
    public var username: String
    public var password: String?
    public var database: String?
    public var sslMode: SSLMode
    /// `sslrootcert`: a PEM file path; `nil` for the system's trust store.
    public var sslRootCert: String?
    /// `sslcert` and `sslkey`: the client certificate and key (PEM files).
    public var sslCert: String?
    public var sslKey: String?
    /// `pool_size`; `nil` leaves the caller's default.
    public var poolSize: Int?
    /// `connect_timeout` in seconds; `nil` leaves PostgresNIO's 10 s.
    public var connectTimeoutSeconds: Int?
    /// `application_name`; `nil`: `idverify`.
    public var applicationName: String?

    /// The startup parameters every connection sends: its `application_name`.
    var startupParameters: [(String, String)] { [("application_name", self.applicationName ?? "idverify")] }

    /// libpq's `sslmode` values.
    public enum SSLMode: String, Sendable, Hashable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    /// The parameters this parser understands; any other is an error (as with libpq).
    public static let knownParameters = [
        "sslmode", "sslrootcert", "sslcert", "sslkey", "pool_size", "connect_timeout", "application_name",
    ]

    /// Parses `text`; `password`, when given (from `DATABASE_PASSWORD_FILE`), replaces the URL's.
    public init(parsing text: String, password: String? = nil) throws(DatabaseURLError) {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, !host.isEmpty
        else {
            throw DatabaseURLError("must look like postgres://user@host:port/database")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = components.user.flatMap { $0.isEmpty ? nil : $0 } ?? "postgres"
        self.password = password ?? components.password
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        self.database = database.isEmpty ? nil : database

        var parameters: [String: String] = [:]
        for item in components.queryItems ?? [] {
            guard Self.knownParameters.contains(item.name) else {
                throw DatabaseURLError(
                    "has an unknown parameter \(item.name) (known: \(Self.knownParameters.joined(separator: ", ")))")
            }
            parameters[item.name] = item.value ?? ""
        }
        if let text = parameters["sslmode"] {
            guard let mode = SSLMode(rawValue: text) else {
                throw DatabaseURLError(
                    "sslmode must be one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", ")) (it is \(text))")
            }
            self.sslMode = mode
        } else {
            self.sslMode = .prefer
        }
        let rootCert = parameters["sslrootcert"].flatMap { $0.isEmpty || $0 == "system" ? nil : $0 }
        self.sslRootCert = rootCert
        self.sslCert = parameters["sslcert"].flatMap { $0.isEmpty ? nil : $0 }
        self.sslKey = parameters["sslkey"].flatMap { $0.isEmpty ? nil : $0 }
        guard (self.sslCert == nil) == (self.sslKey == nil) else {
            throw DatabaseURLError("needs both sslcert and sslkey, or neither")
        }
        for (name, path) in [("sslrootcert", self.sslRootCert), ("sslcert", self.sslCert), ("sslkey", self.sslKey)] {
            if let path, !FileManager.default.isReadableFile(atPath: path) {
                throw DatabaseURLError("\(name) names a file that cannot be read (\(path))")
            }
        }
        if let text = parameters["pool_size"] {
            guard let size = Int(text), (1...1_000).contains(size) else {
                throw DatabaseURLError("pool_size must be a whole number in 1...1000 (it is \(text))")
            }
            self.poolSize = size
        }
        if let text = parameters["application_name"] {
            // libpq's limit (NAMEDATALEN - 1) and printable ASCII, so it shows as given.
            guard !text.isEmpty, text.utf8.count <= 63, text.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else {
                throw DatabaseURLError("application_name must be 1 to 63 printable ASCII characters")
            }
            self.applicationName = text
        }
        if let text = parameters["connect_timeout"] {
            guard let seconds = Int(text), (1...3_600).contains(seconds) else {
                throw DatabaseURLError("connect_timeout must be whole seconds in 1...3600 (it is \(text))")
            }
            self.connectTimeoutSeconds = seconds
        }
        if self.sslMode == .disable && (self.sslRootCert != nil || self.sslCert != nil) {
            throw DatabaseURLError("has sslmode=disable with sslrootcert/sslcert; drop them or choose another sslmode")
        }
    }

    /// Whether the server's certificate chain is checked (`verify-*`, or `require` with `sslrootcert`).
    public var verifiesCertificate: Bool {
        switch self.sslMode {
        case .verifyCA, .verifyFull: true
        case .require: self.sslRootCert != nil
        case .disable, .allow, .prefer: false
        }
    }

    /// The TLS settings as NIOSSL takes them; `nil` for `disable`.
    public func tlsConfiguration() throws(DatabaseURLError) -> TLSConfiguration? {
        guard self.sslMode != .disable else { return nil }
        var tls = TLSConfiguration.makeClientConfiguration()
        switch self.sslMode {
        case .verifyFull: tls.certificateVerification = .fullVerification
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .require: tls.certificateVerification = self.sslRootCert == nil ? .none : .noHostnameVerification
        case .allow, .prefer, .disable: tls.certificateVerification = .none
        }
        do {
            if let rootCert = self.sslRootCert {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(rootCert))
            }
            if let cert = self.sslCert, let key = self.sslKey {
                tls.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            }
        } catch {
            throw DatabaseURLError("has a certificate or key file that is not PEM (sslrootcert, sslcert, sslkey): \(error)")
        }
        return tls
    }

    /// A `PostgresClient` configuration; `defaultPoolSize` applies when the URL has no `pool_size`.
    ///
    /// No connections are kept open while idle (PostgresNIO's `minimumConnections` stays 0): with
    /// a minimum, PostgresNIO 1.33 traps when a query asks for a connection while the pool is
    /// below its minimum after PostgreSQL went away (seen in the database outage test).
    public func configuration(defaultPoolSize: Int = DatabaseURL.defaultPoolSize) throws(DatabaseURLError) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch self.sslMode {
        case .disable: tls = .disable
        case .allow, .prefer: tls = .prefer(try self.tlsConfiguration()!)
        case .require, .verifyCA, .verifyFull: tls = .require(try self.tlsConfiguration()!)
        }
        var configuration = PostgresClient.Configuration(
            host: self.host, port: self.port, username: self.username, password: self.password, database: self.database,
            tls: tls)
        configuration.options.maximumConnections = self.poolSize ?? defaultPoolSize
        configuration.options.additionalStartupParameters = self.startupParameters
        if let seconds = self.connectTimeoutSeconds { configuration.options.connectTimeout = .seconds(seconds) }
        return configuration
    }

    /// The pool size of `serve` when `DATABASE_URL` has no `pool_size`: 20.
    public static let defaultPoolSize = 20
    /// The pool size of an operator command (`stats`, `verdict`, `migrate`): 4.
    public static let operatorPoolSize = 4

    /// Parses `text` into a client configuration (`pool_size` or `defaultPoolSize`).
    public static func parse(
        _ text: String, password: String? = nil, defaultPoolSize: Int = DatabaseURL.defaultPoolSize
    ) throws(DatabaseURLError) -> PostgresClient.Configuration {
        try DatabaseURL(parsing: text, password: password).configuration(defaultPoolSize: defaultPoolSize)
    }
}

extension DatabaseURL: CustomStringConvertible {
    /// The URL without its password.
    public var description: String {
        var text = "postgres://\(self.username)@\(self.host):\(self.port)/\(self.database ?? "")?sslmode=\(self.sslMode.rawValue)"
        if let rootCert = self.sslRootCert { text += "&sslrootcert=\(rootCert)" }
        return text
    }
}

/// A `DATABASE_URL` that cannot work. The description names the setting and never holds the password.
public struct DatabaseURLError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Always `DATABASE_URL`.
    public var setting: String
    public var problem: String

    public init(_ problem: String, setting: String = "DATABASE_URL") {
        self.setting = setting
        self.problem = problem
    }

    public var description: String { "\(self.setting) \(self.problem)" }
}
