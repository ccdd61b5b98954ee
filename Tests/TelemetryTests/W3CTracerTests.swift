import Logging
import Synchronization
import Testing
import Tracing

@testable import Telemetry

/// Headers as a dictionary: the carrier of these tests.
struct DictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}

struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}

@Suite("W3C trace context")
struct W3CTracerTests {
    let tracer = W3CTracer()
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    func extracted(_ headers: [String: String]) -> ServiceContext {
        var context = ServiceContext.topLevel
        tracer.extract(headers, into: &context, using: DictionaryExtractor())
        return context
    }

    @Test("a span continues the extracted trace with a new span id, and injects it")
    func continuesTrace() {
        let context = extracted(["traceparent": parent, "tracestate": "congo=t61rcWkgMzE"])
        let span = tracer.startSpan("verify request", context: context, ofKind: .consumer)
        defer { span.end() }
        #expect(span.context.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(span.context.spanID != "00f067aa0ba902b7")
        #expect(span.context.spanID?.count == 16)

        var outgoing: [String: String] = [:]
        tracer.inject(span.context, into: &outgoing, using: DictionaryInjector())
        #expect(outgoing["traceparent"] == "00-4bf92f3577b34da6a3ce929d0e0e4736-\(span.context.spanID!)-01")
        #expect(outgoing["tracestate"] == "congo=t61rcWkgMzE")
    }

    @Test("nested spans chain: the child's parent is the outer span")
    func nestedSpans() {
        let context = extracted(["traceparent": parent])
        tracer.withSpan("outer", context: context, ofKind: .consumer) { outer in
            tracer.withSpan("inner", ofKind: .client) { inner in
                #expect(inner.context.traceID == outer.context.traceID)
                #expect(inner.context.spanID != outer.context.spanID)
                #expect(ServiceContext.current?.spanID == inner.context.spanID)
            }
        }
    }

    @Test(
        "a malformed traceparent is ignored and a new, unsampled trace starts (spans logged at debug)",
        arguments: [
            "", "not-a-traceparent", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
        ])
    func malformedParent(_ header: String) {
        let context = extracted(["traceparent": header])
        #expect(context.traceID == nil)
        let logged = W3CTracer(logger: Logger(label: "spans", factory: { _ in LineRecorder().handler(level: .debug) }))
        let span = logged.startSpan("root", context: context, ofKind: .consumer)
        #expect(span.context.traceID != nil)
        #expect(span.context.traceID != "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(span.context.traceParent?.hasSuffix("-00") == true)
    }

    @Test("a malformed tracestate is dropped, the traceparent kept")
    func malformedState() {
        let context = extracted(["traceparent": parent, "tracestate": "=,=,no vendor"])
        #expect(context.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(context.traceState == nil)
    }

    @Test("nothing is injected without a trace")
    func noTraceNoHeader() {
        var outgoing: [String: String] = [:]
        tracer.inject(.topLevel, into: &outgoing, using: DictionaryInjector())
        #expect(outgoing.isEmpty)
    }

    @Test("log lines inside a span carry request.id, trace.id and span.id; outside, none")
    func metadataProvider() {
        let lines = LineRecorder()
        let logger = Logger(label: "test", factory: { _ in lines.handler(provider: .requestTrace) })
        var context = extracted(["traceparent": parent])
        context.requestID = "7d1f0c2e-0000-4000-8000-000000000001"
        logger.info("before")
        tracer.withSpan("verify request", context: context, ofKind: .consumer) { span in
            logger.info("inside")
            #expect(lines.last?["span.id"] == span.context.spanID)
        }
        let recorded = lines.all
        #expect(recorded.count == 2)
        #expect(recorded[0]["trace.id"] == nil && recorded[0]["request.id"] == nil)
        #expect(recorded[1]["trace.id"] == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(recorded[1]["request.id"] == "7d1f0c2e-0000-4000-8000-000000000001")
    }

