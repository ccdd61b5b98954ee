import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Keep-alive connections to the registry on one event loop, opened when needed up to a bound.
///
/// Every method runs on ``eventLoop`` (the callers hop there with `execute`); the state needs no lock,
/// which is why this is `@unchecked Sendable`. A call goes to an idle connection if there is one
/// (the most recently used: the others close after the idle timeout); else, below the bound, it
/// waits for a new connection (or whichever connection frees up first); else, with pipelining, onto
/// the open connection with the fewest requests in flight below the depth; else it waits, first come
/// first served. One timer on the loop watches the calls' deadlines (it fires at the earliest): a
/// call still waiting fails as a timeout, a call in flight too and its connection is closed (its
/// answer may still come). A timer per call cost a scheduled task, and its cancellation a linear
/// search of the loop's timers, for every call.
final class RegistryConnectionPool: @unchecked Sendable {
    struct Target: Sendable {
        var host: String
        var port: Int
        /// `nil` for `http://`.
        var tls: NIOSSLContext?
        /// Sent as SNI and checked against the certificate; `nil` for an IP address (the certificate
        /// is then checked against the address connected to).
        var serverHostname: String?
    }

    let eventLoop: any EventLoop
    private let target: Target
    private let maxConnections: Int
    private let depth: Int
    private let maxResponseBytes: Int
    private let connectTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private let logger: Logger

    private var open: [ObjectIdentifier: RegistryHTTPConnection] = [:]
    private var connecting = 0
    /// Connections with nothing in flight, the most recently used last.
    private var idle: [RegistryHTTPConnection] = []
    private var waiting = CircularBuffer<RegistryHTTPCall>(initialCapacity: 64)
    private var isShutDown = false
    private var sweep: RepeatedTask?
    /// The deadline check, and when it fires: at the earliest deadline of the calls held.
    private var deadlineCheck: (timer: Scheduled<Void>, at: NIODeadline)?
    /// Connections opened so far (successfully), for tests and logs.
    private(set) var connectionsOpened = 0

    init(
        eventLoop: any EventLoop, target: Target, maxConnections: Int, pipeliningDepth: Int, maxResponseBytes: Int,
        connectTimeout: TimeAmount, idleTimeout: TimeAmount, logger: Logger
    ) {
        self.eventLoop = eventLoop
        self.target = target
        self.maxConnections = maxConnections
        self.depth = pipeliningDepth
        self.maxResponseBytes = maxResponseBytes
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
        self.logger = logger
    }

    /// Hands `call` to the pool (from any thread).
    func submit(_ call: RegistryHTTPCall) {
        self.eventLoop.execute { self.enqueue(call) }
    }

    /// The caller's task was cancelled (from any thread).
    func cancel(_ call: RegistryHTTPCall) {
        self.eventLoop.execute {
            guard call.enqueued else {
                call.cancelled = true  // enqueue, which comes later, sees it
                return
            }
            self.abandon(call, with: CancellationError())
        }
    }

    /// Closes every connection and fails the calls waiting; later calls fail with
    /// ``RegistryError/Code/shutDown``.
    func shutdown() -> EventLoopFuture<Void> {
        self.eventLoop.flatSubmit {
            self.isShutDown = true
            self.sweep?.cancel()
            self.sweep = nil
            self.deadlineCheck?.timer.cancel()
            self.deadlineCheck = nil
            while let call = self.waiting.popFirst() {
                call.finish(.failure(RegistryError(code: .shutDown, endpoint: call.endpoint)))
            }
            let connections = Array(self.open.values)
            let closed = connections.compactMap(\.closeFuture)
            for connection in connections { connection.close() }
            return EventLoopFuture.andAllComplete(closed, on: self.eventLoop)
        }
    }

    // MARK: On the loop

    private func enqueue(_ call: RegistryHTTPCall) {
        call.enqueued = true
        if call.cancelled { return call.finish(.failure(CancellationError())) }
        if self.isShutDown { return call.finish(.failure(RegistryError(code: .shutDown, endpoint: call.endpoint))) }
        guard call.deadline > .now() else { return call.finish(.failure(RegistryError(code: .timeout, endpoint: call.endpoint))) }
        self.checkDeadline(by: call.deadline)
        if let connection = self.popIdle() { return connection.send(call) }
        if self.open.count + self.connecting < self.maxConnections {
            self.waiting.append(call)
            self.openConnections()
            return
        }
        if self.depth > 1, let connection = self.leastLoaded() { return connection.send(call) }
        self.waiting.append(call)
    }

    /// Fails a call that is still pending (deadline or cancellation). A call in flight takes its
    /// connection with it: the answer may still come and would be out of step.
    private func abandon(_ call: RegistryHTTPCall, with error: any Error) {
        guard call.isPending else { return }
        let connection = call.connection
        call.finish(.failure(error))
        connection?.close()
        // A waiting call stays in `waiting` and is skipped when its turn comes.
    }

    /// Makes the deadline check fire by `deadline` (calls' deadlines mostly come in order: a new
    /// call seldom moves it).
    private func checkDeadline(by deadline: NIODeadline) {
        if let check = self.deadlineCheck {
            guard deadline < check.at else { return }
            check.timer.cancel()
        }
        let timer = self.eventLoop.scheduleTask(deadline: deadline) { [self] in self.expireCalls() }
        self.deadlineCheck = (timer, deadline)
    }

