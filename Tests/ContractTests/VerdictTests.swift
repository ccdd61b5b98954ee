import Foundation
import Identity
import Testing

@testable import Contract

@Suite("Verdicts")
struct VerdictTests {
    static let decidedAt = Timestamp(Date(timeIntervalSince1970: 1_795_918_512.345))

    @Test("verdict ids are UUID v5 of the request id in the documented namespace, as Python's uuid5 computes")
    func verdictIds() {
        #expect(VerdictID.namespace.uuidString.lowercased() == "88bf9d40-eeb6-4394-b014-4ae72b68a749")
        #expect(VerdictID.derive(fromRequestId: "4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a10").lowercaseString == "2149d4eb-b795-5cb8-96a3-0c69aa1b7b04")
        #expect(VerdictID.derive(fromRequestId: "not-a-uuid").lowercaseString == "90eb64fa-1fe8-5c3f-b661-7d93d6728735")
        // A UUID in upper case is the same request.
        #expect(VerdictID.derive(fromRequestId: "4F0C9A4E-2B8E-4D59-9A77-0B7D3F1F6A10").lowercaseString == "2149d4eb-b795-5cb8-96a3-0c69aa1b7b04")
        #expect(RequestID.idempotencyKey(for: "4F0C9A4E-2B8E-4D59-9A77-0B7D3F1F6A10") == "4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a10")
        #expect(RequestID.idempotencyKey(for: "Req-1") == "Req-1")
    }

