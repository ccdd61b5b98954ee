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
/// recovers at `info`. While the process starts (until every check has passed once, for at most
/// ``startupGrace``) a failing check is logged at `info` as not passing yet: `serve` migrates
/// its own schema and connects to Kafka after the endpoints are up, so a failure then is the
/// start-up itself, not a fault. One still failing when the grace ends is logged as failing.
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
    /// How long after creation failing checks count as start-up rather than faults, unless every
    /// check has passed before. Default: 60 s.
    public let startupGrace: Duration
    private let checks: [any ReadinessCheck]
    private let readyGauge: Gauge
    private let checkGauges: [String: Gauge]
    private let state: Mutex<LogState>
    private let created: ContinuousClock.Instant
    private let logger: Logger

    /// - Parameters:
    ///   - checks: The dependencies to check; names should be distinct.
    ///   - timeout: Per check. Default: 2 s.
    ///   - startupGrace: See ``startupGrace``. Default: 60 s.
    ///   - metricsFactory: Where the gauges go. Default: `MetricsSystem.factory`.
    ///   - logger: For transitions.
    public init(
        checks: [any ReadinessCheck],
        timeout: Duration = .seconds(2),
        startupGrace: Duration = .seconds(60),
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        logger: Logger
    ) {
        self.checks = checks
        self.timeout = timeout
        self.startupGrace = startupGrace
        self.created = .now
        self.readyGauge = Gauge(label: "identity_ready", factory: metricsFactory)
        var gauges: [String: Gauge] = [:]
        for check in checks where gauges[check.name] == nil {
            gauges[check.name] = Gauge(
                label: "identity_readiness_check_ok", dimensions: [("check", check.name)], factory: metricsFactory)
        }
        self.checkGauges = gauges
        self.state = Mutex(LogState())
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
        self.record(report, at: .now)
        return report
    }

    /// What has been logged: the checks reported failing, those reported not passing yet during
    /// start-up, and whether start-up is over.
    struct LogState {
        var failing: Set<String> = []
        var notYet: Set<String> = []
        var started = false
    }

    private func record(_ report: Report, at now: ContinuousClock.Instant) {
        self.readyGauge.record(report.ready ? 1 : 0)
        for status in report.checks {
            self.checkGauges[status.name]?.record(status.ok ? 1 : 0)
        }
        let failing = Set(report.checks.filter { !$0.ok }.map(\.name))
        // Checks newly failing, whether that is still start-up, and checks that recovered.
        let (newly, starting, recovered) = self.state.withLock { state in
            if report.ready || now - self.created >= self.startupGrace { state.started = true }
            guard state.started else {
                // Not remembered as failing, so the warning comes if the failure outlasts start-up.
                defer { state.notYet = failing }
                return (failing.subtracting(state.notYet), true, Set<String>())
            }
            defer { state.failing = failing; state.notYet = [] }
            return (failing.subtracting(state.failing), false, state.failing.subtracting(failing))
        }
        for status in report.checks where newly.contains(status.name) {
            let metadata = Logger.Metadata.ops([.check: "\(status.name)", .reason: "\(status.reason ?? "")"])
            if starting {
                self.logger.info("Readiness check not passing yet (starting)", metadata: metadata)
            } else {
                self.logger.warning("Readiness check failing", metadata: metadata)
            }
        }
        for name in recovered.sorted() {
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
