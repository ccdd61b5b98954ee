extension HTTPRegistryClient {
    /// How to reach the registry over JSON/HTTP.
    public struct Configuration: Sendable {
        /// The registry's base URL, `http://` or `https://`, without the `/v1/...` path.
        /// Required (`REGISTRY_URL`).
        public var baseURL: String
        /// The bearer token. Required (`REGISTRY_TOKEN`). Never logged.
        public var token: String
        /// Connections to the registry at most, which is also the most calls in flight.
        /// Default: `128` (`REGISTRY_CONCURRENCY`). Give ``FairScheduler/Configuration/maxConcurrentCalls``
        /// the same value.
        public var concurrency: Int
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
                throw RegistryConfigurationError("REGISTRY_URL must be an http:// or https:// URL")
            }
            guard !self.token.isEmpty else { throw RegistryConfigurationError("REGISTRY_TOKEN must not be empty") }
            guard !self.token.contains(where: { $0.isNewline || $0 == " " }) else {
                throw RegistryConfigurationError("REGISTRY_TOKEN must not contain spaces or line breaks")
            }
            guard self.concurrency >= 1 else { throw RegistryConfigurationError("REGISTRY_CONCURRENCY must be at least 1") }
            guard self.connectTimeout > .zero else { throw RegistryConfigurationError("registry connectTimeout must be positive") }
            guard self.maxResponseBytes >= 1_024 else { throw RegistryConfigurationError("registry maxResponseBytes must be at least 1 KiB") }
        }

        /// The base URL without trailing slashes.
        var trimmedBaseURL: String {
            var url = self.baseURL
            while url.hasSuffix("/") { url.removeLast() }
            return url
        }
    }
}
