import Contract
import Crypto
import Foundation
import Identity
import Kafka
import RegistrySimulator
import Testing
import Worker

@Suite("Worker flows end to end (embedded Kafka, PostgreSQL, simulator)", .serialized)
struct WorkerFlowTests {
    static let simulatorConfiguration = RegistrySimulator.Configuration(port: 0, population: 20_000)

    @Test("counter, registration and submission: verified, mismatch, invalid; autofill sealed to the recipient")
    func flows() async throws {
        try await RegistrySimulator.withRunning(configuration: Self.simulatorConfiguration) { simulator in
            // The counter and the submission check the same person: with answer reuse on, whichever is
            // decided second may reuse the first's answer (0 attempts, 3 calls) when its batch is read
            // after the first's commit. Reuse has its own suite (AnswerReuseTests); here it is off.
            let harness = try await WorkerHarness(name: "worker_flows", simulator: simulator) { settings in
                settings.worker.answerReuseVerified = .zero
                settings.worker.answerReuseMismatch = .zero
            }
            let population = harness.population()
            let match = Requests.sample(population) { $0.expectMatch && $0.variant == "exact" && $0.idNumber.count == 12 }
            let mismatch = Requests.sample(population) { !$0.expectMatch && $0.variant == "wrong_date" }
            let cmnd = Requests.sample(population) { $0.variant == "former_id" }
            let privateKey = Curve25519.KeyAgreement.PrivateKey()
            let recipient = AutofillRecipientKey(rawRepresentation: Array(privateKey.publicKey.rawRepresentation))!

            let counter = Requests.make(.counter, sample: match)
            let autofill = Requests.make(.counter, sample: cmnd, recipientKey: recipient)
            let registration = Requests.make(.registration, sample: mismatch)
            let submission = Requests.make(.submission, sample: match)
            let broken = #"{"requestId":"4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a11","occurredAt":"yesterday","agencyCode":"H23.45.10","actor":{"kind":"officer","id":"o1"},"subject":{"fullName":"Nguyễn","idNumber":"030190000000","dateOfBirth":"1991-04-12"}}"#

            let verdicts = try await harness.withWorker {
                try await harness.send(counter, key: "desk-1")
                try await harness.send(autofill, key: "desk-2")
                try await harness.send(registration, key: "acc-1")
                try await harness.send(submission, key: "dossier-1")
                try await harness.send(.counter, key: "desk-3", value: Array(broken.utf8))
                return try await harness.verdicts(count: 5)
            }
            let byRequest = Dictionary(uniqueKeysWithValues: verdicts.map { ($0.requestId, $0) })
            #expect(byRequest[counter.requestId]?.outcome == .verified)
            #expect(byRequest[counter.requestId]?.attempts == 1)
            #expect(byRequest[counter.requestId]?.autofill == nil)
            #expect(byRequest[registration.requestId]?.outcome == .mismatch)
            #expect(byRequest[submission.requestId]?.outcome == .verified)
            #expect(byRequest[submission.requestId]?.dossier == VerdictDossier(code: "H23.45.10-241129-0007", state: .accepted))

            let invalid = try #require(byRequest["4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a11"])
            #expect(invalid.outcome == .invalid)
            #expect(invalid.attempts == 0)
            let codes = Set((invalid.reasons ?? []).map { "\($0.field):\($0.code)" })
            #expect(codes.contains("occurredAt:invalid_format"))
            #expect(codes.contains("subject.fullName:single_word"))
            #expect(codes.contains("subject.idNumber:invalid_serial"))
            #expect(invalid.subject?.idNumberMasked == "030******000")

            // Autofill: a CMND matched; the sealed record carries the 12-digit number that replaced it,
            // and leaves out the sensitive fields.
            let sealed = try #require(byRequest[autofill.requestId]?.autofill)
            #expect(byRequest[autofill.requestId]?.outcome == .verified)
            var recipientContext = try HPKE.Recipient(
                privateKey: privateKey, ciphersuite: .Curve25519_SHA256_ChachaPoly,
                info: Data("tthc.identity.autofill.v1".utf8), encapsulatedKey: Data(base64Encoded: sealed.encapsulatedKey)!)
            let plaintext = try recipientContext.open(
                Data(base64Encoded: sealed.ciphertext)!, authenticating: Data(autofill.requestId.utf8))
            let record = try JSONSerialization.jsonObject(with: plaintext) as! [String: Any]
            #expect(record["personalIdNumber"] as? String == cmnd.expectPersonalIdNumber)
            #expect(record["formerIdNumber"] as? String == cmnd.idNumber)
            #expect(record["ethnicity"] == nil && record["religion"] == nil)
            #expect(record["fullName"] != nil && record["permanentAddress"] != nil)

            // The invalid request cost no registry call: four calls for four valid requests.
            #expect(simulator.simulator.statistics().totalCalls == 4)
        }
    }

