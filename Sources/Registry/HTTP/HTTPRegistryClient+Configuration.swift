import Foundation
import NIOSSL

extension HTTPRegistryClient {
    /// How to reach the registry over JSON/HTTP.
    public struct Configuration: Sendable {
        /// The registry's base URL, `https://`, without the `/v1/...` path; `http://` only for a
        /// loopback host (`127.0.0.0/8`, `::1`, `localhost`: the simulator). Required (`REGISTRY_URL`).
        public var baseURL: String
        /// The bearer token. Required (`REGISTRY_TOKEN`, or the content of `REGISTRY_TOKEN_FILE`).
        /// Never logged.
        public var token: String
        /// `REGISTRY_TOKEN_FILE`: the token is read again from this file when it changes (checked at
        /// most once per ``tokenCheckInterval`` before a call), so a rotated secret is used without a
        /// restart. ``token`` is the first value. Default: `nil` (``token`` for good).
        public var tokenFile: String?
        /// How often ``tokenFile`` is looked at, at most. Default: 1 s.
        public var tokenCheckInterval: Duration = .seconds(1)
        /// `REGISTRY_CA_FILE`: PEM file of the CA(s) that signed the registry's certificate.
        /// Default: `nil` (the system's trust store).
        public var caFile: String?
        /// `REGISTRY_CLIENT_CERT_FILE` and `REGISTRY_CLIENT_KEY_FILE`: a client certificate chain and
        /// its key (PEM) for mutual TLS, both or neither. Default: `nil`.
        public var clientCertificateFile: String?
        public var clientKeyFile: String?
        /// Calls in flight at most (`REGISTRY_CONCURRENCY`), and the connection bound unless
        /// ``connections`` is set. Default: `128`. Give ``FairScheduler/Configuration/maxConcurrentCalls``
        /// the same value.
        public var concurrency: Int
        /// `REGISTRY_HTTP_CONNECTIONS`: keep-alive connections to the registry at most. They are
        /// opened only when every open one is busy, so at a low latency few are open whatever the
        /// bound; the bound matters when answers are slow (calls in flight = rate × latency).
        /// Default: `nil`, meaning ``concurrency``, so that connections × ``pipelining`` never holds
        /// back calls the scheduler lets through.
        public var connections: Int?
        /// `REGISTRY_HTTP_PIPELINING`: requests in flight on one connection (HTTP/1.1 pipelining).
        /// A connection gets a second request only when the bound of connections is reached.
        /// Default: `1` (no pipelining: gateways and proxies often mishandle it).
        public var pipelining: Int = 1
        /// Time allowed to open a connection (TCP and TLS). Default: 2 s.
        public var connectTimeout: Duration
        /// Idle connections are closed after this. Default: 60 s.
        public var idleTimeout: Duration
        /// Larger response bodies are refused as ``RegistryError/Code/invalidResponse``. Default: 256 KiB.
        public var maxResponseBytes: Int
        /// Sent as `User-Agent`. Default: `tthc-identity-verifier`.
        public var userAgent: String

        public init(
            baseURL: String,
            token: String,
            concurrency: Int = 128,
            connectTimeout: Duration = .seconds(2),
            idleTimeout: Duration = .seconds(60),
            maxResponseBytes: Int = 256 * 1024,
            userAgent: String = "tthc-identity-verifier"
        ) {
            self.baseURL = baseURL
            self.token = token
            self.concurrency = concurrency
            self.connectTimeout = connectTimeout
            self.idleTimeout = idleTimeout
            self.maxResponseBytes = maxResponseBytes
            self.userAgent = userAgent
        }

        /// Checks the values, naming the one that cannot work.
        public func validate() throws {
            let lowered = self.baseURL.lowercased()
            guard lowered.hasPrefix("http://") || lowered.hasPrefix("https://"),
                self.baseURL.count > (lowered.hasPrefix("https://") ? 8 : 7)
            else {
                throw RegistryConfigurationError("REGISTRY_URL must be an https:// URL (http:// only for a loopback host)")
            }
            if lowered.hasPrefix("http://") {
                guard Self.isLoopback(self.baseURL) else {
                    throw RegistryConfigurationError(
                        "REGISTRY_URL must use https:// for a host that is not loopback (http:// is allowed only for 127.0.0.1, ::1, localhost)")
                }
                if self.caFile != nil || self.clientCertificateFile != nil {
                    throw RegistryConfigurationError("REGISTRY_URL must use https:// when REGISTRY_CA_FILE or REGISTRY_CLIENT_CERT_FILE is set")
                }
            }
            guard (self.clientCertificateFile == nil) == (self.clientKeyFile == nil) else {
                throw RegistryConfigurationError("REGISTRY_CLIENT_CERT_FILE and REGISTRY_CLIENT_KEY_FILE go together: set both or neither")
            }
            for (setting, path) in [
                ("REGISTRY_CA_FILE", self.caFile), ("REGISTRY_CLIENT_CERT_FILE", self.clientCertificateFile),
                ("REGISTRY_CLIENT_KEY_FILE", self.clientKeyFile), ("REGISTRY_TOKEN_FILE", self.tokenFile),
            ] {
                if let path, !FileManager.default.isReadableFile(atPath: path) {
                    throw RegistryConfigurationError("\(setting) names a file that cannot be read (\(path))")
                }
            }
            guard !self.token.isEmpty else { throw RegistryConfigurationError("REGISTRY_TOKEN must not be empty") }
            guard Self.isVisibleASCII(self.token) else {
                throw RegistryConfigurationError("REGISTRY_TOKEN must be visible ASCII: no spaces, line breaks or control characters")
            }
            guard self.userAgent.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else {
                throw RegistryConfigurationError("registry userAgent must be printable ASCII")
            }
            guard self.concurrency >= 1 else { throw RegistryConfigurationError("REGISTRY_CONCURRENCY must be at least 1") }
            if let connections = self.connections, connections < 1 {
                throw RegistryConfigurationError("REGISTRY_HTTP_CONNECTIONS must be at least 1")
            }
            guard (1...Self.maxPipelining).contains(self.pipelining) else {
                throw RegistryConfigurationError("REGISTRY_HTTP_PIPELINING must be in 1...\(Self.maxPipelining)")
            }
            guard (try? self.parsedURL()) != nil else {
                throw RegistryConfigurationError("REGISTRY_URL must be an https:// URL with a host (http:// only for a loopback host)")
            }
            guard self.connectTimeout > .zero else { throw RegistryConfigurationError("registry connectTimeout must be positive") }
            guard self.maxResponseBytes >= 1_024 else { throw RegistryConfigurationError("registry maxResponseBytes must be at least 1 KiB") }
        }

