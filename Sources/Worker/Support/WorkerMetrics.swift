import Contract
import CoreMetrics
import Foundation
import Metrics
import Synchronization

/// The worker's metrics (contract section 7). Labels are bounded: channel,
/// outcome and dead-letter reason take a handful of values each.
final class WorkerMetrics: Sendable {
    private let verdicts: [String: Counter]
    private let latency: [Channel: Timer]
    private let deadLetters = Mutex<[String: Counter]>([:])
    private let inFlight: Gauge
    private let parked: Gauge
    private let factory: any MetricsFactory

    init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        var verdicts: [String: Counter] = [:]
        var latency: [Channel: Timer] = [:]
        for channel in Channel.allCases {
            for outcome in Verdict.Outcome.allCases {
                verdicts["\(channel.rawValue)/\(outcome.rawValue)"] = Counter(
                    label: "identity_verdicts_total",
                    dimensions: [("channel", channel.rawValue), ("outcome", outcome.rawValue)], factory: factory)
            }
            latency[channel] = Timer(
                label: "identity_verdict_latency_seconds", dimensions: [("channel", channel.rawValue)],
                preferredDisplayUnit: .seconds, factory: factory)
        }
        self.verdicts = verdicts
        self.latency = latency
        inFlight = Gauge(label: "identity_inflight_requests", factory: factory)
        parked = Gauge(label: "identity_parked_checks", factory: factory)
    }

    func verdictPublished(channel: String, outcome: String, consumedAt: Date?) {
        verdicts["\(channel)/\(outcome)"]?.increment()
        if let consumedAt, let channel = Channel(rawValue: channel) {
            latency[channel]?.recordNanoseconds(Int64(max(0, Date().timeIntervalSince(consumedAt)) * 1e9))
        }
    }

    func deadLettered(reason: String) {
        // Reasons are the contract's short codes; anything else is folded into one label value.
        let known: Set<String> = ["not_json", "not_utf8", "too_large", "missing_request_id", "not_object", "too_deep"]
        let label = known.contains(reason) ? reason : "other"
        let counter = deadLetters.withLock { counters in
            if let counter = counters[label] { return counter }
            let counter = Counter(label: "identity_dead_letters_total", dimensions: [("reason", label)], factory: factory)
            counters[label] = counter
            return counter
        }
        counter.increment()
    }

    func setInFlight(_ count: Int) { inFlight.record(count) }
    func setParked(_ count: Int) { parked.record(count) }
}
