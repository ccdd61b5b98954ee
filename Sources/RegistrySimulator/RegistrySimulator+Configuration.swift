import Foundation

extension RegistrySimulator {
    /// Where the simulator listens, who may call it, and whom it knows.
    public struct Configuration: Sendable, Hashable {
        /// Default: `127.0.0.1`.
        public var host: String
        /// `0` picks a free port (read it from ``RunningSimulator/port`` or the `onListening` callback).
        /// Default: `8089`.
        public var port: Int
        /// The bearer token callers must send. Default: `dev-registry-token`.
        public var token: String
        /// The population's seed. Default: `1`.
        public var seed: UInt64
        /// The population's size. Default: 1,000,000.
        public var population: Int
        /// Latency, errors, hangs and quota at start. Default: none of them.
        public var behaviour: SimulatorBehaviour
        /// Serve HTTPS instead of HTTP (`--tls-cert`, `--tls-key`, `--tls-client-ca`). Default: `nil`.
        public var tls: TLSFiles?

        public init(
            host: String = "127.0.0.1",
            port: Int = 8089,
            token: String = "dev-registry-token",
            seed: UInt64 = 1,
            population: Int = 1_000_000,
            behaviour: SimulatorBehaviour = .init()
        ) {
            self.host = host
            self.port = port
            self.token = token
            self.seed = seed
            self.population = population
            self.behaviour = behaviour
        }

        /// PEM files for HTTPS.
        public struct TLSFiles: Sendable, Hashable {
            /// The server's certificate chain. Required.
            public var certificateFile: String
            /// Its private key. Required.
            public var keyFile: String
            /// When set, callers must present a certificate signed by this CA (mutual TLS).
            /// Default: `nil` (no client certificate asked for).
            public var clientCAFile: String?

            public init(certificateFile: String, keyFile: String, clientCAFile: String? = nil) {
                self.certificateFile = certificateFile
                self.keyFile = keyFile
                self.clientCAFile = clientCAFile
            }
        }

        /// Why the values cannot work, or `nil`.
        public var problem: String? {
            if !(0...65_535).contains(self.port) { return "port must be between 0 and 65535" }
            if let tls = self.tls {
                for (flag, path) in [("--tls-cert", tls.certificateFile), ("--tls-key", tls.keyFile), ("--tls-client-ca", tls.clientCAFile)] {
                    if let path, !FileManager.default.isReadableFile(atPath: path) { return "\(flag) names a file that cannot be read (\(path))" }
                }
            }
            if self.token.isEmpty { return "token must not be empty" }
            if !(1...SyntheticPopulation.maximumSize).contains(self.population) {
                return "population must be between 1 and \(SyntheticPopulation.maximumSize)"
            }
            return self.behaviour.problem
        }
    }
}
