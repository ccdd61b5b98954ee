import NIOCore
import NIOHTTP1

/// The last handler of one keep-alive connection to the registry (after TLS and NIOHTTP1's client
/// codec): writes requests, matches each answer to the oldest request awaiting one (HTTP/1.1 answers
/// come in request order, pipelined or not) and reports to ``RegistryConnectionPool``.
///
/// Lives on the pool's event loop; `@unchecked Sendable` only so that the bootstrap's initializer can
/// create it, it is never touched from elsewhere.
final class RegistryHTTPConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart

    private struct Partial {
        var status: Int
        var retryAfter: String?
        var keepAlive: Bool
        var body: ByteBuffer?
        var tooLarge = false
    }

    private let pool: RegistryConnectionPool
    private let maxResponseBytes: Int
    private var context: ChannelHandlerContext?
    private var partial: Partial?
    /// What broke the connection, for the failed calls' ``RegistryError/underlying``.
    private var failure: (any Error)?

    /// Requests written whose answers have not arrived yet, oldest first.
    private(set) var inFlight = CircularBuffer<RegistryHTTPCall>(initialCapacity: 4)
    /// Set once the connection is closing: no more requests go on it.
    private(set) var isClosing = false
    /// Whether the pool lists it as idle (no request in flight).
    var isListedIdle = false
    /// When its last answer arrived (for the idle timeout).
    var lastUsed = NIODeadline.now()

    init(pool: RegistryConnectionPool, maxResponseBytes: Int) {
        self.pool = pool
        self.maxResponseBytes = maxResponseBytes
    }

    /// Whether another request may be written now, `depth` being the pipelining depth.
    func hasRoom(depth: Int) -> Bool { !self.isClosing && self.inFlight.count < depth && self.context != nil }

    /// Writes `call`'s request and flushes.
    func send(_ call: RegistryHTTPCall) {
        guard let context = self.context else {
            call.finish(.failure(RegistryError(code: .connectionFailed, endpoint: call.endpoint)))
            return
        }
        call.connection = self
        self.inFlight.append(call)
        context.write(NIOAny(HTTPClientRequestPart.head(call.head)), promise: nil)
        context.write(NIOAny(HTTPClientRequestPart.body(.byteBuffer(call.body))), promise: nil)
        context.writeAndFlush(NIOAny(HTTPClientRequestPart.end(nil)), promise: nil)
    }

    /// Completes when the channel is closed (`nil` once it is).
    var closeFuture: EventLoopFuture<Void>? { self.context?.channel.closeFuture }

    /// Closes the connection; requests still in flight fail when it is closed.
    func close() {
        guard !self.isClosing else { return }
        self.isClosing = true
        self.context?.close(promise: nil)
    }

    // MARK: ChannelInboundHandler

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        self.pool.connectionActive(self)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.isClosing = true
        self.context = nil
        let failed = self.inFlight
        self.inFlight.removeAll()
        self.pool.connectionClosed(self, failing: failed, underlying: self.failure)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.partial = Partial(
                status: Int(head.status.code), retryAfter: head.headers.first(name: "retry-after"),
                keepAlive: head.isKeepAlive)
        case .body(let chunk):
            guard var partial = self.partial else { return }
            self.partial = nil  // no copy of the buffer while it grows
            let held = partial.body?.readableBytes ?? 0
            if partial.tooLarge || held + chunk.readableBytes > self.maxResponseBytes {
                partial.tooLarge = true
                partial.body = nil
            } else if partial.body == nil {
                partial.body = chunk
            } else {
                partial.body!.writeImmutableBuffer(chunk)
            }
            self.partial = partial
        case .end:
            guard let partial = self.partial, let call = self.inFlight.popFirst() else {
                // An answer nobody asked for: the connection is out of step.
                self.partial = nil
                context.close(promise: nil)
                return
            }
            self.partial = nil
            self.lastUsed = .now()
            if !partial.keepAlive { self.close() }
            let response = RegistryHTTPResponse(
                status: partial.status, retryAfter: partial.retryAfter, body: partial.body ?? ByteBuffer(),
                tooLarge: partial.tooLarge)
            self.pool.answered(call, response, on: self)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Malformed HTTP, a TLS failure, a reset: the connection is no use any more. Its requests
        // fail as connection failures when it is closed.
        self.failure = error
        self.isClosing = true
        context.close(promise: nil)
    }
}
