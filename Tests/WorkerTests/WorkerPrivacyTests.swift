import Contract
import Foundation
import Identity
import Kafka
import RegistrySimulator
import Testing
import Worker

@Suite("Personal data stays out of logs and verdicts", .serialized)
struct WorkerPrivacyTests {
    @Test("captured logs (trace level) and every verdict carry no raw id number, name or birth date")
    func noPersonalData() async throws {
        try await RegistrySimulator.withRunning(configuration: .init(port: 0, population: 20_000)) { simulator in
            let harness = try await WorkerHarness(name: "worker_privacy", simulator: simulator)
            let population = harness.population()
            let samples = (0..<40).map { population.sample($0) }
            var requests: [VerificationRequest] = []
            for (i, sample) in samples.enumerated() {
                requests.append(Requests.make(Contract.Channel.allCases[i % 3], sample: sample, dossierCode: "PII-\(i)"))
            }
            // A broken one too: an invalid verdict must not echo the bad input either.
            let brokenName = "Trần Thị 9Bé"
            let broken = #"{"requestId":"0c0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a99","occurredAt":"2026-11-29T09:15:00+07:00","agencyCode":"H23.45.10","actor":{"kind":"citizen","id":"a"},"subject":{"fullName":"\#(brokenName)","idNumber":"001199012345","dateOfBirth":"1991-02-03"},"accountId":"a"}"#
            let toSend = requests
            let verdictMessages = try await harness.withWorker {
                for (i, request) in toSend.enumerated() { try await harness.send(request, key: "k\(i)") }
                try await harness.send(.registration, key: "broken", value: Array(broken.utf8))
                return try await harness.read(harness.topics.verdicts, count: toSend.count + 1)
            }
            var secrets: [String] = ["001199012345", brokenName, "1991-02-03"]
            for sample in samples {
                secrets.append(sample.idNumber)
                secrets.append(sample.fullName)
                secrets.append(PersonName.normalize(sample.fullName))
                if sample.dateOfBirth.count == 10 { secrets.append(sample.dateOfBirth) }
                if let personal = sample.expectPersonalIdNumber { secrets.append(personal) }
            }
            let logText = harness.logs.all.joined(separator: "\n")
            #expect(!harness.logs.all.isEmpty, "logs were captured")
            for secret in secrets {
                #expect(!logText.contains(secret), "a log line carries personal data")
                for message in verdictMessages {
                    let text = String(decoding: message.value, as: UTF8.self)
                    let headers = message.headers.map { String(decoding: $0.value ?? [], as: UTF8.self) }.joined()
                    #expect(!text.contains(secret) && !headers.contains(secret), "a verdict carries personal data")
                }
            }
        }
    }
}
