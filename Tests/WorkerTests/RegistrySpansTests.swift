import Logging
import Testing
import Tracing

@testable import Telemetry
@testable import Worker

/// Which registry calls the service gives a span (`WorkerRuntime.spansFor`).
@Suite struct RegistrySpansTests {
    static let traced: ServiceContext = {
        var context = ServiceContext.topLevel
        W3CTracer().extract(
            ["traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"], into: &context, using: HeaderExtractor())
        return context
    }()

    struct HeaderExtractor: Extractor {
        func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    }

    @Test("with W3CTracer and telemetry off, only calls in a traced context get a span")
    func w3cOff() {
        let spansFor = WorkerRuntime.spansFor(W3CTracer())
        #expect(!spansFor(.topLevel))
        #expect(spansFor(Self.traced))
    }

    @Test("with W3CTracer starting traces, or any other tracer, every call gets a span")
    func otherwiseAlways() {
        #expect(WorkerRuntime.spansFor(W3CTracer(sampleRootSpans: true))(.topLevel))
        #expect(WorkerRuntime.spansFor(NoOpTracer())(.topLevel))
    }
}