    @Test("a UUID's lowercase form is Foundation's uuidString in lower case, for any bytes")
    func lowercaseUUIDs() {
        var samples = [UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))]
        samples.append(UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255)))
        samples.append(UUID(uuid: (0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xF0, 0x1E, 0x2D, 0x3C, 0x4B, 0x5A, 0x69, 0x78)))
        for _ in 0..<1_000 { samples.append(UUID()) }
        for uuid in samples {
            #expect(uuid.lowercaseString == uuid.uuidString.lowercased())
            #expect(UUID(contractString: uuid.lowercaseString) == uuid)
        }
    }

    @Test("a verified submission verdict encodes with a fixed field order")
    func canonicalBytes() throws {
        let request = try #require(Fixtures.read(Fixtures.submission, .submission).request)
        let verdict = Verdict(request: request, outcome: .verified, attempts: 1, decidedAt: Self.decidedAt, subjectRefKey: Fixtures.refKey)
        let expected = #"{"verdictId":"2149d4eb-b795-5cb8-96a3-0c69aa1b7b04","requestId":"4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a10","channel":"submission","agencyCode":"H23.45.10","decidedAt":"2026-11-29T02:15:12.345Z","outcome":"verified","subject":{"idNumberMasked":"030******345","ref":"806XRJQIZ03zPwT4FYIjJESWAKIAuFEn43qoNt9AUtg"},"attempts":1,"dossier":{"code":"H23.45.10-241129-0007","state":"accepted"}}"#
        #expect(String(decoding: verdict.encodedJSON(), as: UTF8.self) == expected)
        #expect(verdict.reasons == nil)
        #expect(verdict.autofill == nil)
    }

    @Test("an invalid verdict: reasons, no registry call, dossier needs correction")
    func invalidVerdict() throws {
        let json = Fixtures.submission.setting("subject.fullName", .s("Thuỷ")).setting("requestId", .s("req-7"))
        let invalid = try #require(Fixtures.read(json, .submission).invalidRequest)
        let verdict = Verdict(invalid: invalid, subjectRefKey: Fixtures.refKey, decidedAt: Self.decidedAt)
        #expect(verdict.outcome == .invalid)
        #expect(verdict.attempts == 0)
        #expect(verdict.reasons == [ValidationReason(field: "requestId", code: .invalidFormat), ValidationReason(field: "subject.fullName", code: .singleWord)])
        #expect(verdict.dossier == VerdictDossier(code: "H23.45.10-241129-0007", state: .needsCorrection))
        #expect(verdict.subject?.idNumberMasked == "030******345")
        let text = String(decoding: verdict.encodedJSON(), as: UTF8.self)
        #expect(text.contains(#""outcome":"invalid","reasons":[{"field":"requestId","code":"invalid_format"},{"field":"subject.fullName","code":"single_word"}],"subject":"#))
        #expect(!text.contains("Thuỷ"))
        #expect(!text.contains("030190012345"))
    }

    @Test("registry_rejected, mismatch and unavailable verdicts")
    func otherOutcomes() throws {
        let request = try #require(Fixtures.read(Fixtures.registration, .registration).request)
        let rejected = Verdict(request: request, outcome: .invalid, attempts: 1, decidedAt: Self.decidedAt, subjectRefKey: Fixtures.refKey)
        #expect(rejected.reasons == [ValidationReason(field: "subject", code: .registryRejected)])
        #expect(rejected.dossier == nil)
        let mismatch = Verdict(request: request, outcome: .mismatch, attempts: 2, decidedAt: Self.decidedAt, subjectRefKey: Fixtures.refKey)
        #expect(mismatch.reasons == nil)
        let submission = try #require(Fixtures.read(Fixtures.submission, .submission).request)
        let unavailable = Verdict(request: submission, outcome: .unavailable, attempts: 5, decidedAt: Self.decidedAt, subjectRefKey: Fixtures.refKey)
        #expect(unavailable.dossier?.state == .verificationUnavailable)
        let older = Verdict(request: submission, outcome: .mismatch, attempts: 1, decidedAt: Self.decidedAt, subjectRefKey: Fixtures.refKey, dossierState: .accepted)
        #expect(older.dossier?.state == .accepted)
    }

    @Test("autofill is kept only on a verified counter verdict")
    func autofillOnlyWhenVerified() throws {
        let sealed = SealedAutofill(encapsulatedKey: "AAAA", ciphertext: "BBBB")
        let counter = try #require(Fixtures.read(Fixtures.counter, .counter).request)
        let verified = Verdict(request: counter, outcome: .verified, attempts: 1, decidedAt: Self.decidedAt, subjectRefKey: Fixtures.refKey, autofill: sealed)
        #expect(verified.autofill == sealed)
        let mismatch = Verdict(request: counter, outcome: .mismatch, attempts: 1, decidedAt: Self.decidedAt, subjectRefKey: Fixtures.refKey, autofill: sealed)
        #expect(mismatch.autofill == nil)
        #expect(String(decoding: verified.encodedJSON(), as: UTF8.self).contains(#""attempts":1,"autofill":{"encapsulatedKey":"AAAA","ciphertext":"BBBB"}}"#))
    }

    @Test("encoded bytes decode back, and re-encode to the same bytes", arguments: Verdict.Outcome.allCases)
    func roundTrip(_ outcome: Verdict.Outcome) throws {
        for channel in Channel.allCases {
            let request = try #require(Fixtures.read(Fixtures.fixture(channel), channel).request)
            let verdict = Verdict(
                request: request,
                outcome: outcome,
                attempts: 3,
                decidedAt: Self.decidedAt,
                subjectRefKey: Fixtures.refKey,
                autofill: SealedAutofill(encapsulatedKey: "ZW5j", ciphertext: "Y3Q=")
            )
            let bytes = verdict.encodedJSON()
            let decoded = try Verdict(json: bytes)
            #expect(decoded == verdict)
            #expect(decoded.encodedJSON() == bytes)
            let viaFoundation = try JSONDecoder().decode(Verdict.self, from: Data(bytes))
            #expect(viaFoundation == verdict)
            let reencoded = try JSONEncoder().encode(verdict)
            #expect(try Verdict(json: Array(reencoded)) == verdict)
        }
    }

    @Test("a verdict that reused an earlier answer names it after attempts and reads back")
    func reusedFrom() throws {
        let request = try #require(Fixtures.read(Fixtures.submission, .submission).request)
        var verdict = Verdict(request: request, outcome: .verified, attempts: 0, decidedAt: Self.decidedAt, subjectRefKey: Fixtures.refKey)
        verdict.reusedFrom = "5d2b7c1e-3f4a-4b5c-8d6e-7f8091a2b3c4"
        let bytes = verdict.encodedJSON()
        #expect(String(decoding: bytes, as: UTF8.self).contains(#""attempts":0,"reusedFrom":"5d2b7c1e-3f4a-4b5c-8d6e-7f8091a2b3c4","dossier":"#))
        #expect(try Verdict(json: bytes) == verdict)
        #expect(try JSONDecoder().decode(Verdict.self, from: Data(bytes)) == verdict)
        #expect(try Verdict(json: Array(JSONEncoder().encode(verdict))) == verdict)
        #expect(verdict.description.contains("reusedFrom: 5d2b7c1e"))
        // Absent: the bytes are those of before (no key at all).
        verdict.reusedFrom = nil
        #expect(!String(decoding: verdict.encodedJSON(), as: UTF8.self).contains("reusedFrom"))
        #expect(throws: ContractDecodingError(path: "reusedFrom", code: .invalidType)) {
            try Verdict(json: Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: #""reusedFrom":"5d2b7c1e-3f4a-4b5c-8d6e-7f8091a2b3c4""#, with: #""reusedFrom":7"#).utf8))
        }
    }

    @Test("decoding reports the path of what is wrong, never the value")
    func decodingErrors() {
        #expect(throws: ContractDecodingError(path: "verdictId", code: .missing)) { try Verdict(json: Array("{}".utf8)) }
        #expect(throws: ContractDecodingError(path: "", code: .invalidFormat)) { try Verdict(json: Array("{".utf8)) }
        #expect(throws: ContractDecodingError(path: "", code: .invalidType)) { try Verdict(json: Array("[]".utf8)) }
        let bad = #"{"verdictId":"2149d4eb-b795-5cb8-96a3-0c69aa1b7b04","requestId":"r","channel":"fax"}"#
        #expect(throws: ContractDecodingError(path: "channel", code: .invalidValue)) { try Verdict(json: Array(bad.utf8)) }
    }

    @Test("CloudEvents binary-mode headers and trace context")
    func cloudEvents() throws {
        let request = try #require(Fixtures.read(Fixtures.registration, .registration).request)
        let verdict = Verdict(request: request, outcome: .verified, attempts: 1, decidedAt: Self.decidedAt, subjectRefKey: Fixtures.refKey)
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        let headers = verdict.cloudEventHeaders(traceparent: traceparent, tracestate: "congo=t61rcWkgMzE")
        let pairs = headers.map { "\($0.name)=\($0.stringValue ?? "?")" }
        #expect(
            pairs == [
                "ce_specversion=1.0", "ce_id=2149d4eb-b795-5cb8-96a3-0c69aa1b7b04", "ce_source=/tthc/identity-verifier",
                "ce_type=vn.tthc.identity.verdict.v1", "ce_time=2026-11-29T02:15:12.345Z", "content-type=application/json",
                "traceparent=\(traceparent)", "tracestate=congo=t61rcWkgMzE",
            ]
        )
        #expect(verdict.cloudEventHeaders(source: "urn:x").map(\.name) == ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type"])
        #expect(verdict.cloudEventHeaders(traceparent: "garbage", tracestate: "a=b").count == 6)
    }

    @Test("traceparent validation", arguments: [
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", false),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false),
        ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", false),
    ])
    func traceparents(_ value: String, _ valid: Bool) {
        #expect(TraceParent.isValid(value) == valid)
    }

    @Test("descriptions never show personal data")
    func description() throws {
        let request = try #require(Fixtures.read(Fixtures.registration, .registration).request)
        let verdict = Verdict(request: request, outcome: .verified, attempts: 1, decidedAt: Self.decidedAt, subjectRefKey: Fixtures.refKey)
        #expect(!verdict.description.contains("030190012345"))
        #expect(!verdict.description.contains("Nguyễn"))
        #expect(verdict.description.contains("030******345"))
    }
}

