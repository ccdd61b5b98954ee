extension MessageHeader {
    /// Headers as a JSON array of `[name, value]` pairs, values as UTF-8 text (a value that is
    /// not UTF-8 is written as ""): how headers are stored beside a verdict and in the outbox.
    /// Written with the contract's own writer: Foundation's `JSONSerialization` cost a tenth of
    /// the worker's CPU on this hot path.
    public static func jsonPairs(_ headers: [MessageHeader]) -> String {
        var writer = JSONWriter(capacity: 48 * max(headers.count, 1))
        writer.beginArray()
        for header in headers {
            writer.beginArray()
            writer.string(header.name)
            writer.string(header.stringValue ?? "")
            writer.endArray()
        }
        writer.endArray()
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// Reads what ``jsonPairs(_:)`` wrote (white space allowed, as PostgreSQL's `jsonb` gives it
    /// back); `nil` if it is not an array of string pairs.
    public static func fromJSONPairs(_ text: String) -> [MessageHeader]? {
        guard case .array(let items)? = try? JSONParser.parse(Array(text.utf8)) else { return nil }
        var headers: [MessageHeader] = []
        headers.reserveCapacity(items.count)
        for item in items {
            guard case .array(let pair) = item, pair.count == 2, case .string(let name) = pair[0], case .string(let value) = pair[1]
            else { return nil }
            headers.append(MessageHeader(name: name, value: value))
        }
        return headers
    }
}
