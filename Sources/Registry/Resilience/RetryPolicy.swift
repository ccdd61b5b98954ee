/// When to try a failed registry call again: exponential backoff with full jitter, honouring
/// `Retry-After`.
///
/// The n-th retry waits a uniformly random time in `[0, min(maxBackoff, initialBackoff × multiplierⁿ⁻¹)]`
/// ("full jitter": retries of many workers spread out instead of arriving together). When the
/// registry sent `Retry-After`, the wait is that long plus a random part of up to `initialBackoff`,
/// never less; a `Retry-After` longer than ``maxRetryAfter`` ends the call instead, so the worker
/// can park it rather than hold a task for minutes.
public struct RetryPolicy: Sendable, Hashable {
    /// Registry calls per request at most, the first one included. Default: `4`
    /// (`REGISTRY_MAX_ATTEMPTS`). `1` disables retries.
    public var maxAttempts: Int
    /// Upper bound of the first retry's wait. Default: 100 ms (`REGISTRY_BACKOFF_INITIAL_MS`).
    public var initialBackoff: Duration
    /// Upper bound of any computed wait. Default: 5 s (`REGISTRY_BACKOFF_MAX_MS`).
    public var maxBackoff: Duration
    /// Growth of the upper bound per retry. Default: `2`.
    public var multiplier: Double
    /// The longest `Retry-After` the client waits out within one call. Default: 30 s.
    public var maxRetryAfter: Duration

    public init(
        maxAttempts: Int = 4,
        initialBackoff: Duration = .milliseconds(100),
        maxBackoff: Duration = .seconds(5),
        multiplier: Double = 2,
        maxRetryAfter: Duration = .seconds(30)
    ) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.multiplier = multiplier
        self.maxRetryAfter = maxRetryAfter
    }

    /// A policy that never retries.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// Checks the values, naming the one that cannot work.
    public func validate() throws {
        guard self.maxAttempts >= 1 else { throw RegistryConfigurationError("retry maxAttempts must be at least 1") }
        guard self.initialBackoff >= .zero, self.maxBackoff >= self.initialBackoff else {
            throw RegistryConfigurationError("retry backoff must satisfy 0 <= initialBackoff <= maxBackoff")
        }
        guard self.multiplier >= 1 else { throw RegistryConfigurationError("retry multiplier must be at least 1") }
        guard self.maxRetryAfter >= .zero else { throw RegistryConfigurationError("retry maxRetryAfter must not be negative") }
    }

    /// The upper bound of the wait before retry number `retry` (1 = the first retry), before jitter.
    public func backoffCeiling(beforeRetry retry: Int) -> Duration {
        precondition(retry >= 1, "retries are numbered from 1")
        var ceiling = self.initialBackoff.seconds
        for _ in 1..<retry {
            ceiling *= self.multiplier
            if ceiling >= self.maxBackoff.seconds { return self.maxBackoff }
        }
        return min(.seconds(ceiling), self.maxBackoff)
    }

    /// How long to wait before retry number `retry` (1 = the first retry), or `nil` when the
    /// registry's `Retry-After` is longer than this policy waits out.
    public func delay(
        beforeRetry retry: Int,
        retryAfter: Duration?,
        using generator: inout some RandomNumberGenerator
    ) -> Duration? {
        if let retryAfter {
            guard retryAfter <= self.maxRetryAfter else { return nil }
            return max(retryAfter, .zero) + Self.uniform(upTo: self.initialBackoff, using: &generator)
        }
        return Self.uniform(upTo: self.backoffCeiling(beforeRetry: retry), using: &generator)
    }

    /// How long to wait before retry number `retry`, using the system's random numbers.
    public func delay(beforeRetry retry: Int, retryAfter: Duration?) -> Duration? {
        var generator = SystemRandomNumberGenerator()
        return self.delay(beforeRetry: retry, retryAfter: retryAfter, using: &generator)
    }

    private static func uniform(upTo ceiling: Duration, using generator: inout some RandomNumberGenerator) -> Duration {
        let nanoseconds = ceiling.nanoseconds
        guard nanoseconds > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...nanoseconds, using: &generator))
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    var seconds: Double {
        let (seconds, attoseconds) = self.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// The duration in whole nanoseconds (truncated), saturating at `Int64.max`.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return whole + attoseconds / 1_000_000_000
    }
}
