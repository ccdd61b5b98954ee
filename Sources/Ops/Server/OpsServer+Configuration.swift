extension OpsServer {
    /// Where the operations endpoints listen and how readiness is probed.
    public struct Configuration: Sendable, Hashable {
        /// Address to bind. Default: `0.0.0.0` (all interfaces, for probes and scrapers).
        public var host: String
        /// Port. Default: 8080 (`OPS_PORT`); 0 picks a free port (see `onServerRunning`).
        public var port: Int
        /// How long one readiness check may take. Default: 2 s.
        public var readinessTimeout: Duration
        /// How often the readiness gauges (`identity_ready`, `identity_readiness_check_ok`) are
        /// refreshed between `/readyz` calls; `nil` refreshes them only on `/readyz`. Default: 15 s.
        public var readinessSampleInterval: Duration?
        /// How often the status page's counter snapshots are taken (verdicts and dead letters of
        /// the last hour, registry calls per second). Default: 10 s.
        public var statusSampleInterval: Duration

        public init(
            host: String = "0.0.0.0",
            port: Int = 8080,
            readinessTimeout: Duration = .seconds(2),
            readinessSampleInterval: Duration? = .seconds(15),
            statusSampleInterval: Duration = .seconds(10)
        ) {
            self.host = host
            self.port = port
            self.readinessTimeout = readinessTimeout
            self.readinessSampleInterval = readinessSampleInterval
            self.statusSampleInterval = statusSampleInterval
        }

        /// Reads `OPS_PORT` (default 8080).
        public init(environment: [String: String]) throws(SettingError) {
            self.init()
            if let text = environment["OPS_PORT"] {
                guard let port = Int(text) else { throw SettingError.invalid("OPS_PORT", "must be a port number") }
                self.port = port
            }
            try self.validate()
        }

        /// Checks the values, naming the one that cannot work.
        public func validate() throws(SettingError) {
            guard (0...65_535).contains(self.port) else { throw SettingError.invalid("OPS_PORT", "must be 0...65535") }
            guard self.readinessTimeout > .zero else {
                throw SettingError.invalid("readinessTimeout", "must be positive")
            }
            guard self.statusSampleInterval > .zero else {
                throw SettingError.invalid("statusSampleInterval", "must be positive")
            }
            if let interval = self.readinessSampleInterval, interval <= .zero {
                throw SettingError.invalid("readinessSampleInterval", "must be positive")
            }
        }
    }
}
