import Contract
import Foundation
import Kafka
import RegistrySimulator
import Testing
import Worker

/// A channel's deadline counts from the service's first consumption of the request, by any
/// instance: a restart does not start the clock again (contract, section 3).
@Suite("Worker deadlines", .serialized)
struct WorkerDeadlineTests {
    @Test("a counter request consumed during an outage, its worker killed: after the deadline it is unavailable, no registry call")
    func deadlineSurvivesARestart() async throws {
        try await RegistrySimulator.withRunning(configuration: .init(port: 0, population: 2_000)) { simulator in
            let harness = try await WorkerHarness(name: "worker_deadline", simulator: simulator)
            let executable = try idverifyExecutable()
            var environment = harness.serveEnvironment()
            let deadlineSeconds = 12.0
            environment["DEADLINE_COUNTER_SECONDS"] = "\(Int(deadlineSeconds))"

            // The registry is down.
            try simulator.simulator.setBehaviour(.init(errorRate: 1))
            let sample = Requests.sample(harness.population()) { $0.expectMatch && $0.variant == "exact" }
            let request = Requests.make(.counter, sample: sample)
            let sentAt = ContinuousClock.now
            try await harness.send(request, key: "desk-1")

            // The first instance consumes it and retries against the outage; then it is killed.
            let first = try harness.startServe(executable, environment: environment)
            try await withTimeout(30, "the first instance's registry calls") {
                while simulator.simulator.statistics().totalCalls == 0 { try await Task.sleep(for: .milliseconds(50)) }
            }
            try await Task.sleep(for: .seconds(2))
            kill(first.processIdentifier, SIGKILL)
            first.waitUntilExit()
            #expect(try await harness.verdictCount() == 0, "killed before its deadline")

            // The registry is back, but the deadline has passed by the time a new instance reads it again.
            try simulator.simulator.setBehaviour(.init())
            let deadline = sentAt + .seconds(deadlineSeconds)
            if ContinuousClock.now < deadline { try await Task.sleep(until: deadline + .seconds(1)) }
            simulator.simulator.resetStatistics()
            let second = try harness.startServe(executable, environment: environment)
            defer { if second.isRunning { kill(second.processIdentifier, SIGKILL) } }
            let verdicts = try await harness.verdicts(count: 1, seconds: 60)
            second.terminate()
            second.waitUntilExit()

            #expect(verdicts.count == 1)
            #expect(verdicts.first?.requestId == request.requestId)
            #expect(verdicts.first?.outcome == .unavailable, "the deadline counts from the first consumption")
            #expect(verdicts.first?.attempts == 0, "no registry call by the second instance")
            #expect(simulator.simulator.statistics().totalCalls == 0, "past its deadline, the registry is not asked")
        }
    }
}
