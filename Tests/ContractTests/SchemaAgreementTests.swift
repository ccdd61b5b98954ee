import Crypto
import Foundation
import Identity
import Testing

@testable import Contract

/// Writes a corpus of messages the Swift code produced or read, and lets
/// `scripts/check-schemas.py` check it against `schemas/` (see the script for the rules).
@Suite("Schemas agree with the Swift code")
struct SchemaAgreementTests {
    final class Corpus {
        let directory: URL
        var entries: [[String: String]] = []
        var reasons: [String: [String]] = [:]

        init() throws {
            self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("contract-corpus-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        }

        /// A message the Swift code produced: it must be valid against `schema`.
        func produced(_ name: String, _ schema: String, _ bytes: [UInt8]) throws {
            try self.write(["name": name, "schema": schema], bytes)
        }

        /// A request value with what the Swift reader made of it.
        func read(_ name: String, _ bytes: [UInt8], _ channel: Channel) throws -> ReadResult {
            let result = RequestReader().read(value: bytes, topic: channel, now: Fixtures.now)
            var entry = ["name": name, "schema": "request-\(channel.rawValue)", "reader": result.kind]
            if case .deadLetter(let reason) = result { entry["deadLetterReason"] = reason.rawValue }
            if case .invalid(let invalid) = result {
                self.reasons[name] = invalid.reasons.map { "\($0.field):\($0.code.rawValue)" }
            }
            try self.write(entry, bytes)
            return result
        }

        private func write(_ entry: [String: String], _ bytes: [UInt8]) throws {
            var entry = entry
            let file = String(format: "%05d.json", self.entries.count)
            entry["file"] = file
            try Data(bytes).write(to: self.directory.appendingPathComponent(file))
            self.entries.append(entry)
        }

        func finish() throws {
            let list: [[String: Any]] = self.entries.map { entry in
                var item: [String: Any] = entry
                if let reasons = self.reasons[entry["name"]!] { item["reasons"] = reasons }
                return item
            }
            let data = try JSONSerialization.data(withJSONObject: ["entries": list], options: [.prettyPrinted, .sortedKeys])
            try data.write(to: self.directory.appendingPathComponent("corpus.json"))
        }
    }

    static func headersJSON(_ headers: [MessageHeader]) -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        for header in headers { writer.field(header.name, header.stringValue ?? "") }
        writer.endObject()
        return writer.bytes
    }

