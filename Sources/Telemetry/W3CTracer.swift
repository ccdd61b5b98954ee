import Logging
import Tracing
import W3CTraceContext

/// A tracer that continues W3C trace context (`traceparent`, `tracestate`) across the service:
/// extracted from a request's headers, a new span id for every span, injected into outgoing
/// calls (AsyncHTTPClient injects through the tracer it is given).
///
/// Spans are not exported to a collector: the service propagates the trace so that the registry
/// and the verdict's readers see one trace, and, when `logger` is given, each ended span is one
/// `debug` line with its ids, name and duration (never its attributes, which could hold data).
/// A deployment with a collector bootstraps swift-otel's tracer instead; the code only speaks
/// the `Tracer` protocol.
///
/// ```swift
/// InstrumentationSystem.bootstrap(W3CTracer(logger: logger))
/// ```
public struct W3CTracer: Tracer {
    public typealias Span = W3CSpan

    private let logger: Logger?
    private let rootFlags: TraceFlags
    /// Whether work with no trace to continue starts one: only when its root spans are sampled or
    /// its spans are logged (`debug`); otherwise it would be ids made, sent and never seen.
    private let startsTraces: Bool

    /// - Parameters:
    ///   - logger: Where ended spans are written at `debug`. Default: nowhere.
    ///   - sampleRootSpans: The `sampled` flag of traces this service starts (a request without a
    ///     `traceparent`). Default: `false`: nothing here records them, and unless `logger` logs
    ///     spans (`debug`), such work starts no trace at all: the registry call of a request without
    ///     a `traceparent` carries none either (the contract asks only that a given one be continued).
    public init(logger: Logger? = nil, sampleRootSpans: Bool = false) {
        self.logger = logger
        self.rootFlags = sampleRootSpans ? .sampled : []
        self.startsTraces = sampleRootSpans || (logger.map { $0.logLevel <= .debug } ?? false)
    }

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String,
        context: @autoclosure () -> ServiceContext,
        ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant,
        function: String,
        file fileID: String,
        line: UInt
    ) -> W3CSpan {
        var context = context()
        let parent = context[W3CTraceContextKey.self]
        if parent == nil, !self.startsTraces {
            // Telemetry is off for this work (no trace to continue, roots unsampled, spans not
            // logged): no trace is started, so nothing is formatted, injected or logged for it.
            return W3CSpan(
                operationName: operationName, kind: kind, context: context, parentSpanID: nil, startNanoseconds: 0, logger: nil)
        }
        var ids = TraceIDGenerator()
        let own =
            if let parent {
                TraceContext(traceID: parent.traceID, spanID: .random(using: &ids), flags: parent.flags, state: parent.state)
            } else {
                TraceContext(traceID: .random(using: &ids), spanID: .random(using: &ids), flags: self.rootFlags, state: TraceState())
            }
        context[W3CTraceContextKey.self] = own
        return W3CSpan(
            operationName: operationName, kind: kind, context: context, parentSpanID: parent?.spanID,
            startNanoseconds: instant().nanosecondsSinceEpoch, logger: self.logger)
    }

    /// Whether work in `context` gets a trace from this tracer: it carries one, or roots are
    /// started (sampled, or spans logged). When it does not, a span there records, logs and
    /// injects nothing, and a caller may skip it (``ResilientRegistryClient``'s `spansFor`).
    public func traces(_ context: ServiceContext) -> Bool {
        self.startsTraces || context[W3CTraceContextKey.self] != nil
    }

    public func forceFlush() {}

    public func inject<Carrier, Inject: Injector>(
        _ context: ServiceContext, into carrier: inout Carrier, using injector: Inject
    ) where Inject.Carrier == Carrier {
        guard let trace = context[W3CTraceContextKey.self] else { return }
        injector.inject(trace.traceParentHeaderValue, forKey: "traceparent", into: &carrier)
        if let state = trace.traceStateHeaderValue {
            injector.inject(state, forKey: "tracestate", into: &carrier)
        }
    }

    /// A malformed `traceparent` is ignored (a new trace starts); a malformed `tracestate` is
    /// dropped and the `traceparent` kept, as the W3C recommendation says.
    public func extract<Carrier, Extract: Extractor>(
        _ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract
    ) where Extract.Carrier == Carrier {
        guard let parent = extractor.extract(key: "traceparent", from: carrier) else { return }
        let state = extractor.extract(key: "tracestate", from: carrier)
        if let trace = try? TraceContext(traceParentHeaderValue: parent, traceStateHeaderValue: state) {
            context[W3CTraceContextKey.self] = trace
        } else if let trace = try? TraceContext(traceParentHeaderValue: parent) {
            context[W3CTraceContextKey.self] = trace
        }
    }
}
