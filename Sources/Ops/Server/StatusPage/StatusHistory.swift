import Foundation
import Prometheus
import ServiceLifecycle
import Synchronization

/// The counters the status page turns into rates and hourly totals, read at one instant.
struct CounterSnapshot: Sendable, Equatable {
    var at: Date
    /// `identity_verdicts_total`, summed over channels, by outcome.
    var verdicts: [String: Double]
    /// `identity_dead_letters_total` by reason.
    var deadLetters: [String: Double]
    /// `identity_registry_requests_total`, every endpoint and status.
    var registryCalls: Double

    /// Every counter at zero: the process's counters when it started.
    static func zero(at date: Date) -> CounterSnapshot {
        CounterSnapshot(at: date, verdicts: [:], deadLetters: [:], registryCalls: 0)
    }

    init(at: Date, verdicts: [String: Double], deadLetters: [String: Double], registryCalls: Double) {
        self.at = at
        self.verdicts = verdicts
        self.deadLetters = deadLetters
        self.registryCalls = registryCalls
    }

    init(_ reading: MetricsReading, at date: Date) {
        self.at = date
        self.verdicts = reading.sum("identity_verdicts_total", by: "outcome")
        self.deadLetters = reading.sum("identity_dead_letters_total", by: "reason")
        self.registryCalls = reading.total("identity_registry_requests_total") ?? 0
    }
}

/// Counter snapshots of the last hour (plus the one just before it), taken every few seconds by
/// ``StatusSampler``, so that `/v1/status` can say how many verdicts and dead letters the last hour
/// saw and how many registry calls per second the last minute made. Memory stays bounded: one
/// snapshot per interval over the window (360 at the defaults).
final class StatusHistory: Sendable {
    /// How far back the hourly totals look. Default: 1 hour.
    let window: TimeInterval
    private let snapshots: Mutex<[CounterSnapshot]>

    /// - Parameter start: When the process's counters were zero (its start).
    init(window: TimeInterval = 3_600, start: Date = Date()) {
        self.window = window
        self.snapshots = Mutex([.zero(at: start)])
    }

    /// Keeps `snapshot` and forgets those no longer needed as a baseline.
    func record(_ snapshot: CounterSnapshot) {
        self.snapshots.withLock { snapshots in
            snapshots.append(snapshot)
            let cutoff = snapshot.at.addingTimeInterval(-self.window)
            // Keep the latest snapshot at or before the cutoff: the baseline of a full window.
            if let last = snapshots.lastIndex(where: { $0.at <= cutoff }), last > 0 {
                snapshots.removeFirst(last)
            }
        }
    }

    /// The snapshots, oldest first.
    var all: [CounterSnapshot] { self.snapshots.withLock { $0 } }
}

/// Takes a counter snapshot from the process's metrics every `interval`.
struct StatusSampler: Service {
    let history: StatusHistory
    let prometheus: PrometheusCollectorRegistry
    let interval: Duration

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
            } catch {
                return
            }
            self.history.record(CounterSnapshot(MetricsReading(prometheusText: self.prometheus.emitToString()), at: Date()))
        }
    }
}
