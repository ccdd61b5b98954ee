import ArgumentParser

/// The service executable: every subcommand only wires modules together. Benchmarks and load
/// generators are a separate executable, `idverify-bench`, so this one carries no benchmark code.
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
            LagCommand.self,
            StatsCommand.self,
            DeadLettersCommand.self,
            VerdictCommand.self,
            AuditCommand.self,
        ]
    )
}
