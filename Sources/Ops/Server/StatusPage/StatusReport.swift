import Contract
import Foundation

/// What `GET /v1/status` answers and the status page shows live: figures only, never a request,
/// a person or a dossier.
struct StatusReport: Sendable, Equatable {
    struct TopicLag: Sendable, Equatable {
        var topic: String
        /// Messages not yet committed, all partitions together.
        var messages: Int
        /// Age of the oldest uncommitted message, the largest over the partitions.
        var seconds: Double
    }

    var generatedAt: Date
    /// By topic name.
    var lag: [TopicLag]
    /// Seconds the hourly totals cover: an hour, or less since the process started.
    var windowSeconds: Double
    /// Verdicts published in the window, by outcome.
    var verdicts: [String: Int]
    /// Registry calls per second over the last minute (or since the last snapshot before it).
    var registryCallsPerSecond: Double
    /// `REGISTRY_RATE_LIMIT`; `nil` when not exported.
    var registryQuota: Double?
    /// `closed`, `half_open`, `open`; `nil` when not exported.
    var breaker: String?
    /// `nil` when not exported.
    var parkedChecks: Int?
    /// Dead letters since the process started, by reason.
    var deadLettersTotal: [String: Int]
    /// Dead letters in the window, by reason.
    var deadLettersInWindow: [String: Int]

    /// Seconds over which the registry call rate is taken.
    static let rateWindow: TimeInterval = 60

    /// The report for `reading`, taken at `now`, against the earlier snapshots in `history`.
    init(reading: MetricsReading, history: [CounterSnapshot], window: TimeInterval, now: Date) {
        let current = CounterSnapshot(reading, at: now)
        self.generatedAt = now
        let messages = reading.sum("identity_consumer_lag_messages", by: "topic")
        var seconds: [String: Double] = [:]
        for sample in reading.samples["identity_consumer_lag_seconds"] ?? [] {
            let topic = sample.labels["topic"] ?? ""
            seconds[topic] = max(seconds[topic] ?? 0, sample.value)
        }
        self.lag = Set(messages.keys).union(seconds.keys).sorted().map {
            TopicLag(topic: $0, messages: Int(messages[$0] ?? 0), seconds: seconds[$0] ?? 0)
        }

        let earlier = history.filter { $0.at <= now }
        // The hour's baseline: the oldest snapshot inside the window, else the latest before it.
        let cutoff = now.addingTimeInterval(-window)
        let baseline = earlier.first(where: { $0.at >= cutoff }) ?? earlier.last ?? .zero(at: now)
        self.windowSeconds = max(0, now.timeIntervalSince(baseline.at))
        self.verdicts = Self.difference(current.verdicts, baseline.verdicts)
        self.deadLettersInWindow = Self.difference(current.deadLetters, baseline.deadLetters)
        self.deadLettersTotal = current.deadLetters.mapValues { Int($0) }

        let rateCutoff = now.addingTimeInterval(-Self.rateWindow)
        let rateBase = earlier.last(where: { $0.at <= rateCutoff }) ?? earlier.first
        if let rateBase, now.timeIntervalSince(rateBase.at) > 0 {
            self.registryCallsPerSecond = max(0, current.registryCalls - rateBase.registryCalls) / now.timeIntervalSince(rateBase.at)
        } else {
            self.registryCallsPerSecond = 0
        }
        self.registryQuota = reading.total("identity_registry_quota_calls_per_second")
        self.breaker = reading.total("identity_registry_circuit_state").map { state in
            switch state {
            case 0: "closed"
            case 1: "half_open"
            default: "open"
            }
        }
        self.parkedChecks = reading.total("identity_parked_checks").map { Int($0) }
    }

    private static func difference(_ now: [String: Double], _ before: [String: Double]) -> [String: Int] {
        var result: [String: Int] = [:]
        for (key, value) in now { result[key] = max(0, Int(value - (before[key] ?? 0))) }
        return result
    }
}

/// `GET /v1/status`.
struct StatusBody: JSONBody {
    var report: StatusReport

    var json: String {
        var object = JSONObject()
        object.field("generatedAt", Timestamp(self.report.generatedAt).text)
        let lag = self.report.lag.map { topic -> String in
            var entry = JSONObject()
            entry.field("topic", topic.topic)
            entry.field("messages", topic.messages)
            entry.field("seconds", topic.seconds)
            return entry.json
        }
        object.field("lag", raw: "[" + lag.joined(separator: ",") + "]")
        object.field("windowSeconds", self.report.windowSeconds.rounded())
        object.field("verdictsInWindow", raw: Self.counts(self.report.verdicts))
        var registry = JSONObject()
        registry.field("callsPerSecond", (self.report.registryCallsPerSecond * 100).rounded() / 100)
        if let quota = self.report.registryQuota { registry.field("quotaCallsPerSecond", quota) } else { registry.field("quotaCallsPerSecond", raw: "null") }
        registry.field("breaker", self.report.breaker)
        object.field("registry", raw: registry.json)
        if let parked = self.report.parkedChecks { object.field("parkedChecks", parked) } else { object.field("parkedChecks", raw: "null") }
        var deadLetters = JSONObject()
        deadLetters.field("total", raw: Self.counts(self.report.deadLettersTotal))
        deadLetters.field("inWindow", raw: Self.counts(self.report.deadLettersInWindow))
        object.field("deadLetters", raw: deadLetters.json)
        return object.json
    }

    /// `{"key": n, ...}` by key.
    private static func counts(_ values: [String: Int]) -> String {
        var object = JSONObject()
        for key in values.keys.sorted() { object.field(key, values[key] ?? 0) }
        return object.json
    }
}
