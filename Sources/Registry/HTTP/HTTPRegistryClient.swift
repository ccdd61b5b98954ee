import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Tracing

/// The registry's JSON-over-HTTP API (contract section 5) on SwiftNIO: NIOHTTP1's client codec over
/// a pool of keep-alive connections on one event loop (``RegistryConnectionPool``), TLS through
/// NIOSSL, the bearer token on every request, and the per-call deadline given by the caller. One
/// call per invocation; no task is created per call.
///
/// Wrap it in ``ResilientRegistryClient`` for retries, circuit breaking, rate limiting and fair
/// scheduling. Call ``shutdown()`` before dropping it.
public final class HTTPRegistryClient: RegistryClient {
    public let configuration: Configuration
    private let pool: RegistryConnectionPool
    private let paths: [RegistryEndpoint: String]
    private let headers: HTTPHeaders
    private let token: RegistryTokenSource
    private let tracer: any Tracer

    /// - Parameters:
    ///   - configuration: Where the registry is and how to talk to it.
    ///   - eventLoopGroup: The connections live on one loop of it. Default: NIO's shared group.
    ///   - backgroundLogger: For connection-level events; calls log to the logger of the caller.
    ///   - tracer: Injects the caller's trace context (`traceparent`) into every call. Default:
    ///     the bootstrapped tracer.
    /// - Throws: ``RegistryConfigurationError`` when the configuration is invalid.
    public init(
        configuration: Configuration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        backgroundLogger: Logger,
        tracer: any Tracer = InstrumentationSystem.tracer
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.tracer = tracer

        let url = try configuration.parsedURL()
        var tls: NIOSSLContext?
        if url.isTLS {
            let tlsConfiguration = try configuration.tlsConfiguration() ?? .makeClientConfiguration()
            do {
                tls = try NIOSSLContext(configuration: tlsConfiguration)
            } catch {
                throw RegistryConfigurationError(
                    "REGISTRY_CA_FILE, REGISTRY_CLIENT_CERT_FILE or REGISTRY_CLIENT_KEY_FILE cannot be used for TLS: \(error)")
            }
        }
        self.pool = RegistryConnectionPool(
            eventLoop: eventLoopGroup.next(),
            target: .init(host: url.host, port: url.port, tls: tls, serverHostname: url.isIPAddress ? nil : url.host),
            maxConnections: configuration.maxConnections, pipeliningDepth: configuration.pipelining,
            maxResponseBytes: configuration.maxResponseBytes,
            connectTimeout: TimeAmount(configuration.connectTimeout), idleTimeout: TimeAmount(configuration.idleTimeout),
            logger: backgroundLogger)

        self.paths = Dictionary(uniqueKeysWithValues: RegistryEndpoint.allCases.map { ($0, url.pathPrefix + $0.path) })
        self.token = RegistryTokenSource(
            token: configuration.token, file: configuration.tokenFile, interval: configuration.tokenCheckInterval,
            logger: backgroundLogger)
        self.headers = [
            "Host": url.hostHeader,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": configuration.userAgent,
        ]
    }

    /// Closes the connections. Calls made afterwards fail with ``RegistryError/Code/shutDown``.
    public func shutdown() async throws {
        try await self.pool.shutdown().get()
    }

    public func verify(_ query: RegistryQuery, deadline: ContinuousClock.Instant) async throws -> VerifyResult {
        try await self.call(.verify, query: query, deadline: deadline, as: VerifyResult.self)
    }

    public func lookup(_ query: RegistryQuery, deadline: ContinuousClock.Instant) async throws -> LookupResult {
        let result = try await self.call(.lookup, query: query, deadline: deadline, as: LookupResult.self)
        guard result.match == (result.citizen != nil) else {
            // The contract pairs them; anything else is not the registry we know.
            throw RegistryError(code: .invalidResponse, endpoint: .lookup, httpStatus: 200)
        }
        return result
    }

    private func call<Answer: Decodable>(
        _ endpoint: RegistryEndpoint,
        query: RegistryQuery,
        deadline: ContinuousClock.Instant,
        as: Answer.Type
    ) async throws -> Answer {
        let remaining = ContinuousClock.now.duration(to: deadline)
        guard remaining > .zero else { throw RegistryError(code: .timeout, endpoint: endpoint) }

        let body = RegistryJSON.body(query)
        var headers = self.headers
        headers.add(name: "Authorization", value: "Bearer \(self.token.current())")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        if let context = ServiceContext.current {
            self.tracer.inject(context, into: &headers, using: HTTPHeadersInjector())
        }
        let call = RegistryHTTPCall(
            head: HTTPRequestHead(version: .http1_1, method: .POST, uri: self.paths[endpoint]!, headers: headers),
            body: body, endpoint: endpoint, deadline: .now() + TimeAmount(remaining))

        let response: RegistryHTTPResponse
        do {
            let pool = self.pool
            response = try await withTaskCancellationHandler {
                try await withUnsafeThrowingContinuation { continuation in
                    call.continuation = continuation
                    pool.submit(call)
                }
            } onCancel: {
                pool.cancel(call)
            }
        } catch let error as RegistryError {
            throw error
        } catch {
            throw CancellationError()  // the pool fails calls with RegistryError or CancellationError only
        }
        return try Self.answer(response, endpoint: endpoint, as: Answer.self)
    }

    /// The answer for a registry response, or the error its status means (contract section 5).
    static func answer<Answer: Decodable>(_ response: RegistryHTTPResponse, endpoint: RegistryEndpoint, as: Answer.Type) throws -> Answer {
        let status = response.status
        if response.tooLarge { throw RegistryError(code: .invalidResponse, endpoint: endpoint, httpStatus: status) }
        guard status == 200 else {
            let retryAfter = response.retryAfter.flatMap(Self.parseRetryAfter)
            throw RegistryError(httpStatus: status, endpoint: endpoint, retryAfter: retryAfter)
        }
        if Answer.self == VerifyResult.self, let plain = RegistryJSON.plainVerifyAnswer(response.body) {
            return plain as! Answer
        }
        do {
            return try JSONDecoder().decode(Answer.self, from: Data(response.body.readableBytesView))
        } catch {
            throw RegistryError(code: .invalidResponse, endpoint: endpoint, httpStatus: status, underlying: error)
        }
    }

    /// `Retry-After` as the contract sends it (integer seconds). HTTP dates are not used by the
    /// registry and are ignored (the backoff applies instead).
    static func parseRetryAfter(_ value: String) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        guard let seconds = Int(trimmed), seconds >= 0 else { return nil }
        return .seconds(seconds)
    }
}

extension TimeAmount {
    /// A NIO `TimeAmount` for a Swift `Duration` (nanosecond precision, saturating).
    init(_ duration: Duration) {
        self = .nanoseconds(duration.nanoseconds)
    }
}

/// Writes trace headers (`traceparent`, `tracestate`) into a request's headers.
struct HTTPHeadersInjector: Injector {
    func inject(_ value: String, forKey key: String, into headers: inout HTTPHeaders) {
        headers.replaceOrAdd(name: key, value: value)
    }
}