    @Test("the correction loop: needs_correction, a corrected request accepted, a stale one does not move the state back")
    func correctionLoop() async throws {
        try await RegistrySimulator.withRunning(configuration: Self.simulatorConfiguration) { simulator in
            let harness = try await WorkerHarness(name: "worker_correction", simulator: simulator)
            let population = harness.population()
            let right = Requests.sample(population) { $0.expectMatch && $0.variant == "exact" }
            var wrong = right
            wrong.fullName = "Nguyễn Văn Khác"
            let t0 = Date()
            let first = Requests.make(.submission, sample: wrong, dossierCode: "D-1", occurredAt: t0)
            let corrected = Requests.make(.submission, sample: right, dossierCode: "D-1", occurredAt: t0.addingTimeInterval(60))
            let stale = Requests.make(.submission, sample: wrong, dossierCode: "D-1", occurredAt: t0.addingTimeInterval(30))
            let (verdicts, runners) = try await harness.withWorker(adjusting: { _ in }) { runtime in
                try await harness.send(first, key: "D-1")
                _ = try await harness.verdicts(count: 1)
                try await harness.send(corrected, key: "D-1")
                _ = try await harness.verdicts(count: 2)
                try await harness.send(stale, key: "D-1")
                return (try await harness.verdicts(count: 3), runtime.worker.runnersStarted)
            }
            // One request at a time needs one runner task, not the running bound's 512.
            #expect(runners >= 1 && runners <= 3, "\(runners) runners started")
            #expect(verdicts.map(\.outcome) == [.mismatch, .verified, .mismatch])
            #expect(verdicts.map { $0.dossier?.state } == [.needsCorrection, .accepted, .accepted])
        }
    }

    @Test("a verified request at the same instant as the dossier's last change moves it, whatever PostgreSQL rounds")
    func sameInstantMovesDossier() async throws {
        try await RegistrySimulator.withRunning(configuration: Self.simulatorConfiguration) { simulator in
            let harness = try await WorkerHarness(name: "worker_same_instant", simulator: simulator)
            let population = harness.population()
            let right = Requests.sample(population) { $0.expectMatch && $0.variant == "exact" }
            var wrong = right
            wrong.fullName = "Nguyễn Văn Khác"
            // An instant whose microseconds, as PostgresNIO writes and reads them back, come out one
            // ulp later than the request's own Date: `>=` on the two Dates then said "older".
            let t0 = Self.instantReadBackLater()
            let first = Requests.make(.submission, sample: wrong, dossierCode: "D-SAME", occurredAt: t0)
            let corrected = Requests.make(.submission, sample: right, dossierCode: "D-SAME", occurredAt: t0)
            let verdicts = try await harness.withWorker {
                try await harness.send(first, key: "D-SAME")
                _ = try await harness.verdicts(count: 1)
                try await harness.send(corrected, key: "D-SAME")
                return try await harness.verdicts(count: 2)
            }
            #expect(verdicts.map(\.outcome) == [.mismatch, .verified])
            #expect(verdicts.map { $0.dossier?.state } == [.needsCorrection, .accepted])
        }
    }

