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
    /// Decisions that took a kept registry answer instead of calling (no labels).
    private let answersReused: Counter
    /// Parked checks by the key that sealed them: one gauge per configured key id, and `unknown`.
    private let parkedByKey = Mutex<[String: Gauge]>([:])
    /// One group commit: the transaction that stores a batch of decisions (no labels).
    private let groupCommit: Timer
    private let groupCommits: Counter
    /// A verdict handed to the producer until Kafka confirms it (no labels).
    private let delivery: Timer
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
        answersReused = Counter(label: "identity_registry_answers_reused_total", factory: factory)
        groupCommit = Timer(label: "identity_group_commit_seconds", preferredDisplayUnit: .seconds, factory: factory)
        groupCommits = Counter(label: "identity_group_commits_total", factory: factory)
        delivery = Timer(label: "identity_verdict_delivery_seconds", preferredDisplayUnit: .seconds, factory: factory)
    }

    /// A group commit stored its batch in `duration` (retries included).
    func groupCommitted(_ duration: Duration) {
        groupCommit.record(duration: duration)
        groupCommits.increment()
    }

    /// A batch of verdicts handed to the producer at `handedOver` was confirmed by Kafka now.
    func delivered(handedOver: ContinuousClock.Instant) {
        delivery.record(duration: ContinuousClock.now - handedOver)
    }

    func answerReused() { answersReused.increment() }

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

    /// Creates the per-key gauges: label values are the configured keys' ids (a handful) and `unknown`.
    func trackParkedKeys(_ keyIDs: [String]) {
        parkedByKey.withLock { gauges in
            for id in keyIDs + ["unknown"] where gauges[id] == nil {
                gauges[id] = Gauge(label: "identity_parked_checks_by_key", dimensions: [("key_id", id)], factory: factory)
            }
        }
    }

    /// Records `identity_parked_checks_by_key`; a key id not configured counts as `unknown`.
    func setParkedByKey(_ counts: [String?: Int]) {
        parkedByKey.withLock { gauges in
            var totals = gauges.mapValues { _ in 0 }
            for (id, count) in counts {
                let label = id.flatMap { gauges[$0] == nil ? nil : $0 } ?? "unknown"
                totals[label, default: 0] += count
            }
            for (id, total) in totals { gauges[id]?.record(total) }
        }
    }
}
