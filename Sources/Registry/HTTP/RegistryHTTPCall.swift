import NIOCore
import NIOHTTP1

/// One registry answer as the connection collected it: the status, the `Retry-After` header and the
/// body (up to the client's limit).
struct RegistryHTTPResponse: Sendable {
    var status: Int
    var retryAfter: String?
    var body: ByteBuffer
    /// The body was longer than ``HTTPRegistryClient/Configuration/maxResponseBytes`` (and was dropped).
    var tooLarge: Bool
}

/// One registry call on its way through ``RegistryConnectionPool``: the request, its deadline and
/// the continuation of the caller's task.
///
/// Made by the calling task, then handed to the pool's event loop; from then on every field but the
/// immutable ones is read and written on that loop only (hence `@unchecked Sendable`). The
/// continuation is resumed exactly once: ``finish(_:)`` takes it out.
final class RegistryHTTPCall: @unchecked Sendable {
    let head: HTTPRequestHead
    let body: ByteBuffer
    let endpoint: RegistryEndpoint
    let deadline: NIODeadline

    /// Set by the calling task before the call is handed to the loop.
    var continuation: UnsafeContinuation<RegistryHTTPResponse, any Error>?
    /// The connection the request was written to, while its answer is awaited.
    var connection: RegistryHTTPConnection?
    /// Whether the pool has taken the call (set on the loop).
    var enqueued = false
    /// The calling task was cancelled before the pool took the call.
    var cancelled = false

    init(head: HTTPRequestHead, body: ByteBuffer, endpoint: RegistryEndpoint, deadline: NIODeadline) {
        self.head = head
        self.body = body
        self.endpoint = endpoint
        self.deadline = deadline
    }

    /// Whether the caller still waits for this call.
    var isPending: Bool { self.continuation != nil }

    /// Resumes the caller (once; later results are dropped).
    func finish(_ result: Result<RegistryHTTPResponse, any Error>) {
        guard let continuation = self.continuation else { return }
        self.continuation = nil
        self.connection = nil
        continuation.resume(with: result)
    }
}
