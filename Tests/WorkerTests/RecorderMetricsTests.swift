import Contract
import CoreMetrics
import Kafka
import Logging
import Synchronization
import Testing
@testable import Worker

/// The recorder's timings, which split a verdict's time after its decision into the group commit
/// and the wait for Kafka's delivery report.
@Suite("Recorder metrics", .serialized)
struct RecorderMetricsTests {
    @Test("each group commit is timed and counted, and each handed-over batch's delivery is timed")
    func groupCommitAndDelivery() async throws {
        try await StoreRefusalTests.withVerdictProducer { producer in
            let factory = LabelTotals()
            try await StoreRefusalTests.withStore("recorder_metrics") { _, store, logger in
                let recorder = VerdictRecorder(
                    store: store, producer: producer, configuration: WorkerConfiguration(), metrics: WorkerMetrics(factory: factory),
                    logger: logger)
                let running = Task { await recorder.run() }
                // One at a time: each is its own group commit and its own produced batch.
                for key in ["m1", "m2", "m3"] {
                    let delivered = AsyncStream.makeStream(of: Void.self)
                    let result = await recorder.record(StoreRefusalTests.decision(key), consumedAt: nil) { delivered.continuation.finish() }
                    guard case .handedOver = result else {
                        Issue.record("\(key) was not recorded: \(result)")
                        return
                    }
                    for await _ in delivered.stream {}
                }
                #expect(factory.total("identity_group_commits_total") == 3)
                #expect(factory.total("identity_group_commit_seconds") == 3)
                // Settled after the report: the timer may trail the callback by a moment.
                let deadline = ContinuousClock.now + .seconds(10)
                while factory.total("identity_verdict_delivery_seconds") < 3, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(factory.total("identity_verdict_delivery_seconds") == 3)
                recorder.finish()
                await running.value
            }
        }
    }

    @Test("group commits start at least the interval apart")
    func groupCommitPace() async throws {
        try await StoreRefusalTests.withVerdictProducer { producer in
            let factory = LabelTotals()
            try await StoreRefusalTests.withStore("recorder_pace") { _, store, logger in
                var configuration = WorkerConfiguration()
                configuration.groupCommitInterval = .milliseconds(300)
                let recorder = VerdictRecorder(
                    store: store, producer: producer, configuration: configuration, metrics: WorkerMetrics(factory: factory),
                    logger: logger)
                let running = Task { await recorder.run() }
                // One after another, as one lane hands them in: each is its own commit, and each
                // commit after the first starts at least the interval after the one before. A lower
                // bound, so a slow machine cannot make it fail; without the pace four commits take
                // a few tens of milliseconds.
                let started = ContinuousClock.now
                for index in 0..<4 {
                    let result = await recorder.record(StoreRefusalTests.decision("p\(index)"), consumedAt: nil) {}
                    guard case .handedOver = result else {
                        Issue.record("p\(index) was not recorded: \(result)")
                        return
                    }
                }
                let elapsed = ContinuousClock.now - started
                #expect(factory.total("identity_group_commits_total") == 4)
                #expect(elapsed >= .milliseconds(900), "four commits took \(elapsed)")
                recorder.finish()
                await running.value
            }
        }
    }
}

/// Counter increments and timer observations, per metric label.
final class LabelTotals: MetricsFactory, Sendable {
    private let totals = Mutex<[String: Int64]>([:])

    func total(_ label: String) -> Int64 { totals.withLock { $0[label] ?? 0 } }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { Handler(label, self) }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler { Handler(label, self) }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { Handler(label, self) }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}

    private final class Handler: CounterHandler, RecorderHandler, TimerHandler, Sendable {
        let label: String
        let owner: LabelTotals
        init(_ label: String, _ owner: LabelTotals) {
            self.label = label
            self.owner = owner
        }
        func increment(by amount: Int64) { owner.totals.withLock { $0[label, default: 0] += amount } }
        func reset() {}
        func record(_ value: Int64) {}
        func record(_ value: Double) {}
        func recordNanoseconds(_ duration: Int64) { increment(by: 1) }
    }
}
