import ArgumentParser
import CommandSupport
import Foundation
import Ops

/// `idverify verdict REQUEST_ID`: what happened to one request, for support staff.
struct VerdictCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verdict",
        abstract: "Show what happened to one request: outcome, attempts, timings and dossier state, or that it is parked or not seen."
    )

    @Argument(help: "The request's requestId.")
    var requestId: String

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        guard (1...128).contains(self.requestId.count) else { throw ValidationError("REQUEST_ID must be 1-128 characters") }
    }

    func run() async throws {
        let logger = operatorLogger("idverify.verdict")
        let status = try await self.database.withPostgres(logger: logger) { [requestId] client in
            try await RequestStatusLookup(client: client, logger: logger).status(requestId: requestId)
        }
        print(Self.describe(status, requestId: self.requestId))
    }

    static func describe(_ status: RequestStatus, requestId: String) -> String {
        switch status {
        case .decided(let result):
            let took = result.decidedAt.timeIntervalSince(result.consumedAt)
            var lines = [
                "request \(requestId): \(result.outcome)",
                "  verdict id:  \(result.verdictId.uuidString.lowercased())",
                "  channel:     \(result.channel), agency \(result.agencyCode)",
                "  attempts:    \(result.attempts) registry call\(result.attempts == 1 ? "" : "s")",
                "  consumed at: \(vietnamTime(result.consumedAt))",
                "  decided at:  \(vietnamTime(result.decidedAt)) (\(String(format: "%.3f", took)) s after consumption)",
                "  source:      \(result.sourceTopic) partition \(result.sourcePartition) offset \(result.sourceOffset)",
            ]
            if let code = result.dossierCode {
                lines.append("  dossier:     \(code), state \(result.dossierState ?? "-")")
            }
            lines.append(
                result.awaitingPublication
                    ? "  published:   not yet (the verdict waits in the outbox)"
                    : "  published:   yes (an unconfirmed delivery is sent again before its offset is committed)")
            return lines.joined(separator: "\n")
        case .parked(let parked):
            return [
                "request \(requestId): parked, next attempt at \(vietnamTime(parked.nextAttemptAt))",
                "  channel:     \(parked.channel), agency \(parked.agencyCode)",
                "  attempts:    \(parked.attempts) registry call\(parked.attempts == 1 ? "" : "s") so far",
                "  consumed at: \(vietnamTime(parked.consumedAt))",
                "  deadline:    \(vietnamTime(parked.deadlineAt)) (then the verdict is unavailable)",
            ].joined(separator: "\n")
        case .notSeen:
            return "request \(requestId): not seen"
        }
    }
}
