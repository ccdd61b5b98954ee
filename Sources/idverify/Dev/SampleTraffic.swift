import Contract
import Crypto
import Foundation
import Identity
import Kafka
import Logging
import RegistrySimulator
import ServiceLifecycle

/// Sample requests on all three channels, built from the simulator's
/// population: matches, deliberate mismatches, broken requests (`invalid`),
/// a few unreadable messages (dead letters) and counter checks with autofill.
struct SampleTraffic: Service {
    let producer: KafkaProducer
    let topics: Topics
    let population: SyntheticPopulation
    let ratePerSecond: Double
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var number = 0
            let interval = Duration.milliseconds(Int64(1000 / max(ratePerSecond, 0.1)))
            while !Task.isCancelled {
                let message = makeMessage(number)
                _ = await producer.send([message])
                number += 1
                // Cancelled on shutdown: the loop ends.
                try? await Task.sleep(for: interval)
            }
        }
    }

    func makeMessage(_ number: Int) -> KafkaOutgoingMessage {
        let channel = Channel.allCases[number % 3]
        let topic = topics.requests(channel)
        if number % 50 == 49 {
            return KafkaOutgoingMessage(topic: topic, key: Array("desk-\(number % 7)".utf8), value: Array("not json #\(number)".utf8))
        }
        let sample = population.sample(number)
        var request = SampleTraffic.request(sample: sample, channel: channel, number: number)
        if number % 20 == 7 {
            // A broken request: the front end let a malformed number through.
            request.subject.idNumber = "12AB"
        }
        let value = request.encodedJSON()
        return KafkaOutgoingMessage(topic: topic, key: Array(SampleTraffic.key(for: request).utf8), value: value)
    }

    static func key(for request: VerificationRequest) -> String {
        switch request.details {
        case .counter: return "desk-\(request.actor.id)"
        case .registration(let account): return account
        case .submission(_, let dossier): return dossier.code
        }
    }

    /// A request of `channel` for the sample's person.
    static func request(sample: SampleQuery, channel: Channel, number: Int, recipientKey: AutofillRecipientKey? = nil) -> VerificationRequest {
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
