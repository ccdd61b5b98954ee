import Contract
import Foundation

/// Verdict headers are stored as a JSON array of `[name, value]` pairs (all
/// values are UTF-8 text: CloudEvents attributes and trace context).
enum StoredHeaders {
    static func encode(_ headers: [MessageHeader]) -> String {
        let pairs = headers.map { [$0.name, $0.stringValue ?? ""] }
        let data = (try? JSONSerialization.data(withJSONObject: pairs)) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func decode(_ text: String) -> [MessageHeader]? {
        guard let pairs = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String]] else { return nil }
        return pairs.compactMap { $0.count == 2 ? MessageHeader(name: $0[0], value: $0[1]) : nil }
    }
}
