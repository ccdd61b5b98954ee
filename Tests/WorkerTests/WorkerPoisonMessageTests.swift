import Contract
import Foundation
import Identity
import Kafka
import RegistrySimulator
import Testing
import Worker

/// Messages that once stopped the worker: no key, NUL characters where PostgreSQL refuses them,
/// keys and headers longer than an index row, tombstones. Each must get its verdict or its dead
/// letter, and the messages after it must flow (contract, section 4).
@Suite("Worker poison messages", .serialized)
struct WorkerPoisonMessageTests {
    /// A registration request's JSON text for a person the registry knows.
    static func registrationJSON(_ sample: SampleQuery) -> String {
        String(decoding: Requests.make(.registration, sample: sample).encodedJSON(), as: UTF8.self)
    }

    static func replacing(_ json: String, field: String, with raw: String) -> String {
        // Every field written by encodedJSON is `"name":"value"`; replace the first value of `field`.
        guard let range = json.range(of: "\"\(field)\":\"") else { fatalError("no \(field) in \(json)") }
        let valueStart = range.upperBound
        let valueEnd = json[valueStart...].firstIndex(of: "\"")!
        return json.replacingCharacters(in: valueStart..<valueEnd, with: raw)
    }

    @Test("keyless, NUL and oversized messages and tombstones each get one verdict or dead letter, and later messages flow")
    func poisonMessagesDoNotStopThePipeline() async throws {
        try await RegistrySimulator.withRunning(configuration: .init(port: 0, population: 5_000)) { simulator in
            let harness = try await WorkerHarness(name: "worker_poison", simulator: simulator)
            let collector = try OutputCollector(harness: harness)
            let population = harness.population()
            var next = 0
            func matching() -> SampleQuery {
                while true {
                    let sample = population.sample(next)
                    next += 1
                    if sample.expectMatch, sample.variant == "exact" { return sample }
                }
            }
            let topics = harness.topics
            func message(_ name: String, _ channel: Contract.Channel, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [])
                -> KafkaOutgoingMessage
            {
                KafkaOutgoingMessage(
                    topic: topics.requests(channel), key: key, value: value, headers: headers + [KafkaHeader(name: "x-case", string: name)])
            }
            let nul: [UInt8] = [0x6B, 0x00, 0x6B]
            let longKey = [UInt8](repeating: 0x6B, count: 10_000)
            let longTracestate = "k=" + String(repeating: "v", count: 100_000)
            let dossierWithNUL = Requests.make(.submission, sample: matching(), dossierCode: "PLACEHOLDER-CODE")
            let dossierJSON = String(decoding: dossierWithNUL.encodedJSON(), as: UTF8.self)
                .replacingOccurrences(of: "PLACEHOLDER-CODE", with: "D\\u0000-1")
            let keyless = Requests.make(.registration, sample: matching())
            let nulKey = Requests.make(.registration, sample: matching())
            let nulHeaders = Requests.make(.registration, sample: matching())
            let longKeyed = Requests.make(.counter, sample: matching())
            let longHeaders = Requests.make(.registration, sample: matching())
            let last = Requests.make(.registration, sample: matching())
            let nulAgencyRequest = Requests.make(.registration, sample: matching())
            let nulAgencyJSON = Self.replacing(
                String(decoding: nulAgencyRequest.encodedJSON(), as: UTF8.self), field: "agencyCode", with: "H23\\u0000")

            let messages = [
                message("keyless", .registration, key: nil, value: keyless.encodedJSON()),
                message("nul-key", .registration, key: nul, value: nulKey.encodedJSON()),
                message(
                    "nul-request-id", .registration, key: Array("acc-1".utf8),
                    value: Array(Self.replacing(Self.registrationJSON(matching()), field: "requestId", with: "id\\u0000x").utf8)),
                message("nul-dossier-code", .submission, key: nul, value: Array(dossierJSON.utf8)),
                message(
                    "nul-agency", .registration, key: nil,
                    value: Array(nulAgencyJSON.utf8)),
                message(
                    "nul-headers", .registration, key: Array("acc-2".utf8), value: nulHeaders.encodedJSON(),
                    headers: [
                        KafkaHeader(name: "traceparent", value: Array("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0\u{0}".utf8)),
                        KafkaHeader(name: "tracestate", value: [0x6B, 0x3D, 0x00]),
                        KafkaHeader(name: "x-\u{0}", value: nul),
                    ]),
                message("long-key", .counter, key: longKey, value: longKeyed.encodedJSON()),
                message(
                    "long-headers", .registration, key: longKey, value: longHeaders.encodedJSON(),
                    headers: [
                        KafkaHeader(name: "traceparent", string: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
                        KafkaHeader(name: "tracestate", string: longTracestate),
                    ]),
                message("tombstone", .submission, key: nul, value: nil),
                message("empty", .counter, key: nil, value: []),
            ]
            try await harness.withWorker {
                let reports = await harness.producer.send(messages)
                #expect(reports.allSatisfy { $0.error == nil })
                let outputs = try await collector.wait(for: messages.count, seconds: 60)
                // Then an ordinary request, after all of them: the pipeline still decides.
                try await harness.send(last, key: "acc-3")
                let all = try await collector.wait(for: messages.count + 1, seconds: 30)
                #expect(all.count == messages.count + 1, "exactly one verdict or dead letter per message")
                #expect(outputs.count == messages.count)

                let verdicts = try all.filter { !$0.isDeadLetter }.map { try Verdict(json: $0.message.value) }
                func verdict(_ requestId: String) -> Verdict? { verdicts.first { $0.requestId == requestId } }
                for request in [keyless, nulKey, nulHeaders, longKeyed, longHeaders, last] {
                    #expect(
                        verdict(request.requestId)?.outcome == .verified,
                        "\(request.channel) request\n\(harness.logs.diagnosis(of: request.requestId))")
                }
                let nulID = try #require(verdict("id\u{0}x"))
                #expect(nulID.outcome == .invalid)
                #expect(nulID.reasons?.contains(ValidationReason(field: "requestId", code: .invalidFormat)) == true)
                let nulAgency = try #require(verdict(nulAgencyRequest.requestId))
                #expect(nulAgency.outcome == .invalid)
                #expect(nulAgency.reasons?.contains(ValidationReason(field: "agencyCode", code: .invalidFormat)) == true)
                let dossier = try #require(verdict(dossierWithNUL.requestId))
                #expect(dossier.outcome == .verified)
                #expect(dossier.dossier?.code == "D\u{0}-1")
                #expect(dossier.dossier?.state == .accepted)

                // Verdicts keep the request's key, whatever it is; a keyless request's has none.
                let keyOf = Dictionary(
                    all.filter { !$0.isDeadLetter }.map { ((try? Verdict(json: $0.message.value))?.requestId ?? "", $0.message.key) },
                    uniquingKeysWith: { first, _ in first })
                #expect(keyOf[keyless.requestId]! == nil)
                #expect(keyOf[nulKey.requestId]! == nul)
                #expect(keyOf[longKeyed.requestId]! == longKey)

                // A tracestate too long to continue is dropped; a malformed traceparent is not continued.
                let longHeadersOutput = try #require(
                    all.first { !$0.isDeadLetter && (try? Verdict(json: $0.message.value))?.requestId == longHeaders.requestId })
                #expect(longHeadersOutput.message.header("tracestate") == nil)
                #expect(longHeadersOutput.message.header("traceparent") != nil)
                let nulHeadersOutput = try #require(
                    all.first { !$0.isDeadLetter && (try? Verdict(json: $0.message.value))?.requestId == nulHeaders.requestId })
                #expect(nulHeadersOutput.message.header("traceparent") == nil)
                #expect(nulHeadersOutput.message.header("tracestate") == nil)

                // The tombstone's dead letter keeps its value null and its key; an empty value stays empty.
                let deadLetters = all.filter(\.isDeadLetter)
                #expect(deadLetters.count == 2)
                let tombstone = try #require(deadLetters.first { $0.message.header("x-case") == Array("tombstone".utf8) })
                #expect(tombstone.message.isTombstone)
                #expect(tombstone.message.key == nul)
                #expect(tombstone.message.header("dlq_reason") == Array("tombstone".utf8))
                let empty = try #require(deadLetters.first { $0.message.header("x-case") == Array("empty".utf8) })
                #expect(!empty.message.isTombstone)
                #expect(empty.message.value.isEmpty)
            }
            await collector.close()
        }
    }
}
