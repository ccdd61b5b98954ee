import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Registry
import RegistrySimulator
import Synchronization
import Testing

/// The registry transport on SwiftNIO (``HTTPRegistryClient``): its connection pool, deadlines,
/// broken connections and pipelining, against a scripted NIO server on loopback (which counts
/// connections and requests waiting on each) and against the registry simulator.
@Suite("NIO registry transport", .serialized)
struct NIOHTTPTransportTests {
    static let query = RegistryQuery(idNumber: "001090012345", fullName: "NGUYEN VAN A", dateOfBirth: "1990-01-01")

    @Test("keep-alive: sequential calls reuse one connection; concurrent calls stay within the bound")
    func keepAliveAndBound() async throws {
        try await ScriptedRegistry.with(delay: .milliseconds(5)) { server in
            try await Self.withClient(server, connections: 4) { client in
                for _ in 0..<50 {
                    #expect(try await client.verify(Self.query, deadline: .now + .seconds(5)).match)
                }
                #expect(server.stats.accepted == 1, "50 calls one after another, one connection")

                try await withThrowingTaskGroup(of: Bool.self) { group in
                    for _ in 0..<64 {
                        group.addTask { try await client.verify(Self.query, deadline: .now + .seconds(10)).match }
                    }
                    for try await match in group { #expect(match) }
                }
                let stats = server.stats
                #expect(stats.accepted <= 4, "64 concurrent calls, at most 4 connections (saw \(stats.accepted))")
                #expect(stats.maxOpen <= 4)
                #expect(stats.maxQueuedOnOneConnection == 1, "no pipelining by default")
                #expect(stats.requests == 114)
            }
        }
    }

    @Test("a connection idle for longer than idleTimeout is closed; the next call opens another")
    func idleTimeout() async throws {
        try await ScriptedRegistry.with { server in
            var configuration = HTTPRegistryClient.Configuration(baseURL: "http://127.0.0.1:\(server.port)", token: "t")
            configuration.idleTimeout = .milliseconds(200)
            let client = try HTTPRegistryClient(configuration: configuration, backgroundLogger: TestEnvironment.logger)
            #expect(try await client.verify(Self.query, deadline: .now + .seconds(5)).match)
            #expect(server.stats.accepted == 1)
            // Polled, not slept: under the parallel suite a fixed sleep raced the sweep both ways.
            let closeBy = ContinuousClock.now + .seconds(10)
            while server.stats.open > 0, ContinuousClock.now < closeBy { try await Task.sleep(for: .milliseconds(50)) }
            #expect(server.stats.open == 0, "closed after the idle timeout")
            #expect(try await client.verify(Self.query, deadline: .now + .seconds(5)).match)
            #expect(server.stats.accepted == 2)
            try await client.shutdown()
        }
    }

    @Test("a call past its deadline fails as a timeout, its connection is dropped, the next call works")
    func deadline() async throws {
        try await ScriptedRegistry.with(script: { index in index == 1 ? .answer(delay: .seconds(3)) : .answer() }) { server in
            try await Self.withClient(server, connections: 2) { (client: HTTPRegistryClient) async throws -> Void in
                // A connection first: a call whose deadline passes while its connection is still
                // being opened (a loaded machine) leaves that connection clean for the next call.
                #expect(try await client.verify(Self.query, deadline: .now + .seconds(5)).match)
                let start = ContinuousClock.now
                let error = await #expect(throws: RegistryError.self) {
                    _ = try await client.verify(Self.query, deadline: .now + .milliseconds(200))
                }
                #expect(error?.code == .timeout && error?.isRetriable == true)
                #expect(start.duration(to: .now) < .seconds(2))
                #expect(try await client.verify(Self.query, deadline: .now + .seconds(5)).match)
                try await Task.sleep(for: .milliseconds(100))
                #expect(server.stats.accepted == 2, "the timed-out connection was closed, the next call opened another")
            }
        }
    }