        /// The largest ``pipelining`` accepted.
        public static let maxPipelining = 128

        /// The bound of connections in effect: ``connections``, else ``concurrency``.
        public var maxConnections: Int { self.connections ?? self.concurrency }

        /// Whether `url`'s host is a loopback address or `localhost`.
        static func isLoopback(_ url: String) -> Bool {
            guard let host = URLComponents(string: url)?.host?.lowercased() else { return false }
            let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
            if bare == "localhost" || bare == "::1" { return true }
            let parts = bare.split(separator: ".", omittingEmptySubsequences: false)
            return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
        }

        /// The TLS settings from the CA file and client certificate when given, else `nil` (the
        /// defaults: the system's trust store, no client certificate).
        public func tlsConfiguration() throws -> TLSConfiguration? {
            guard self.caFile != nil || self.clientCertificateFile != nil else { return nil }
            var tls = TLSConfiguration.makeClientConfiguration()
            do {
                if let ca = self.caFile { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca)) }
            } catch {
                throw RegistryConfigurationError("REGISTRY_CA_FILE is not a PEM certificate file: \(error)")
            }
            do {
                if let cert = self.clientCertificateFile, let key = self.clientKeyFile {
                    tls.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
                    tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
                }
            } catch {
                throw RegistryConfigurationError(
                    "REGISTRY_CLIENT_CERT_FILE or REGISTRY_CLIENT_KEY_FILE is not a PEM certificate chain / key: \(error)")
            }
            return tls
        }

        /// The parts of ``baseURL`` a connection needs.
        struct ParsedURL: Sendable {
            var isTLS: Bool
            /// Without brackets for IPv6.
            var host: String
            var port: Int
            /// `Host` header value: as the URL gives it (with the port if it gives one).
            var hostHeader: String
            /// Path before `/v1/...`, without a trailing slash (often empty).
            var pathPrefix: String
            var isIPAddress: Bool
        }

        func parsedURL() throws -> ParsedURL {
            // Host and path go into the request's head, which is not checked again on the way out
            // (NIO's outbound header validation is off: it cost 4 % of the worker's CPU).
            guard let components = URLComponents(string: self.trimmedBaseURL), let scheme = components.scheme?.lowercased(),
                scheme == "http" || scheme == "https", var host = components.host, Self.isVisibleASCII(host),
                components.percentEncodedPath.isEmpty || Self.isVisibleASCII(components.percentEncodedPath)
            else {
                throw RegistryConfigurationError("REGISTRY_URL must be an https:// URL with a host (http:// only for a loopback host)")
            }
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            let isTLS = scheme == "https"
            let port = components.port ?? (isTLS ? 443 : 80)
            let bracketed = host.contains(":") ? "[\(host)]" : host
            let isIP = host.contains(":") || host.split(separator: ".").count == 4 && host.split(separator: ".").allSatisfy { UInt8($0) != nil }
            return ParsedURL(
                isTLS: isTLS, host: host, port: port,
                hostHeader: components.port.map { "\(bracketed):\($0)" } ?? bracketed,
                pathPrefix: components.percentEncodedPath, isIPAddress: isIP)
        }

        /// Whether `text` is non-empty and only visible ASCII (`!` to `~`): safe in a header value and
        /// a bearer token as RFC 6750 allows.
        static func isVisibleASCII(_ text: String) -> Bool {
            !text.isEmpty && text.utf8.allSatisfy { (0x21...0x7E).contains($0) }
        }

        /// The base URL without trailing slashes.
        var trimmedBaseURL: String {
            var url = self.baseURL
            while url.hasSuffix("/") { url.removeLast() }
            return url
        }
    }
}
