import Foundation
import Glibc
import Testing

/// scripts/stop-test-clusters: what scripts/test runs on exit, so that a run ended by Ctrl-C, a
/// crash or its timeout leaves none of the clusters its tests started for themselves.
@Suite("Test clusters stopped with their run")
struct TestClusterCleanupTests {
    private static let root = TLSTestMaterial.root

    /// Whether the cluster's postmaster (its `postmaster.pid`) is alive.
    private static func isRunning(_ directory: String) -> Bool {
        guard let text = try? String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8),
            let line = text.split(separator: "\n").first, let pid = Int32(line)
        else { return false }
        return kill(pid, 0) == 0
    }

    @Test("a run's clusters are stopped and another run's are left alone")
    func stopsOnlyTheRunsClusters() async throws {
        let run = "t\(UInt32.random(in: 0...UInt32.max))"
        let other = "t\(UInt32.random(in: 0...UInt32.max))"
        let mine = "/tmp/tthc-pg-cleanup-run\(run)-a"
        let theirs = "/tmp/tthc-pg-cleanup-run\(other)-b"
        _ = try await runTool(Self.root + "/deploy/local-postgres.sh", ["start", mine])
        _ = try await runTool(Self.root + "/deploy/local-postgres.sh", ["start", theirs])
        defer {
            _ = Task { _ = try? await runTool(Self.root + "/deploy/local-postgres.sh", ["stop", theirs]) }
        }
        #expect(Self.isRunning(mine) && Self.isRunning(theirs))

        _ = try await runTool(Self.root + "/scripts/stop-test-clusters", [run])

        #expect(!Self.isRunning(mine))
        #expect(!FileManager.default.fileExists(atPath: mine))
        #expect(Self.isRunning(theirs))
        _ = try await runTool(Self.root + "/deploy/local-postgres.sh", ["stop", theirs])
    }
}
