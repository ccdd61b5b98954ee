/// Exponential backoff with full jitter for retrying a dependency that is down.
struct Backoff: Sendable {
    var initial: Duration
    var maximum: Duration
    private(set) var attempt = 0

    init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The next delay: uniformly random in [0, min(maximum, initial * 2^attempt)].
    mutating func next() -> Duration {
        let ceiling = min(self.maximum, self.initial * (1 << min(self.attempt, 20)))
        self.attempt += 1
        let fraction = Double.random(in: 0...1)
        return ceiling * fraction
    }
}
