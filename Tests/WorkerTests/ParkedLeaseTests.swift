import Contract
import Foundation
import Logging
import PostgresNIO
import RegistrySimulator
import Store
import Testing
import Worker

/// A parked check being retried when the worker stops is handed back at once, so that another
/// instance (or this one, restarted) takes it without waiting for its lease to run out.
@Suite("Parked checks at shutdown", .serialized)
struct ParkedLeaseTests {
    @Test("a retry interrupted by the shutdown hands its lease back")
    func leaseHandedBack() async throws {
        try await RegistrySimulator.withRunning(configuration: .init(port: 0, population: 20_000, behaviour: .init(errorRate: 1))) { simulator in
            let harness = try await WorkerHarness(name: "parked_lease", simulator: simulator) { settings in
                KeyRotationTests.parkingSettings(&settings)
                settings.worker.shutdownGrace = .milliseconds(500)
            }
            let sample = Requests.sample(harness.population()) { $0.expectMatch && $0.variant == "exact" }
            try await harness.withWorker {
                try await harness.send(Requests.make(.submission, sample: sample, dossierCode: "LEASE-1"), key: "lease-lane")
                _ = try await KeyRotationTests.waitParked(harness, count: 1)
                // The next retry hangs at the registry: the worker stops while it waits there.
                try simulator.simulator.setBehaviour(.init(hangRate: 1, hangSeconds: 60))
                let before = simulator.simulator.statistics().totalCalls
                try await withTimeout(30, "a retry at the hanging registry") {
                    while simulator.simulator.statistics().totalCalls <= before { try await Task.sleep(for: .milliseconds(50)) }
                }
            }
            simulator.simulator.releaseHangingCalls()
            let leased = try await KeyRotationTests.withDatabase(harness) { client in
                let rows = try await client.query("SELECT count(*)::int8 FROM parked_checks WHERE lease_until > now()")
                var count: Int64 = -1
                for try await (value) in rows.decode(Int64.self) { count = value }
                return count
            }
            #expect(leased == 0, "the interrupted retry's lease is handed back, not held until it runs out")
        }
    }
}
