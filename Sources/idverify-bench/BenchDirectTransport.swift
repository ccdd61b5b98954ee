import Foundation
import Registry
import RegistrySimulator

/// `bench worker --transport direct`: the simulator's answers without HTTP. The answer is still
/// decoded from JSON, so what is left out is the round trip: AsyncHTTPClient, the simulator's HTTP
/// server and loopback TCP.
struct DirectSimulatorTransport: RegistryClient {
    let simulator: RegistrySimulator

    func verify(_ query: RegistryQuery, deadline: ContinuousClock.Instant) async throws -> VerifyResult {
        try JSONDecoder().decode(VerifyResult.self, from: self.answer(query, lookup: false))
    }

    func lookup(_ query: RegistryQuery, deadline: ContinuousClock.Instant) async throws -> LookupResult {
        try JSONDecoder().decode(LookupResult.self, from: self.answer(query, lookup: true))
    }

    private func answer(_ query: RegistryQuery, lookup: Bool) -> Data {
        let text = simulator.directAnswer(
            lookup: lookup, idNumber: query.idNumber, fullName: query.fullName, dateOfBirth: query.dateOfBirth)
        return Data(text.utf8)
    }
}
