/// A registry call that did not produce an answer.
///
/// ``code`` says what happened; ``isRetriable`` says whether the same call could succeed later
/// (contract section 5: 400/401/403 are permanent; 429, 500/502/503/504 and timeouts transient).
/// ``description`` carries only the code, endpoint, HTTP status and attempt count: never personal data,
/// never the token.
public struct RegistryError: Error, Sendable, CustomStringConvertible {
    /// What went wrong. A struct over a private enum, so new codes can be added without breaking
    /// anyone's `switch`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable, Hashable {
            case badRequest = "bad_request"
            case unauthorized
            case forbidden
            case rateLimited = "rate_limited"
            case serverError = "server_error"
            case unexpectedStatus = "unexpected_status"
            case timeout
            case connectionFailed = "connection_failed"
            case invalidResponse = "invalid_response"
            case circuitOpen = "circuit_open"
            case deadlineExceeded = "deadline_exceeded"
            case limiterUnavailable = "limiter_unavailable"
            case shutDown = "shut_down"
        }

        fileprivate let base: Base

        private init(_ base: Base) { self.base = base }

        /// 400: the registry rejected the request as malformed. Permanent.
        public static let badRequest = Code(.badRequest)
        /// 401: the token was refused. Permanent; the service reports itself unready.
        public static let unauthorized = Code(.unauthorized)
        /// 403: the token may not make this call. Permanent; the service reports itself unready.
        public static let forbidden = Code(.forbidden)
        /// 429: over the registry's quota; ``RegistryError/retryAfter`` holds its `Retry-After`. Transient.
        public static let rateLimited = Code(.rateLimited)
        /// 500/502/503/504 (and any other 5xx). Transient.
        public static let serverError = Code(.serverError)
        /// A status the contract does not mention (404, 3xx, ...): most likely a wrong base URL. Permanent.
        public static let unexpectedStatus = Code(.unexpectedStatus)
        /// No answer before the per-call timeout. Transient.
        public static let timeout = Code(.timeout)
        /// The connection could not be made or broke. Transient.
        public static let connectionFailed = Code(.connectionFailed)
        /// A 200 whose body is not the contract's JSON (too large, malformed). Transient: usually a proxy's page.
        public static let invalidResponse = Code(.invalidResponse)
        /// The circuit breaker is open: no call was made. Transient; see ``RegistryError/retryAfter``.
        public static let circuitOpen = Code(.circuitOpen)
        /// The caller's deadline passed before a call could be made or retried. Transient.
        public static let deadlineExceeded = Code(.deadlineExceeded)
        /// The rate limiter could not grant a slot (for the fleet limiter: PostgreSQL unreachable). Transient.
        public static let limiterUnavailable = Code(.limiterUnavailable)
        /// The client was shut down. Permanent for this client.
        public static let shutDown = Code(.shutDown)

        /// Whether a call failing this way may succeed if made again later.
        public var isRetriable: Bool {
            switch self.base {
            case .rateLimited, .serverError, .timeout, .connectionFailed, .invalidResponse,
                .circuitOpen, .deadlineExceeded, .limiterUnavailable:
                true
            case .badRequest, .unauthorized, .forbidden, .unexpectedStatus, .shutDown:
                false
            }
        }

        /// The snake_case name, as used in logs and the `status` metric label for non-HTTP failures.
        public var description: String { self.base.rawValue }
    }

    /// What went wrong.
    public var code: Code
    /// The operation, when the error belongs to one.
    public var endpoint: RegistryEndpoint?
    /// The HTTP status the registry answered with, if it answered.
    public var httpStatus: Int?
    /// How long the registry asked us to wait (`Retry-After` on a 429 or 503), or, for
    /// ``Code/circuitOpen``, how long until the breaker lets a probe through.
    public var retryAfter: Duration?
    /// Registry calls actually made before giving up (0 if none was made).
    public var attempts: Int
    /// The lower-level error (NIO, NIOSSL, PostgresNIO), for debugging. Never printed by ``description``.
    public var underlying: (any Error)?

    public init(
        code: Code,
        endpoint: RegistryEndpoint? = nil,
        httpStatus: Int? = nil,
        retryAfter: Duration? = nil,
        attempts: Int = 0,
        underlying: (any Error)? = nil
    ) {
        self.code = code
        self.endpoint = endpoint
        self.httpStatus = httpStatus
        self.retryAfter = retryAfter
        self.attempts = attempts
        self.underlying = underlying
    }

    /// Whether the same call may succeed if made again later.
    public var isRetriable: Bool { self.code.isRetriable }

    /// 401 or 403: the service's credentials are wrong, so it should report itself unready.
    public var isAuthenticationFailure: Bool { self.code == .unauthorized || self.code == .forbidden }

    public var description: String {
        var parts = ["code: \(self.code)"]
        if let endpoint { parts.append("endpoint: \(endpoint)") }
        if let httpStatus { parts.append("status: \(httpStatus)") }
        if let retryAfter { parts.append("retryAfter: \(retryAfter)") }
        parts.append("attempts: \(self.attempts)")
        if let underlying { parts.append("underlying: \(type(of: underlying))") }
        return "RegistryError(\(parts.joined(separator: ", ")))"
    }
}

extension RegistryError {
    /// The error for an HTTP answer other than 200 (contract section 5).
    public init(httpStatus status: Int, endpoint: RegistryEndpoint?, retryAfter: Duration? = nil) {
        let code: Code
        switch status {
        case 400: code = .badRequest
        case 401: code = .unauthorized
        case 403: code = .forbidden
        case 408: code = .timeout
        case 429: code = .rateLimited
        case 500...599: code = .serverError
        default: code = .unexpectedStatus
        }
        self.init(code: code, endpoint: endpoint, httpStatus: status, retryAfter: retryAfter)
    }
}

/// A configuration value that cannot work, found at start-up.
public struct RegistryConfigurationError: Error, Sendable, CustomStringConvertible {
    /// What is wrong and which setting (and environment variable) to fix.
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { "Invalid registry configuration: \(self.message)" }
}
