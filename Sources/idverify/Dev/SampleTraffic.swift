import CommandSupport
import Contract
import Foundation
import Identity
import Kafka
import Logging
import RegistrySimulator
import ServiceLifecycle

/// Sample requests on all three channels, built from the simulator's
/// population: matches, deliberate mismatches, broken requests (`invalid`),
/// a few unreadable messages (dead letters) and counter checks with autofill;
/// and dossier lifecycle events (received, resolved on time or late, returned)
/// so that the processing board (`/v1/stats`, the status page) moves too.
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
                var messages = [makeMessage(number)]
                if number % 5 == 0 { messages += dossierEvents(number / 5) }
                _ = await producer.send(messages)
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
        var request = SampleRequests.request(sample: sample, channel: channel, number: number)
        if number % 20 == 7 {
            // A broken request: the front end let a malformed number through.
            request.subject.idNumber = "12AB"
        }
        let value = request.encodedJSON()
        return KafkaOutgoingMessage(topic: topic, key: Array(SampleRequests.key(for: request).utf8), value: value)
    }

    /// Sample `n`'s dossier: received 10 days ago, then (by `n % 4`) still open, resolved on
    /// time, resolved 2 days late, or returned; the closing events happen now, so they count in
    /// this month's board.
    func dossierEvents(_ n: Int) -> [KafkaOutgoingMessage] {
        let day = 86_400.0
        let now = Date()
        let code = "DEV-\(n)"
        let agency = "H23.45.\(10 + n % 5)"
        let late = n % 4 == 2
        var events = [
            DossierEvent(
                eventId: UUID(), dossierCode: code, agencyCode: agency, type: .received,
                occurredAt: Timestamp(now.addingTimeInterval(-10 * day)),
                dueAt: Timestamp(now.addingTimeInterval(late ? -2 * day : 3 * day)))
        ]
        switch n % 4 {
        case 1, 2: events.append(DossierEvent(eventId: UUID(), dossierCode: code, agencyCode: agency, type: .resolved, occurredAt: Timestamp(now)))
        case 3: events.append(DossierEvent(eventId: UUID(), dossierCode: code, agencyCode: agency, type: .returned, occurredAt: Timestamp(now)))
        default: break
        }
        return events.map { KafkaOutgoingMessage(topic: topics.dossierEvents, key: Array(code.utf8), value: $0.encodedJSON()) }
    }
}
