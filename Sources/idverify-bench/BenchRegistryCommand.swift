import ArgumentParser
import Foundation
import Logging
import Registry
import RegistrySimulator

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `idverify-bench registry`: the simulator's ceiling in requests per second on loopback, and the
/// registry client's overhead per call.
///
/// 1. **Ceiling**: a simulator (`idverify registry-sim` started as a child process, or `--url` for
///    one elsewhere, or `--in-process`) is driven by `--connections` keep-alive connections on plain
///    OS threads, each with `--pipeline` requests in flight, for `--seconds`, with verify (3/4) and
///    lookup (1/4) bodies from the sample queries. The load generator is deliberately minimal
///    (pre-encoded requests, one write per round, blocking sockets) so that it costs far less than
///    the server. The same is then done with `GET /healthz`, which does no work: Hummingbird's own
///    ceiling on this machine, for comparison.
/// 2. **Client overhead**: one call at a time, for `--calls` calls: the same request over a raw
///    socket (the floor: loopback plus server), through ``HTTPRegistryClient``, and through
///    ``ResilientRegistryClient`` (fair scheduler, limiter, breaker, retries, metrics), each as
///    wall time and as this process's CPU time per call; then `--concurrency` callers at once, as
///    CPU time per call. With the simulator in another process, the CPU figures are the client's
///    alone.
struct BenchRegistryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry",
        abstract: "Measure the registry simulator's ceiling (requests/s) and the client's overhead per call."
    )

    @Option(help: "Benchmark a simulator already running at this base URL instead of starting one.")
    var url: String?

    @Flag(help: "Run the simulator inside this process instead of as a child process.")
    var inProcess = false

    @Option(help: "Concurrent callers for the client's CPU cost under load.")
    var concurrency = 32

    @Option(help: "Bearer token of the simulator.")
    var token = "dev-registry-token"

    @Option(help: "People in the in-process simulator's population.")
    var population = 1_000_000

    @Option(help: "Seconds of load for the ceiling (after a one-second warm-up).")
    var seconds: Double = 5

    @Option(help: "Keep-alive connections for the ceiling.")
    var connections = 8

    @Option(help: "Requests in flight per connection (HTTP/1.1 pipelining).")
    var pipeline = 16

    @Option(help: "Sequential calls for each client-overhead measurement.")
    var calls = 5_000

    @Flag(help: "Print one JSON object instead of text.")
    var json = false
    func validate() throws {
        guard self.seconds > 0, self.connections > 0, self.pipeline > 0, self.calls > 0 else {
            throw ValidationError("--seconds, --connections, --pipeline and --calls must be positive")
        }
    }

    func run() async throws {
        var logger = Logger(label: "idverify.bench.registry")
        logger.logLevel = .warning
        let samples = SyntheticPopulation(seed: 1, size: self.population).samples(count: 2_000)

        if let url = self.url {
            guard let target = RegistryBenchTarget(url: url) else { throw ValidationError("--url must be http://host:port") }
            try await self.measure(target: target, samples: samples, logger: logger)
        } else if self.inProcess {
            let configuration = RegistrySimulator.Configuration(port: 0, token: self.token, population: self.population)
            try await RegistrySimulator.withRunning(configuration: configuration, logger: logger) { running in
                try await self.measure(
                    target: RegistryBenchTarget(host: running.host, port: running.port), samples: samples, logger: logger)
            }
        } else {
            let simulator = try await RegistryBenchSimulatorProcess.start(token: self.token, population: self.population)
            do {
                try await self.measure(target: RegistryBenchTarget(host: "127.0.0.1", port: simulator.port), samples: samples, logger: logger)
                await simulator.stop()
            } catch {
                await simulator.stop()
                throw error
            }
        }
    }

    private func measure(target: RegistryBenchTarget, samples: [SampleQuery], logger: Logger) async throws {
        let requests = samples.enumerated().map { index, sample in
            RegistryBenchTarget.encodeRequest(
                path: index % 4 == 3 ? "/v1/citizens/lookup" : "/v1/citizens/verify",
                host: target.host, port: target.port, token: self.token, sample: sample)
        }

        // 1. Ceiling, and the same server's ceiling for a request that does nothing (GET /healthz):
        //    what Hummingbird and the load generator cost on this machine.
        let ceiling = try await RegistryBenchLoad.run(
            target: target, requests: requests, connections: self.connections, pipeline: self.pipeline,
            warmUp: 1, seconds: self.seconds)
        let emptyRequest = Array("GET /healthz HTTP/1.1\r\nHost: \(target.host):\(target.port)\r\n\r\n".utf8)
        let emptyCeiling = try await RegistryBenchLoad.run(
            target: target, requests: [emptyRequest], connections: self.connections, pipeline: self.pipeline,
            warmUp: 1, seconds: self.seconds)

        // 2. Client overhead, one call at a time, then many at once.
        let raw = try await RegistryBenchLoad.sequential(target: target, requests: requests, calls: self.calls)

        let transport = try HTTPRegistryClient(
            configuration: .init(baseURL: target.baseURL, token: self.token, concurrency: self.concurrency),
            backgroundLogger: logger)
        let clients: RegistryBenchClientCosts
        do {
            clients = try await Self.clientCosts(
                transport: transport, samples: samples, calls: self.calls, concurrency: self.concurrency, logger: logger)
            try await transport.shutdown()
        } catch {
            try? await transport.shutdown()
            throw error
        }

        let result = RegistryBenchResult(
            ceilingRequestsPerSecond: ceiling.requestsPerSecond,
            ceilingNon200: ceiling.non200,
            emptyRequestsPerSecond: emptyCeiling.requestsPerSecond,
            connections: self.connections,
            pipeline: self.pipeline,
            concurrency: self.concurrency,
            simulatorInThisProcess: self.inProcess && self.url == nil,
            raw: raw,
            clients: clients
        )
        print(self.json ? result.jsonLine : result.report)
    }

    /// Cost per call through the transport alone and through the full resilient client.
    private static func clientCosts(
        transport: HTTPRegistryClient, samples: [SampleQuery], calls: Int, concurrency: Int, logger: Logger
    ) async throws -> RegistryBenchClientCosts {
        let queries = samples.map { RegistryQuery(idNumber: $0.idNumber, fullName: $0.fullName, dateOfBirth: $0.dateOfBirth) }
        let transportCall: @Sendable (Int) async throws -> Void = { index in
            _ = try await transport.verify(queries[index % queries.count], deadline: .now + .seconds(5))
        }
        // A limit far above what the callers reach: the limiter's bookkeeping is measured, not its waiting.
        let limiter = try LocalRateLimiter(rateLimit: .init(callsPerSecond: 1_000_000))
        let resilient = try ResilientRegistryClient(
            transport: transport, limiter: limiter,
            configuration: .init(scheduler: .init(maxConcurrentCalls: concurrency)), logger: logger)
        defer { resilient.shutdown() }
        let resilientCall: @Sendable (Int) async throws -> Void = { index in
            _ = try await resilient.verify(
                queries[index % queries.count], context: .init(agency: "bench", deadline: .now + .seconds(10)))
        }
        return RegistryBenchClientCosts(
            transport: try await Self.costPerCall(calls: calls, concurrency: 1, transportCall),
            resilient: try await Self.costPerCall(calls: calls, concurrency: 1, resilientCall),
            transportConcurrent: try await Self.costPerCall(calls: calls * 4, concurrency: concurrency, transportCall),
            resilientConcurrent: try await Self.costPerCall(calls: calls * 4, concurrency: concurrency, resilientCall))
    }

    private static func costPerCall(
        calls: Int, concurrency: Int, _ call: @escaping @Sendable (Int) async throws -> Void
    ) async throws -> RegistryBenchCost {
        for index in 0..<min(200, calls) { try await call(index) }  // warm-up: connections, caches
        let start = ContinuousClock.now
        let cpuStart = RegistryBenchLoad.processCPUMicroseconds()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    for index in stride(from: worker, to: calls, by: concurrency) { try await call(index) }
                }
            }
            try await group.waitForAll()
        }
        return RegistryBenchCost(
            wallMicroseconds: RegistryBenchLoad.microseconds(start.duration(to: .now)) / Double(calls),
            cpuMicroseconds: (RegistryBenchLoad.processCPUMicroseconds() - cpuStart) / Double(calls))
    }
}