@Suite("Dead letters")
struct DeadLetterTests {
    @Test("headers: the original ones unchanged, then reason and source")
    func headers() throws {
        let original = [MessageHeader(name: "traceparent", value: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), MessageHeader(name: "raw", value: [0xFF, 0x00])]
        let metadata = DeadLetterMetadata(reason: .notJSON, sourceTopic: "tthc.identity.counter", sourcePartition: 3, sourceOffset: 9_007_199_254_740_993)
        let headers = metadata.headers(appendingTo: original)
        #expect(Array(headers.prefix(2)) == original)
        #expect(headers.dropFirst(2).map { "\($0.name)=\($0.stringValue!)" } == [
            "dlq_reason=not_json", "dlq_source_topic=tthc.identity.counter", "dlq_source_partition=3", "dlq_source_offset=9007199254740993",
        ])
        #expect(DeadLetterMetadata(headers: headers) == metadata)
        // Dead-lettered again after a replay: the last set wins.
        let again = DeadLetterMetadata(reason: .tooLarge, sourceTopic: "tthc.identity.submission", sourcePartition: 0, sourceOffset: 1)
        #expect(DeadLetterMetadata(headers: again.headers(appendingTo: headers)) == again)
        #expect(DeadLetterMetadata(headers: original) == nil)
        #expect(String(decoding: metadata.encodedJSON(), as: UTF8.self) == #"{"dlq_reason":"not_json","dlq_source_topic":"tthc.identity.counter","dlq_source_partition":"3","dlq_source_offset":"9007199254740993"}"#)
    }

    @Test("reason codes")
    func codes() {
        let all: [DeadLetterReason] = [.tooLarge, .notUTF8, .notJSON, .tooDeep, .notObject, .missingRequestId, .invalidEvent]
        #expect(all.map(\.rawValue) == ["too_large", "not_utf8", "not_json", "too_deep", "not_object", "missing_request_id", "invalid_event"])
    }

    @Test("topics follow the prefix")
    func topics() {
        let topics = Topics()
        #expect(topics.requestTopics == ["tthc.identity.counter", "tthc.identity.registration", "tthc.identity.submission"])
        #expect(topics.verdicts == "tthc.identity.verdicts")
        #expect(topics.deadLetter == "tthc.identity.dead-letter")
        #expect(topics.dossierEvents == "tthc.dossier.events")
        #expect(topics.channel(ofTopic: "tthc.identity.submission") == .submission)
        #expect(topics.channel(ofTopic: "tthc.identity.verdicts") == nil)
        #expect(Topics(prefix: "hcm.").channel(ofTopic: "hcm.identity.counter") == .counter)
    }
}

