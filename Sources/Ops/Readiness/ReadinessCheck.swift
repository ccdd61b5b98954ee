/// One dependency's answer to "can the service do its work now?".
public struct ReadinessStatus: Sendable, Hashable {
    /// The check's name, as `/readyz` shows it (`kafka`, `postgres`, `registry`, ...).
    public var name: String
    /// Whether this dependency is usable.
    public var ok: Bool
    /// Why it is not (or a note when it is): codes and states only, never personal data.
    public var reason: String?

    public init(name: String, ok: Bool, reason: String? = nil) {
        self.name = name
        self.ok = ok
        self.reason = reason
    }

    /// A passing status.
    public static func ready(_ name: String) -> ReadinessStatus {
        ReadinessStatus(name: name, ok: true)
    }

    /// A failing status with its reason.
    public static func notReady(_ name: String, reason: String) -> ReadinessStatus {
        ReadinessStatus(name: name, ok: false, reason: reason)
    }
}

/// A dependency that `/readyz` asks about. Checks run concurrently, each under the probe's
/// timeout (a check that does not answer in time counts as failing), so a check may do I/O but
/// should be cheap: it runs on every `/readyz` request and on every sampling of the readiness
/// gauges.
///
/// The worker's own readiness (consuming, not stuck) is a conformance in the executable or a
/// ``ClosureReadinessCheck`` around whatever the worker exposes.
public protocol ReadinessCheck: Sendable {
    /// The name shown in `/readyz` and in the `check` label of `identity_readiness_check_ok`.
    /// A short constant such as `kafka`: it is a metric label, so keep the set bounded.
    var name: String { get }

    /// Checks the dependency now. Must not block the calling thread; cancellation means the
    /// probe gave up waiting.
    func check() async -> ReadinessStatus
}

/// A readiness check made of a closure.
///
/// ```swift
/// ClosureReadinessCheck(name: "worker") {
///     worker.isConsuming ? .ready("worker") : .notReady("worker", reason: "consumer has no assignment")
/// }
/// ```
public struct ClosureReadinessCheck: ReadinessCheck {
    public let name: String
    private let body: @Sendable () async -> ReadinessStatus

    public init(name: String, _ body: @escaping @Sendable () async -> ReadinessStatus) {
        self.name = name
        self.body = body
    }

    public func check() async -> ReadinessStatus {
        var status = await self.body()
        status.name = self.name
        return status
    }
}