/// Time per call: wall clock, and this process's CPU (user + system).
struct RegistryBenchCost: Sendable {
    var wallMicroseconds: Double
    var cpuMicroseconds: Double
}

struct RegistryBenchClientCosts: Sendable {
    var transport: RegistryBenchCost
    var resilient: RegistryBenchCost
    var transportConcurrent: RegistryBenchCost
    var resilientConcurrent: RegistryBenchCost
}

struct RegistryBenchResult {
    var ceilingRequestsPerSecond: Double
    var ceilingNon200: Int
    var emptyRequestsPerSecond: Double
    var connections: Int
    var pipeline: Int
    var concurrency: Int
    var simulatorInThisProcess: Bool
    var raw: RegistryBenchCost
    var clients: RegistryBenchClientCosts

    var report: String {
        func f(_ value: Double) -> String { String(format: "%.1f", value) }
        func line(_ name: String, _ cost: RegistryBenchCost) -> String {
            "  \(name)\(f(cost.wallMicroseconds)) µs wall (+\(f(cost.wallMicroseconds - self.raw.wallMicroseconds))), "
                + "\(f(cost.cpuMicroseconds)) µs CPU (+\(f(cost.cpuMicroseconds - self.raw.cpuMicroseconds)))"
        }
        let cpu = self.simulatorInThisProcess ? "CPU includes the in-process simulator" : "CPU: this client process"
        return """
            registry simulator ceiling: \(Int(self.ceilingRequestsPerSecond)) requests/s \
            (\(self.connections) connections x \(self.pipeline) pipelined, non-200: \(self.ceilingNon200))
            same server, GET /healthz (no work): \(Int(self.emptyRequestsPerSecond)) requests/s
            one call at a time, per call (\(cpu)):
            \(line("raw socket (the floor):   ", self.raw))
            \(line("HTTPRegistryClient:       ", self.clients.transport))
            \(line("ResilientRegistryClient:  ", self.clients.resilient))
            \(self.concurrency) callers at once, per call:
              HTTPRegistryClient:       \(f(self.clients.transportConcurrent.cpuMicroseconds)) µs CPU
              ResilientRegistryClient:  \(f(self.clients.resilientConcurrent.cpuMicroseconds)) µs CPU \
            (\(Int(1e6 / self.clients.resilientConcurrent.wallMicroseconds)) calls/s)
            """
    }

