import ArgumentParser

/// The one executable: every subcommand only wires modules together.
@main
struct IDVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idverify",
        abstract: "Identity-verification worker for TTHC systems (Kafka -> population registry -> PostgreSQL -> verdicts).",
        subcommands: [
            DevCommand.self,
            ServeCommand.self,
            MigrateCommand.self,
            BrokerCommand.self,
            RegistrySimCommand.self,
            RegistryLoadCommand.self,
            BenchCommand.self,
            LagCommand.self,
            StatsCommand.self,
            DeadLettersCommand.self,
            VerdictCommand.self,
            AuditCommand.self,
        ]
    )
}

/// `idverify bench ...`: benchmarks print figures; they are never timed tests.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput of the parts of the service on this machine.",
        subcommands: [
            BenchKafkaCommand.self,
            BenchContractCommand.self,
            BenchRegistryCommand.self,
            BenchWorkerCommand.self,
            BenchStatsCommand.self,
        ]
    )
}
