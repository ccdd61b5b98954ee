import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL
import Identity
import Logging
import ServiceLifecycle
import Synchronization

/// A stand-in for the national population registry, speaking contract section 5 exactly, over a
/// deterministic synthetic population, with latency, errors, hangs and a quota that can be set at
/// start and changed while it runs.
///
/// Endpoints:
/// - `POST /v1/citizens/verify`, `POST /v1/citizens/lookup`: bearer token required (401), malformed
///   body 400, quota 429 with `Retry-After` (integer seconds).
/// - `GET /stats`: ``SimulatorStatistics`` as JSON (no token).
/// - `GET /admin/behaviour`, `PUT /admin/behaviour` (partial ``SimulatorBehaviour`` JSON),
///   `POST /admin/fail-next` (``ScriptedFailure`` JSON), `POST /admin/reset-stats`: bearer token required.
/// - `GET /healthz`.
///
/// In tests, start one on a free port with ``withRunning(configuration:logger:_:)``.
public final class RegistrySimulator: Sendable {
    public let configuration: Configuration
    /// HTTP/1.1, over TLS when ``Configuration/tls`` is set.
    private let server: HTTPServerBuilder
    public let population: SyntheticPopulation
    let logger: Logger
    let expectedAuthorization: String
    let hanging = HangingCalls()
    let state: Mutex<State>

    struct State {
        var behaviour: SimulatorBehaviour
        var scripted: [ScriptedFailure] = []
        var epoch = ContinuousClock.now
        var arrivals = SlidingWindowCounter()
        var admitted = SlidingWindowCounter()
        var calls: [String: [String: Int]] = [:]
        var totalCalls = 0
        var firstCall: Int64?
        var lastCall: Int64?
        var maxSchedulingLag: Duration = .zero
        /// `traceparent` headers of the latest calls (at most ``traceParentMemory``).
        var traceParents: [String] = []

        mutating func count(_ endpoint: String, _ status: String) {
            self.calls[endpoint, default: [:]][status, default: 0] += 1
        }
    }

