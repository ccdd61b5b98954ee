import ArgumentParser
import Foundation
import Identity
import Logging
import Registry
import RegistrySimulator

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `idverify bench registry`: the simulator's ceiling in requests per second on loopback, and the
/// registry client's overhead per call.
///
/// 1. **Ceiling**: a simulator (in this process, or `--url` for one elsewhere) is driven by
///    `--connections` keep-alive connections on plain OS threads, each with `--pipeline` requests
///    in flight, for `--seconds`, with verify and lookup bodies from the sample queries. The load
///    generator is deliberately minimal (pre-encoded requests, blocking sockets) so that it costs
///    far less than the server.
/// 2. **Client overhead**: one call at a time, for `--calls` calls: the same request over a raw
///    socket (the floor: loopback plus server), through ``HTTPRegistryClient``, and through
///    ``ResilientRegistryClient`` (fair scheduler, limiter, breaker, retries, metrics). The
///    differences are what the client adds per call.
struct BenchRegistryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry",
        abstract: "Measure the registry simulator's ceiling (requests/s) and the client's overhead per call."
    )

    @Option(help: "Benchmark a simulator already running at this base URL instead of starting one here.")
    var url: String?

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
    @Flag(help: .hidden)
    var micro = false

    static func microBenchmarks(samples: [SampleQuery], population: SyntheticPopulation) {
        func time(_ name: String, _ iterations: Int, _ body: (Int) -> Void) {
            let start = ContinuousClock.now
            for index in 0..<iterations { body(index) }
            let micros = RegistryBenchLoad.microseconds(start.duration(to: .now)) / Double(iterations)
            print("\(name): \(String(format: "%.2f", micros)) µs")
        }
        let bodies = samples.map { try! JSONEncoder().encode(RegistryQuery(idNumber: $0.idNumber, fullName: $0.fullName, dateOfBirth: $0.dateOfBirth)) }
        var sink = 0
        time("JSONDecoder RegistryQuery", 20_000) { i in sink &+= (try! JSONDecoder().decode(RegistryQuery.self, from: bodies[i % bodies.count])).idNumber.utf8.count }
        time("comparisonKey", 20_000) { i in sink &+= PersonName.comparisonKey(samples[i % samples.count].fullName).utf8.count }
        time("normalize", 20_000) { i in sink &+= PersonName.normalize(samples[i % samples.count].fullName).utf8.count }
        time("citizen(at:)", 20_000) { i in sink &+= population.citizen(at: i * 37 % population.size).fullName.utf8.count }
        time("match", 20_000) { i in
            let s = samples[i % samples.count]
            if case .match = population.match(idNumber: s.idNumber, fullName: s.fullName, dateOfBirth: PartialDate(s.dateOfBirth)!) { sink &+= 1 }
        }
        print(sink)
    }

    func validate() throws {
        guard self.seconds > 0, self.connections > 0, self.pipeline > 0, self.calls > 0 else {
            throw ValidationError("--seconds, --connections, --pipeline and --calls must be positive")
        }
    }

    func run() async throws {
        var logger = Logger(label: "idverify.bench.registry")
        logger.logLevel = .warning
        let samples = SyntheticPopulation(seed: 1, size: self.population).samples(count: 2_000)
        if self.micro {
            Self.microBenchmarks(samples: samples, population: SyntheticPopulation(seed: 1, size: self.population))
            return
        }

        if let url = self.url {
            guard let target = RegistryBenchTarget(url: url) else { throw ValidationError("--url must be http://host:port") }
            try await self.measure(target: target, samples: samples, logger: logger)
        } else {
            let configuration = RegistrySimulator.Configuration(port: 0, token: self.token, population: self.population)
            try await RegistrySimulator.withRunning(configuration: configuration, logger: logger) { running in
                try await self.measure(
                    target: RegistryBenchTarget(host: running.host, port: running.port), samples: samples, logger: logger)
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

        // 2. Client overhead, one call at a time.
        let rawLatency = try await RegistryBenchLoad.sequential(target: target, requests: requests, calls: self.calls)

        let transport = try HTTPRegistryClient(
            configuration: .init(baseURL: target.baseURL, token: self.token, concurrency: 4), backgroundLogger: logger)
        let latencies: (transport: Double, resilient: Double)
        do {
            latencies = try await Self.clientLatencies(transport: transport, samples: samples, calls: self.calls, logger: logger)
            try await transport.shutdown()
        } catch {
            try? await transport.shutdown()
            throw error
        }
        let transportLatency = latencies.transport
        let resilientLatency = latencies.resilient

        let result = RegistryBenchResult(
            ceilingRequestsPerSecond: ceiling.requestsPerSecond,
            ceilingNon200: ceiling.non200,
            emptyRequestsPerSecond: emptyCeiling.requestsPerSecond,
            connections: self.connections,
            pipeline: self.pipeline,
            rawMicrosecondsPerCall: rawLatency,
            transportMicrosecondsPerCall: transportLatency,
            resilientMicrosecondsPerCall: resilientLatency
        )
        print(self.json ? result.jsonLine : result.report)
    }

    /// Microseconds per call through the transport alone and through the full resilient client.
    private static func clientLatencies(
        transport: HTTPRegistryClient, samples: [SampleQuery], calls: Int, logger: Logger
    ) async throws -> (transport: Double, resilient: Double) {
        let queries = samples.map { RegistryQuery(idNumber: $0.idNumber, fullName: $0.fullName, dateOfBirth: $0.dateOfBirth) }
        let transportLatency = try await Self.timePerCall(calls: calls) { index in
            _ = try await transport.verify(queries[index % queries.count], deadline: .now + .seconds(5))
        }
        // A limit far above what one caller reaches: the limiter's bookkeeping is measured, not its waiting.
        let limiter = try LocalRateLimiter(rateLimit: .init(callsPerSecond: 1_000_000))
        let resilient = try ResilientRegistryClient(
            transport: transport, limiter: limiter,
            configuration: .init(scheduler: .init(maxConcurrentCalls: 4)), logger: logger)
        defer { resilient.shutdown() }
        let resilientLatency = try await Self.timePerCall(calls: calls) { index in
            _ = try await resilient.verify(
                queries[index % queries.count], context: .init(agency: "bench", deadline: .now + .seconds(10)))
        }
        return (transportLatency, resilientLatency)
    }

    private static func timePerCall(calls: Int, _ call: (Int) async throws -> Void) async throws -> Double {
        for index in 0..<min(200, calls) { try await call(index) }  // warm-up: connections, caches
        let start = ContinuousClock.now
        for index in 0..<calls { try await call(index) }
        return RegistryBenchLoad.microseconds(start.duration(to: .now)) / Double(calls)
    }
}

struct RegistryBenchResult {
    var ceilingRequestsPerSecond: Double
    var ceilingNon200: Int
    var emptyRequestsPerSecond: Double
    var connections: Int
    var pipeline: Int
    var rawMicrosecondsPerCall: Double
    var transportMicrosecondsPerCall: Double
    var resilientMicrosecondsPerCall: Double

    var report: String {
        func f(_ value: Double) -> String { String(format: "%.1f", value) }
        return """
            registry simulator ceiling: \(Int(self.ceilingRequestsPerSecond)) requests/s \
            (\(self.connections) connections x \(self.pipeline) pipelined, non-200: \(self.ceilingNon200))
            same server, GET /healthz (no work): \(Int(self.emptyRequestsPerSecond)) requests/s
            one call at a time, per call:
              raw socket (loopback + simulator):     \(f(self.rawMicrosecondsPerCall)) µs
              HTTPRegistryClient:                     \(f(self.transportMicrosecondsPerCall)) µs  (+\(f(self.transportMicrosecondsPerCall - self.rawMicrosecondsPerCall)) µs)
              ResilientRegistryClient (full stack):   \(f(self.resilientMicrosecondsPerCall)) µs  (+\(f(self.resilientMicrosecondsPerCall - self.rawMicrosecondsPerCall)) µs)
            """
    }

    var jsonLine: String {
        """
        {"bench":"registry","ceilingRequestsPerSecond":\(Int(self.ceilingRequestsPerSecond)),"ceilingNon200":\(self.ceilingNon200),\
        "emptyRequestsPerSecond":\(Int(self.emptyRequestsPerSecond)),\
        "connections":\(self.connections),"pipeline":\(self.pipeline),\
        "rawMicrosecondsPerCall":\(String(format: "%.1f", self.rawMicrosecondsPerCall)),\
        "transportMicrosecondsPerCall":\(String(format: "%.1f", self.transportMicrosecondsPerCall)),\
        "resilientMicrosecondsPerCall":\(String(format: "%.1f", self.resilientMicrosecondsPerCall))}
        """
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

    /// Microseconds per call, one call at a time on one connection.
    static func sequential(target: RegistryBenchTarget, requests: [[UInt8]], calls: Int) async throws -> Double {
        try await onOwnThread {
            var connection = try RegistryBenchConnection(target: target)
            for index in 0..<min(200, calls) {
                try connection.send(requests[index % requests.count])
                _ = try connection.readResponse()
            }
            let start = ContinuousClock.now
            for index in 0..<calls {
                try connection.send(requests[index % requests.count])
                _ = try connection.readResponse()
            }
            return microseconds(start.duration(to: .now)) / Double(calls)
        }
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
