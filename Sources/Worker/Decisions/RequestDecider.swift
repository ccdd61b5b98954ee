import Contract
import Foundation
import Identity
import Logging
import Registry

/// Decides one request that passed the local rules: asks the registry
/// (retrying until the channel's deadline, or for submissions until the quick
/// retry window is spent) and turns the answer into a verdict.
struct RequestDecider: Sendable {
    enum Decision: Sendable {
        case verdict(Verdict)
        /// Unanswered within the quick window, deadline still ahead: park it.
        case park(attempts: Int)
        /// The worker is shutting down: no outcome; the request stays unfinished and is read
        /// again after the restart (an `unavailable` verdict here would be our fault, not the registry's).
        case interrupted
    }

    let registry: ResilientRegistryClient
    let subjectRefKey: SubjectRefKey
    let sealer: AutofillSealer
    let configuration: WorkerConfiguration
    let logger: Logger

    /// - Parameters:
    ///   - consumedAt: when the service first consumed the request (deadlines count from it).
    ///   - priorAttempts: registry calls already made for it (parked checks).
    ///   - parkAllowed: whether an unanswered request may be parked instead of decided unavailable.
    func decide(
        _ request: VerificationRequest, consumedAt: Date, priorAttempts: Int, parkAllowed: Bool, logger: Logger
    ) async -> Decision {
        let deadline = consumedAt.addingTimeInterval(configuration.deadline(for: request.channel).seconds)
        // Past its deadline (consumed before a restart, say) the loop below makes no call: unavailable.
        // The quick-retry window of a request that may park opens at the registry's first failure:
        // waiting for a rate-limit slot is not a failure, and the worker admits only what the
        // quota serves within about a second (RegistryAdmission), so that wait is short.
        var windowEnd = deadline
        var failing = false
        var attempts = priorAttempts
        // Between tries: the worker's one backoff helper, 200 ms doubling to 2 s.
        var backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(2))
        var nextPause: Duration?
        let query = RegistryQuery(
            idNumber: request.subject.idNumber, fullName: request.subject.fullName,
            dateOfBirth: request.subject.dateOfBirth.description)
        let wantsAutofill: AutofillRecipientKey? = {
            if case .counter(let key?) = request.details { return key }
            return nil
        }()

        while true {
            let remaining = windowEnd.timeIntervalSinceNow
            if remaining <= 0 { break }
            let startedAt = Date()
            let context = RegistryCallContext(
                agency: request.agencyCode, deadline: .now + .milliseconds(Int64(remaining * 1000)), logger: logger)
            do {
                if let recipient = wantsAutofill {
                    let reply = try await registry.lookup(query, context: context)
                    attempts += reply.attempts
                    guard reply.value.match, let citizen = reply.value.citizen else {
                        return .verdict(verdict(request, .mismatch, attempts))
                    }
                    let sealed = try? sealer.seal(Self.contractRecord(citizen), to: recipient, requestId: request.requestId)
                    if sealed == nil { logger.error("autofill could not be sealed; verdict sent without it") }
                    return .verdict(verdict(request, .verified, attempts, autofill: sealed))
                } else {
                    let reply = try await registry.verify(query, context: context)
                    attempts += reply.attempts
                    return .verdict(verdict(request, reply.value.match ? .verified : .mismatch, attempts))
                }
            } catch let error as RegistryError {
                attempts += error.attempts
                if error.code == .badRequest {
                    return .verdict(verdict(request, .invalid, attempts, reasons: [ValidationReason(field: "subject", code: .registryRejected)]))
                }
                if error.code == .shutDown || Task.isCancelled { return .interrupted }
                if parkAllowed, !failing, error.code != .limiterUnavailable, error.code != .deadlineExceeded {
                    failing = true
                    windowEnd = min(deadline, Date().addingTimeInterval(configuration.quickRetryWindow.seconds))
                }
                if error.code == .limiterUnavailable {
                    // The fleet quota lives in PostgreSQL: a database blip, not a registry failure.
                    // The time it costs does not use up the quick-retry window, so nothing parks for
                    // it; the deadline still holds.
                    backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(2))
                    let pause = backoff.next()
                    nextPause = pause
                    windowEnd = min(deadline, windowEnd.addingTimeInterval(Date().timeIntervalSince(startedAt) + pause.seconds))
                }
                logger.debug("registry did not answer", metadata: ["registry.error.code": "\(error.code)", "request.attempts": "\(attempts)"])
            } catch {
                return .interrupted  // cancelled: shutting down
            }
            // Circuit open, token refused, or retries spent before the window: wait a little and try again.
            let left = windowEnd.timeIntervalSinceNow
            if left <= 0 { break }
            let pause = nextPause ?? backoff.next()
            nextPause = nil
            try? await Task.sleep(for: min(pause, .milliseconds(Int64(left * 1000))))
            if Task.isCancelled { return .interrupted }
        }
        if parkAllowed, Date() < deadline {
            return .park(attempts: attempts)
        }
        return .verdict(verdict(request, .unavailable, attempts))
    }

    private func verdict(
        _ request: VerificationRequest, _ outcome: Verdict.Outcome, _ attempts: Int, reasons: [ValidationReason]? = nil,
        autofill: SealedAutofill? = nil
    ) -> Verdict {
        Verdict(
            request: request, outcome: outcome, attempts: attempts, decidedAt: Timestamp(Date()),
            subjectRefKey: subjectRefKey, reasons: reasons, autofill: autofill)
    }

    static func contractRecord(_ citizen: Registry.CitizenRecord) -> Contract.CitizenRecord {
        Contract.CitizenRecord(
            fullName: citizen.fullName, dateOfBirth: citizen.dateOfBirth, gender: citizen.gender,
            nationality: citizen.nationality, ethnicity: citizen.ethnicity, religion: citizen.religion,
            placeOfOrigin: citizen.placeOfOrigin, permanentAddress: citizen.permanentAddress,
            currentAddress: citizen.currentAddress, personalIdNumber: citizen.personalIdNumber,
            formerIdNumber: citizen.formerIdNumber)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