    @Test("an ended span is one debug line with its ids and duration, once")
    func spanLine() {
        let lines = LineRecorder()
        let logger = Logger(label: "spans", factory: { _ in lines.handler(level: .debug) })
        let tracer = W3CTracer(logger: logger)
        let span = tracer.startSpan("registry.verify", context: extracted(["traceparent": parent]), ofKind: .client)
        span.recordError(CancellationError())
        span.end()
        span.end()
        #expect(lines.all.count == 1)
        let line = lines.all[0]
        #expect(line["span.name"] == "registry.verify")
        #expect(line["span.parent_id"] == "00f067aa0ba902b7")
        #expect(line["span.error"] == "CancellationError")
        #expect(line["trace.id"] == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(line["span.duration_us"] != nil)
    }

    @Test("with telemetry off (roots unsampled, spans not logged) work without a trace starts none; otherwise it does")
    func noRootTraceWhenOff() {
        var headers: [String: String] = [:]
        let off = W3CTracer(logger: Logger(label: "spans", factory: { _ in LineRecorder().handler(level: .info) }))
        off.withSpan("root", context: .topLevel, ofKind: .consumer) { span in
            #expect(!span.context.hasTrace)
            off.inject(span.context, into: &headers, using: DictionaryInjector())
        }
        #expect(headers.isEmpty, "nothing is injected for a trace not started")
        for tracer in [W3CTracer(sampleRootSpans: true), W3CTracer(logger: Logger(label: "spans", factory: { _ in LineRecorder().handler(level: .debug) }))] {
            tracer.withSpan("root", context: .topLevel, ofKind: .consumer) { span in
                #expect(span.context.hasTrace)
            }
        }
        // A given trace is always continued.
        off.withSpan("child", context: extracted(["traceparent": parent]), ofKind: .consumer) { span in
            #expect(span.context.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        }
    }

    @Test("traces(_:) says whether work in a context gets a trace: one carried, or roots started")
    func tracesContext() {
        let off = W3CTracer(logger: Logger(label: "spans", factory: { _ in LineRecorder().handler(level: .info) }))
        #expect(!off.traces(.topLevel))
        #expect(off.traces(extracted(["traceparent": parent])))
        #expect(!off.traces(extracted(["traceparent": "00-bad"])), "a malformed traceparent carries no trace")
        #expect(W3CTracer(sampleRootSpans: true).traces(.topLevel))
        #expect(W3CTracer(logger: Logger(label: "spans", factory: { _ in LineRecorder().handler(level: .debug) })).traces(.topLevel))
        // Agrees with what a span there would be.
        off.withSpan("root", context: .topLevel, ofKind: .consumer) { span in #expect(off.traces(span.context) == span.context.hasTrace) }
    }

    @Test("root spans get distinct, non-zero trace and span ids from many threads (no system call per id)")
    func distinctIDs() async {
        let tracer = W3CTracer(sampleRootSpans: true)
        let ids = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    (0..<5_000).flatMap { _ -> [String] in
                        let span = tracer.startSpan("root", context: .topLevel, ofKind: .consumer)
                        defer { span.end() }
                        return [span.context.traceID ?? "", span.context.spanID ?? ""]
                    }
                }
            }
            return await group.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(ids.count == 40_000)
        #expect(Set(ids).count == ids.count)
        #expect(!ids.contains { $0.isEmpty || $0.allSatisfy { $0 == "0" } })
    }
}

/// Keeps each line's merged metadata as strings.
final class LineRecorder: Sendable {
    private let lines = Mutex<[[String: String]]>([])
    var all: [[String: String]] { lines.withLock { $0 } }
    var last: [String: String]? { all.last }

    func handler(level: Logger.Level = .info, provider: Logger.MetadataProvider? = nil) -> Handler {
        Handler(recorder: self, logLevel: level, metadataProvider: provider)
    }

    struct Handler: LogHandler {
        let recorder: LineRecorder
        var logLevel: Logger.Level
        var metadataProvider: Logger.MetadataProvider?
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var merged = metadata
            if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
            if let own = event.metadata { merged.merge(own) { _, new in new } }
            let line = merged.mapValues { "\($0)" }
            recorder.lines.withLock { $0.append(line) }
        }
    }
}
