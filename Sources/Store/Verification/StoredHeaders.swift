import Contract

/// How a verdict's headers are kept beside its bytes (`verification_results.verdict_headers`,
/// JSON pairs): only what the bytes do not determine — `ce_source`, `traceparent` and
/// `tracestate`. `ce_specversion`, `ce_type` and `content-type` are constants, and `ce_id` and
/// `ce_time` are the verdict's `verdictId` and `decidedAt` texts, so they are rebuilt on reading
/// (``Verdict/cloudEventHeaders(encoded:source:traceparent:tracestate:)``): a re-emission still
/// publishes the headers byte for byte, and each row is about 200 bytes smaller.
///
/// Rows written before this form hold every header, beginning with `ce_specversion`; they are
/// read as they are.
enum StoredHeaders {
    /// The names rebuilt from the verdict on reading.
    static let derived: Set<String> = ["ce_specversion", "ce_id", "ce_type", "ce_time", "content-type"]
    /// The names kept.
    static let kept: Set<String> = ["ce_source", "traceparent", "tracestate"]

    /// The pairs to store for headers made by ``Verdict/cloudEventHeaders(source:traceparent:tracestate:)``.
    static func compact(_ headers: [MessageHeader]) -> String {
        assert(headers.allSatisfy { derived.contains($0.name) || kept.contains($0.name) }, "a verdict header that is neither kept nor derived")
        return MessageHeader.jsonPairs(headers.filter { !derived.contains($0.name) })
    }

    /// The headers a verdict was published with, from its stored pairs and bytes; `nil` if they
    /// cannot be rebuilt (not pairs, an unknown name, or bytes without a verdict id and time).
    static func expand(_ text: String, verdict: [UInt8]) -> [MessageHeader]? {
        guard let pairs = MessageHeader.fromJSONPairs(text) else { return nil }
        if pairs.first?.name == "ce_specversion" { return pairs }
        var values: [String: String] = [:]
        for pair in pairs {
            guard kept.contains(pair.name), values[pair.name] == nil, let value = pair.stringValue else { return nil }
            values[pair.name] = value
        }
        guard let source = values["ce_source"] else { return nil }
        return Verdict.cloudEventHeaders(
            encoded: verdict, source: source, traceparent: values["traceparent"], tracestate: values["tracestate"])
    }
}
