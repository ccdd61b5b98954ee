import Contract
import Foundation
import Kafka
import RegistrySimulator
import Testing
import Worker

@Suite("Graceful shutdown with requests still waiting for the registry", .serialized)
struct WorkerShutdownTests {
    @Test("requests cut short by shutdown get no verdict and no task is left running; after the restart each gets one")
    func interruptedRequestsAreNotDecided() async throws {
        try await RegistrySimulator.withRunning(configuration: .init(port: 0, population: 5_000)) { simulator in
            let harness = try await WorkerHarness(name: "worker_shutdown", simulator: simulator) { settings in
                settings.worker.shutdownGrace = .milliseconds(300)
                // Deadlines count from the Kafka timestamp: a loaded CI machine must not turn the
                // restart's counters `unavailable` for lateness, which is not what this test is about.
                settings.worker.deadlines[.counter] = .seconds(300)
            }
            let population = harness.population()
            let requests = (0..<30).map { i in
                Requests.make(i % 2 == 0 ? .counter : .submission, sample: population.sample(i), dossierCode: "SHUT-\(i)")
            }
            for (i, request) in requests.enumerated() { try await harness.send(request, key: "shut-\(i)") }

            // A registry quota of 4 calls a second: most requests are still waiting for a slot
            // when the worker is told to stop.
            let stopped = try await harness.withWorker(adjusting: { $0.registryRateLimit = 4 }) { runtime in
                _ = try await harness.read(harness.topics.verdicts, count: 2)
                return runtime
            }
            #expect(stopped.worker.runningRequests == 0, "no request task outlives the worker")
            let early = try await harness.messageCount(harness.topics.verdicts)
            #expect(early < requests.count, "the shutdown cut some requests short")

            // Restarted with room: every request gets exactly one outcome, none `unavailable`.
            let wanted = Set(requests.map(\.requestId))
            let all = try await harness.withWorker(adjusting: { $0.registryRateLimit = 2_000 }) { _ in
                try await withTimeout(60, "a verdict for every request") {
                    while true {
                        let messages = try await harness.read(harness.topics.verdicts, count: try await harness.messageCount(harness.topics.verdicts))
                        let seen = Set(messages.compactMap { try? Verdict(json: $0.value).requestId })
                        if seen.isSuperset(of: wanted) { return messages }
                        try await Task.sleep(for: .milliseconds(300))
                    }
                }
            }
            let verdicts = try all.map { try Verdict(json: $0.value) }
            let byRequest = Dictionary(grouping: verdicts, by: \.requestId)
            #expect(Set(byRequest.keys) == wanted)
            for (_, versions) in byRequest {
                #expect(Set(versions.map(\.verdictId)).count == 1, "one final verdict per request id")
            }
            #expect(!verdicts.contains { $0.outcome == .unavailable }, "a shutdown is not the registry being unavailable")
        }
    }
}
