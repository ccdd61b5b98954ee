import Tracing
import W3CTraceContext

/// The W3C trace context of the current span, or of the remote parent just extracted.
enum W3CTraceContextKey: ServiceContextKey {
    typealias Value = W3CTraceContext.TraceContext
    static var nameOverride: String? { "w3c-trace-context" }
}

/// The request a task works on, for log lines (never personal data: a request id is opaque).
enum RequestIDKey: ServiceContextKey {
    typealias Value = String
    static var nameOverride: String? { "request-id" }
}

extension ServiceContext {
    /// The id of the request being handled, if any.
    public var requestID: String? {
        get { self[RequestIDKey.self] }
        set { self[RequestIDKey.self] = newValue }
    }

    /// `traceparent` of the current span (`00-<trace id>-<span id>-<flags>`), if a ``W3CTracer`` made it.
    public var traceParent: String? { self[W3CTraceContextKey.self]?.traceParentHeaderValue }

    /// `tracestate` carried along with it, if any.
    public var traceState: String? { self[W3CTraceContextKey.self]?.traceStateHeaderValue }

    /// Whether a ``W3CTracer`` put a trace here (cheaper than formatting ``traceID`` to ask).
    public var hasTrace: Bool { self[W3CTraceContextKey.self] != nil }

    /// The 32-hex-digit trace id, if any.
    public var traceID: String? { self[W3CTraceContextKey.self].map { "\($0.traceID)" } }

    /// The 16-hex-digit id of the current span, if any.
    public var spanID: String? { self[W3CTraceContextKey.self].map { "\($0.spanID)" } }
}
