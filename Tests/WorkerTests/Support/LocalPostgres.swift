import Foundation
import Ops
import Testing

/// A PostgreSQL cluster of a test's own (deploy/local-postgres.sh), for tests that crash it:
/// the suite's shared server is never stopped.
struct OwnPostgres: Sendable {
    let directory: String
    let url: String

    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("deploy/local-postgres.sh").path

    static func start(_ name: String) async throws -> OwnPostgres {
        // Named for the run (scripts/test's TTHC_TEST_RUN), whose exit stops it if the test cannot.
        let run = ProcessInfo.processInfo.environment["TTHC_TEST_RUN"] ?? "none"
        let directory = "/tmp/tthc-pg-\(name)-run\(run)-\(UUID().uuidString.prefix(8))"
        let output = try await runScript("start", directory)
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("DATABASE_URL=") }) else {
            throw HarnessError("local-postgres.sh start printed no DATABASE_URL")
        }
        return OwnPostgres(directory: directory, url: String(line.dropFirst("DATABASE_URL=".count)))
    }

    /// An immediate stop, as a crash would leave it (data kept).
    func crash() async throws { _ = try await Self.runScript("crash", directory) }
    func resume() async throws { _ = try await Self.runScript("resume", directory) }
    func stop() async { _ = try? await Self.runScript("stop", directory) }

    /// Runs the script and waits for it without blocking a thread of the cooperative pool.
    static func runScript(_ command: String, _ directory: String) async throws -> String {
        // Durable commits: a crash must not take back what the worker was told was stored.
        var environment = ProcessInfo.processInfo.environment
        environment["TTHC_PG_SYNCHRONOUS_COMMIT"] = "on"
        let (status, output) = try await ChildProcess.run(
            "/bin/bash", [script, command, directory], environment: environment, standardError: .discard)
        guard status == 0 else { throw HarnessError("local-postgres.sh \(command) exited with \(status)") }
        return output
    }
}