    var jsonLine: String {
        func f(_ value: Double) -> String { String(format: "%.1f", value) }
        let clients = self.clients
        return """
            {"bench":"registry","ceilingRequestsPerSecond":\(Int(self.ceilingRequestsPerSecond)),"ceilingNon200":\(self.ceilingNon200),\
            "emptyRequestsPerSecond":\(Int(self.emptyRequestsPerSecond)),"connections":\(self.connections),"pipeline":\(self.pipeline),\
            "rawWallMicroseconds":\(f(self.raw.wallMicroseconds)),"rawCPUMicroseconds":\(f(self.raw.cpuMicroseconds)),\
            "transportWallMicroseconds":\(f(clients.transport.wallMicroseconds)),"transportCPUMicroseconds":\(f(clients.transport.cpuMicroseconds)),\
            "resilientWallMicroseconds":\(f(clients.resilient.wallMicroseconds)),"resilientCPUMicroseconds":\(f(clients.resilient.cpuMicroseconds)),\
            "concurrency":\(self.concurrency),"transportConcurrentCPUMicroseconds":\(f(clients.transportConcurrent.cpuMicroseconds)),\
            "resilientConcurrentCPUMicroseconds":\(f(clients.resilientConcurrent.cpuMicroseconds))}
            """
    }
}

/// `idverify registry-sim` as a child process of this one, on a free port: the `idverify` built
/// beside this executable (SwiftPM puts both products in one folder).
struct RegistryBenchSimulatorProcess {
    let process: Process
    let port: Int

