import Contract

/// Verdict headers as stored in `jsonb` columns: `[["name","value"], ...]`.
enum StoredHeaders {
    static func encode(_ headers: [MessageHeader]) -> String {
        MessageHeader.jsonPairs(headers)
    }

    static func decode(_ text: String) -> [MessageHeader]? {
        MessageHeader.fromJSONPairs(text)
    }
}
