import Contract
import Foundation
import Identity
import Kafka
import RegistrySimulator
import Testing
import Worker

/// Mutated messages through the real pipeline (embedded broker, PostgreSQL, the simulator over
/// HTTP), interleaved with valid requests: each message gets exactly one verdict or one dead
/// letter, each dead letter is its message unchanged, each valid request its correct outcome,
/// and the worker never stops deciding.
///
/// The suite runs 4,000 messages; the full run is the same test with more:
/// `TTHC_FUZZ_MESSAGES=100000 scripts/test --filter WorkerFuzzTests` (figures in docs/worker.md).
/// `TTHC_FUZZ_SEED` picks another sequence.
@Suite("Worker fuzz", .serialized)
struct WorkerFuzzTests {
    static let environment = ProcessInfo.processInfo.environment
    static let messageCount = environment["TTHC_FUZZ_MESSAGES"].flatMap(Int.init) ?? 4_000
    static let seed = environment["TTHC_FUZZ_SEED"].flatMap(UInt64.init) ?? 0x7448_4843_2024

    @Test("mutated messages on all three topics, interleaved with valid ones: one verdict or dead letter each")
    func fuzzThroughThePipeline() async throws {
        try await RegistrySimulator.withRunning(configuration: .init(port: 0, population: 20_000)) { simulator in
            // Many partitions: the embedded broker keeps only about 5 MiB of each, and the dead
            // letters of the oversized mutations (2 % of them, 64 KiB each) must all stay readable.
            let partitions = max(12, Self.messageCount / 1_500)
            let harness = try await WorkerHarness(name: "worker_fuzz", simulator: simulator, partitions: partitions) { settings in
                settings.registryRateLimit = 5_000
                // The whole run is produced at once and deadlines count from the Kafka timestamp:
                // with the 15 s counter deadline the tail of a 100,000-message backlog would rightly
                // be `unavailable`. This test is about the messages, not deadlines.
                for channel in [Contract.Channel.counter, .registration, .submission] { settings.worker.deadlines[channel] = .seconds(3_600) }
            }
            let collector = try OutputCollector(harness: harness)
            let population = harness.population()
            let reader = RequestReader(policy: harness.settings.worker.identityPolicy)
            var fuzzer = Fuzzer(seed: Self.seed)
            var expected: [String: Verdict.Outcome] = [:]
            var mutatedCount = 0
            let channels: [Contract.Channel] = [.counter, .registration, .submission]

            var messages: [KafkaOutgoingMessage] = []
            for index in 0..<Self.messageCount {
                let channel = channels[fuzzer.below(3)]
                let sample = population.sample(index)
                let request = Requests.make(
                    channel, sample: sample, dossierCode: "FUZZ-\(fuzzer.below(500))", agency: "H\(fuzzer.below(20)).01")
                var value: [UInt8]? = request.encodedJSON()
                // Every tenth message, and the last one, is left valid; the rest are mutated.
                let valid = index % 10 == 0 || index == Self.messageCount - 1
                if valid {
                    switch reader.read(value: value!, topic: channel, now: Date()) {
                    case .request: expected[request.requestId] = sample.expectMatch ? .verified : .mismatch
                    case .invalid: expected[request.requestId] = .invalid
                    case .deadLetter: Issue.record("a valid request was read as a dead letter")
                    }
                } else {
                    value = fuzzer.mutate(value!)
                    mutatedCount += 1
                }
                var headers = valid ? [] : fuzzer.headers()
                headers.append(KafkaHeader(name: "x-fuzz", string: "\(index)"))
                messages.append(KafkaOutgoingMessage(
                    topic: harness.topics.requests(channel), key: valid ? Array("k\(index % 97)".utf8) : fuzzer.key(),
                    value: value, headers: headers))
            }
            let sent = messages
            let expectedOutcomes = expected
            let mutated = mutatedCount

            try await harness.withWorker {
                let started = ContinuousClock.now
                for start in stride(from: 0, to: sent.count, by: 2_000) {
                    let reports = await harness.producer.send(Array(sent[start..<min(start + 2_000, sent.count)]))
                    #expect(reports.allSatisfy { $0.error == nil })
                }

                let outputs = try await collector.wait(
                    for: Self.messageCount, seconds: 120 + Double(Self.messageCount) / 100, settle: .seconds(3))
                let elapsed = started.duration(to: .now)
                #expect(outputs.count == Self.messageCount, "one verdict or dead letter per message, no more")

                var deadLettered: Set<Int> = []
                var reasons: [String: Int] = [:]
                for output in outputs where output.isDeadLetter {
                    let id = output.message.header("x-fuzz").flatMap { Int(String(decoding: $0, as: UTF8.self)) }
                    guard let id, id >= 0, id < sent.count else {
                        Issue.record("a dead letter without its x-fuzz header")
                        continue
                    }
                    let original = sent[id]
                    #expect(deadLettered.insert(id).inserted, "message \(id) dead-lettered twice")
                    #expect(output.message.key == original.key, "message \(id): key changed")
                    #expect(output.message.nullableValue == original.value, "message \(id): value changed")
                    let reason = output.message.header("dlq_reason").map { String(decoding: $0, as: UTF8.self) } ?? "none"
                    reasons[reason, default: 0] += 1
                    // The original headers come first, unchanged.
                    #expect(Array(output.message.headers.prefix(original.headers.count)) == original.headers)
                }
                var verdictCount = 0
                var outcomes: [String: Int] = [:]
                var decided: [String: Verdict.Outcome] = [:]
                for output in outputs where !output.isDeadLetter {
                    let verdict = try Verdict(json: output.message.value)
                    verdictCount += 1
                    outcomes[verdict.outcome.rawValue, default: 0] += 1
                    decided[verdict.requestId] = verdict.outcome
                }
                for (requestId, outcome) in expectedOutcomes {
                    #expect(decided[requestId] == outcome, "valid request \(requestId)")
                }
                #expect(outcomes["unavailable"] == nil, "the registry was up throughout")
                print(
                    "fuzz: \(Self.messageCount) messages (\(mutated) mutated) in \(elapsed): \(verdictCount) verdicts \(outcomes), "
                        + "\(deadLettered.count) dead letters \(reasons)")
            }
            await collector.close()
        }
    }
}

