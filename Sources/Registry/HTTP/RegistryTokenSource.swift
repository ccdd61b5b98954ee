import Foundation
import Logging
import Synchronization

/// The registry's bearer token: fixed, or read again from `REGISTRY_TOKEN_FILE` when its content
/// changes, looked at no more than once per interval (before a call), so that a rotated secret (a
/// Kubernetes secret volume swaps the file behind a symlink) is used without a restart.
///
/// The file is read whole each time it is looked at (a few bytes, at most once a second): comparing
/// content, not modification times, also sees a swapped symlink. A file that cannot be read, is
/// empty or holds a token with blanks keeps the previous token and logs a warning, once per problem.
final class RegistryTokenSource: Sendable {
    private struct State {
        var token: String
        var lastCheck: ContinuousClock.Instant
        var warned = false
    }

    private let file: String?
    private let interval: Duration
    private let logger: Logger
    private let state: Mutex<State>

    init(token: String, file: String?, interval: Duration, logger: Logger) {
        self.file = file
        self.interval = interval
        self.logger = logger
        self.state = Mutex(State(token: token, lastCheck: .now))
    }

    /// The token to send now.
    func current() -> String {
        guard let file = self.file else { return self.state.withLock { $0.token } }
        let now = ContinuousClock.now
        let due = self.state.withLock { state -> Bool in
            guard state.lastCheck.duration(to: now) >= self.interval else { return false }
            state.lastCheck = now
            return true
        }
        if due { self.reload(file) }
        return self.state.withLock { $0.token }
    }

    private func reload(_ file: String) {
        let text = (try? Data(contentsOf: URL(fileURLWithPath: file))).flatMap { String(data: $0, encoding: .utf8) }
        let token = text.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard let token, HTTPRegistryClient.Configuration.isVisibleASCII(token) else {
            let warn = self.state.withLock { state -> Bool in
                defer { state.warned = true }
                return !state.warned
            }
            if warn {
                self.logger.warning(
                    "REGISTRY_TOKEN_FILE cannot be read or holds no usable token; keeping the previous token",
                    metadata: .registry([.tokenFile: .string(file)]))
            }
            return
        }
        let changed = self.state.withLock { state -> Bool in
            state.warned = false
            guard state.token != token else { return false }
            state.token = token
            return true
        }
        if changed {
            self.logger.info("registry token read again from REGISTRY_TOKEN_FILE", metadata: .registry([.tokenFile: .string(file)]))
        }
    }
}
