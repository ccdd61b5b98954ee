import Foundation

/// Runs python3 for the tests that cross-check with Python's libraries. A missing python3 fails
/// the test with instructions; it never skips.
enum Python {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String {
            "python3 was not found on PATH. Install it (Debian: apt-get install python3 python3-pip), then: pip install jsonschema rfc3339-validator cryptography"
        }
    }

    static func executable() throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent("python3")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw Missing()
    }

    static func run(_ arguments: [String], currentDirectory: URL? = nil) throws -> Output {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = arguments
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Read both pipes to the end before waiting, so a chatty child cannot block on a full pipe.
        let group = DispatchGroup()
        let errorData = DataBox()
        group.enter()
        DispatchQueue.global().async {
            errorData.data = stderr.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outputData = stdout.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus,
            stdout: String(decoding: outputData, as: UTF8.self),
            stderr: String(decoding: errorData.data, as: UTF8.self)
        )
    }

    /// Written by one queue before `group.leave()`, read after `group.wait()`: the group orders
    /// the two accesses, which is why the unchecked `Sendable` is safe.
    private final class DataBox: @unchecked Sendable {
        var data = Data()
    }

    /// The package root (where `scripts/` and `schemas/` are), found from this source file.
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }
}
