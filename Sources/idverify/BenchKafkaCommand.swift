import ArgumentParser

struct BenchKafkaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kafka", abstract: "Not yet built.")
    func run() async throws { throw ValidationError("not yet built") }
}
