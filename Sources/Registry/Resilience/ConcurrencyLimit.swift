/// How many registry calls may be in flight at once: a plain value that ``FairScheduler`` keeps
/// under its lock and feeds with every finished call.
///
/// The limit ramps up from one, by one per finished call, to its base (``Configuration/base``):
/// calls that open new connections then reach the registry one at a time, not in a bunch. Fixed
/// (``Configuration/adaptive`` off) it stays at the base. Adaptive, it goes on between the base and
/// ``Configuration/ceiling``: a registry answering in 100 ms serves at most ten calls a second per
/// call in flight, so a quota of 2,000/s needs 200 in flight, which no fixed default fits at every
/// limit. The limit grows by one per finished call while the calls in flight fill it (on average
/// over time: ``saturated(waiting:)``) and more wait (the calls in flight, not the quota or the
/// worker's CPU, hold the rate back) *and* answers are not slower than usual; it shrinks by one
/// per finished call while they are, back to the base at most. Answers
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
        /// The calls in flight hold the rate back while, on average over time, they left at most
        /// this share of the limit unused as calls waited (see ``saturated(waiting:)``).
        var fullEnough: Double = 0.2
        /// How far back the unused share is averaged.
        var occupancySpan: Duration = .milliseconds(100)
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
    /// The share of the limit left unused while calls waited, averaged over time (about the last
    /// ``Configuration/occupancySpan``), and the state since the last change.
    private var room: Double = 0
    private var since: (at: ContinuousClock.Instant, unused: Double?)?
    /// The start of the first interval averaged: until a span has passed, the average is over the
    /// time since.
    private var firstAt: ContinuousClock.Instant?

    init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// Back to one after an idle spell: the transport may have closed its connections.
    mutating func restart() {
        self.limit = 1
    }

    /// The calls in flight or whether callers wait changed: the state until now is averaged in,
    /// and this one holds from now on.
    mutating func observe(inFlight: Int, waiting: Bool, now: ContinuousClock.Instant) {
        guard self.configuration.adaptive else { return }  // a fixed limit never asks
        if let since = self.since, let unused = since.unused, now > since.at {
            let firstAt = self.firstAt ?? since.at
            self.firstAt = firstAt
            let span = min(self.configuration.occupancySpan, now - firstAt)
            let weight = min(1, (now - since.at).seconds / span.seconds)
            self.room += (unused - self.room) * weight
        }
        // While nobody waits, the room says nothing either way: that time is left out.
        self.since = (now, waiting ? Double(max(0, self.limit - inFlight)) / Double(self.limit) : nil)
    }

    /// Whether a call finishing now finds the calls in flight holding the rate back: others wait,
    /// and over the last ``Configuration/occupancySpan`` the calls in flight left at most
    /// ``Configuration/fullEnough`` of the limit unused, on average over time. A look at each
    /// finish would not do: answers that come back together find the limit full only at the
    /// first of them (the pump refills their room slot by slot at the quota's pace), so with 1-s
    /// answers one finish in ten or fewer saw it full, and calls sent together and answered
    /// together would see it full at one finish per bunch. Over time such gaps are brief. A
    /// worker that cannot feed the calls (a busy CPU) leaves the limit part-empty most of the
    /// time (a third of it in the yardstick's burst) and must not grow it.
    func saturated(waiting: Bool) -> Bool {
        waiting && self.firstAt != nil && self.room <= self.configuration.fullEnough
    }

    /// A call finished.
    /// - Parameters:
    ///   - latency: how long its answer took, `nil` if it got none (not made, cancelled, failed).
    ///   - saturated: the calls in flight held the rate back (``saturated(waiting:)``).
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
