import Contract
import Foundation
import Kafka
import Logging
import RegistrySimulator
import Telemetry
import Testing
import Worker

@Suite("Trace context from the request through the registry call to the verdict", .serialized)
struct WorkerTracingTests {
    static func traceParent(_ trace: String, _ span: String) -> String { "00-\(trace)-\(span)-01" }

    @Test("traceparent continued: the registry sees the request's trace, the verdict continues it, every request line names it")
    func traceContinued() async throws {
        try await RegistrySimulator.withRunning(configuration: .init(port: 0, population: 5_000)) { simulator in
            let spanLines = CapturedLogs()
            var spanLogger = Logger(label: "spans") { _ in CapturingLogHandler(sink: spanLines) }
            spanLogger.logLevel = .debug
            let harness = try await WorkerHarness(name: "worker_tracing", simulator: simulator, tracer: W3CTracer(logger: spanLogger))
            let population = harness.population()
            // One traced request per channel, and one without a traceparent.
            var traced: [(request: VerificationRequest, trace: String, span: String)] = []
            for (i, channel) in Contract.Channel.allCases.enumerated() {
                let trace = String(format: "%032x", 0x4bf9_2f35_77b3_4da6 + i)
                let span = String(format: "%016x", 0x00f0_67aa_0ba9_02b7 + i)
                traced.append((Requests.make(channel, sample: population.sample(i), dossierCode: "TRACE-\(i)"), trace, span))
            }
            let untraced = Requests.make(.registration, sample: population.sample(9))
            let toSend = traced
            let messages = try await harness.withWorker {
                for (i, item) in toSend.enumerated() {
                    try await harness.send(
                        item.request, key: "t\(i)",
                        headers: [KafkaHeader(name: "traceparent", string: Self.traceParent(item.trace, item.span))])
                }
                try await harness.send(untraced, key: "u")
                return try await harness.read(harness.topics.verdicts, count: toSend.count + 1)
            }

            let seenByRegistry = simulator.simulator.recentTraceParents()
            #expect(seenByRegistry.count >= traced.count + 1, "every registry call carries a traceparent")
            for item in traced {
                guard let message = messages.first(where: { (try? Verdict(json: $0.value))?.requestId == item.request.requestId }) else {
                    Issue.record("no verdict for \(item.request.channel)")
                    continue
                }
                // The verdict continues the request's trace under a new parent id.
                let verdictParent = try #require(message.headers.string(named: "traceparent"))
                let verdictParts = verdictParent.split(separator: "-").map(String.init)
                #expect(verdictParts[1] == item.trace)
                #expect(verdictParts[2] != item.span)
                #expect(verdictParts[3] == "01")

                // The registry call is a descendant of the request's span: same trace, new span ids.
                let registryCalls = seenByRegistry.filter { $0.split(separator: "-")[1] == item.trace }
                #expect(
                    registryCalls.count == 1,
                    "one registry call in the request's trace; verdict \(String(decoding: message.value, as: UTF8.self))\n\(harness.logs.diagnosis(of: item.request.requestId))")
                for call in registryCalls {
                    let span = String(call.split(separator: "-")[2])
                    #expect(span != item.span && span != verdictParts[2])
                }

                // Every log line about the request names both the request and its trace.
                let requestLines = harness.logs.all.filter { $0.contains("request.id=\(item.request.requestId)") }
                #expect(!requestLines.isEmpty)
                for line in requestLines {
                    #expect(line.contains("trace.id=\(item.trace)"), "a request line without its trace id: \(line.prefix(120))")
                }
                // Lines logged by others inside the request (here the registry client's span) get
                // the request id from the task's service context.
                let registrySpan = spanLines.all.filter { $0.contains("span.name=registry.verify") || $0.contains("span.name=registry.lookup") }
                    .filter { $0.contains("trace.id=\(item.trace)") }
                #expect(registrySpan.count == 1)
                #expect(registrySpan.allSatisfy { $0.contains("request.id=\(item.request.requestId)") })
            }
            let plain = try #require(messages.first { (try? Verdict(json: $0.value))?.requestId == untraced.requestId })
            #expect(plain.headers.string(named: "traceparent") == nil, "no traceparent is invented for a request without one")
        }
    }

    @Test("a parked submission's verdict continues the request's traceparent and tracestate")
    func parkedKeepsTraceState() async throws {
        try await RegistrySimulator.withRunning(
            configuration: .init(port: 0, population: 5_000, behaviour: .init(errorRate: 1))
        ) { simulator in
            let harness = try await WorkerHarness(name: "worker_tracing_parked", simulator: simulator, tracer: W3CTracer()) { settings in
                settings.worker.quickRetryWindow = .seconds(1)
                settings.worker.parkedRetryInitial = .milliseconds(500)
                settings.worker.parkedRetryMax = .seconds(1)
                settings.worker.parkedPollInterval = .milliseconds(200)
            }
            let trace = "0af7651916cd43dd8448eb211c80319c"
            let state = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
            let request = Requests.make(.submission, sample: harness.population().sample(3), dossierCode: "TRACE-PARKED")
            let messages = try await harness.withWorker {
                try await harness.send(
                    request, key: "parked",
                    headers: [
                        KafkaHeader(name: "traceparent", string: Self.traceParent(trace, "b7ad6b7169203331")),
                        KafkaHeader(name: "tracestate", string: state),
                    ])
                // Let the quick retries run out and the check park, then bring the registry back.
                try await withTimeout(30, "the check to park") {
                    while !harness.logs.all.contains(where: { $0.contains("check parked") }) {
                        try await Task.sleep(for: .milliseconds(50))
                    }
                }
                try simulator.simulator.setBehaviour(.init())
                return try await harness.read(harness.topics.verdicts, count: 1)
            }
            #expect(harness.logs.all.contains { $0.contains("check parked") }, "the check went through the parked path")
            let verdict = try #require(messages.first)
            #expect((try? Verdict(json: verdict.value))?.requestId == request.requestId)
            let parent = try #require(verdict.headers.string(named: "traceparent"))
            #expect(parent.split(separator: "-")[1] == Substring(trace))
            #expect(verdict.headers.string(named: "tracestate") == state)
        }
    }
}