    /// Fails the calls held whose deadline has passed, and sets the check for the earliest left.
    private func expireCalls() {
        self.deadlineCheck = nil
        let now = NIODeadline.now()
        var earliest: NIODeadline?
        func check(_ call: RegistryHTTPCall) {
            guard call.isPending else { return }
            if call.deadline <= now {
                self.abandon(call, with: RegistryError(code: .timeout, endpoint: call.endpoint))
            } else if earliest.map({ call.deadline < $0 }) ?? true {
                earliest = call.deadline
            }
        }
        for call in self.waiting { check(call) }
        // Copies: abandoning a call closes its connection, which may leave `open` at once.
        for connection in Array(self.open.values) {
            for call in connection.inFlight { check(call) }
        }
        if let earliest, !self.isShutDown {
            // Not more often than every millisecond, however close the deadlines.
            self.checkDeadline(by: max(earliest, now + .milliseconds(1)))
        }
    }

    func answered(_ call: RegistryHTTPCall, _ response: RegistryHTTPResponse, on connection: RegistryHTTPConnection) {
        call.finish(.success(response))
        self.dispatch(on: connection)
    }

    func connectionActive(_ connection: RegistryHTTPConnection) {
        self.connecting -= 1
        self.connectionsOpened += 1
        self.open[ObjectIdentifier(connection)] = connection
        if self.isShutDown { return connection.close() }
        if self.sweep == nil { self.startSweep() }
        self.dispatch(on: connection)
    }

    func connectionClosed(_ connection: RegistryHTTPConnection, failing calls: CircularBuffer<RegistryHTTPCall>, underlying: (any Error)?) {
        self.open[ObjectIdentifier(connection)] = nil
        if connection.isListedIdle, let index = self.idle.firstIndex(where: { $0 === connection }) {
            self.idle.remove(at: index)
            connection.isListedIdle = false
        }
        for call in calls {
            call.finish(.failure(RegistryError(code: .connectionFailed, endpoint: call.endpoint, underlying: underlying)))
        }
        if !self.isShutDown { self.openConnections() }
    }

    private func connectFailed(_ error: any Error) {
        self.connecting -= 1
        self.logger.debug(
            "registry connection could not be opened",
            metadata: .registry([.errorCode: .string(RegistryError.Code.connectionFailed.description)]))
        // Nothing else can take the waiting calls: they fail now (the resilient client retries).
        guard self.open.isEmpty, self.connecting == 0 else { return }
        while let call = self.waiting.popFirst() {
            call.finish(.failure(RegistryError(code: .connectionFailed, endpoint: call.endpoint, underlying: error)))
        }
    }

    /// Gives `connection` waiting calls up to the depth, or lists it idle.
    private func dispatch(on connection: RegistryHTTPConnection) {
        while connection.hasRoom(depth: self.depth), let call = self.nextWaiting() {
            connection.send(call)
        }
        if connection.inFlight.isEmpty, !connection.isClosing, !connection.isListedIdle {
            connection.isListedIdle = true
            self.idle.append(connection)
        }
    }

    private func nextWaiting() -> RegistryHTTPCall? {
        while let call = self.waiting.popFirst() {
            if call.isPending { return call }
        }
        return nil
    }

    private func popIdle() -> RegistryHTTPConnection? {
        while let connection = self.idle.popLast() {
            connection.isListedIdle = false
            if connection.hasRoom(depth: 1) { return connection }
        }
        return nil
    }

    private func leastLoaded() -> RegistryHTTPConnection? {
        var best: RegistryHTTPConnection?
        for connection in self.open.values where connection.hasRoom(depth: self.depth) {
            if best == nil || connection.inFlight.count < best!.inFlight.count { best = connection }
        }
        return best
    }

    /// Opens connections for the calls waiting (one each), within the bound.
    private func openConnections() {
        var pendingWaiting = 0
        for call in self.waiting where call.isPending { pendingWaiting += 1 }
        while self.connecting < pendingWaiting, self.open.count + self.connecting < self.maxConnections {
            self.connect()
        }
    }

    private func connect() {
        self.connecting += 1
        let target = self.target
        let maxResponseBytes = self.maxResponseBytes
        let bootstrap = ClientBootstrap(group: self.eventLoop)
            .connectTimeout(self.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                do {
                    let sync = channel.pipeline.syncOperations
                    if let tls = target.tls {
                        try sync.addHandler(NIOSSLClientHandler(context: tls, serverHostname: target.serverHostname))
                    }
                    // No outbound header validation: every header value is checked when it is
                    // configured (token, URL) or made by our tracer (the 4 % it cost per call).
                    try sync.addHTTPClientHandlers(enableOutboundHeaderValidation: false)
                    try sync.addHandler(RegistryHTTPConnection(pool: self, maxResponseBytes: maxResponseBytes))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        bootstrap.connect(host: target.host, port: target.port).whenFailure { [self] error in
            self.connectFailed(error)
        }
    }

    /// Closes connections idle for longer than the idle timeout, checked every half of it.
    private func startSweep() {
        let period = max(TimeAmount.nanoseconds(self.idleTimeout.nanoseconds / 2), .milliseconds(100))
        // Weak: a client dropped without `shutdown()` does not keep its pool alive through the timer.
        self.sweep = self.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { [weak self] task in
            guard let self else { return task.cancel() }
            let cutoff = NIODeadline.now() - self.idleTimeout
            for connection in self.idle where connection.lastUsed < cutoff {
                connection.close()
            }
        }
    }
}
