import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Tracing

/// The registry's JSON-over-HTTP API (contract section 5) through AsyncHTTPClient: one call per
/// invocation, a connection pool of ``Configuration/concurrency`` connections, the bearer token on
/// every request, and the per-call deadline given by the caller.
///
/// Wrap it in ``ResilientRegistryClient`` for retries, circuit breaking, rate limiting and fair
/// scheduling. Call ``shutdown()`` before dropping it.
public final class HTTPRegistryClient: RegistryClient {
    public let configuration: Configuration
    private let httpClient: HTTPClient
    private let urls: [RegistryEndpoint: String]
    private let headers: [(name: String, value: String)]
    private let token: RegistryTokenSource
    private let logger: Logger
    private let tracer: any Tracer

    /// - Parameters:
    ///   - configuration: Where the registry is and how to talk to it.
    ///   - eventLoopGroup: Where the connections live. Default: AsyncHTTPClient's shared group.
    ///   - backgroundLogger: For connection-level events; calls log to the logger of the caller.
    ///   - tracer: Injects the caller's trace context (`traceparent`) into every call. Default:
    ///     the bootstrapped tracer.
    /// - Throws: ``RegistryConfigurationError`` when the configuration is invalid.
    public init(
        configuration: Configuration,
        eventLoopGroup: any EventLoopGroup = HTTPClient.defaultEventLoopGroup,
        backgroundLogger: Logger,
        tracer: any Tracer = InstrumentationSystem.tracer
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.logger = backgroundLogger

        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.timeout = .init(connect: TimeAmount(configuration.connectTimeout))
        clientConfiguration.connectionPool = .init(
            idleTimeout: TimeAmount(configuration.idleTimeout),
            concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.concurrency
        )
        clientConfiguration.tlsConfiguration = try configuration.tlsConfiguration()
        clientConfiguration.redirectConfiguration = .disallow
        clientConfiguration.decompression = .disabled
        // No span of AsyncHTTPClient's own: the caller's span (ResilientRegistryClient's
        // `registry.verify|lookup`) is injected below. AsyncHTTPClient's per-request span and its
        // attributes were ~3 % of the worker's CPU in the throughput benchmark.
        clientConfiguration.tracing.tracer = nil
        self.tracer = tracer
        self.httpClient = HTTPClient(
            eventLoopGroup: eventLoopGroup,
            configuration: clientConfiguration,
            backgroundActivityLogger: backgroundLogger
        )

        let base = configuration.trimmedBaseURL
        self.urls = Dictionary(uniqueKeysWithValues: RegistryEndpoint.allCases.map { ($0, base + $0.path) })
        self.token = RegistryTokenSource(
            token: configuration.token, file: configuration.tokenFile, interval: configuration.tokenCheckInterval,
            logger: backgroundLogger)
        self.headers = [
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
            ("User-Agent", configuration.userAgent),
        ]
    }

    /// Closes the connections. Calls made afterwards fail.
    public func shutdown() async throws {
        try await self.httpClient.shutdown()
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
        var request = HTTPClientRequest(url: self.urls[endpoint]!)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(self.token.current())")
        for header in self.headers { request.headers.add(name: header.name, value: header.value) }
        if let context = ServiceContext.current {
            self.tracer.inject(context, into: &request.headers, using: HTTPHeadersInjector())
        }
        request.body = .bytes(RegistryJSON.body(query))

        let remaining = ContinuousClock.now.duration(to: deadline)
        guard remaining > .zero else { throw RegistryError(code: .timeout, endpoint: endpoint) }

        do {
            // No per-request logger: AsyncHTTPClient's request-level trace events are not wanted,
            // and attaching its metadata to every call cost CPU. Connection events still go to
            // the background logger.
            let response = try await self.httpClient.execute(request, deadline: .now() + TimeAmount(remaining), logger: nil)
            let status = Int(response.status.code)
            let buffer: ByteBuffer
            do {
                buffer = try await response.body.collect(upTo: self.configuration.maxResponseBytes)
            } catch is NIOTooManyBytesError {
                throw RegistryError(code: .invalidResponse, endpoint: endpoint, httpStatus: status)
            }
            guard status == 200 else {
                let retryAfter = response.headers.first(name: "retry-after").flatMap(Self.parseRetryAfter)
                throw RegistryError(httpStatus: status, endpoint: endpoint, retryAfter: retryAfter)
            }
            if Answer.self == VerifyResult.self, let plain = RegistryJSON.plainVerifyAnswer(buffer) {
                return plain as! Answer
            }
            do {
                return try JSONDecoder().decode(Answer.self, from: Data(buffer.readableBytesView))
            } catch {
                throw RegistryError(code: .invalidResponse, endpoint: endpoint, httpStatus: status, underlying: error)
            }
        } catch let error as RegistryError {
            throw error
        } catch let error as HTTPClientError {
            if Task.isCancelled { throw CancellationError() }
            throw RegistryError(code: Self.code(for: error), endpoint: endpoint, underlying: error)
        } catch {
            if Task.isCancelled || error is CancellationError { throw CancellationError() }
            throw RegistryError(code: .connectionFailed, endpoint: endpoint, underlying: error)
        }
    }

    private static func code(for error: HTTPClientError) -> RegistryError.Code {
        switch error {
        case .deadlineExceeded, .readTimeout, .writeTimeout, .connectTimeout, .tlsHandshakeTimeout,
            .getConnectionFromPoolTimeout, .cancelled:
            // AsyncHTTPClient reports its own deadline as a cancellation of the request.
            .timeout
        default:
            .connectionFailed
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