@Suite("Dossiers")
struct DossierTests {
    @Test("states after each outcome")
    func states() {
        #expect(DossierState(after: .verified) == .accepted)
        #expect(DossierState(after: .mismatch) == .needsCorrection)
        #expect(DossierState(after: .invalid) == .needsCorrection)
        #expect(DossierState(after: .unavailable) == .verificationUnavailable)
        #expect(DossierState.allCases.map(\.rawValue) == ["awaiting_verification", "accepted", "needs_correction", "verification_unavailable"])
    }

    static let event = J.o([
        ("eventId", .s("6a1f0c9e-7d0b-4b8e-9a3c-1f2e3d4c5b6a")), ("dossierCode", .s("H23.45.10-241129-0007")),
        ("agencyCode", .s("H23.45.10")), ("type", .s("received")), ("occurredAt", .s("2026-11-29T09:15:00+07:00")),
        ("dueAt", .s("2026-12-04T17:00:00+07:00")),
    ])

    @Test("events read, encode and read back")
    func events() throws {
        guard case .event(let event) = DossierEventReader.read(value: Self.event.bytes) else {
            Issue.record("expected an event")
            return
        }
        #expect(event.type == .received)
        #expect(event.dueAt?.text == "2026-12-04T17:00:00+07:00")
        #expect(event.encodedJSON() == Self.event.bytes)
        #expect(DossierEventReader.read(value: event.encodedJSON()) == .event(event))
        #expect(try JSONDecoder().decode(DossierEvent.self, from: Data(event.encodedJSON())) == event)
        #expect(DossierEvent.EventType.allCases.filter(\.closesDossier) == [.resolved, .returned])
    }

    @Test("broken events: every reason, or a dead letter")
    func brokenEvents() {
        let broken = Self.event.setting("eventId", .s("e-1")).setting("type", .s("lost")).setting("dueAt", .s("soon")).setting("dossierCode", nil)
        guard case .invalid(let reasons) = DossierEventReader.read(value: broken.bytes) else {
            Issue.record("expected invalid")
            return
        }
        #expect(reasons.map { "\($0.field):\($0.code.rawValue)" } == ["eventId:invalid_format", "dossierCode:missing", "type:invalid_value", "dueAt:invalid_format"])
        #expect(DossierEventReader.read(value: Array("[1]".utf8)) == .deadLetter(.notObject))
        #expect(DossierEventReader.read(value: [0xFF]) == .deadLetter(.notUTF8))
        #expect(DossierEventReader.read(value: Array("{".utf8)) == .deadLetter(.notJSON))
        #expect(DossierEventReader.read(value: [UInt8](repeating: 0x20, count: 65_537)) == .deadLetter(.tooLarge))
    }
}
