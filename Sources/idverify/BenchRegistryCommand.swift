import ArgumentParser

struct BenchRegistryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "registry", abstract: "Not yet built.")
    func run() async throws { throw ValidationError("not yet built") }
}