    @Test("examples, AsyncAPI and a corpus of Swift messages pass scripts/check-schemas.py")
    func corpusAgrees() throws {
        let corpus = try Corpus()
        defer { try? FileManager.default.removeItem(at: corpus.directory) }
        let decidedAt = Timestamp(Fixtures.now.addingTimeInterval(0.25))
        let privateKey = Curve25519.KeyAgreement.PrivateKey()
        let recipient = AutofillRecipientKey(rawRepresentation: Array(privateKey.publicKey.rawRepresentation))!
        var verdictCount = 0

        func verdicts(for result: ReadResult, name: String) throws {
            switch result {
            case .request(let request):
                let outcome = Verdict.Outcome.allCases[verdictCount % 4]
                var autofill: SealedAutofill?
                if case .counter(let key?) = request.details, outcome == .verified {
                    autofill = try AutofillSealer().seal(AutofillTests.record, to: key, requestId: request.requestId)
                }
                let verdict = Verdict(
                    request: request, outcome: outcome, attempts: outcome == .invalid ? 1 : 1 + verdictCount % 3,
                    decidedAt: decidedAt, subjectRefKey: Fixtures.refKey, autofill: autofill
                )
                try corpus.produced("verdict for \(name)", "verdict", verdict.encodedJSON())
                if outcome == .verified || outcome == .mismatch {
                    // The same person again within the reuse expiry: the earlier answer, no call.
                    var reused = verdict
                    reused.attempts = 0
                    reused.reusedFrom = "5d2b7c1e-3f4a-4b5c-8d6e-7f8091a2b3c4"
                    reused.autofill = nil
                    try corpus.produced("reused verdict for \(name)", "verdict", reused.encodedJSON())
                }
                try corpus.produced("verdict headers for \(name)", "verdict-headers", Self.headersJSON(verdict.cloudEventHeaders(
                    traceparent: verdictCount % 2 == 0 ? "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" : nil,
                    tracestate: "rojo=00f067aa0ba902b7"
                )))
            case .invalid(let invalid):
                let verdict = Verdict(invalid: invalid, subjectRefKey: Fixtures.refKey, decidedAt: decidedAt)
                try corpus.produced("verdict for \(name)", "verdict", verdict.encodedJSON())
            case .deadLetter(let reason):
                let metadata = DeadLetterMetadata(reason: reason, sourceTopic: "tthc.identity.counter", sourcePartition: Int32(verdictCount % 12), sourceOffset: Int64(verdictCount) * 1_000_003)
                try corpus.produced("dead-letter headers for \(name)", "dead-letter-headers", metadata.encodedJSON())
            }
            verdictCount += 1
        }

        // Valid requests: fixtures, synthetic people, awkward spellings.
        var synthetic = SyntheticRequests(seed: 2026)
        for channel in Channel.allCases {
            let fixture = try corpus.read("fixture \(channel)", Fixtures.fixture(channel).bytes, channel)
            try verdicts(for: fixture, name: "fixture \(channel)")
            for index in 0..<40 {
                var request = synthetic.request(on: channel)
                if case .counter = request.details, index % 2 == 0 {
                    request.details = .counter(autofillRecipientKey: recipient)
                }
                let result = try corpus.read("synthetic \(channel) \(index)", request.encodedJSON(), channel)
                #expect(result.request != nil)
                try verdicts(for: result, name: "synthetic \(channel) \(index)")
            }
            let awkward = Fixtures.fixture(channel)
                .setting("subject.fullName", .s(" \tNGUYỄN  thị\u{00A0}THỦY\n".decomposedStringWithCanonicalMapping))
                .setting("subject.idNumber", .s("０３０.１９０.０１２.３４５"))
                .setting("subject.dateOfBirth", .s("1990-04"))
                .setting("unknownField", .o([("nested", .a([.n("-1.5e-300"), .null]))]))
            #expect(try corpus.read("awkward \(channel)", awkward.bytes, channel).request != nil)
        }

        // One broken field each (the reader tests' table), then several at once.
        for (index, (path, value, channel, expected)) in Fixtures.fieldCases.enumerated() {
            let result = try corpus.read("field \(index) \(path)", Fixtures.fixture(channel).setting(path, value).bytes, channel)
            #expect(Fixtures.reasons(result) == expected)
            try verdicts(for: result, name: "field \(index)")
        }
        let beyond: [(String, J)] = [
            ("subject.idNumber", .s("003190012345")), ("subject.idNumber", .s("030190000000")), ("subject.idNumber", .s("030191012345")),
            ("subject.idNumber", .s("101190012345")), ("subject.dateOfBirth", .s("2027-01-01")),
            ("subject.fullName", .s(Array(repeating: "Nguyễn", count: 15).joined(separator: " "))),
        ]
        for (index, (path, value)) in beyond.enumerated() {
            for channel in Channel.allCases {
                let result = try corpus.read("beyond \(index) \(channel)", Fixtures.fixture(channel).setting(path, value).bytes, channel)
                try verdicts(for: result, name: "beyond \(index) \(channel)")
            }
        }
        let several = Fixtures.submission.setting("requestId", .s("req-42")).setting("agencyCode", .s("bad code"))
            .setting("subject.fullName", .s("Lan")).setting("subject.idNumber", .s("12-34")).setting("dossier.receivedAt", .n("0"))
        try verdicts(for: try corpus.read("several", several.bytes, .submission), name: "several")
        let severalBeyond = Fixtures.submission.setting("subject.idNumber", .s("999190000000"))
        try verdicts(for: try corpus.read("several beyond", severalBeyond.bytes, .submission), name: "several beyond")

        // Dead letters.
        let deadLetters: [(String, [UInt8])] = [
            ("array", Array("[1,2]".utf8)), ("string", Array("\"x\"".utf8)), ("number", Array("12".utf8)),
            ("no requestId", Fixtures.registration.setting("requestId", nil).bytes),
            ("null requestId", Fixtures.registration.setting("requestId", .null).bytes),
            ("numeric requestId", Fixtures.registration.setting("requestId", .n("7")).bytes),
            ("empty requestId", Fixtures.registration.setting("requestId", .s("")).bytes),
            ("long requestId", Fixtures.registration.setting("requestId", .s(String(repeating: "r", count: 129))).bytes),
            ("not json", Array("{\"requestId\":".utf8)), ("not utf8", [0x7B, 0xFF, 0x7D]),
            ("too large", Fixtures.registration.bytes + [UInt8](repeating: 0x20, count: 65_537)),
            ("too deep", Array((String(repeating: "[", count: 100) + String(repeating: "]", count: 100)).utf8)),
        ]
        for (name, bytes) in deadLetters {
            let result = try corpus.read("dead letter \(name)", bytes, .registration)
            #expect(result.deadLetterReason != nil)
            try verdicts(for: result, name: "dead letter \(name)")
        }

        // Dossier events and autofill plaintexts.
        for (index, type) in DossierEvent.EventType.allCases.enumerated() {
            let event = DossierEvent(
                eventId: UUID(), dossierCode: "H23.45.10-241129-000\(index)", agencyCode: "H23.45.10", type: type,
                occurredAt: Timestamp(Fixtures.now.addingTimeInterval(Double(index) * 3600)),
                dueAt: index % 2 == 0 ? Timestamp(rfc3339: "2026-12-04T17:00:00+07:00") : nil
            )
            try corpus.produced("dossier event \(type)", "dossier-event", event.encodedJSON())
        }
        for fields in [AutofillField.defaultFields, Set(AutofillField.allCases), [.fullName]] {
            try corpus.produced("autofill \(fields.count) fields", "autofill-record", AutofillSealer(fields: fields).plaintext(AutofillTests.record))
        }
        var withFormer = AutofillTests.record
        withFormer.formerIdNumber = "186523417"
        try corpus.produced("autofill with CMND", "autofill-record", AutofillSealer().plaintext(withFormer))
        try corpus.finish()

        let script = Python.packageRoot.appendingPathComponent("scripts/check-schemas.py").path
        let output = try Python.run([script, corpus.directory.path])
        print(output.stdout, terminator: "")
        #expect(output.status != 3, "A Python dependency is missing: \(output.stderr)")
        #expect(output.status == 0, "check-schemas.py failed:\n\(output.stdout)\(output.stderr)")
        #expect(output.stdout.contains("check-schemas: ok"))
    }
}
