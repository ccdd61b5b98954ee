/// W3C trace context: the verdict continues the request's trace as a child
/// span (same trace id, a new parent id, same flags).
enum TraceContext {
    static func child(of traceparent: String?) -> String? {
        guard let traceparent else { return nil }
        let parts = traceparent.split(separator: "-")
        guard parts.count == 4, parts[0] == "00", parts[1].count == 32, parts[3].count == 2 else { return nil }
        var spanID = UInt64.random(in: 1...UInt64.max)
        if spanID == 0 { spanID = 1 }
        let hex = String(spanID, radix: 16)
        let padded = String(repeating: "0", count: 16 - hex.count) + hex
        return "00-\(parts[1])-\(padded)-\(parts[3])"
    }
}
