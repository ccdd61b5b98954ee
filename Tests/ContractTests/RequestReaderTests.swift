import Foundation
import Identity
import Testing

@testable import Contract

@Suite("Reading requests")
struct RequestReaderTests {
    @Test("the contract's example submission is a request, normalised", arguments: Channel.allCases)
    func validFixtures(_ channel: Channel) throws {
        let request = try #require(Fixtures.read(Fixtures.fixture(channel), channel).request)
        #expect(request.channel == channel)
        #expect(request.requestId == "4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a10")
        #expect(request.occurredAt.text == "2026-11-29T09:15:00+07:00")
        #expect(request.occurredAt.date == Date(timeIntervalSince1970: 1_795_918_500))
        #expect(request.agencyCode == "H23.45.10")
        #expect(request.subject.fullName == "Nguyễn Thị Thuỷ")
        #expect(request.subject.idNumber == "030190012345")
        #expect(request.subject.dateOfBirth == PartialDate(year: 1990, month: 4, day: 12))
        #expect(request.subject.idNumberMasked == "030******345")
        switch request.details {
        case .counter(let key):
            #expect(key?.base64 == Fixtures.recipientKeyBase64)
            #expect(request.actor == Actor(kind: .officer, id: "desk-07"))
        case .registration(let accountId):
            #expect(accountId == "acc-88121")
        case .submission(let accountId, let dossier):
            #expect(accountId == "acc-88121")
            #expect(dossier.code == "H23.45.10-241129-0007")
            #expect(dossier.procedureCode == "1.001234")
            #expect(dossier.dueAt?.text == "2026-12-04T17:00:00+07:00")
        }
    }

    @Test("the topic decides the channel, not the body")
    func topicDecides() {
        // A submission body read from the registration topic is a registration request.
        #expect(Fixtures.read(Fixtures.submission, .registration).request?.channel == .registration)
        // A registration body read from the submission topic lacks its dossier.
        #expect(Fixtures.reasons(Fixtures.read(Fixtures.registration, .submission)) == ["dossier:missing"])
        // Counter needs no accountId; a channel field in the body changes nothing.
        #expect(Fixtures.read(Fixtures.registration.setting("channel", .s("counter")), .counter).request?.channel == .counter)
    }

    @Test("messy but valid spellings are normalised")
    func normalisation() throws {
        let messy = Fixtures.registration
            .setting("subject.fullName", .s("  NGUYỄN\tthị   thủy ".decomposedStringWithCanonicalMapping))
            .setting("subject.idNumber", .s("０３０ １９０ ０１２ ３４５"))
            .setting("subject.dateOfBirth", .s("1990"))
        let request = try #require(Fixtures.read(messy, .registration).request)
        #expect(request.subject.fullName == "NGUYỄN thị thủy")
        #expect(request.subject.idNumber == "030190012345")
        #expect(request.subject.dateOfBirth == PartialDate(year: 1990, month: nil, day: nil))
        #expect(PersonName.comparisonKey(request.subject.fullName) == PersonName.comparisonKey("Nguyễn Thị Thuỷ"))
    }