    /// The latest millisecond before now that a round trip through a `timestamptz` hands back later
    /// than the request's parsed `Date` (PostgresNIO: truncated microseconds from 2000-01-01).
    static func instantReadBackLater() -> Date {
        let epoch2000 = Date(timeIntervalSince1970: 946_684_800)
        var milliseconds = Int64(Date().timeIntervalSince1970 * 1000)
        while true {
            let text = Timestamp(Date(timeIntervalSince1970: Double(milliseconds) / 1000)).text
            let parsed = Timestamp(rfc3339: text)!.date
            let microseconds = Int64(parsed.timeIntervalSince(epoch2000) * 1_000_000)
            if Date(timeInterval: Double(microseconds) / 1_000_000, since: epoch2000) > parsed { return parsed }
            milliseconds -= 1
        }
    }

    @Test("a request sent again and a message delivered twice: one outcome, the same bytes, no extra registry call")
    func idempotency() async throws {
        try await RegistrySimulator.withRunning(configuration: Self.simulatorConfiguration) { simulator in
            let harness = try await WorkerHarness(name: "worker_idempotency", simulator: simulator)
            let sample = Requests.sample(harness.population()) { $0.expectMatch }
            let request = Requests.make(.registration, sample: sample)
            let trace = [
                KafkaHeader(name: "traceparent", string: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
                KafkaHeader(name: "tracestate", string: "congo=t61rcWkgMzE"),
            ]
            let laterTrace = [KafkaHeader(name: "traceparent", string: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
            let messages = try await harness.withWorker {
                try await harness.send(request, key: "acc-9", headers: trace)
                _ = try await harness.read(harness.topics.verdicts, count: 1)
                // Sent again later, and twice at once (as a redelivery would), in another trace.
                try await harness.send(request, key: "acc-9", headers: laterTrace)
                try await harness.send(request, key: "acc-9")
                return try await harness.read(harness.topics.verdicts, count: 3)
            }
            #expect(messages.count == 3)
            #expect(Set(messages.map(\.value)).count == 1, "re-emitted byte for byte")
            // The headers too, rebuilt from what is stored (the verdict, its source and trace context).
            #expect(messages.allSatisfy { $0.headers == messages[0].headers }, "\(messages.map(\.headers))")
            #expect(messages[0].headers.map(\.name) == [
                "ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type", "traceparent", "tracestate",
            ])
            #expect(messages[0].headers.string(named: "tracestate") == "congo=t61rcWkgMzE")
            #expect(messages.allSatisfy { $0.key == Array("acc-9".utf8) })
            #expect(simulator.simulator.statistics().totalCalls == 1)
        }
    }

    @Test("verdicts of one key come out in the order their requests went in, under concurrency")
    func perKeyOrder() async throws {
        try await RegistrySimulator.withRunning(
            configuration: .init(port: 0, population: 20_000, behaviour: .init(latencyMs: 2, latencySpreadMs: 20))
        ) { simulator in
            let harness = try await WorkerHarness(name: "worker_order", simulator: simulator)
            let population = harness.population()
            var sent: [String: [String]] = [:]
            var requests: [(VerificationRequest, String)] = []
            for i in 0..<300 {
                let key = "key-\(i % 15)"
                let request = Requests.make(.registration, sample: population.sample(i))
                requests.append((request, key))
                sent[key, default: []].append(request.requestId)
            }
            let toSend = requests
            let messages = try await harness.withWorker {
                for (request, key) in toSend { try await harness.send(request, key: key) }
                return try await harness.read(harness.topics.verdicts, count: 300, seconds: 120)
            }
            var received: [String: [String]] = [:]
            for message in messages.sorted(by: { ($0.partition, $0.offset) < ($1.partition, $1.offset) }) {
                let verdict = try Verdict(json: message.value)
                received[String(decoding: message.key ?? [], as: UTF8.self), default: []].append(verdict.requestId)
            }
            #expect(received == sent)
        }
    }

    @Test("every kind of unreadable message goes to the dead-letter topic, unchanged, with its reason")
    func deadLetters() async throws {
        try await RegistrySimulator.withRunning(configuration: Self.simulatorConfiguration) { simulator in
            let harness = try await WorkerHarness(name: "worker_dlq", simulator: simulator)
            let cases: [(String, [UInt8])] = [
                ("not_json", Array("hello".utf8)),
                ("not_utf8", [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D]),
                ("too_large", Array(("{\"requestId\":\"x\",\"pad\":\"" + String(repeating: "a", count: 65_536) + "\"}").utf8)),
                ("missing_request_id", Array(#"{"occurredAt":"2026-11-29T09:15:00+07:00"}"#.utf8)),
                ("not_object", Array("[1,2,3]".utf8)),
            ]
            let messages = try await harness.withWorker {
                for (index, (_, value)) in cases.enumerated() {
                    try await harness.send(
                        .submission, key: "k\(index)", value: value, headers: [KafkaHeader(name: "origin", string: "test-\(index)")])
                }
                return try await harness.read(harness.topics.deadLetter, count: cases.count)
            }
            for (index, (reason, value)) in cases.enumerated() {
                let letter = try #require(messages.first { $0.key == Array("k\(index)".utf8) })
                #expect(letter.value == value)
                #expect(letter.headers.string(named: "origin") == "test-\(index)", "original headers kept")
                #expect(letter.headers.string(named: "dlq_reason") == reason)
                #expect(letter.headers.string(named: "dlq_source_topic") == harness.topics.requests(.submission))
                #expect(letter.headers.string(named: "dlq_source_partition") != nil)
                #expect(letter.headers.string(named: "dlq_source_offset") != nil)
            }
            #expect(simulator.simulator.statistics().totalCalls == 0)
        }
    }

    @Test("the registry down, then up again: submissions parked, then verified; counters unavailable at their deadline")
    func registryOutage() async throws {
        try await RegistrySimulator.withRunning(
            configuration: .init(port: 0, population: 20_000, behaviour: .init(errorRate: 1))
        ) { simulator in
            let harness = try await WorkerHarness(name: "worker_outage", simulator: simulator) { settings in
                settings.worker.quickRetryWindow = .seconds(1)
                settings.worker.parkedRetryInitial = .milliseconds(500)
                settings.worker.parkedRetryMax = .seconds(1)
                settings.worker.parkedPollInterval = .milliseconds(200)
                // Counted from the message's Kafka timestamp, which is sent once the worker calls
                // the registry (its group joined: that took over 6 s under the full suite's load).
                settings.worker.deadlines[.counter] = .seconds(6)
            }
            let population = harness.population()
            let samples = (0..<4).map { n in Requests.sample(population) { $0.expectMatch && $0.citizenIndex % 4 == n } }
            let submissions = samples.enumerated().map { Requests.make(.submission, sample: $1, dossierCode: "P-\($0)") }
            let counter = Requests.make(.counter, sample: samples[0])
            let verdicts = try await harness.withWorker {
                for (index, request) in submissions.enumerated() { try await harness.send(request, key: "P-\(index)") }
                try await withTimeout(60, "the worker's first registry call") {
                    while simulator.simulator.statistics().totalCalls == 0 { try await Task.sleep(for: .milliseconds(50)) }
                }
                try await harness.send(counter, key: "desk-1")
                // The counter's verdict comes first (its deadline ends while the registry is down).
                _ = try await harness.verdicts(count: 1, seconds: 30)
                // Let the submissions park, then bring the registry back. The second read starts at
                // the beginning again and returns all five verdicts, interleaved across partitions.
                try await Task.sleep(for: .seconds(2))
                try simulator.simulator.setBehaviour(.init())
                return try await harness.verdicts(count: 5, seconds: 60)
            }
            let counterVerdict = try #require(verdicts.first { $0.requestId == counter.requestId })
            #expect(counterVerdict.outcome == .unavailable)
            #expect(counterVerdict.attempts >= 1)
            for submission in submissions {
                let verdict = try #require(verdicts.first { $0.requestId == submission.requestId })
                #expect(verdict.outcome == .verified)
                #expect(verdict.attempts > 1, "attempts count the failed calls too")
                #expect(verdict.dossier?.state == .accepted)
            }
            #expect(harness.logs.all.contains { $0.contains("check parked") })
        }
    }
}