/// Deterministic mutations of request messages: byte flips, truncation, Unicode escapes (NUL,
/// lone surrogates), huge numbers, deep nesting, duplicate members, wrong types, invalid UTF-8,
/// oversized values, tombstones; odd keys and headers.
struct Fuzzer {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    mutating func pick<T>(_ options: [T]) -> T { options[below(options.count)] }

    /// 1–3 mutations, or a tombstone (`nil`).
    mutating func mutate(_ value: [UInt8]) -> [UInt8]? {
        if below(100) == 0 { return nil }
        var bytes = value
        for _ in 0...below(3) { bytes = mutateOnce(bytes) }
        return bytes
    }

    private mutating func mutateOnce(_ bytes: [UInt8]) -> [UInt8] {
        var bytes = bytes
        switch below(11) {
        case 0:  // byte flips
            for _ in 0...below(4) where !bytes.isEmpty { bytes[below(bytes.count)] = UInt8(truncatingIfNeeded: next()) }
        case 1:  // truncation
            bytes = Array(bytes.prefix(below(bytes.count + 1)))
        case 2, 3:  // a Unicode escape inside a string value
            let escapes = ["\\u0000", "\\ud800", "\\udfff", "\\uDBFF\\uDFFF", "\\ud83d\\ude00", "\\u001f", "\\uffff", "\\u0000\\u0000", "\\\"", "\\\\"]
            var escape = pick(escapes)
            if below(4) == 0 { escape = String(format: "\\u%04x", below(0x10000)) }
            insertInString(&bytes, Array(escape.utf8))
        case 4:  // a huge or odd number for a value
            replaceValue(&bytes, pick(["1e999999", "123456789012345678901234567890123456789", "-0.0000000000000000000001e-400", "0", "-1", "1.5"]))
        case 5:  // deep nesting
            let depth = 10 + below(150)
            let nested = below(2) == 0
                ? String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
                : String(repeating: "{\"a\":", count: depth) + "1" + String(repeating: "}", count: depth)
            replaceValue(&bytes, nested)
        case 6:  // duplicate members
            let duplicates = [
                "\"requestId\":\"\(UUID().uuidString.lowercased())\",", "\"agencyCode\":\"X\",", "\"subject\":{},",
                "\"requestId\":1,", "\"autofill\":true,", "\"dossier\":null,",
            ]
            if let brace = bytes.firstIndex(of: UInt8(ascii: "{")) { bytes.insert(contentsOf: Array(pick(duplicates).utf8), at: brace + 1) }
        case 7:  // wrong types
            replaceValue(&bytes, pick(["true", "null", "[]", "{}", "[\"a\"]", "\"\"", "42"]))
        case 8:  // invalid UTF-8
            insertInString(&bytes, pick([[0xFF], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF]]))
        case 9:  // very long values, now and then past 64 KiB
            let length = below(8) == 0 ? 70_000 : 200 + below(3_000)
            insertInString(&bytes, Array(repeating: UInt8(ascii: pick(["a", "0", " "])), count: length))
        default:  // a field removed
            if let range = memberRange(bytes) { bytes.removeSubrange(range) }
        }
        return bytes
    }

    /// Where string values start (just after `":"`).
    private func stringValueStarts(_ bytes: [UInt8]) -> [Int] {
        var starts: [Int] = []
        var index = 0
        while index + 2 < bytes.count {
            if bytes[index] == UInt8(ascii: "\""), bytes[index + 1] == UInt8(ascii: ":"), bytes[index + 2] == UInt8(ascii: "\"") {
                starts.append(index + 3)
            }
            index += 1
        }
        return starts
    }

    private mutating func insertInString(_ bytes: inout [UInt8], _ insertion: [UInt8]) {
        let starts = stringValueStarts(bytes)
        guard !starts.isEmpty else { return bytes.append(contentsOf: insertion) }
        bytes.insert(contentsOf: insertion, at: pick(starts))
    }

    /// Replaces a string value, quotes included, by `raw`.
    private mutating func replaceValue(_ bytes: inout [UInt8], _ raw: String) {
        let starts = stringValueStarts(bytes)
        guard !starts.isEmpty else { return }
        let start = pick(starts)
        guard let end = bytes[start...].firstIndex(of: UInt8(ascii: "\"")) else { return }
        bytes.replaceSubrange((start - 1)...end, with: Array(raw.utf8))
    }

    /// One `"name":"value",` member.
    private mutating func memberRange(_ bytes: [UInt8]) -> ClosedRange<Int>? {
        let starts = stringValueStarts(bytes)
        guard !starts.isEmpty else { return nil }
        let start = pick(starts)
        guard let nameStart = bytes[..<(start - 3)].lastIndex(of: UInt8(ascii: "\"")),
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\""))
        else { return nil }
        let comma = end + 1 < bytes.count && bytes[end + 1] == UInt8(ascii: ",") ? end + 1 : end
        return nameStart...comma
    }

    /// (Header names are C strings in librdkafka: a NUL in a name cannot cross it, so only values carry NUL.)
    /// No key, an ordinary one, one with NUL bytes, one longer than an index row, random bytes.
    mutating func key() -> [UInt8]? {
        switch below(6) {
        case 0: return nil
        case 1: return [0x6B, 0x00, UInt8(below(256))]
        case 2: return Array(repeating: UInt8(ascii: "k"), count: 3_000 + below(5_000))
        case 3: return (0..<(1 + below(40))).map { _ in UInt8(truncatingIfNeeded: next()) }
        case 4: return []
        default: return Array("desk-\(below(50))".utf8)
        }
    }

    /// Sometimes trace headers, well-formed or not, with NUL bytes or very long.
    mutating func headers() -> [KafkaHeader] {
        switch below(6) {
        case 0:
            return [KafkaHeader(name: "traceparent", string: "00-\(hex(32))-\(hex(16))-01")]
        case 1:
            return [KafkaHeader(name: "traceparent", value: Array("00-\(hex(32))-\(hex(16))-0".utf8) + [0])]
        case 2:
            return [
                KafkaHeader(name: "traceparent", string: "00-\(hex(32))-\(hex(16))-01"),
                KafkaHeader(name: "tracestate", value: Array("k=v".utf8) + [0] + Array(repeating: UInt8(ascii: "x"), count: below(3_000))),
            ]
        case 3:
            return [KafkaHeader(name: "x-bin-\(below(9))", value: (0..<below(64)).map { _ in UInt8(truncatingIfNeeded: next()) })]
        case 4:
            return [KafkaHeader(name: "tracestate", value: nil), KafkaHeader(name: "traceparent", value: nil)]
        default:
            return []
        }
    }

    private mutating func hex(_ count: Int) -> String {
        String((0..<count).map { _ in "0123456789abcdef".randomElement(using: &self)! })
    }
}

extension Fuzzer: RandomNumberGenerator {}
