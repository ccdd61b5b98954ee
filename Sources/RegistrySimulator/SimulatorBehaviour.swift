/// How the simulator misbehaves, set by flags at start and changed at run time with
/// `PUT /admin/behaviour` (a JSON object with any of these fields).
public struct SimulatorBehaviour: Sendable, Hashable, Codable {
    /// Added to every answer of verify and lookup, in milliseconds. Default: `0`.
    public var latencyMs: Double
    /// A uniformly random extra latency in `[0, latencySpreadMs]`. Default: `0`.
    public var latencySpreadMs: Double
    /// Share of calls answered 500 or 503 (half each), `0...1`. Default: `0`.
    public var errorRate: Double
    /// Share of calls never answered (until ``hangSeconds`` pass or the simulator stops), `0...1`.
    /// Default: `0`.
    public var hangRate: Double
    /// How long a hanging call hangs, in seconds. Default: `60`.
    public var hangSeconds: Double
    /// Calls per second admitted in any sliding one-second window; more get 429 with `Retry-After`.
    /// `0` = no quota. Default: `0`.
    public var quota: Int

    public init(
        latencyMs: Double = 0,
        latencySpreadMs: Double = 0,
        errorRate: Double = 0,
        hangRate: Double = 0,
        hangSeconds: Double = 60,
        quota: Int = 0
    ) {
        self.latencyMs = latencyMs
        self.latencySpreadMs = latencySpreadMs
        self.errorRate = errorRate
        self.hangRate = hangRate
        self.hangSeconds = hangSeconds
        self.quota = quota
    }

    /// Why the values cannot work, or `nil`.
    public var problem: String? {
        if !(self.latencyMs >= 0 && self.latencyMs <= 600_000) { return "latencyMs must be between 0 and 600000" }
        if !(self.latencySpreadMs >= 0 && self.latencySpreadMs <= 600_000) { return "latencySpreadMs must be between 0 and 600000" }
        if !(self.errorRate >= 0 && self.errorRate <= 1) { return "errorRate must be between 0 and 1" }
        if !(self.hangRate >= 0 && self.hangRate <= 1) { return "hangRate must be between 0 and 1" }
        if self.errorRate + self.hangRate > 1 { return "errorRate + hangRate must not exceed 1" }
        if !(self.hangSeconds >= 0 && self.hangSeconds <= 86_400) { return "hangSeconds must be between 0 and 86400" }
        if self.quota < 0 { return "quota must not be negative" }
        return nil
    }

    /// A partial update: the fields present replace the current ones.
    struct Update: Decodable {
        var latencyMs: Double?
        var latencySpreadMs: Double?
        var errorRate: Double?
        var hangRate: Double?
        var hangSeconds: Double?
        var quota: Int?

        func applied(to behaviour: SimulatorBehaviour) -> SimulatorBehaviour {
            var updated = behaviour
            if let latencyMs { updated.latencyMs = latencyMs }
            if let latencySpreadMs { updated.latencySpreadMs = latencySpreadMs }
            if let errorRate { updated.errorRate = errorRate }
            if let hangRate { updated.hangRate = hangRate }
            if let hangSeconds { updated.hangSeconds = hangSeconds }
            if let quota { updated.quota = quota }
            return updated
        }
    }
}

/// Failures scripted for the next calls, for deterministic tests (`POST /admin/fail-next`):
/// the next ``count`` calls of verify or lookup are answered with ``status`` (and `Retry-After`
/// when ``retryAfterSeconds`` is set), before any other behaviour applies.
public struct ScriptedFailure: Sendable, Hashable, Codable {
    public var count: Int
    /// Default: `503`.
    public var status: Int
    public var retryAfterSeconds: Int?

    public init(count: Int, status: Int = 503, retryAfterSeconds: Int? = nil) {
        self.count = count
        self.status = status
        self.retryAfterSeconds = retryAfterSeconds
    }

    private enum CodingKeys: String, CodingKey { case count, status, retryAfterSeconds }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.count = try container.decode(Int.self, forKey: .count)
        self.status = try container.decodeIfPresent(Int.self, forKey: .status) ?? 503
        self.retryAfterSeconds = try container.decodeIfPresent(Int.self, forKey: .retryAfterSeconds)
    }
}