    @Test("a call waiting for a connection fails at its own deadline, though an earlier call's comes later")
    func waitingCallDeadline() async throws {
        try await ScriptedRegistry.with(script: { index in index == 0 ? .answer(delay: .seconds(2)) : .answer() }) { server in
            try await Self.withClient(server, connections: 1) { (client: HTTPRegistryClient) async throws -> Void in
                // The only connection is busy for 2 s with a call whose deadline is 10 s away.
                async let slow = client.verify(Self.query, deadline: .now + .seconds(10))
                while server.stats.requests == 0 { try await Task.sleep(for: .milliseconds(10)) }
                let start = ContinuousClock.now
                let error = await #expect(throws: RegistryError.self) {
                    _ = try await client.verify(Self.query, deadline: .now + .milliseconds(300))
                }
                #expect(error?.code == .timeout)
                #expect(start.duration(to: .now) < .milliseconds(1_500), "failed at its deadline, not when the connection freed up")
                #expect(try await slow.match, "the earlier call is answered")
                #expect(server.stats.requests == 1, "the timed-out call was never sent")
            }
        }
    }

    @Test("Connection: close and an abrupt close: transient error or answer, then a new connection")
    func serverCloses() async throws {
        let script: @Sendable (Int) -> ScriptedRegistry.Action = { index in
            switch index {
            case 0: .answer(close: true)
            case 2: .hangUp
            case 4: .garbage
            default: .answer()
            }
        }
        try await ScriptedRegistry.with(script: script) { server in
            try await Self.withClient(server, connections: 1) { (client: HTTPRegistryClient) async throws -> Void in
                #expect(try await client.verify(Self.query, deadline: .now + .seconds(5)).match, "answered, then closed")
                #expect(try await client.verify(Self.query, deadline: .now + .seconds(5)).match, "on a new connection")
                let hungUp = await #expect(throws: RegistryError.self) {
                    _ = try await client.verify(Self.query, deadline: .now + .seconds(5))
                }
                #expect(hungUp?.code == .connectionFailed && hungUp?.isRetriable == true)
                #expect(try await client.verify(Self.query, deadline: .now + .seconds(5)).match, "recovered")
                let malformed = await #expect(throws: RegistryError.self) {
                    _ = try await client.verify(Self.query, deadline: .now + .seconds(5))
                }
                #expect(malformed?.code == .connectionFailed && malformed?.isRetriable == true)
                #expect(try await client.verify(Self.query, deadline: .now + .seconds(5)).match, "recovered again")
                #expect(server.stats.accepted == 4)
            }
        }
    }

    @Test("status mapping: 429 with Retry-After, 503, 400/401/403 permanent, 404 unexpected, oversized body")
    func statuses() async throws {
        let script: @Sendable (Int) -> ScriptedRegistry.Action = { index in
            switch index {
            case 0: .answer(status: 429, headers: [("Retry-After", "7")], body: "{}")
            case 1: .answer(status: 503, headers: [("Retry-After", "2")], body: "{}")
            case 2: .answer(status: 400, body: "{}")
            case 3: .answer(status: 401, body: "{}")
            case 4: .answer(status: 403, body: "{}")
            case 5: .answer(status: 404, body: "not here")
            case 6: .answer(body: "{\"match\":true,\"pad\":\"" + String(repeating: "x", count: 300 * 1024) + "\"}")
            case 7: .answer(body: "<html>proxy</html>")
            default: .answer()
            }
        }
        try await ScriptedRegistry.with(script: script) { server in
            try await Self.withClient(server, connections: 1) { (client: HTTPRegistryClient) async throws -> Void in
                func failure() async -> RegistryError? {
                    do {
                        _ = try await client.verify(Self.query, deadline: .now + .seconds(5))
                        return nil
                    } catch {
                        return error as? RegistryError
                    }
                }
                let limited = await failure()
                #expect(limited?.code == .rateLimited && limited?.retryAfter == .seconds(7) && limited?.isRetriable == true)
                let unavailable = await failure()
                #expect(unavailable?.code == .serverError && unavailable?.retryAfter == .seconds(2) && unavailable?.httpStatus == 503)
                for (code, status) in [(RegistryError.Code.badRequest, 400), (.unauthorized, 401), (.forbidden, 403)] {
                    let error = await failure()
                    #expect(error?.code == code && error?.httpStatus == status && error?.isRetriable == false, "\(status)")
                }
                let notFound = await failure()
                #expect(notFound?.code == .unexpectedStatus && notFound?.isRetriable == false)
                let large = await failure()
                #expect(large?.code == .invalidResponse && large?.httpStatus == 200)
                let html = await failure()
                #expect(html?.code == .invalidResponse && html?.isRetriable == true)
                #expect(try await client.verify(Self.query, deadline: .now + .seconds(5)).match)
                #expect(server.stats.accepted == 1, "error statuses keep the connection")
            }
        }
    }

    @Test("pipelining is opt-in: with REGISTRY_HTTP_PIPELINING 8, calls queue on one connection")
    func pipeliningAgainstScriptedServer() async throws {
        try await ScriptedRegistry.with(delay: .milliseconds(20)) { server in
            try await Self.withClient(server, connections: 1, pipelining: 8) { client in
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    for _ in 0..<16 {
                        group.addTask { try await client.verify(Self.query, deadline: .now + .seconds(10)).match }
                    }
                    for try await match in group { #expect(match) }
                }
                let stats = server.stats
                #expect(stats.accepted == 1)
                #expect(stats.maxQueuedOnOneConnection > 1 && stats.maxQueuedOnOneConnection <= 8, "\(stats.maxQueuedOnOneConnection)")
            }
        }
    }

    @Test("pipelining against the simulator: every answer goes to its own call")
    func pipeliningAgainstSimulator() async throws {
        try await TestEnvironment.withSimulator { simulator in
            var configuration = HTTPRegistryClient.Configuration(baseURL: simulator.baseURL, token: simulator.token)
            configuration.connections = 2
            configuration.pipelining = 16
            let client = try HTTPRegistryClient(configuration: configuration, backgroundLogger: TestEnvironment.logger)
            do {
                let samples = simulator.simulator.population.samples(count: 200)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for sample in samples {
                        group.addTask {
                            let query = TestEnvironment.query(sample)
                            let verified = try await client.verify(query, deadline: .now + .seconds(20))
                            #expect(verified.match == sample.expectMatch)
                            let looked = try await client.lookup(query, deadline: .now + .seconds(20))
                            #expect(looked.match == sample.expectMatch)
                            #expect(looked.citizen?.fullName == (sample.expectMatch ? simulator.simulator.population.citizen(at: sample.citizenIndex).fullName : nil))
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(simulator.simulator.statistics().totalCalls == 400)
                try await client.shutdown()
            } catch {
                try? await client.shutdown()
                throw error
            }
        }
    }

    @Test("no server: connection failure, transient; after shutdown: shut_down")
    func unreachableAndShutDown() async throws {
        // A port that was just free: nothing listens.
        let port = try await ScriptedRegistry.with { $0.port }
        var configuration = HTTPRegistryClient.Configuration(baseURL: "http://127.0.0.1:\(port)", token: "t")
        configuration.connections = 2
        let client = try HTTPRegistryClient(configuration: configuration, backgroundLogger: TestEnvironment.logger)
        let error = await #expect(throws: RegistryError.self) {
            _ = try await client.verify(Self.query, deadline: .now + .seconds(5))
        }
        #expect(error?.code == .connectionFailed && error?.isRetriable == true)
        try await client.shutdown()
        let after = await #expect(throws: RegistryError.self) {
            _ = try await client.verify(Self.query, deadline: .now + .seconds(5))
        }
        #expect(after?.code == .shutDown)
    }

    @Test("a cancelled caller gets CancellationError and the pool goes on")
    func cancellation() async throws {
        try await ScriptedRegistry.with(script: { index in index == 0 ? .answer(delay: .seconds(3)) : .answer() }) { server in
            try await Self.withClient(server, connections: 1) { (client: HTTPRegistryClient) async throws -> Void in
                let task = Task { try await client.verify(Self.query, deadline: .now + .seconds(10)) }
                try await Task.sleep(for: .milliseconds(100))
                task.cancel()
                await #expect(throws: CancellationError.self) { _ = try await task.value }
                #expect(try await client.verify(Self.query, deadline: .now + .seconds(5)).match)
            }
        }
    }

    @Test("settings: REGISTRY_HTTP_CONNECTIONS and REGISTRY_HTTP_PIPELINING are validated by name")
    func configurationValidation() throws {
        var configuration = HTTPRegistryClient.Configuration(baseURL: "https://registry.example", token: "t")
        #expect(configuration.maxConnections == 128, "default: REGISTRY_CONCURRENCY")
        #expect(configuration.pipelining == 1, "default: no pipelining")
        configuration.connections = 0
        let connections = #expect(throws: RegistryConfigurationError.self) { try configuration.validate() }
        #expect(connections?.message.contains("REGISTRY_HTTP_CONNECTIONS") == true)
        configuration.connections = 32
        #expect(configuration.maxConnections == 32)
        configuration.pipelining = 0
        let pipelining = #expect(throws: RegistryConfigurationError.self) { try configuration.validate() }
        #expect(pipelining?.message.contains("REGISTRY_HTTP_PIPELINING") == true)
        configuration.pipelining = 8
        try configuration.validate()
    }

    static func withClient<T>(
        _ server: ScriptedRegistry, connections: Int, pipelining: Int = 1, _ body: (HTTPRegistryClient) async throws -> T
    ) async throws -> T {
        var configuration = HTTPRegistryClient.Configuration(baseURL: "http://127.0.0.1:\(server.port)", token: "t")
        configuration.connections = connections
        configuration.pipelining = pipelining
        let client = try HTTPRegistryClient(configuration: configuration, backgroundLogger: TestEnvironment.logger)
        do {
            let result = try await body(client)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}

/// An HTTP/1.1 server on loopback that answers registry calls as a script says (by the request's
/// index across all connections), answers in order with each connection's requests queued (so
/// pipelined requests are seen waiting), and counts connections.
final class ScriptedRegistry: Sendable {
    enum Action: Sendable {
        /// An answer after `delay`; `close` adds `Connection: close` and closes after it.
        case answer(
            status: Int = 200, headers: [(String, String)] = [], body: String = #"{"match":true}"#, delay: Duration = .zero,
            close: Bool = false)
        /// Close the connection without answering.
        case hangUp
        /// An answer that is not valid HTTP.
        case garbage
    }

    struct Stats: Sendable {
        var accepted = 0
        var open = 0
        var maxOpen = 0
        var requests = 0
        /// Most requests received on one connection and not answered yet.
        var maxQueuedOnOneConnection = 0
    }

    let port: Int
    private let state: Mutex<Stats>
    private let channel: any Channel
    let script: @Sendable (Int) -> Action

    var stats: Stats { self.state.withLock { $0 } }

    private init(script: @escaping @Sendable (Int) -> Action) async throws {
        self.script = script
        self.state = Mutex(Stats())
        let box = Box()
        self.channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false)
                    try channel.pipeline.syncOperations.addHandler(ScriptedHandler(server: box.server!))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.port = self.channel.localAddress!.port!
        box.server = self
    }

    static func with<T>(
        delay: Duration = .zero, script: @escaping @Sendable (Int) -> Action = { _ in .answer() },
        _ body: (ScriptedRegistry) async throws -> T
    ) async throws -> T {
        let delayed: @Sendable (Int) -> Action = { _ in Action.answer(delay: delay) }
        let server = try await ScriptedRegistry(script: delay == .zero ? script : delayed)
        do {
            let result = try await body(server)
            try await server.channel.close()
            return result
        } catch {
            try? await server.channel.close()
            throw error
        }
    }

    func update(_ change: (inout Stats) -> Void) { self.state.withLock { change(&$0) } }
    func nextIndex() -> Int {
        self.state.withLock { stats in
            defer { stats.requests += 1 }
            return stats.requests
        }
    }

    private final class Box: @unchecked Sendable {
        var server: ScriptedRegistry?
    }
}

