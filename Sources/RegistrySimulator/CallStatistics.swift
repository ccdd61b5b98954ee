/// What the simulator saw (`GET /stats`).
public struct SimulatorStatistics: Sendable, Hashable, Codable {
    /// Calls of verify and lookup by endpoint (`verify`, `lookup`) and answer (`200`, `400`, `401`,
    /// `429`, `500`, `503`, `hang`, ...).
    public var calls: [String: [String: Int]]
    /// Calls of verify and lookup, whatever the answer.
    public var totalCalls: Int
    /// The most calls that arrived within any sliding one-second window (exact: every call's
    /// arrival time is kept while it is within a second of the newest).
    public var maxCallsInOneSecond: Int
    /// The same, counting only calls admitted by the quota (not answered 429).
    public var maxAdmittedInOneSecond: Int
    /// Arrival of the first and the last call, in seconds since the statistics were reset.
    public var firstCallAtSeconds: Double?
    public var lastCallAtSeconds: Double?
    /// Seconds since the statistics were reset (or the simulator started).
    public var elapsedSeconds: Double
    /// The longest the simulator's own timers woke late meanwhile, in milliseconds: when this
    /// process is starved of CPU, arrivals are recorded late and bunched, and window counts above
    /// the true ones by about this many milliseconds' worth of calls.
    public var maxSchedulingLagMs: Double
}

/// Arrival times within the last second, and the most ever seen within one second.
///
/// A window `(t − 1 s, t]` holds its most calls when `t` is a call's arrival time, so counting at
/// every arrival finds the exact maximum over all sliding windows.
struct SlidingWindowCounter {
    private var arrivals: [Int64] = []
    private var head = 0
    private(set) var maximum = 0
    private static let window: Int64 = 1_000_000_000

    /// Calls within the second ending at `now` (nanoseconds), before recording one more.
    mutating func count(at now: Int64) -> Int {
        self.expire(before: now)
        return self.arrivals.count - self.head
    }

    /// The oldest arrival still within the second ending at `now`.
    mutating func oldest(at now: Int64) -> Int64? {
        self.expire(before: now)
        return self.head < self.arrivals.count ? self.arrivals[self.head] : nil
    }

    mutating func record(_ now: Int64) {
        self.expire(before: now)
        self.arrivals.append(now)
        self.maximum = max(self.maximum, self.arrivals.count - self.head)
    }

    private mutating func expire(before now: Int64) {
        while self.head < self.arrivals.count && self.arrivals[self.head] <= now - Self.window {
            self.head += 1
        }
        // Compact once the dead prefix dominates: amortised O(1) per call.
        if self.head > 4_096 && self.head * 2 > self.arrivals.count {
            self.arrivals.removeFirst(self.head)
            self.head = 0
        }
    }
}
