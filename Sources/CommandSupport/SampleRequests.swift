import Contract
import Crypto
import Foundation
import Identity
import RegistrySimulator

/// Requests for the simulator's population, built the same way for `idverify dev`'s sample
/// traffic and `idverify-bench worker`'s backlog: the agency, actor and dossier vary with the
/// request's number, so keys spread over partitions and lanes.
public enum SampleRequests {
    /// The Kafka key the front end gives the request: the desk, the account or the dossier.
    public static func key(for request: VerificationRequest) -> String {
        switch request.details {
        case .counter: return "desk-\(request.actor.id)"
        case .registration(let account): return account
        case .submission(_, let dossier): return dossier.code
        }
    }

    /// A request of `channel` for the sample's person.
    public static func request(sample: SampleQuery, channel: Channel, number: Int, recipientKey: AutofillRecipientKey? = nil) -> VerificationRequest {
        let subject = Subject(
            fullName: sample.fullName, idNumber: sample.idNumber,
            dateOfBirth: PartialDate(sample.dateOfBirth) ?? PartialDate(year: 1990, month: nil, day: nil))
        let agency = "H23.45.\(10 + number % 5)"
        let now = Timestamp(Date())
        let details: ChannelDetails
        let actor: Actor
        switch channel {
        case .counter:
            actor = Actor(kind: .officer, id: "officer-\(number % 9)")
            let key = recipientKey ?? (number % 4 == 0 ? AutofillRecipientKey(rawRepresentation: Array(Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation)) : nil)
            details = .counter(autofillRecipientKey: key)
        case .registration:
            actor = Actor(kind: .citizen, id: "acc-\(number % 1000)")
            details = .registration(accountId: "acc-\(number % 1000)")
        case .submission:
            actor = Actor(kind: .citizen, id: "acc-\(number % 1000)")
            details = .submission(
                accountId: "acc-\(number % 1000)",
                dossier: DossierReference(code: "\(agency)-\(number % 97)", procedureCode: "1.001234", receivedAt: now))
        }
        return VerificationRequest(
            requestUUID: UUID(), occurredAt: now, agencyCode: agency, actor: actor, subject: subject, details: details)
    }
}
