import Contract
import Telemetry
import Tracing

/// W3C trace context on the verdict: when the request has a `traceparent`, the verdict continues
/// its trace as a child (same trace id and flags, a new parent id).
enum TraceContext {
    /// The verdict's `traceparent`: the worker's span for the request when the tracer made one in
    /// the request's trace, otherwise a fresh child id; `nil` when the request had none.
    static func verdictParent(of traceparent: String?, span context: ServiceContext?) -> String? {
        guard let traceparent, let child = child(of: traceparent) else { return nil }
        let requestTrace = traceparent.split(separator: "-")[1]
        if let own = context?.traceParent, context?.traceID.map({ $0 == requestTrace }) == true { return own }
        return child
    }

    static func child(of traceparent: String?) -> String? {
        guard let traceparent, TraceParent.isValid(traceparent) else { return nil }
        let parts = traceparent.split(separator: "-")
        guard parts.count == 4, parts[0] == "00", parts[1].count == 32, parts[3].count == 2 else { return nil }
        var spanID = UInt64.random(in: 1...UInt64.max)
        if spanID == 0 { spanID = 1 }
        let hex = String(spanID, radix: 16)
        let padded = String(repeating: "0", count: 16 - hex.count) + hex
        return "00-\(parts[1])-\(padded)-\(parts[3])"
    }

    /// A `tracestate` worth continuing: at most 512 characters of printable ASCII (W3C Trace
    /// Context's limit and character set); anything else is dropped, as the recommendation says,
    /// rather than stored or published.
    static func tracestate(_ value: String?) -> String? {
        guard let value, !value.isEmpty, value.utf8.count <= 512,
            value.utf8.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E })
        else { return nil }
        return value
    }

    /// A `traceparent` worth keeping (with a parked check): well-formed, or `nil`.
    static func traceparent(_ value: String?) -> String? {
        guard let value, TraceParent.isValid(value) else { return nil }
        return value
    }
}
