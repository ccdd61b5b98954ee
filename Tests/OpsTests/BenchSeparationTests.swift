import Foundation
import Testing

/// The benchmarks and load generators are their own executable (`idverify-bench`); the service
/// executable (`idverify`) offers none of their commands and carries none of their code.
@Suite("Benchmarks out of the service binary")
struct BenchSeparationTests {
    /// Names only benchmark code defines: the Swift command types (their names are in the binary's
    /// type metadata), the raw-socket load generator and librdkafka's C client baseline
    /// (CKafkaBench's `ckb_` functions).
    static let benchMarkers = [
        "BenchKafkaCommand", "BenchWorkerCommand", "BenchRegistryCommand", "BenchStatsCommand", "BenchContractCommand",
        "RegistryLoadCommand", "RegistryBenchConnection", "ckb_produce", "ckb_consume",
    ]

    static func markers(in binary: URL) throws -> [String] {
        let data = try Data(contentsOf: binary, options: .alwaysMapped)
        return benchMarkers.filter { data.range(of: Data($0.utf8)) != nil }
    }

    @Test("idverify has no bench or registry-load command; idverify-bench has them all")
    func commands() async throws {
        let help = try await OpsTestEnvironment.runIDVerify(["--help"])
        #expect(help.status == 0, "\(help.stderr)")
        #expect(help.stdout.contains("serve"))
        #expect(!help.stdout.contains("bench"), "\(help.stdout)")
        // (Without `--help`: ArgumentParser answers `--help` with the top-level help, status 0.)
        let bench = try await OpsTestEnvironment.runIDVerify(["bench", "stats"])
        #expect(bench.status != 0)
        #expect(bench.stderr.contains("unexpected arguments: 'bench', 'stats'"), "\(bench.stderr)")
        let load = try await OpsTestEnvironment.runIDVerify(["registry-load"])
        #expect(load.status != 0)
        #expect(load.stderr.contains("Unexpected argument 'registry-load'"), "\(load.stderr)")

        let benchHelp = try await OpsTestEnvironment.runIDVerify(["--help"], executable: "idverify-bench")
        #expect(benchHelp.status == 0, "\(benchHelp.stderr)")
        for command in ["kafka", "contract", "registry", "worker", "stats", "registry-load"] {
            #expect(benchHelp.stdout.contains("  \(command) "), "idverify-bench --help lacks \(command): \(benchHelp.stdout)")
        }
        #expect(!benchHelp.stdout.contains("  serve "))
    }

    @Test("the idverify binary holds no benchmark code; the idverify-bench binary holds all of it")
    func binaries() throws {
        let service = try OpsTestEnvironment.idverifyBinary()
        #expect(try Self.markers(in: service) == [])
        // The same search finds every marker in the bench binary, so an empty answer above means
        // absent, not unsearchable.
        let bench = try OpsTestEnvironment.idverifyBinary(named: "idverify-bench")
        #expect(try Self.markers(in: bench) == Self.benchMarkers)
    }
}
