import AsyncHTTPClient
import Foundation
import NIOCore
import Ops
import Testing

/// `idverify dev` as a newcomer runs it: no `DATABASE_URL`, no cluster left from an earlier run.
@Suite("idverify dev, first run", .serialized)
struct DevCommandTests {
    @Test("no DATABASE_URL, no cluster: banner, verdicts and a moving board within a minute; Ctrl-C stops everything with status 0 and logs no error")
    func firstRun() async throws {
        let executable = try OpsTestEnvironment.idverifyBinary()
        let id = UUID().uuidString.prefix(8)
        let postgresDirectory = OpsTestEnvironment.clusterDirectory("devtest")
        let outputPath = NSTemporaryDirectory() + "/dev-\(id).out"
        let errorPath = NSTemporaryDirectory() + "/dev-\(id).err"
        defer {
            try? FileManager.default.removeItem(atPath: outputPath)
            try? FileManager.default.removeItem(atPath: errorPath)
        }
        let opsPort = try Self.freePort()
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = nil
        let child = try ChildProcess.spawn(
            executable.path,
            [
                "dev", "--ops-port", "\(opsPort)", "--postgres-directory", postgresDirectory,
                "--bootstrap-file", NSTemporaryDirectory() + "/dev-\(id).bootstrap", "--population", "20000", "--rate", "40",
            ],
            environment: environment, standardOutput: .file(outputPath), standardError: .file(errorPath))
        var stopped = false
        defer {
            if !stopped {
                child.signal(SIGKILL)
                _ = try? FileManager.default.removeItem(atPath: postgresDirectory)
            }
        }

        func output() -> String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
        let started = ContinuousClock.now
        while !(output().contains("idverify dev") && output().contains("verdicts: ")) {
            #expect(started.duration(to: .now) < .seconds(60), "no banner and verdict line within a minute; output so far:\n\(output())")
            if started.duration(to: .now) >= .seconds(60) { return }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(FileManager.default.fileExists(atPath: postgresDirectory + "/port"), "dev started its own PostgreSQL there")

        // The sample traffic includes dossier lifecycle events: the board moves.
        var handled = 0
        while handled == 0, started.duration(to: .now) < .seconds(90) {
            let response = try await HTTPClient.shared.execute(
                HTTPClientRequest(url: "http://127.0.0.1:\(opsPort)/v1/stats"), timeout: .seconds(5))
            let body = try await response.body.collect(upTo: 1 << 20)
            if response.status == .ok,
                let object = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
            {
                handled = object["handled"] as? Int ?? 0
            }
            if handled == 0 { try await Task.sleep(for: .milliseconds(500)) }
        }
        #expect(handled > 0, "/v1/stats shows dossiers handled from the sample traffic")

        child.signal(SIGINT)
        let status = try await withThrowingTaskGroup(of: Int32?.self) { group in
            group.addTask { await child.wait() }
            group.addTask {
                try await Task.sleep(for: .seconds(45))
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
        stopped = status != nil
        #expect(status == 0, "Ctrl-C ends dev with status 0; output:\n\(output())")
        #expect(!FileManager.default.fileExists(atPath: postgresDirectory + "/port"), "the throwaway PostgreSQL is stopped and deleted")
        // A clean stop logs no error (the simulator's server, cancelled, used to log one).
        let logged = output() + ((try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")
        let errors = logged.split(separator: "\n").filter { $0.contains(" error ") || $0.contains(" critical ") }
        #expect(errors.isEmpty, "errors logged by a clean Ctrl-C: \(errors)")
        let leftover = try await ChildProcess.run("/usr/bin/pgrep", ["-f", postgresDirectory + "/data"])
        #expect(leftover.status != 0, "no PostgreSQL process of dev's is left running")
    }

    static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw TestFailure("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
