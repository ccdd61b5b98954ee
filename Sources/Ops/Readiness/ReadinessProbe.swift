import Logging
import Metrics
import Synchronization

/// Runs every ``ReadinessCheck`` concurrently, each bounded by a timeout, and keeps the readiness
/// gauges current:
///
/// - `identity_ready`: 1 when every check passed at the last evaluation, else 0;
/// - `identity_readiness_check_ok{check}`: 1 or 0 per check (the label set is the fixed list of
///   check names).
///
/// Transitions are logged: a check that starts failing at `warning` with its reason, one that
/// recovers at `info`.
public final class ReadinessProbe: Sendable {
    /// The outcome of one evaluation.
    public struct Report: Sendable, Hashable {
        /// Every check passed (true when there are no checks).
        public var ready: Bool
        /// One status per check, in the order the checks were given.
        public var checks: [ReadinessStatus]
    }

    /// How long one check may take before it counts as failing. Default: 2 s.
    public let timeout: Duration
    private let checks: [any ReadinessCheck]
    private let readyGauge: Gauge
    private let checkGauges: [String: Gauge]
    private let lastFailing: Mutex<Set<String>>
    private let logger: Logger

    /// - Parameters:
    ///   - checks: The dependencies to check; names should be distinct.
    ///   - timeout: Per check. Default: 2 s.
    ///   - metricsFactory: Where the gauges go. Default: `MetricsSystem.factory`.
    ///   - logger: For transitions.
    public init(
        checks: [any ReadinessCheck],
        timeout: Duration = .seconds(2),
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        logger: Logger
    ) {
        self.checks = checks
        self.timeout = timeout
        self.readyGauge = Gauge(label: "identity_ready", factory: metricsFactory)
        var gauges: [String: Gauge] = [:]
        for check in checks where gauges[check.name] == nil {
            gauges[check.name] = Gauge(
                label: "identity_readiness_check_ok", dimensions: [("check", check.name)], factory: metricsFactory)
        }
        self.checkGauges = gauges
        self.lastFailing = Mutex([])
        self.logger = logger
    }

    /// The names of the checks, in order.
    public var checkNames: [String] { self.checks.map(\.name) }

    /// Runs every check now, concurrently; returns when all have answered or timed out.
    public func evaluate() async -> Report {
        let timeout = self.timeout
        let statuses = await withTaskGroup(of: (Int, ReadinessStatus).self) { group in
            for (index, check) in self.checks.enumerated() {
                group.addTask { (index, await Self.run(check, timeout: timeout)) }
            }
            var statuses = [ReadinessStatus?](repeating: nil, count: self.checks.count)
            for await (index, status) in group { statuses[index] = status }
            return statuses.map { $0! }
        }
        let report = Report(ready: statuses.allSatisfy(\.ok), checks: statuses)
        self.record(report)
        return report
    }

    private func record(_ report: Report) {
        self.readyGauge.record(report.ready ? 1 : 0)
        for status in report.checks {
            self.checkGauges[status.name]?.record(status.ok ? 1 : 0)
        }
        let failing = Set(report.checks.filter { !$0.ok }.map(\.name))
        let previous = self.lastFailing.withLock { last in
            defer { last = failing }
            return last
        }
        for status in report.checks where !status.ok && !previous.contains(status.name) {
            self.logger.warning(
                "Readiness check failing",
                metadata: .ops([.check: "\(status.name)", .reason: "\(status.reason ?? "")"]))
        }
        for name in previous.subtracting(failing) {
            self.logger.info("Readiness check passing again", metadata: .ops([.check: "\(name)"]))
        }
    }

    /// Runs one check, giving up waiting after `timeout` even when the check does not react to
    /// cancellation: the probe's answer is bounded.
    static func run(_ check: any ReadinessCheck, timeout: Duration) async -> ReadinessStatus {
        let name = check.name
        return await withTimeBound(timeout) { await check.check() }
            ?? .notReady(name, reason: "no answer within \(timeout.secondsText)")
    }
}

extension Duration {
    /// `2 s`, `0.5 s`.
    var secondsText: String {
        let (seconds, attoseconds) = self.components
        if attoseconds == 0 { return "\(seconds) s" }
        let value = Double(seconds) + Double(attoseconds) / 1e18
        return "\((value * 1000).rounded() / 1000) s"
    }
}