    /// - Throws: ``SimulatorConfigurationError`` when the configuration cannot work.
    public init(configuration: Configuration, logger: Logger) throws {
        if let problem = configuration.problem { throw SimulatorConfigurationError(message: problem) }
        self.configuration = configuration
        self.population = SyntheticPopulation(seed: configuration.seed, size: configuration.population)
        self.logger = logger
        self.expectedAuthorization = "Bearer \(configuration.token)"
        self.state = Mutex(State(behaviour: configuration.behaviour))
        if let files = configuration.tls {
            do {
                var tls = TLSConfiguration.makeServerConfiguration(
                    certificateChain: try NIOSSLCertificate.fromPEMFile(files.certificateFile).map { .certificate($0) },
                    privateKey: .privateKey(try NIOSSLPrivateKey(file: files.keyFile, format: .pem)))
                if let clientCA = files.clientCAFile {
                    tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(clientCA))
                    tls.certificateVerification = .noHostnameVerification
                }
                self.server = try .tls(.http1(), tlsConfiguration: tls)
            } catch {
                throw SimulatorConfigurationError(message: "--tls-cert/--tls-key/--tls-client-ca cannot be used: \(error)")
            }
        } else {
            self.server = .http1()
        }
    }

    /// The behaviour now.
    public var behaviour: SimulatorBehaviour { self.state.withLock { $0.behaviour } }

    /// Replaces the behaviour.
    public func setBehaviour(_ behaviour: SimulatorBehaviour) throws {
        if let problem = behaviour.problem { throw SimulatorConfigurationError(message: problem) }
        self.state.withLock { $0.behaviour = behaviour }
    }

    /// Answers the next `failure.count` calls with `failure.status`.
    public func scriptFailures(_ failure: ScriptedFailure) {
        guard failure.count > 0 else { return }
        self.state.withLock { $0.scripted.append(failure) }
    }

    /// What the simulator has seen since start or the last reset.
    public func statistics() -> SimulatorStatistics {
        let now = ContinuousClock.now
        return self.state.withLock { state in
            SimulatorStatistics(
                calls: state.calls,
                totalCalls: state.totalCalls,
                maxCallsInOneSecond: state.arrivals.maximum,
                maxAdmittedInOneSecond: state.admitted.maximum,
                firstCallAtSeconds: state.firstCall.map { Double($0) / 1e9 },
                lastCallAtSeconds: state.lastCall.map { Double($0) / 1e9 },
                elapsedSeconds: Self.seconds(state.epoch.duration(to: now)),
                maxSchedulingLagMs: Self.seconds(state.maxSchedulingLag) * 1_000
            )
        }
    }

    /// How many of the latest calls' `traceparent` headers are kept.
    static let traceParentMemory = 1_000

    /// The `traceparent` headers of the latest calls of verify and lookup, oldest first: what a
    /// registry's own tracing would see of its callers' traces.
    public func recentTraceParents() -> [String] {
        self.state.withLock { $0.traceParents }
    }

    /// Forgets every call seen so far (behaviour and scripted failures stay).
    public func resetStatistics() {
        self.state.withLock { state in
            state.epoch = .now
            state.arrivals = SlidingWindowCounter()
            state.admitted = SlidingWindowCounter()
            state.calls = [:]
            state.totalCalls = 0
            state.firstCall = nil
            state.lastCall = nil
            state.maxSchedulingLag = .zero
            state.traceParents = []
        }
    }

    /// Lets every deliberately hanging call go (answered 504), e.g. on graceful shutdown.
    public func releaseHangingCalls() {
        self.hanging.releaseAll()
    }

    /// The Hummingbird application serving this simulator (a `Service`).
    ///
    /// - Parameter onListening: Called with the bound port once the server listens.
    public func makeApplication(
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            responder: Responder(simulator: self),
            server: self.server,
            configuration: .init(address: .hostname(self.configuration.host, port: self.configuration.port), backlog: 1_024),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: self.logger
        )
    }

    /// Serves until the task is cancelled (or, inside a `ServiceGroup`, until graceful shutdown).
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let application = self.makeApplication(onListening: onListening)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await application.run() }
            group.addTask { await self.watchSchedulingLag() }
            // The server returns on shutdown; then stop watching.
            try await group.next()
            group.cancelAll()
        }
    }

    /// Measures how late a 5 ms timer fires, for ``SimulatorStatistics/maxSchedulingLagMs``.
    private func watchSchedulingLag() async {
        let period = Duration.milliseconds(5)
        while !Task.isCancelled {
            let due = ContinuousClock.now + period
            do {
                try await Task.sleep(until: due, tolerance: .zero, clock: .continuous)
            } catch {
                return
            }
            let lag = due.duration(to: .now)
            self.state.withLock { $0.maxSchedulingLag = max($0.maxSchedulingLag, lag) }
        }
    }

    /// Runs a simulator for the duration of `body`, on the configured port (`0` = a free one).
    ///
    /// ```swift
    /// try await RegistrySimulator.withRunning(configuration: .init(port: 0, population: 10_000)) { sim in
    ///     let client = try HTTPRegistryClient(configuration: .init(baseURL: sim.baseURL, token: sim.token), ...)
    /// }
    /// ```
    public static func withRunning<Result: Sendable>(
        configuration: Configuration = .init(port: 0),
        logger: Logger = Logger(label: "registry-simulator"),
        _ body: (RunningSimulator) async throws -> Result
    ) async throws -> Result {
        let simulator = try RegistrySimulator(configuration: configuration, logger: logger)
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let group = ServiceGroup(
            configuration: .init(
                services: [RegistrySimulatorService(simulator: simulator) { port in portContinuation.yield(port) }],
                logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                defer { portContinuation.finish() }
                try await group.run()
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else {
                try await tasks.next()  // rethrows why the server did not start
                throw SimulatorConfigurationError(message: "the simulator stopped before listening")
            }
            let running = RunningSimulator(simulator: simulator, host: configuration.host, port: port)
            let result: Swift.Result<Result, any Error>
            do {
                result = .success(try await body(running))
            } catch {
                result = .failure(error)
            }
            // Stop the way a deployment would: graceful shutdown, hanging calls let go.
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return try result.get()
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// A simulator started by ``RegistrySimulator/withRunning(configuration:logger:_:)``.
public struct RunningSimulator: Sendable {
    public let simulator: RegistrySimulator
    public let host: String
    /// The port it listens on.
    public let port: Int

    /// `http://host:port` (`https://` when the simulator serves TLS), the base URL for a registry client.
    public var baseURL: String { "\(self.simulator.configuration.tls == nil ? "http" : "https")://\(self.host):\(self.port)" }
    /// The bearer token it expects.
    public var token: String { self.simulator.configuration.token }
}

/// A simulator setting that cannot work.
public struct SimulatorConfigurationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { "Invalid registry simulator setting: \(self.message)" }
}
