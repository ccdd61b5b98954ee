import Contract
import Foundation
import Testing

@testable import Store

@Suite("A verdict's headers stored beside it: only what its bytes do not determine")
struct StoredHeadersTests {
    static func verdict(_ id: String = "0b6c7c1e-8f5a-4d8e-9c4b-2f1d3e4a5b6c", time: String = "2026-12-06T05:22:21.123Z") -> Verdict {
        Verdict(
            verdictId: UUID(uuidString: id)!, requestId: "4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a10", channel: .submission,
            agencyCode: "H23.45.10", decidedAt: Timestamp(rfc3339: time)!, outcome: .verified, attempts: 1)
    }

    @Test("rebuilt byte for byte, with and without a trace context, from any source")
    func roundTrip() throws {
        let cases: [(source: String, traceparent: String?, tracestate: String?)] = [
            (Verdict.defaultCloudEventSource, nil, nil),
            ("/tthc/ha-noi", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", nil),
            ("urn:tthc:\"quoted\"\\", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
        ]
        for (index, c) in cases.enumerated() {
            let verdict = Self.verdict(time: "2026-12-06T05:22:2\(index).120+07:00")
            let headers = verdict.cloudEventHeaders(source: c.source, traceparent: c.traceparent, tracestate: c.tracestate)
            let stored = StoredHeaders.compact(headers)
            #expect(!stored.contains("ce_id") && !stored.contains("ce_time") && !stored.contains("application/json"))
            #expect(StoredHeaders.expand(stored, verdict: verdict.encodedJSON()) == headers)
        }
    }

    @Test("a default verdict's stored headers are a fifth of the full list")
    func smaller() {
        let headers = Self.verdict().cloudEventHeaders(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        let full = MessageHeader.jsonPairs(headers).utf8.count
        let stored = StoredHeaders.compact(headers).utf8.count
        #expect(stored * 2 < full, "\(stored) of \(full) bytes")
    }

    @Test("rows written before hold every header and are read as they are")
    func legacyRows() {
        let headers = Self.verdict().cloudEventHeaders(source: "/old/source")
        // Even against other bytes: the stored list wins.
        #expect(StoredHeaders.expand(MessageHeader.jsonPairs(headers), verdict: Array("{}".utf8)) == headers)
    }

    @Test("what cannot be rebuilt is refused, not guessed")
    func refused() {
        let bytes = Self.verdict().encodedJSON()
        #expect(StoredHeaders.expand("not json", verdict: bytes) == nil)
        #expect(StoredHeaders.expand(#"[["traceparent", "x"]]"#, verdict: bytes) == nil, "no ce_source")
        #expect(StoredHeaders.expand(#"[["ce_source", "/s"], ["x-other", "1"]]"#, verdict: bytes) == nil, "an unknown name")
        #expect(StoredHeaders.expand(#"[["ce_source", "/s"], ["ce_source", "/t"]]"#, verdict: bytes) == nil, "a name twice")
        #expect(StoredHeaders.expand(#"[["ce_source", "/s"]]"#, verdict: Array(#"{"verdictId": 1}"#.utf8)) == nil)
        #expect(StoredHeaders.expand(#"[["ce_source", "/s"]]"#, verdict: bytes) != nil)
    }
}
