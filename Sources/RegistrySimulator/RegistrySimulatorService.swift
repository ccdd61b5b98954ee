import ServiceLifecycle

/// The simulator as a `Service`: serves until graceful shutdown (or cancellation), and on graceful
/// shutdown lets deliberately hanging calls go, so that shutting down does not wait for them.
///
/// ```swift
/// let group = ServiceGroup(configuration: .init(
///     services: [RegistrySimulatorService(simulator: simulator)],
///     gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
/// try await group.run()
/// ```
public struct RegistrySimulatorService: Service {
    public let simulator: RegistrySimulator
    private let onListening: @Sendable (Int) async -> Void

    /// - Parameter onListening: Called with the bound port once the server listens.
    public init(simulator: RegistrySimulator, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) {
        self.simulator = simulator
        self.onListening = onListening
    }

    public func run() async throws {
        let simulator = self.simulator
        try await withGracefulShutdownHandler {
            try await simulator.run(onListening: self.onListening)
        } onGracefulShutdown: {
            simulator.releaseHangingCalls()
        }
    }
}
