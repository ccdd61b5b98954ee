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

        /// Why the values cannot work, or `nil`.
        public var problem: String? {
            if !(0...65_535).contains(self.port) { return "port must be between 0 and 65535" }
            if self.token.isEmpty { return "token must not be empty" }
            if !(1...SyntheticPopulation.maximumSize).contains(self.population) {
                return "population must be between 1 and \(SyntheticPopulation.maximumSize)"
            }
            return self.behaviour.problem
        }
    }
}