    static func start(token: String, population: Int) async throws -> RegistryBenchSimulatorProcess {
        let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("bench-registry-\(UUID().uuidString).port")
        let service = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("idverify")
        guard FileManager.default.isExecutableFile(atPath: service.path) else {
            throw RegistryBenchError(
                description: "\(service.path) not found: build idverify too (swift build -c release), or pass --url or --in-process")
        }
        let process = Process()
        process.executableURL = service
        process.arguments = [
            "registry-sim", "--port", "0", "--port-file", portFile.path, "--token", token,
            "--population", String(population), "--log-level", "warning",
        ]
        try process.run()
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOf: portFile, encoding: .utf8),
                let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                try? FileManager.default.removeItem(at: portFile)
                return RegistryBenchSimulatorProcess(process: process, port: port)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        throw RegistryBenchError(description: "the simulator did not start within 20 s")
    }

    func stop() async {
        self.process.terminate()
        while self.process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }
}

/// Where the load goes.
struct RegistryBenchTarget: Sendable {
    var host: String
    var port: Int

    var baseURL: String { "http://\(self.host):\(self.port)" }

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init?(url: String) {
        guard let components = URLComponents(string: url), components.scheme == "http",
            let host = components.host, let port = components.port
        else { return nil }
        self.init(host: host, port: port)
    }

    static func encodeRequest(path: String, host: String, port: Int, token: String, sample: SampleQuery) -> [UInt8] {
        let body = try! JSONEncoder().encode(
            RegistryQuery(idNumber: sample.idNumber, fullName: sample.fullName, dateOfBirth: sample.dateOfBirth))
        var text = "POST \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nAuthorization: Bearer \(token)\r\n"
        text += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        return Array(text.utf8) + Array(body)
    }
}

/// A minimal HTTP/1.1 load generator on blocking sockets and dedicated OS threads (never on the
/// cooperative pool).
enum RegistryBenchLoad {
    struct Outcome: Sendable {
        var requestsPerSecond: Double
        var non200: Int
    }

    static func run(
        target: RegistryBenchTarget, requests: [[UInt8]], connections: Int, pipeline: Int, warmUp: Double, seconds: Double
    ) async throws -> Outcome {
        let counters = (0..<connections).map { _ in RegistryBenchCounter() }
        let start = Date().addingTimeInterval(warmUp)
        let end = start.addingTimeInterval(seconds)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, counter) in counters.enumerated() {
                group.addTask {
                    try await onOwnThread {
                        var connection = try RegistryBenchConnection(target: target)
                        var next = index * 97
                        var batch: [UInt8] = []
                        while Date() < end {
                            // One write per round of pipelined requests, as a pipelining client sends them.
                            batch.removeAll(keepingCapacity: true)
                            for _ in 0..<pipeline {
                                batch += requests[next % requests.count]
                                next += 1
                            }
                            try connection.send(batch)
                            for _ in 0..<pipeline {
                                let status = try connection.readResponse()
                                if Date() >= start { counter.record(status: status) }
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let total = counters.reduce(0) { $0 + $1.completed }
        let non200 = counters.reduce(0) { $0 + $1.non200 }
        return Outcome(requestsPerSecond: Double(total) / seconds, non200: non200)
    }

    /// Cost per call, one call at a time on one connection.
    static func sequential(target: RegistryBenchTarget, requests: [[UInt8]], calls: Int) async throws -> RegistryBenchCost {
        try await onOwnThread {
            var connection = try RegistryBenchConnection(target: target)
            for index in 0..<min(200, calls) {
                try connection.send(requests[index % requests.count])
                _ = try connection.readResponse()
            }
            let start = ContinuousClock.now
            let cpuStart = processCPUMicroseconds()
            for index in 0..<calls {
                try connection.send(requests[index % requests.count])
                _ = try connection.readResponse()
            }
            return RegistryBenchCost(
                wallMicroseconds: microseconds(start.duration(to: .now)) / Double(calls),
                cpuMicroseconds: (processCPUMicroseconds() - cpuStart) / Double(calls))
        }
    }

    /// User plus system CPU time of this process so far, in microseconds.
    static func processCPUMicroseconds() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
    }

    static func microseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1e6 + Double(attoseconds) / 1e12
    }

    /// Runs blocking work on a new OS thread and awaits its result.
    static func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do { continuation.resume(returning: try work()) } catch { continuation.resume(throwing: error) }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }
}

/// Counts answers of one connection (written by its thread only, read after it finished).
final class RegistryBenchCounter: @unchecked Sendable {
    // Safe without a lock: exactly one thread writes, and readers wait for that thread's task.
    var completed = 0
    var non200 = 0