    @Test("unknown fields are ignored; null counts as absent; duplicate names: the last wins")
    func jsonDetails() throws {
        let extra = Fixtures.registration
            .setting("comment", .o([("deep", .a([.n("1e999999"), .null, .b(false)]))]))
            .setting("subject.nickname", .s("Bé"))
        #expect(Fixtures.read(extra, .registration).request != nil)
        let nullDue = Fixtures.submission.setting("dossier.dueAt", .null)
        #expect(try #require(Fixtures.read(nullDue, .submission).request).channel == .submission)
        #expect(Fixtures.reasons(Fixtures.read(Fixtures.registration.setting("accountId", .null), .registration)) == ["accountId:missing"])
        let duplicated = Array(#"{"accountId":"first","#.utf8) + Fixtures.registration.bytes.dropFirst()
        guard case .registration(let accountId)? = Fixtures.read(duplicated, .registration).request?.details else {
            Issue.record("expected a registration request")
            return
        }
        #expect(accountId == "acc-88121")
    }

    @Test("JSON escapes are decoded, surrogate pairs included")
    func escapes() throws {
        let text = Fixtures.registration.text
            .replacingOccurrences(of: "Nguyễn Thị Thuỷ", with: #"Nguy\u1ec5n Th\u1ecb Thu\u1ef7"#)
            .replacingOccurrences(of: "acc-88121", with: #"acc\/\ud83d\ude00"#)
        let request = try #require(Fixtures.read(Array(text.utf8), .registration).request)
        #expect(request.subject.fullName == "Nguyễn Thị Thuỷ")
        #expect(request.actor.id == "acc/😀")
    }

    // MARK: Dead letters

    @Test("larger than 64 KiB is too_large; exactly 64 KiB is read")
    func size() {
        var big = Fixtures.registration.bytes
        big += [UInt8](repeating: 0x20, count: 65_536 - big.count)
        #expect(big.count == 65_536)
        #expect(Fixtures.read(big, .registration).request != nil)
        big.append(0x20)
        #expect(Fixtures.read(big, .registration).deadLetterReason == .tooLarge)
        #expect(Fixtures.read([UInt8](repeating: 0xFF, count: 65_537), .registration).deadLetterReason == .tooLarge)
    }

    @Test(
        "not UTF-8 is not_utf8",
        arguments: [
            [0xFF], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80],
            [0xC3], [0x80], [0xE1, 0xBB],
        ] as [[UInt8]]
    )
    func notUTF8(_ bad: [UInt8]) {
        let value = Array(#"{"requestId":"4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a10","x":""#.utf8) + bad + Array(#""}"#.utf8)
        #expect(Fixtures.read(value, .counter).deadLetterReason == .notUTF8)
    }

    @Test(
        "not JSON is not_json",
        arguments: [
            "", " ", "{", "}", "{\"requestId\":\"a\",}", "{\"requestId\":\"a\"", "{'requestId':'a'}", "{requestId:\"a\"}",
            "\u{FEFF}{\"requestId\":\"a\"}", "{\"requestId\":\"a\"} {}", "{\"requestId\":\"a\",\"x\":01}", "{\"requestId\":\"a\",\"x\":1.}",
            "{\"requestId\":\"a\",\"x\":.5}", "{\"requestId\":\"a\",\"x\":+1}", "{\"requestId\":\"a\",\"x\":NaN}",
            "{\"requestId\":\"a\",\"x\":\"\\ud800\"}", "{\"requestId\":\"a\",\"x\":\"\\udc00\\ud800\"}", "{\"requestId\":\"a\",\"x\":\"\\x41\"}",
            "{\"requestId\":\"a\",\"x\":\"tab\there\"}", "{\"requestId\":\"a\",\"x\":tru}", "{\"requestId\":\"a\" \"x\":1}",
            "{\"requestId\":\"a\",\"x\":\"\\u12\"}", "{\"requestId\":\"a\",\"x\":[1,]}", "nul", "{\"requestId\":\"a\",\"x\":1e}",
        ]
    )
    func notJSON(_ text: String) {
        #expect(Fixtures.read(Array(text.utf8), .counter).deadLetterReason == .notJSON)
    }

    @Test("JSON that is not an object is not_object", arguments: ["[]", "[{\"requestId\":\"4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a10\"}]", "\"x\"", "42", "true", "null", " -1.5e3 "])
    func notObject(_ text: String) {
        #expect(Fixtures.read(Array(text.utf8), .counter).deadLetterReason == .notObject)
    }

    @Test("deep nesting stops at 64 levels, without exhausting the stack")
    func deepNesting() throws {
        // 100,000 levels do not fit in 64 KiB: the size decides first. The parser itself, without
        // the size limit, stops at its depth limit and does not recurse further.
        let deep = [UInt8](repeating: UInt8(ascii: "["), count: 100_000) + [UInt8](repeating: UInt8(ascii: "]"), count: 100_000)
        #expect(Fixtures.read(deep, .counter).deadLetterReason == .tooLarge)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        do {
            _ = try JSONParser.parse(deep)
        } catch {
            #expect(error.kind == .tooDeep)
        }
        let deepArray = [UInt8](repeating: UInt8(ascii: "["), count: 32_000) + [UInt8](repeating: UInt8(ascii: "]"), count: 32_000)
        #expect(Fixtures.read(deepArray, .counter).deadLetterReason == .tooDeep)
        let deepObject = String(repeating: "{\"a\":", count: 10_000) + "1" + String(repeating: "}", count: 10_000)
        #expect(Fixtures.read(Array(deepObject.utf8), .counter).deadLetterReason == .tooDeep)
        // 64 levels in all (the request object plus 63) are read.
        let nested = String(repeating: "[", count: 63) + String(repeating: "]", count: 63)
        let ok = Fixtures.registration.setting("extra", .n(nested))
        #expect(Fixtures.read(ok, .registration).request != nil)
        let tooDeep = Fixtures.registration.setting("extra", .n("[" + nested + "]"))
        #expect(Fixtures.read(tooDeep, .registration).deadLetterReason == .tooDeep)
    }

    @Test("huge numbers are only checked for syntax")
    func hugeNumbers() {
        let huge = String(repeating: "9", count: 60_000)
        let json = Fixtures.registration.setting("extra", .n("-" + huge + "." + huge.prefix(100) + "e+" + huge.prefix(1000)))
        #expect(Fixtures.read(json, .registration).request != nil)
        // A number where a string belongs is invalid_type, however large.
        #expect(Fixtures.reasons(Fixtures.read(Fixtures.registration.setting("accountId", .n(huge)), .registration)) == ["accountId:invalid_type"])
    }

    @Test(
        "no usable requestId is missing_request_id",
        arguments: [J.null, .n("42"), .s(""), .s(String(repeating: "x", count: 129)), .a([]), .o([]), .b(true)]
    )
    func unusableRequestId(_ requestId: J) {
        #expect(Fixtures.read(Fixtures.counter.setting("requestId", requestId), .counter).deadLetterReason == .missingRequestId)
        #expect(Fixtures.read(Fixtures.counter.setting("requestId", nil), .counter).deadLetterReason == .missingRequestId)
    }

    @Test("a usable requestId that is not a UUID gets an invalid verdict")
    func usableButNotUUID() throws {
        for requestId in ["x", String(repeating: "é", count: 128), "4f0c9a4e2b8e4d599a770b7d3f1f6a10", "{4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a10}", "urn:uuid:4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a10", "4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a1g"] {
            let result = Fixtures.read(Fixtures.registration.setting("requestId", .s(requestId)), .registration)
            let invalid = try #require(result.invalidRequest, "\(requestId)")
            #expect(invalid.requestId == requestId)
            #expect(Fixtures.reasons(result) == ["requestId:invalid_format"])
        }
        // Upper case is a UUID.
        #expect(Fixtures.read(Fixtures.registration.setting("requestId", .s("4F0C9A4E-2B8E-4D59-9A77-0B7D3F1F6A10")), .registration).request != nil)
    }

    // MARK: Field reasons

    @Test("each field rule gives its reason at its JSON path", arguments: Fixtures.fieldCases)
    func fieldReasons(_ path: String, _ value: J?, _ channel: Channel, _ expected: [String]) {
        let json = Fixtures.fixture(channel).setting(path, value)
        #expect(Fixtures.reasons(Fixtures.read(json, channel)) == expected)
    }

    @Test("autofill defaults to false; then recipientKey is optional but checked when present")
    func autofillOptional() throws {
        let noAutofill = Fixtures.counter.setting("autofill", nil).setting("recipientKey", nil)
        guard case .counter(let key)? = Fixtures.read(noAutofill, .counter).request?.details else {
            Issue.record("expected a counter request")
            return
        }
        #expect(key == nil)
        let falseWithKey = Fixtures.counter.setting("autofill", .b(false))
        guard case .counter(let ignored)? = Fixtures.read(falseWithKey, .counter).request?.details else {
            Issue.record("expected a counter request")
            return
        }
        #expect(ignored == nil)
        let falseWithBadKey = Fixtures.counter.setting("autofill", .b(false)).setting("recipientKey", .s("nope"))
        #expect(Fixtures.reasons(Fixtures.read(falseWithBadKey, .counter)) == ["recipientKey:invalid_format"])
        #expect(Fixtures.read(Fixtures.counter.setting("autofill", .null).setting("recipientKey", .null), .counter).request != nil)
    }

    @Test("every reason is reported together, in the order of the contract's fields")
    func allReasons() throws {
        let broken = J.o([
            ("requestId", .s("req-1")),
            ("occurredAt", .s("now")),
            ("agencyCode", .s("")),
            ("actor", .o([("kind", .s("bot"))])),
            ("subject", .o([("fullName", .s("X")), ("idNumber", .s("003185000000")), ("dateOfBirth", .s("1990-13"))])),
            ("dossier", .o([("code", .s("D-1")), ("procedureCode", .n("1")), ("receivedAt", .s("2026-11-29T09:15:00Z"))])),
        ])
        let result = Fixtures.read(broken, .submission)
        #expect(
            Fixtures.reasons(result) == [
                "requestId:invalid_format", "occurredAt:invalid_format", "agencyCode:invalid_length", "actor.kind:invalid_value",
                "actor.id:missing", "subject.fullName:invalid_length", "subject.fullName:single_word",
                "subject.idNumber:unknown_region_code", "subject.idNumber:invalid_serial", "subject.dateOfBirth:invalid_date",
                "accountId:missing", "dossier.procedureCode:invalid_type",
            ]
        )
        let invalid = try #require(result.invalidRequest)
        #expect(invalid.agencyCode == "")
        #expect(invalid.idNumber == "003185000000")
        #expect(invalid.dossierCode == "D-1")
        #expect(invalid.occurredAt == nil)
        #expect(!invalid.description.contains("003185000000"))
    }

    @Test("an invalid request keeps what the verdict needs")
    func invalidKeeps() throws {
        let json = Fixtures.submission.setting("subject.fullName", .s("Thuỷ")).setting("subject.idNumber", .s("030 190 012 345"))
        let invalid = try #require(Fixtures.read(json, .submission).invalidRequest)
        #expect(invalid.channel == .submission)
        #expect(invalid.agencyCode == "H23.45.10")
        #expect(invalid.occurredAt?.text == "2026-11-29T09:15:00+07:00")
        #expect(invalid.idNumber == "030190012345")
        #expect(invalid.dossierCode == "H23.45.10-241129-0007")
        #expect(invalid.verdictSubject(key: Fixtures.refKey) == VerdictSubject(idNumberMasked: "030******345", ref: Fixtures.refKey.ref(for: "030190012345")))
        let badNumber = try #require(Fixtures.read(json.setting("subject.idNumber", .s("12-34")), .submission).invalidRequest)
        #expect(badNumber.idNumber == nil)
        #expect(badNumber.verdictSubject(key: Fixtures.refKey) == nil)
        let badAgency = try #require(Fixtures.read(json.setting("agencyCode", .s("Sở Tư pháp")), .submission).invalidRequest)
        #expect(badAgency.agencyCode == "")
    }

    @Test("policy options reach the reader")
    func policy() throws {
        let single = Fixtures.registration.setting("subject.fullName", .s("Thuỷ"))
        #expect(Fixtures.read(single, .registration, policy: IdentityPolicy(allowSingleWordNames: true)).request != nil)
        let mismatch = Fixtures.registration.setting("subject.idNumber", .s("030185012345"))
        let request = try #require(Fixtures.read(mismatch, .registration, policy: IdentityPolicy(birthYearMismatchIsWarning: true)).request)
        #expect(request.warnings == [ValidationReason(field: "subject.idNumber", code: .birthYearMismatch)])
    }

    @Test("the reader reads from the injected now")
    func injectedNow() {
        let json = Fixtures.registration.setting("subject.dateOfBirth", .s("2026-11-30")).setting("subject.idNumber", .s("030226012345"))
        let before = RequestReader().read(value: json.bytes, topic: .registration, now: Fixtures.now)
        #expect(Fixtures.reasons(before) == ["subject.dateOfBirth:out_of_range"])
        let after = RequestReader().read(value: json.bytes, topic: .registration, now: Fixtures.now.addingTimeInterval(86_400))
        #expect(after.request != nil)
        #expect(RequestReader.read(value: json.bytes, topic: .registration, now: Fixtures.now.addingTimeInterval(86_400)).request != nil)
    }

    @Test("descriptions never show personal data")
    func descriptions() throws {
        let request = try #require(Fixtures.read(Fixtures.counter, .counter).request)
        for text in [request.description, String(describing: request.subject), "\(request)"] {
            #expect(!text.contains("Nguyễn"))
            #expect(!text.contains("030190012345"))
            #expect(!text.contains("1990"))
        }
    }
}
