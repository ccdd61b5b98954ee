import Foundation

extension Verdict {
    /// `ce_type` of every verdict.
    public static let cloudEventType = "vn.tthc.identity.verdict.v1"

    /// `ce_source` unless configured otherwise.
    public static let defaultCloudEventSource = "/tthc/identity-verifier"

    /// The headers a verdict is published with: CloudEvents 1.0 binary mode (Kafka protocol
    /// binding) and the W3C trace context of the request, when it had a valid one.
    ///
    /// Order: `ce_specversion`, `ce_id` (the verdict id), `ce_source`, `ce_type`, `ce_time` (the
    /// `decidedAt` text), `content-type: application/json`, then `traceparent` and `tracestate`.
    /// Everything comes from the verdict itself, so a re-emitted verdict gets the same headers.
    ///
    /// - Parameters:
    ///   - source: `ce_source`, a URI reference naming this service. Default: `/tthc/identity-verifier`.
    ///   - traceparent: the value to continue (the worker passes the request's header, or one it
    ///     derived for its own span); dropped unless it is a valid version-00 `traceparent`.
    ///   - tracestate: passed on only with a valid `traceparent`.
    public func cloudEventHeaders(
        source: String = Verdict.defaultCloudEventSource,
        traceparent: String? = nil,
        tracestate: String? = nil
    ) -> [MessageHeader] {
        Self.cloudEventHeaders(
            id: self.verdictId.lowercaseString, time: self.decidedAt.text, source: source, traceparent: traceparent,
            tracestate: tracestate)
    }

    /// The headers ``cloudEventHeaders(source:traceparent:tracestate:)`` gave a verdict, rebuilt
    /// from its published bytes: `ce_id` and `ce_time` are the `verdictId` and `decidedAt` texts
    /// in them, so a verdict stored as bytes needs only `source` and its trace context kept beside
    /// it. `nil` if the bytes are not a JSON object with those two strings.
    public static func cloudEventHeaders(
        encoded bytes: [UInt8], source: String, traceparent: String?, tracestate: String?
    ) -> [MessageHeader]? {
        guard case .object(let object)? = try? JSONParser.parse(bytes),
            case .string(let id)? = object[.verdictId], case .string(let time)? = object[.decidedAt]
        else { return nil }
        return cloudEventHeaders(id: id, time: time, source: source, traceparent: traceparent, tracestate: tracestate)
    }

    private static func cloudEventHeaders(
        id: String, time: String, source: String, traceparent: String?, tracestate: String?
    ) -> [MessageHeader] {
        var headers = [
            MessageHeader(name: "ce_specversion", value: "1.0"),
            MessageHeader(name: "ce_id", value: id),
            MessageHeader(name: "ce_source", value: source),
            MessageHeader(name: "ce_type", value: Verdict.cloudEventType),
            MessageHeader(name: "ce_time", value: time),
            MessageHeader(name: "content-type", value: "application/json"),
        ]
        if let traceparent, TraceParent.isValid(traceparent) {
            headers.append(MessageHeader(name: "traceparent", value: traceparent))
            if let tracestate, !tracestate.isEmpty, tracestate.utf8.count <= 512 {
                headers.append(MessageHeader(name: "tracestate", value: tracestate))
            }
        }
        return headers
    }
}

/// W3C Trace Context `traceparent`: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`,
/// lowercase, ids not all zero.
public enum TraceParent {
    public static func isValid(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard bytes.count == 55, bytes[0] == UInt8(ascii: "0"), bytes[1] == UInt8(ascii: "0"),
            bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"), bytes[52] == UInt8(ascii: "-")
        else { return false }
        func isLowerHex(_ range: Range<Int>) -> Bool {
            bytes[range].allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
        }
        func isZero(_ range: Range<Int>) -> Bool { bytes[range].allSatisfy { $0 == UInt8(ascii: "0") } }
        return isLowerHex(3..<35) && isLowerHex(36..<52) && isLowerHex(53..<55) && !isZero(3..<35) && !isZero(36..<52)
    }
}
