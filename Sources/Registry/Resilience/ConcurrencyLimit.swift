/// How many registry calls may be in flight at once: a plain value that ``FairScheduler`` keeps
/// under its lock and feeds with every finished call.
///
/// The limit ramps up from one, by one per finished call, to its base (``Configuration/base``):
/// calls that open new connections then reach the registry one at a time, not in a bunch. Fixed
/// (``Configuration/adaptive`` off) it stays at the base. Adaptive, it goes on between the base and
/// ``Configuration/ceiling``: a registry answering in 100 ms serves at most ten calls a second per
/// call in flight, so a quota of 2,000/s needs 200 in flight, which no fixed default fits at every
/// limit. The limit grows by one per finished call while the calls in flight fill it (on average:
/// ``saturated(inFlight:waiting:)``) and more wait (the calls in flight, not the quota or the
/// worker's CPU, hold the rate back) *and* answers are not slower than
/// usual; it shrinks by one per finished call while they are, back to the base at most. Answers
/// that slow down as calls are added mean the extra calls only queue (in the registry, the
/// network or this process's own event loop): more in flight would buy nothing but load.
///
/// "Usual" is the fastest answer of the last one or two windows (``Configuration/window``), so that
/// a registry that became slower for good becomes the new usual within two windows; "slower" is a
/// smoothed recent latency above ``Configuration/tolerance`` times that plus
/// ``Configuration/slack`` (answers of a fraction of a millisecond vary by more than their size).
struct ConcurrencyLimit: Sendable {
    struct Configuration: Sendable, Hashable {
        /// The limit the ramp reaches, and the least an adaptive limit falls back to.
        var base: Int
        /// The most an adaptive limit grows to (ignored when fixed).
        var ceiling: Int
        var adaptive: Bool
        var window: Duration = .seconds(10)
        var tolerance: Double = 2
        var slack: Duration = .milliseconds(1)
        /// The calls in flight hold the rate back while, on average at recent finishes, they left
        /// at most this share of the limit unused (see ``saturated(inFlight:waiting:)``).
        var fullEnough: Double = 0.2
    }

    let configuration: Configuration
    /// Calls allowed in flight now.
    private(set) var limit = 1
    /// The fastest answer in the current window and in the one before.
    private var windowFastest: Duration?
    private var previousFastest: Duration?
    private var windowEnds: ContinuousClock.Instant?
    /// Recent latency, smoothed (seconds).
    private var recent: Double?
    /// The share of the limit not in flight at recent finishes while calls waited, smoothed; all
    /// of it until seen otherwise.
    private var room: Double = 1

    init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// Back to one after an idle spell: the transport may have closed its connections.
    mutating func restart() {
        self.limit = 1
    }

    /// Whether a call finishing now finds the calls in flight holding the rate back: others wait,
    /// and at recent finishes the calls in flight were close to the limit on average (at most
    /// ``Configuration/fullEnough`` of it unused). One look would not do: the pump refills room
    /// slot by slot at the quota's pace, so answers that come back together find some of it
    /// empty even while every call allowed is used (with 1-s answers only one finished call in
    /// ten or more saw the limit full); a worker that cannot feed the calls (a busy CPU) leaves
    /// far more of it empty, for long (a third of it in the yardstick's burst), and must not grow
    /// it.
    /// - Parameters:
    ///   - inFlight: calls in flight, the finishing one included.
    ///   - waiting: whether calls wait for room.
    mutating func saturated(inFlight: Int, waiting: Bool) -> Bool {
        guard waiting else { return false }
        let unused = Double(max(0, self.limit - inFlight)) / Double(self.limit)
        // About the last 32 finishes.
        self.room += (unused - self.room) / 32
        return self.room <= self.configuration.fullEnough
    }

    /// A call finished.
    /// - Parameters:
    ///   - latency: how long its answer took, `nil` if it got none (not made, cancelled, failed).
    ///   - saturated: every allowed call was in flight and others waited for room.
    mutating func finished(latency: Duration?, saturated: Bool, now: ContinuousClock.Instant) {
        if let latency { self.observe(latency, now: now) }
        if self.limit < self.configuration.base {
            self.limit += 1
            return
        }
        guard self.configuration.adaptive, let slower = self.answersSlowerThanUsual else { return }
        if slower {
            self.limit = max(self.configuration.base, self.limit - 1)
        } else if saturated {
            self.limit = min(self.configuration.ceiling, self.limit + 1)
        }
    }

    /// `nil` until an answer was seen.
    private var answersSlowerThanUsual: Bool? {
        guard let recent, let usual = [self.windowFastest, self.previousFastest].compactMap({ $0 }).min() else { return nil }
        return recent > self.configuration.tolerance * usual.seconds + self.configuration.slack.seconds
    }

    private mutating func observe(_ latency: Duration, now: ContinuousClock.Instant) {
        if let ends = self.windowEnds, now >= ends {
            self.previousFastest = self.windowFastest
            self.windowFastest = nil
            self.windowEnds = nil
        }
        if self.windowEnds == nil { self.windowEnds = now + self.configuration.window }
        self.windowFastest = min(self.windowFastest ?? latency, latency)
        let seconds = latency.seconds
        // About the last 16 answers.
        self.recent = self.recent.map { $0 + (seconds - $0) / 16 } ?? seconds
    }
}
