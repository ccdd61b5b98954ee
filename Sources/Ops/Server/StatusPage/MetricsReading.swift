/// One reading of the process's metrics, parsed from the Prometheus text format that `/metrics`
/// serves: every sample line as a metric name, its labels and its value. Comment lines, histogram
/// buckets and anything unreadable are skipped; the status page only needs counters and gauges.
struct MetricsReading: Sendable, Equatable {
    struct Sample: Sendable, Equatable {
        var labels: [String: String]
        var value: Double
    }

    /// Samples by metric name, in the order they appeared.
    private(set) var samples: [String: [Sample]] = [:]

    init(prometheusText text: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let first = line.first, first != "#" else { continue }
            if let (name, sample) = Self.parse(line) { self.samples[name, default: []].append(sample) }
        }
    }

    /// The sum of a metric's samples whose labels match `matching`, grouped by the value of the
    /// label `by` (`""` when a sample lacks it).
    func sum(_ name: String, by label: String, matching: [String: String] = [:]) -> [String: Double] {
        var sums: [String: Double] = [:]
        for sample in self.samples[name] ?? [] where matching.allSatisfy({ sample.labels[$0.key] == $0.value }) {
            sums[sample.labels[label] ?? "", default: 0] += sample.value
        }
        return sums
    }

    /// The sum of all of a metric's samples; `nil` when it has none.
    func total(_ name: String) -> Double? {
        guard let samples = self.samples[name], !samples.isEmpty else { return nil }
        return samples.reduce(0) { $0 + $1.value }
    }

    /// `name{a="x",b="y"} 12.5` (optionally followed by a timestamp), or `name 12.5`.
    private static func parse(_ line: Substring) -> (String, Sample)? {
        let bytes = Array(line.utf8)
        var index = 0
        while index < bytes.count, bytes[index] != UInt8(ascii: "{"), bytes[index] != UInt8(ascii: " ") { index += 1 }
        guard index > 0, index < bytes.count else { return nil }
        let name = String(decoding: bytes[0..<index], as: UTF8.self)
        var labels: [String: String] = [:]
        if bytes[index] == UInt8(ascii: "{") {
            index += 1
            while index < bytes.count, bytes[index] != UInt8(ascii: "}") {
                let keyStart = index
                while index < bytes.count, bytes[index] != UInt8(ascii: "=") { index += 1 }
                guard index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\"") else { return nil }
                let key = String(decoding: bytes[keyStart..<index], as: UTF8.self)
                index += 2
                var value: [UInt8] = []
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                    if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count {
                        index += 1
                        value.append(bytes[index] == UInt8(ascii: "n") ? UInt8(ascii: "\n") : bytes[index])
                    } else {
                        value.append(bytes[index])
                    }
                    index += 1
                }
                guard index < bytes.count else { return nil }
                index += 1  // closing quote
                labels[key] = String(decoding: value, as: UTF8.self)
                if index < bytes.count, bytes[index] == UInt8(ascii: ",") { index += 1 }
            }
            guard index < bytes.count else { return nil }
            index += 1  // closing brace
        }
        let rest = String(decoding: bytes[index...], as: UTF8.self).split(separator: " ")
        guard let text = rest.first, let value = Double(text) else { return nil }
        return (name, Sample(labels: labels, value: value))
    }
}
