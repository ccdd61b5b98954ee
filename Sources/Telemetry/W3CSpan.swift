import Logging
import Synchronization
import Tracing
import W3CTraceContext

/// A span of ``W3CTracer``: carries its trace context, keeps no attributes or events (it is not
/// exported), and writes one `debug` line when it ends if the tracer has a logger.
public final class W3CSpan: Span {
    public let context: ServiceContext
    public var isRecording: Bool { false }

    private let kind: SpanKind
    /// Formatted only when the span is logged (at debug level).
    private let parentSpanID: SpanID?
    private let startNanoseconds: UInt64
    private let logger: Logger?
    private let state: Mutex<State>

    private struct State {
        var operationName: String
        var status: SpanStatus?
        var errorType: String?
        var ended = false
    }

    init(
        operationName: String, kind: SpanKind, context: ServiceContext, parentSpanID: SpanID?, startNanoseconds: UInt64,
        logger: Logger?
    ) {
        self.context = context
        self.kind = kind
        self.parentSpanID = parentSpanID
        self.startNanoseconds = startNanoseconds
        self.logger = logger
        self.state = Mutex(State(operationName: operationName))
    }

    public var operationName: String {
        get { self.state.withLock { $0.operationName } }
        set { self.state.withLock { $0.operationName = newValue } }
    }

    public var attributes: SpanAttributes {
        get { [:] }
        set {}
    }

    public func setStatus(_ status: SpanStatus) {
        self.state.withLock { $0.status = status }
    }

    public func addEvent(_ event: SpanEvent) {}

    public func addLink(_ link: SpanLink) {}

    /// Keeps the error's type only: its description could hold data.
    public func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {
        let type = String(describing: Swift.type(of: error))
        self.state.withLock { $0.errorType = type }
    }

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        let ended = self.state.withLock { state -> State? in
            guard !state.ended else { return nil }
            state.ended = true
            return state
        }
        guard let ended, let logger, logger.logLevel <= .debug else { return }
        let end = instant().nanosecondsSinceEpoch
        let micros = end > self.startNanoseconds ? (end - self.startNanoseconds) / 1_000 : 0
        var metadata: Logger.Metadata = [
            "span.name": "\(ended.operationName)",
            "span.kind": "\(self.kind)",
            "span.duration_us": "\(micros)",
            "trace.id": "\(self.context.traceID ?? "")",
            "span.id": "\(self.context.spanID ?? "")",
        ]
        if let parentSpanID { metadata["span.parent_id"] = "\(parentSpanID)" }
        if let status = ended.status { metadata["span.status"] = "\(status.code)" }
        if let errorType = ended.errorType { metadata["span.error"] = "\(errorType)" }
        logger.debug("span ended", metadata: metadata)
    }
}
