import ArgumentParser

struct BenchContractCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "contract", abstract: "Not yet built.")
    func run() async throws { throw ValidationError("not yet built") }
}
