import Metrics
import Synchronization

/// Counters of one name with one label, created once per label value and reused. For label sets
/// that are bounded but not all known up front (dead-letter reasons, say).
final class CounterFamily: Sendable {
    private let label: String
    private let dimension: String
    private let factory: any MetricsFactory
    private let counters: Mutex<[String: Counter]>

    init(label: String, dimension: String, precreating values: [String] = [], factory: any MetricsFactory) {
        self.label = label
        self.dimension = dimension
        self.factory = factory
        var counters: [String: Counter] = [:]
        for value in values {
            counters[value] = Counter(label: label, dimensions: [(dimension, value)], factory: factory)
        }
        self.counters = Mutex(counters)
    }

    func counter(_ value: String) -> Counter {
        if let existing = self.counters.withLock({ $0[value] }) { return existing }
        let created = Counter(label: self.label, dimensions: [(self.dimension, value)], factory: self.factory)
        return self.counters.withLock { counters in
            if let existing = counters[value] { return existing }
            counters[value] = created
            return created
        }
    }
}
