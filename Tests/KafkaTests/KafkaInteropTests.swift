import Foundation
import Kafka
import Testing

/// Another client (kcat) against the same embedded broker: the wire is real Kafka.
@Suite("Interoperability with kcat", .serialized)
struct KafkaInteropTests {
    static func kcat(_ arguments: [String], input: String? = nil) throws -> String {
        let path = ["/usr/bin/kcat", "/usr/local/bin/kcat"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let kcatPath = try #require(path, "kcat is not installed: run `apt-get install -y kcat` (the test script does)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: kcatPath)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let inputPipe = Pipe()
        process.standardInput = inputPipe
        try process.run()
        if let input { inputPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try inputPipe.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test("kcat reads what the Swift producer wrote, with keys and headers")
    func kcatReadsSwift() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: testLogger("cluster"))
        try cluster.createTopic("to-kcat", partitions: 1)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: testLogger("producer"))
        try await produceAll(producer, makeMessages(topic: "to-kcat", count: 20))
        await producer.close()
        let bootstrap = cluster.bootstrapServers
        let text = try Self.kcat(["-b", bootstrap, "-C", "-t", "to-kcat", "-e", "-q", "-f", "%k|%s|%h\n"])
        let lines = text.split(separator: "\n")
        #expect(lines.count == 20)
        #expect(lines.first == "key-0|message-0|seq=0")
        #expect(lines.last == "key-19|message-19|seq=19")
    }

    @Test("the Swift consumer reads what kcat wrote")
    func swiftReadsKcat() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: testLogger("cluster"))
        try cluster.createTopic("from-kcat", partitions: 2)
        let input = (0..<30).map { "k\($0):v\($0)" }.joined(separator: "\n") + "\n"
        _ = try Self.kcat(["-b", cluster.bootstrapServers, "-P", "-t", "from-kcat", "-K", ":", "-H", "origin=kcat"], input: input)
        let consumer = try KafkaConsumer(
            configuration: consumerConfiguration(cluster, group: "from-kcat", topics: ["from-kcat"]), logger: testLogger("c"))
        let messages = try await withTimeout(30, "reading kcat's messages") {
            var messages: [KafkaMessage] = []
            for await event in consumer.events {
                if case .message(let message) = event { messages.append(message) }
                if messages.count == 30 { break }
            }
            return messages
        }
        let pairs = Set(messages.map { "\(String(decoding: $0.key ?? [], as: UTF8.self)):\(String(decoding: $0.value, as: UTF8.self))" })
        #expect(pairs == Set((0..<30).map { "k\($0):v\($0)" }))
        #expect(messages.allSatisfy { $0.headers.string(named: "origin") == "kcat" })
        await consumer.close()
    }
}