    func record(status: Int) {
        self.completed += 1
        if status != 200 { self.non200 += 1 }
    }
}

struct RegistryBenchError: Error, CustomStringConvertible {
    var description: String
}

/// One keep-alive HTTP/1.1 connection over a blocking socket, reading responses framed by
/// `Content-Length` (which the simulator always sends).
struct RegistryBenchConnection: ~Copyable {
    private let socket: Int32
    private var buffer: [UInt8] = []
    private var start = 0

    init(target: RegistryBenchTarget) throws {
        #if canImport(Glibc)
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = Darwin.socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw RegistryBenchError(description: "socket() failed") }
        var noDelay: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(target.port).bigEndian)
        guard inet_pton(AF_INET, target.host == "localhost" ? "127.0.0.1" : target.host, &address.sin_addr) == 1 else {
            close(fd)
            throw RegistryBenchError(description: "the bench needs an IPv4 address, got \(target.host)")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw RegistryBenchError(description: "connect to \(target.host):\(target.port) failed")
        }
        self.socket = fd
        self.buffer.reserveCapacity(1 << 16)
    }

    deinit { close(self.socket) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(self.socket, $0.baseAddress, $0.count) }
            guard written > 0 else { throw RegistryBenchError(description: "write failed") }
            offset += written
        }
    }

    /// Reads one response; returns its status code.
    mutating func readResponse() throws -> Int {
        while true {
            if let (status, length) = self.parseOne() {
                self.start += length
                if self.start > 1 << 15 {
                    self.buffer.removeFirst(self.start)
                    self.start = 0
                }
                return status
            }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let count = chunk.withUnsafeMutableBytes { read(self.socket, $0.baseAddress, $0.count) }
            guard count > 0 else { throw RegistryBenchError(description: "connection closed by the server") }
            self.buffer.append(contentsOf: chunk[0..<count])
        }
    }

    /// Status and total length of the first complete response in the buffer.
    private func parseOne() -> (Int, Int)? {
        let bytes = self.buffer
        guard bytes.count - self.start >= 16 else { return nil }
        var headerEnd: Int?
        var contentLength = 0
        var index = self.start
        while index + 3 < bytes.count {
            if bytes[index] == 13 && bytes[index + 1] == 10 {
                if bytes[index + 2] == 13 && bytes[index + 3] == 10 {
                    headerEnd = index + 4
                    break
                }
                // A header line starts at index + 2: is it Content-Length?
                if let length = Self.contentLength(bytes, at: index + 2) { contentLength = length }
            }
            index += 1
        }
        guard let headerEnd else { return nil }
        let status = Int(bytes[self.start + 9] &- 48) * 100 + Int(bytes[self.start + 10] &- 48) * 10 + Int(bytes[self.start + 11] &- 48)
        let total = headerEnd - self.start + contentLength
        guard bytes.count - self.start >= total else { return nil }
        return (status, total)
    }

    private static let contentLengthName = Array("content-length:".utf8)

    private static func contentLength(_ bytes: [UInt8], at start: Int) -> Int? {
        let name = Self.contentLengthName
        guard start + name.count < bytes.count else { return nil }
        for offset in 0..<name.count where bytes[start + offset] | 0x20 != name[offset] | 0x20 { return nil }
        var index = start + name.count
        var value = 0
        while index < bytes.count, bytes[index] == 32 { index += 1 }
        while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
            value = value * 10 + Int(bytes[index] - 48)
            index += 1
        }
        return value
    }
}
