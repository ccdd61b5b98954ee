import AsyncHTTPClient
import Foundation
import Identity
import Registry
import RegistrySimulator
import Testing

/// Contract section 5 against the simulator on loopback, through the real JSON/HTTP client.
@Suite struct SimulatorContractTests {
    /// What these tests check is the answers, not their speed: a deadline far from a call's usual
    /// milliseconds (5 s ran out for every call at once while the full suite started up on two cores).
    static let callDeadline: Duration = .seconds(30)

    @Test func samplesGetTheExpectedAnswersOverHTTP() async throws {
        try await TestEnvironment.withSimulator { simulator in
            try await TestEnvironment.withTransport(for: simulator) { client in
                let samples = simulator.simulator.population.samples(count: 240)
                for sample in samples {
                    let query = TestEnvironment.query(sample)
                    let verified = try await client.verify(query, deadline: .now + Self.callDeadline)
                    #expect(verified.match == sample.expectMatch, "verify, variant \(sample.variant)")
                    #expect(verified.personalIdNumber == (sample.expectMatch ? sample.expectPersonalIdNumber : nil))

                    let looked = try await client.lookup(query, deadline: .now + Self.callDeadline)
                    #expect(looked.match == sample.expectMatch, "lookup, variant \(sample.variant)")
                    if let citizen = looked.citizen {
                        let person = simulator.simulator.population.citizen(at: sample.citizenIndex)
                        #expect(citizen.personalIdNumber == person.personalIdNumber)
                        #expect(citizen.formerIdNumber == person.formerIdNumber)
                        #expect(citizen.fullName == person.fullName)
                        #expect(citizen.dateOfBirth == person.dateOfBirth.description)
                        #expect(["male", "female"].contains(citizen.gender))
                        #expect(citizen.nationality == "Việt Nam")
                        #expect(!citizen.placeOfOrigin.isEmpty && !citizen.permanentAddress.isEmpty && !citizen.currentAddress.isEmpty)
                    }
                }
            }
        }
    }

