import Foundation
import Synchronization

/// The client handles of this process not yet destroyed, by the broker addresses they were given.
///
/// An embedded cluster torn down while a client of it is still being destroyed made that client
/// reconnect to a closed port and log an error (seen at `idverify dev`'s Ctrl-C): the cluster waits
/// for its own clients first (``EmbeddedKafkaCluster/waitForClients(timeout:)``).
enum LiveClients {
    private static let counts = Mutex<[String: Int]>([:])

    /// The addresses of a `bootstrap.servers` value (`host:port,host:port`).
    static func addresses(_ servers: String) -> [String] {
        servers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    static func opened(_ brokers: [String]) {
        counts.withLock { counts in for broker in brokers { counts[broker, default: 0] += 1 } }
    }

    static func destroyed(_ brokers: [String]) {
        counts.withLock { counts in
            for broker in brokers {
                let left = counts[broker, default: 1] - 1
                counts[broker] = left > 0 ? left : nil
            }
        }
    }

    /// How many live handles were given any of `brokers`.
    static func count(of brokers: [String]) -> Int {
        counts.withLock { counts in brokers.reduce(0) { $0 + counts[$1, default: 0] } }
    }
}
