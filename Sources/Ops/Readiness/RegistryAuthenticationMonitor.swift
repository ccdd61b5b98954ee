import Registry
import Synchronization

/// A registry transport decorator that remembers whether the registry refused the service's token.
///
/// Wrap the transport before handing it to ``ResilientRegistryClient``; ``RegistryReadinessCheck``
/// then reports the service unready from the first 401/403 until a later call is accepted again
/// (a 200, or a 400 for a malformed request, which the registry only gives after authentication).
///
/// ```swift
/// let monitor = RegistryAuthenticationMonitor(transport: httpTransport)
/// let registry = try ResilientRegistryClient(transport: monitor, limiter: limiter, logger: logger)
/// let check = RegistryReadinessCheck(registry: registry, authentication: monitor)
/// ```
public final class RegistryAuthenticationMonitor: RegistryClient {
    /// What the registry last said about the token.
    public enum State: Sendable, Hashable {
        /// No call has been answered yet, or the last answer accepted the token.
        case accepted
        /// The last answer that said anything about the token was this HTTP status (401 or 403).
        case refused(httpStatus: Int)
    }

    private let transport: any RegistryClient
    private let state = Mutex(State.accepted)

    public init(transport: any RegistryClient) {
        self.transport = transport
    }

    public var authenticationState: State { self.state.withLock { $0 } }

    public func verify(_ query: RegistryQuery, deadline: ContinuousClock.Instant) async throws -> VerifyResult {
        try await self.observe { try await self.transport.verify(query, deadline: deadline) }
    }

    public func lookup(_ query: RegistryQuery, deadline: ContinuousClock.Instant) async throws -> LookupResult {
        try await self.observe { try await self.transport.lookup(query, deadline: deadline) }
    }

    private func observe<Value>(_ call: () async throws -> Value) async throws -> Value {
        do {
            let value = try await call()
            self.state.withLock { $0 = .accepted }
            return value
        } catch let error as RegistryError {
            if error.isAuthenticationFailure {
                let status = error.httpStatus ?? (error.code == .forbidden ? 403 : 401)
                self.state.withLock { $0 = .refused(httpStatus: status) }
            } else if error.code == .badRequest {
                self.state.withLock { $0 = .accepted }
            }
            throw error
        }
    }
}
