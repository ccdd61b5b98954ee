import Foundation
import Testing

@testable import Contract

@Suite("Stored verdict headers as JSON pairs")
struct HeaderPairsTests {
    @Test("round trip, with every character JSON must escape, and the same text as Foundation would read")
    func roundTrip() throws {
        let headers = [
            MessageHeader(name: "ce_id", value: "0b6c7c1e-8f5a-5d8e-9c4b-2f1d3e4a5b6c"),
            MessageHeader(name: "traceparent", value: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            MessageHeader(name: "odd \"name\"", value: "back\\slash\nnew\tline\u{01} Hòa Đức"),
        ]
        let text = MessageHeader.jsonPairs(headers)
        #expect(MessageHeader.fromJSONPairs(text) == headers)
        // Another JSON reader agrees on the content.
        let pairs = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String]])
        #expect(pairs.map { $0[0] } == headers.map(\.name))
        #expect(pairs.map { $0[1] } == headers.map { $0.stringValue! })
        // PostgreSQL's jsonb gives it back with spaces.
        #expect(MessageHeader.fromJSONPairs(#"[["a", "b"], ["c", ""]]"#) == [MessageHeader(name: "a", value: "b"), MessageHeader(name: "c", value: "")])
        #expect(MessageHeader.jsonPairs([]) == "[]")
    }

    @Test("anything but an array of string pairs is refused", arguments: ["", "{}", "[[\"a\"]]", "[[\"a\", 1]]", "[\"a\"]", "[[\"a\",\"b\"]"])
    func refused(_ text: String) {
        #expect(MessageHeader.fromJSONPairs(text) == nil)
    }
}