    @Test func namesMatchAcrossToneStylesCaseAndSpacing() async throws {
        try await TestEnvironment.withSimulator { simulator in
            try await TestEnvironment.withTransport(for: simulator) { client in
                let population = simulator.simulator.population
                // Someone whose name is spelled differently in the two styles.
                let citizen = try #require(
                    (0..<5_000).lazy.map(population.citizen(at:)).first { $0.fullName != $0.fullNameOtherToneStyle })
                let date = citizen.dateOfBirth.description
                for name in [
                    citizen.fullName, citizen.fullNameOtherToneStyle, citizen.fullName.uppercased(),
                    "  " + citizen.fullNameOtherToneStyle.lowercased().replacingOccurrences(of: " ", with: "   ") + " ",
                    citizen.fullName.decomposedStringWithCanonicalMapping,
                ] {
                    let answer = try await client.verify(
                        RegistryQuery(idNumber: citizen.personalIdNumber, fullName: name, dateOfBirth: date), deadline: .now + Self.callDeadline)
                    #expect(answer.match, "a spelling of the same name did not match")
                }
                // Other diacritics count: "Đức" is not "Duc".
                let stripped = String(
                    String.UnicodeScalarView(
                        citizen.fullName.decomposedStringWithCanonicalMapping.unicodeScalars
                            .filter { !(0x300...0x36F).contains($0.value) }
                            .map { $0 == "Đ" ? "D" : $0 == "đ" ? "d" : $0 }))
                let strippedAnswer = try await client.verify(
                    RegistryQuery(idNumber: citizen.personalIdNumber, fullName: stripped, dateOfBirth: date), deadline: .now + Self.callDeadline)
                #expect(!strippedAnswer.match)
            }
        }
    }

    @Test func datesCompareAtTheRecordsPrecision() async throws {
        try await TestEnvironment.withSimulator { simulator in
            try await TestEnvironment.withTransport(for: simulator) { client in
                let population = simulator.simulator.population
                let yearOnly = try #require((0..<20_000).lazy.map(population.citizen(at:)).first { $0.dateOfBirth.month == nil })
                let full = try #require((0..<20_000).lazy.map(population.citizen(at:)).first { $0.dateOfBirth.day != nil })
                let year = yearOnly.dateOfBirth.year

                func verify(_ citizen: SimulatedCitizen, _ date: String) async throws -> Bool {
                    try await client.verify(
                        RegistryQuery(idNumber: citizen.personalIdNumber, fullName: citizen.fullName, dateOfBirth: date),
                        deadline: .now + Self.callDeadline
                    ).match
                }
                // A record of 1985 matches a request of 1985-03-04 (and 1985-03, and 1985).
                #expect(try await verify(yearOnly, "\(year)-03-04"))
                #expect(try await verify(yearOnly, "\(year)-03"))
                #expect(try await verify(yearOnly, "\(year)"))
                #expect(!(try await verify(yearOnly, "\(year + 1)-03-04")))
                // A record of 1985-03-04 does not match a request of 1985 or 1985-03.
                let date = full.dateOfBirth
                #expect(try await verify(full, date.description))
                #expect(!(try await verify(full, String(date.year))))
                #expect(!(try await verify(full, PartialDate(year: date.year, month: date.month, day: nil).description)))
            }
        }
    }

    @Test func formerCMNDMatchesAndReturnsThePersonalId() async throws {
        try await TestEnvironment.withSimulator { simulator in
            try await TestEnvironment.withTransport(for: simulator) { client in
                let population = simulator.simulator.population
                let citizen = try #require((0..<5_000).lazy.map(population.citizen(at:)).first { $0.formerIdNumber != nil })
                let former = try #require(citizen.formerIdNumber)
                let query = RegistryQuery(idNumber: former, fullName: citizen.fullName, dateOfBirth: citizen.dateOfBirth.description)

                let verified = try await client.verify(query, deadline: .now + Self.callDeadline)
                #expect(verified == VerifyResult(match: true, personalIdNumber: citizen.personalIdNumber))
                // With the 12-digit number, no personalIdNumber comes back.
                let direct = try await client.verify(TestEnvironment.query(citizen), deadline: .now + Self.callDeadline)
                #expect(direct == VerifyResult(match: true, personalIdNumber: nil))

                let looked = try await client.lookup(query, deadline: .now + Self.callDeadline)
                #expect(looked.citizen?.formerIdNumber == former)
                #expect(looked.citizen?.personalIdNumber == citizen.personalIdNumber)
                // A mismatch reveals nothing.
                var wrong = query
                wrong.fullName = "Nguyễn Văn Không Có"
                #expect(try await client.verify(wrong, deadline: .now + Self.callDeadline) == VerifyResult(match: false))
                #expect(try await client.lookup(wrong, deadline: .now + Self.callDeadline) == LookupResult(match: false))
            }
        }
    }

    @Test func badTokenIs401AndMalformedBodyIs400() async throws {
        try await TestEnvironment.withSimulator { simulator in
            let citizen = simulator.simulator.population.citizen(at: 1)
            try await TestEnvironment.withTransport(for: simulator, token: "wrong") { wrongToken in
                let error = await #expect(throws: RegistryError.self) {
                    try await wrongToken.verify(TestEnvironment.query(citizen), deadline: .now + Self.callDeadline)
                }
                #expect(error?.code == .unauthorized)
                #expect(error?.isRetriable == false)
                #expect(error?.isAuthenticationFailure == true)
            }

            try await TestEnvironment.withTransport(for: simulator) { client in
                for body in [
                    RegistryQuery(idNumber: "12345", fullName: "Nguyễn Văn A", dateOfBirth: "1990"),
                    RegistryQuery(idNumber: "079190000001", fullName: "Nguyễn Văn A", dateOfBirth: "1990-13-01"),
                    RegistryQuery(idNumber: "079190000001", fullName: " ", dateOfBirth: "1990"),
                ] {
                    let error = await #expect(throws: RegistryError.self) {
                        try await client.verify(body, deadline: .now + Self.callDeadline)
                    }
                    #expect(error?.code == .badRequest)
                    #expect(error?.isRetriable == false)
                }
                // Not JSON at all.
                let status = try await TestEnvironment.send(
                    "POST", "\(simulator.baseURL)/v1/citizens/verify", token: simulator.token, json: "not json")
                #expect(status == 400)
                let stats = simulator.simulator.statistics()
                #expect(stats.calls["verify"]?["401"] == 1)
                #expect(stats.calls["verify"]?["400"] == 4)
            }
        }
    }

    @Test func quotaAnswers429WithRetryAfterAndStatsCountWindows() async throws {
        let behaviour = SimulatorBehaviour(quota: 5)
        try await TestEnvironment.withSimulator(behaviour: behaviour) { simulator in
            try await TestEnvironment.withTransport(for: simulator) { client in
                let query = TestEnvironment.query(simulator.simulator.population.citizen(at: 3))
                // All eight at once, so that they arrive within one second even on a loaded machine
                // (one after another they once took over a second under the full suite).
                let errors = await withTaskGroup(of: RegistryError?.self) { group in
                    for _ in 0..<8 {
                        group.addTask {
                            do {
                                _ = try await client.verify(query, deadline: .now + Self.callDeadline)
                                return nil
                            } catch {
                                return error as? RegistryError
                            }
                        }
                    }
                    var errors: [RegistryError] = []
                    for await error in group { if let error { errors.append(error) } }
                    return errors
                }
                let stats = simulator.simulator.statistics()
                #expect(stats.totalCalls == 8)
                #expect(stats.maxAdmittedInOneSecond == 5, "never more than the quota admitted in any second")
                let spread = (stats.lastCallAtSeconds ?? 0) - (stats.firstCallAtSeconds ?? 0)
                if spread < 0.9 {
                    let rateLimited = errors.first
                    #expect(errors.count == 3)
                    #expect(rateLimited?.code == .rateLimited)
                    #expect(rateLimited?.httpStatus == 429)
                    #expect(rateLimited?.retryAfter == .seconds(1))
                    #expect(stats.calls["verify"]?["200"] == 5)
                    #expect(stats.calls["verify"]?["429"] == 3)
                    #expect(stats.maxCallsInOneSecond == 8)
                }
            }
        }
    }

    @Test func behaviourChangesAtRunTime() async throws {
        try await TestEnvironment.withSimulator { simulator in
            let status = try await TestEnvironment.send(
                "PUT", "\(simulator.baseURL)/admin/behaviour", token: simulator.token, json: #"{"latencyMs": 150, "quota": 100}"#)
            #expect(status == 200)
            #expect(simulator.simulator.behaviour.latencyMs == 150)
            #expect(simulator.simulator.behaviour.quota == 100)
            let refused = try await TestEnvironment.send(
                "PUT", "\(simulator.baseURL)/admin/behaviour", token: simulator.token, json: #"{"errorRate": 2}"#)
            #expect(refused == 400)
            let unauthorized = try await TestEnvironment.send(
                "PUT", "\(simulator.baseURL)/admin/behaviour", token: "wrong", json: #"{"errorRate": 0.5}"#)
            #expect(unauthorized == 401)

            try await TestEnvironment.withTransport(for: simulator) { client in
                let start = ContinuousClock.now
                _ = try await client.verify(TestEnvironment.query(simulator.simulator.population.citizen(at: 9)), deadline: .now + Self.callDeadline)
                #expect(start.duration(to: .now) >= .milliseconds(150))
            }
        }
    }
}
