import Foundation
import Testing

@testable import Contract

@Suite("JSON parser and writer")
struct JSONTests {
    func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try JSONParser.parse(Array(text.utf8))
    }

    @Test("values, escapes and white space")
    func values() throws {
        #expect(try self.parse(" {\"a\" : [1, -0.5e+10, true, false, null, \"x\"]}\n") == .object(JSONObject(members: [("a", .array([.number("1"), .number("-0.5e+10"), .bool(true), .bool(false), .null, .string("x")]))])))
        #expect(try self.parse(#""\"\\\/\b\f\n\r\t\u00e9\u1EC5\ud83d\ude00""#) == .string("\"\\/\u{8}\u{C}\n\r\té\u{1EC5}😀"))
        #expect(try self.parse(#""\u0000""#) == .string("\u{0}"))
        #expect(try self.parse("{}") == .object(JSONObject()))
        #expect(try self.parse("[]") == .array([]))
    }

    @Test("the writer escapes what JSON requires and round-trips through the parser")
    func writer() throws {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("s", "quote\" backslash\\ newline\n tab\t bell\u{7} é 😀 /")
        writer.field("n", -42)
        writer.field("b", true)
        writer.key("a")
        writer.beginArray()
        writer.null()
        writer.string("")
        writer.endArray()
        writer.endObject()
        let text = String(decoding: writer.bytes, as: UTF8.self)
        #expect(text == #"{"s":"quote\" backslash\\ newline\n tab\t bell\u0007 é 😀 /","n":-42,"b":true,"a":[null,""]}"#)
        guard case .object(let object) = try JSONParser.parse(writer.bytes) else {
            Issue.record("expected an object")
            return
        }
        #expect(object["s"] == .string("quote\" backslash\\ newline\n tab\t bell\u{7} é 😀 /"))
    }

    @Test("depth limit applies to arrays and objects alike")
    func depth() {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array("[[1]]".utf8), maximumDepth: 1) }
        #expect((try? JSONParser.parse(Array("[[1]]".utf8), maximumDepth: 2)) != nil)
    }

    @Test("UTF-8 validation", arguments: [
        ([UInt8](), true), (Array("héllo Nguyễn 😀".utf8), true), ([0xC2, 0x80], true), ([0xEF, 0xBF, 0xBF], true), ([0xF4, 0x8F, 0xBF, 0xBF], true),
        ([0xC1, 0xBF], false), ([0xE0, 0x9F, 0xBF], false), ([0xED, 0xBF, 0xBF], false), ([0xF0, 0x8F, 0xBF, 0xBF], false), ([0xF4, 0x90, 0x80, 0x80], false),
        ([0xF5, 0x80, 0x80, 0x80], false), ([0xE2, 0x82], false), (Array("12345678".utf8) + [0x80], false),
    ] as [([UInt8], Bool)])
    func utf8(_ bytes: [UInt8], _ valid: Bool) {
        #expect(bytes.withUnsafeBufferPointer(UTF8Validation.isValid) == valid)
        #expect(bytes.withUnsafeBufferPointer(UTF8Validation.isValid) == (String(validating: bytes, as: UTF8.self) != nil))
    }

    @Test("base64: standard alphabet, padded, canonical")
    func base64() {
        #expect(Base64.encode(Array("hello".utf8)) == "aGVsbG8=")
        #expect(Base64.encode([0xFB, 0xFF]) == "+/8=")
        #expect(Base64.decode("aGVsbG8=") == Array("hello".utf8))
        #expect(Base64.decode("") == [])
        #expect(Base64.decode("aGVsbG8") == nil)
        #expect(Base64.decode("aGVsbG9=") == nil)  // non-zero unused bits
        #expect(Base64.decode("aGVs bG8=") == nil)
        #expect(Base64.decode("aGV=bG8=") == nil)
        #expect(Base64.decode("-_8=") == nil)
        #expect(Base64.decode("====") == nil)
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
            #expect(Base64.encode(bytes) == Data(bytes).base64EncodedString())
        }
    }
}

@Suite("Timestamps")
struct TimestampTests {
    @Test("RFC 3339 with offset", arguments: [
        ("2026-11-29T09:15:00+07:00", 1_795_918_500.0), ("2026-11-29T02:15:00Z", 1_795_918_500), ("2026-11-29t02:15:00z", 1_795_918_500),
        ("2026-11-29T02:15:00.5Z", 1_795_918_500.5), ("2026-11-29T02:15:00-00:00", 1_795_918_500), ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59Z", -1), ("2000-02-29T12:00:00+23:59", 951_739_260), ("0001-01-01T00:00:00Z", -62_135_596_800),
        ("9999-12-31T23:59:59Z", 253_402_300_799),
    ])
    func valid(_ text: String, _ seconds: Double) throws {
        let timestamp = try #require(Timestamp(rfc3339: text))
        #expect(timestamp.text == text)
        #expect(abs(timestamp.date.timeIntervalSince1970 - seconds) < 1e-6)
    }

    @Test("anything else", arguments: [
        "", "2026-11-29", "2026-11-29T09:15:00", "2026-11-29 09:15:00Z", "2026-11-29T09:15Z", "2026-11-29T09:15:00+07", "2026-11-29T09:15:00+0700",
        "2026-11-29T09:15:00+24:00", "2026-11-29T24:00:00Z", "2026-11-29T23:60:00Z", "2026-11-29T23:59:60Z", "2026-02-29T00:00:00Z",
        "2026-13-01T00:00:00Z", "0000-01-01T00:00:00Z", "2026-11-29T09:15:00.Z", "2026-11-29T09:15:00Z ", "+2026-11-29T09:15:00Z",
        "２０２６-11-29T09:15:00Z", "2026-11-29T09:15:00ZZ", "2026-11-29T09:15:00+07:00:00",
    ])
    func invalid(_ text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }

    @Test("formatting: UTC, milliseconds, and the text parses back to the same instant")
    func formatting() throws {
        let timestamp = Timestamp(Date(timeIntervalSince1970: 1_795_918_512.3456))
        #expect(timestamp.text == "2026-11-29T02:15:12.345Z")
        #expect(Timestamp(rfc3339: timestamp.text)?.date == timestamp.date)
        #expect(Timestamp(Date(timeIntervalSince1970: -0.5)).text == "1969-12-31T23:59:59.500Z")
        #expect(Timestamp(Date(timeIntervalSince1970: 0.0625)).text == "1970-01-01T00:00:00.062Z")
        #expect(Timestamp(Date(timeIntervalSince1970: 253_402_300_799.999)).text == "9999-12-31T23:59:59.999Z")
        #expect(Timestamp(Date(timeIntervalSince1970: 253_402_300_800)).text == "10000-01-01T00:00:00.000Z")
        for seconds in stride(from: -5_000_000_000.0, to: 10_000_000_000, by: 123_456_789.123) {
            let formatted = Timestamp(Date(timeIntervalSince1970: seconds))
            #expect(Timestamp(rfc3339: formatted.text)?.date == formatted.date)
        }
    }

    @Test("ordered by instant; equal by text")
    func ordering() throws {
        let hanoi = try #require(Timestamp(rfc3339: "2026-11-29T09:15:00+07:00"))
        let utc = try #require(Timestamp(rfc3339: "2026-11-29T02:15:00Z"))
        let later = try #require(Timestamp(rfc3339: "2026-11-29T02:15:00.001Z"))
        #expect(hanoi != utc)
        #expect(hanoi.date == utc.date)
        #expect(utc < later && hanoi < later)
        #expect((hanoi < utc) != (utc < hanoi))
    }
}