private final class ScriptedHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let server: ScriptedRegistry
    private var queue: [ScriptedRegistry.Action] = []

    init(server: ScriptedRegistry) { self.server = server }

    func channelActive(context: ChannelHandlerContext) {
        self.server.update {
            $0.accepted += 1
            $0.open += 1
            $0.maxOpen = max($0.maxOpen, $0.open)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.server.update { $0.open -= 1 }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = self.unwrapInboundIn(data) else { return }
        self.queue.append(self.server.script(self.server.nextIndex()))
        let queued = self.queue.count
        self.server.update { $0.maxQueuedOnOneConnection = max($0.maxQueuedOnOneConnection, queued) }
        if queued == 1 { self.answerNext(context: context) }
    }

    private func answerNext(context: ChannelHandlerContext) {
        guard let action = self.queue.first else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        switch action {
        case .answer(_, _, _, let delay, _) where delay > .zero:
            context.eventLoop.scheduleTask(in: .microseconds(Int64(delay / .microseconds(1)))) {
                let (handler, context) = loopBound.value
                handler.respond(action, context: context)
            }
        default:
            self.respond(action, context: context)
        }
    }

    private func respond(_ action: ScriptedRegistry.Action, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        switch action {
        case .answer(let status, let extra, let body, _, let close):
            var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", String(body.utf8.count))])
            for (name, value) in extra { headers.add(name: name, value: value) }
            if close { headers.add(name: "Connection", value: "close") }
            let head = HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: headers)
            context.write(self.wrapOutboundOut(.head(head)), promise: nil)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            if close {
                context.close(promise: nil)
                return
            }
        case .hangUp:
            context.close(promise: nil)
            return
        case .garbage:
            // A Content-Length that is not a number: the client's decoder refuses the answer.
            let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "plenty"])
            context.write(self.wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        self.queue.removeFirst()
        if !self.queue.isEmpty { self.answerNext(context: context) }
    }
}
