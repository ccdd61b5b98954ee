import ArgumentParser

struct RegistrySimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "registry-sim", abstract: "Not yet built.")
    func run() async throws { throw ValidationError("not yet built") }
}
