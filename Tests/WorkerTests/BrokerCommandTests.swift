import Foundation
import Testing

@Suite("idverify broker", .serialized)
struct BrokerCommandTests {
    @Test("runs the embedded broker for other processes: kcat lists the contract's topics; SIGTERM stops it")
    func brokerForOtherProcesses() async throws {
        let executable = try idverifyExecutable()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bootstrap-\(UUID())").path
        let process = Process()
        process.executableURL = executable
        process.arguments = ["broker", "--partitions", "5", "--bootstrap-file", file]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let bootstrap = try await withTimeout(30, "the bootstrap file") {
            while true {
                if let text = try? String(contentsOfFile: file, encoding: .utf8), text.hasSuffix("\n") {
                    return text.trimmingCharacters(in: .whitespacesAndNewlines)
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        #expect(bootstrap.hasPrefix("127.0.0.1:"))

        let kcat = Process()
        kcat.executableURL = URL(fileURLWithPath: "/usr/bin/kcat")
        kcat.arguments = ["-b", bootstrap, "-L", "-J"]
        let output = Pipe()
        kcat.standardOutput = output
        kcat.standardError = FileHandle.nullDevice
        try kcat.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        kcat.waitUntilExit()
        let metadata = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let topics = (metadata["topics"] as! [[String: Any]]).reduce(into: [String: Int]()) {
            $0[$1["topic"] as! String] = ($1["partitions"] as! [Any]).count
        }
        for name in ["tthc.identity.counter", "tthc.identity.registration", "tthc.identity.submission",
            "tthc.identity.verdicts", "tthc.identity.dead-letter", "tthc.dossier.events"]
        {
            #expect(topics[name] == 5, "\(name) has 5 partitions")
        }

        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: file), "the bootstrap file is removed on exit")
    }

    @Test("serve stops at start-up with a message naming a missing or malformed setting")
    func serveNamesBadSetting() throws {
        let executable = try idverifyExecutable()
        func run(_ environment: [String: String]) throws -> (Int32, String) {
            let process = Process()
            process.executableURL = executable
            process.arguments = ["serve"]
            process.environment = ["PATH": "/usr/bin:/bin"].merging(environment) { $1 }
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let data = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
        let complete = [
            "KAFKA_BROKERS": "127.0.0.1:9092", "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
            "REGISTRY_URL": "http://127.0.0.1:8089", "REGISTRY_TOKEN": "t", "SUBJECT_REF_KEY": "MDEyMzQ1Njc4OWFiY2RlZg==",
        ]
        var missing = complete
        missing.removeValue(forKey: "KAFKA_BROKERS")
        let (status1, text1) = try run(missing)
        #expect(status1 != 0)
        #expect(text1.contains("KAFKA_BROKERS"))
        var malformed = complete
        malformed["REGISTRY_RATE_LIMIT"] = "lots"
        let (status2, text2) = try run(malformed)
        #expect(status2 != 0)
        #expect(text2.contains("REGISTRY_RATE_LIMIT"))
        var shortKey = complete
        shortKey["SUBJECT_REF_KEY"] = "c2hvcnQ="
        let (status3, text3) = try run(shortKey)
        #expect(status3 != 0)
        #expect(text3.contains("SUBJECT_REF_KEY"))
    }
}
