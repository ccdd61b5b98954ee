import Foundation
import Ops

/// The project's throwaway PostgreSQL (deploy/local-postgres.sh), run as a child process that is
/// waited for without blocking a thread of the cooperative pool.
public struct LocalPostgres: Sendable {
    public let directory: String
    public let url: String
    private let script: String

    public static func start(directory: String) async throws -> LocalPostgres {
        let candidates = [
            FileManager.default.currentDirectoryPath + "/deploy/local-postgres.sh",
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
                .appendingPathComponent("../../../deploy/local-postgres.sh").standardized.path,
        ]
        guard let script = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw SetupError("deploy/local-postgres.sh not found: run from the repository root, or set DATABASE_URL")
        }
        let (status, output) = try await ChildProcess.run("/bin/bash", [script, "start", directory])
        guard status == 0,
            let line = output.split(separator: "\n").first(where: { $0.hasPrefix("DATABASE_URL=") })
        else {
            throw SetupError("the local PostgreSQL did not start (exit status \(status); see deploy/local-postgres.sh and \(directory)/server.log)")
        }
        return LocalPostgres(directory: directory, url: String(line.dropFirst("DATABASE_URL=".count)), script: script)
    }

    /// Stops the cluster and deletes its data.
    public func stop() async {
        _ = try? await ChildProcess.run("/bin/bash", [script, "stop", directory])
    }
}
