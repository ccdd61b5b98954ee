/// How many registry calls may be in flight at once: a plain value that ``FairScheduler`` keeps
/// under its lock and feeds with every finished call.
///
/// The limit ramps up from one, by one per finished call, to its base (``Configuration/base``):
/// calls that open new connections then reach the registry one at a time, not in a bunch. Fixed
/// (``Configuration/adaptive`` off) it stays at the base. Adaptive, it goes on between the base and
/// ``Configuration/ceiling``: a registry answering in 100 ms serves at most ten calls a second per
/// call in flight, so a quota of 2,000/s needs 200 in flight, which no fixed default fits at every
/// limit. The limit grows by one per finished call while every allowed call is in flight and more
/// wait (the calls in flight, not the quota, hold the rate back) *and* answers are not slower than
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

    init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// Back to one after an idle spell: the transport may have closed its connections.
    mutating func restart() {
        self.limit = 1
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
