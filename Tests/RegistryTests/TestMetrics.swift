import CoreMetrics
import Synchronization

/// A metrics backend that remembers counter totals and timer observations, for checking the
/// registry's metric hooks.
final class TestMetrics: MetricsFactory, Sendable {
    private final class Totals: Sendable {
        let values = Mutex<[String: Int64]>([:])
        func add(_ key: String, _ amount: Int64) { self.values.withLock { $0[key, default: 0] += amount } }
        func get(_ key: String) -> Int64 { self.values.withLock { $0[key] ?? 0 } }
    }

    private let counters = Totals()
    private let timers = Totals()

    static func key(_ label: String, _ dimensions: [(String, String)]) -> String {
        label + "{" + dimensions.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
    }

    /// The counter's total.
    func counter(_ label: String, _ dimensions: [(String, String)]) -> Int64 {
        self.counters.get(Self.key(label, dimensions))
    }

    /// How many durations the timer recorded.
    func timerCount(_ label: String, _ dimensions: [(String, String)]) -> Int64 {
        self.timers.get(Self.key(label, dimensions))
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        Handler(key: Self.key(label, dimensions), totals: self.counters)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        Handler(key: Self.key(label, dimensions), totals: Totals())
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        Handler(key: Self.key(label, dimensions), totals: self.timers)
    }

    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}

    private final class Handler: CounterHandler, RecorderHandler, TimerHandler, Sendable {
        let key: String
        let totals: Totals
        init(key: String, totals: Totals) {
            self.key = key
            self.totals = totals
        }
        func increment(by amount: Int64) { self.totals.add(self.key, amount) }
        func reset() {}
        func record(_ value: Int64) {}
        func record(_ value: Double) {}
        func recordNanoseconds(_ duration: Int64) { self.totals.add(self.key, 1) }
    }
}
