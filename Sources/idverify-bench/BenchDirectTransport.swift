import Foundation
import Identity
import Registry
import RegistrySimulator

/// `bench worker --transport direct`: the simulator population's answers without HTTP, built here
/// from its public match rules so that the simulator library carries no benchmark hook. A verify
/// answer is still decoded from its JSON body; what is left out is the round trip: the HTTP client,
/// the simulator's HTTP server and loopback TCP.
struct DirectSimulatorTransport: RegistryClient {
    let simulator: RegistrySimulator

    func verify(_ query: RegistryQuery, deadline: ContinuousClock.Instant) async throws -> VerifyResult {
        let body: String
        switch self.match(query) {
        case .match(_, let personalIdNumber, true): body = #"{"match":true,"personalIdNumber":""# + personalIdNumber + #""}"#
        case .match: body = #"{"match":true}"#
        case .noMatch: body = #"{"match":false}"#
        }
        return try JSONDecoder().decode(VerifyResult.self, from: Data(body.utf8))
    }

    func lookup(_ query: RegistryQuery, deadline: ContinuousClock.Instant) async throws -> LookupResult {
        guard case .match(let index, _, _) = self.match(query) else { return LookupResult(match: false) }
        let citizen = simulator.population.citizen(at: index)
        return LookupResult(
            match: true,
            citizen: CitizenRecord(
                fullName: citizen.fullName, dateOfBirth: citizen.dateOfBirth.description, gender: citizen.gender.rawValue,
                nationality: citizen.nationality, ethnicity: citizen.ethnicity, religion: citizen.religion,
                placeOfOrigin: citizen.placeOfOrigin, permanentAddress: citizen.permanentAddress,
                currentAddress: citizen.currentAddress, personalIdNumber: citizen.personalIdNumber,
                formerIdNumber: citizen.formerIdNumber))
    }

    /// A malformed date matches nobody, as the simulator answers it.
    private func match(_ query: RegistryQuery) -> SyntheticPopulation.MatchResult {
        guard let date = PartialDate(query.dateOfBirth) else { return .noMatch }
        return simulator.population.match(idNumber: query.idNumber, fullName: query.fullName, dateOfBirth: date)
    }
}
