import ArgumentParser

/// `idverify-bench`: benchmarks and load generators, kept out of the service executable. Each
/// prints figures; none is a timed test. Build with `-c release` to measure.
@main
struct IDVerifyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idverify-bench",
        abstract: "Measure throughput of the parts of the identity-verification service on this machine.",
        subcommands: [
            BenchKafkaCommand.self,
            BenchContractCommand.self,
            BenchRegistryCommand.self,
            BenchWorkerCommand.self,
            BenchStatsCommand.self,
            RegistryLoadCommand.self,
        ]
    )
}
