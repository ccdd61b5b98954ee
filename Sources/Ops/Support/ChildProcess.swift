#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A child process started with `posix_spawn` and reaped by `waitpid` on a thread of its own.
///
/// Foundation's `Process` was seen never to notice its child's exit in async code (the child a
/// zombie, `waitUntilExit` spinning a run loop for ever): so the project's commands and tests
/// run their helper scripts through this instead. Output goes to a file, never a pipe: a server
/// the child starts would keep a pipe open after the child exits.
public struct ChildProcess: Sendable {
    public let pid: pid_t
    private let exit: Task<Int32, Never>

    /// Where a child's standard output or error goes.
    public enum Output: Sendable {
        case inherit
        case discard
        case file(String)
    }

    /// Starts `executable` (an absolute path) with `arguments`; `environment` nil keeps this
    /// process's environment.
    public static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        standardOutput: Output = .inherit, standardError: Output = .inherit
    ) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (fd, output) in [(Int32(1), standardOutput), (Int32(2), standardError)] {
            switch output {
            case .inherit: break
            case .discard: posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_WRONLY, 0)
            case .file(let path): posix_spawn_file_actions_addopen(&actions, fd, path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            }
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let environmentStrings = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let envp = environmentStrings.map { strdup($0) } + [nil]
        defer { envp.forEach { free($0) } }
        var pid = pid_t()
        let status = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard status == 0 else {
            throw ChildProcessError("could not start \(executable): \(String(cString: strerror(status)))")
        }
        let child = pid
        let exit = Task.detached {
            await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
                // A plain thread: waitpid blocks, and must not hold one of the cooperative pool's.
                let thread = Thread {
                    var status: Int32 = 0
                    while waitpid(child, &status, 0) == -1 && errno == EINTR {}
                    let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                    continuation.resume(returning: code)
                }
                thread.start()
            }
        }
        return ChildProcess(pid: pid, exit: exit)
    }

    /// The exit status (128 + the signal's number if a signal ended it).
    public func wait() async -> Int32 { await exit.value }

    public func signal(_ signal: Int32) { kill(pid, signal) }

    /// Runs a command to its end and returns its status and standard output.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, standardError: Output = .inherit
    ) async throws -> (status: Int32, output: String) {
        let outputPath = NSTemporaryDirectory() + "/child-\(UUID().uuidString).out"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let child = try spawn(executable, arguments, environment: environment, standardOutput: .file(outputPath), standardError: standardError)
        let status = await child.wait()
        return (status, (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
    }
}

public struct ChildProcessError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
