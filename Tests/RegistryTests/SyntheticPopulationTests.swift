import Identity
import RegistrySimulator
import Testing

@Suite struct SyntheticPopulationTests {
    let population = SyntheticPopulation(seed: 7, size: 1_000_000)

    @Test func isDeterministicAndFindsEveryoneByNumber() throws {
        let again = SyntheticPopulation(seed: 7, size: 1_000_000)
        for index in stride(from: 0, to: 1_000_000, by: 9_973) {
            let citizen = self.population.citizen(at: index)
            #expect(citizen == again.citizen(at: index))
            #expect(self.population.citizen(personalIdNumber: citizen.personalIdNumber)?.index == index)
            if let former = citizen.formerIdNumber {
                #expect(self.population.citizen(formerIdNumber: former)?.index == index)
            }
        }
        #expect(SyntheticPopulation(seed: 8, size: 1_000_000).citizen(at: 5).personalIdNumber != self.population.citizen(at: 5).personalIdNumber)
    }

    @Test func numbersFollowTheIdentityRules() {
        for index in stride(from: 0, to: 1_000_000, by: 997) {
            let citizen = self.population.citizen(at: index)
            #expect(IDNumber.ruleViolations(citizen.personalIdNumber, dateOfBirth: citizen.dateOfBirth).isEmpty)
            #expect(RegionCodes.provinces[String(citizen.personalIdNumber.prefix(3))] != nil)
            let genderDigit = Int(String(Array(citizen.personalIdNumber)[3]))!
            #expect((genderDigit % 2 == 1) == (citizen.gender == .female))
            #expect(!citizen.personalIdNumber.hasSuffix("000000"))
            if let former = citizen.formerIdNumber {
                #expect(former.count == 9 && Set(former).count > 1)
                #expect(IDNumber.ruleViolations(former, dateOfBirth: citizen.dateOfBirth).isEmpty)
            }
        }
    }

    @Test func hasTheAdvertisedMix() {
        var withFormer = 0
        var yearOnly = 0
        var monthOnly = 0
        var styles: [ToneStyle: Int] = [:]
        var differingStyles = 0
        let sample = 20_000
        for index in 0..<sample {
            let citizen = self.population.citizen(at: index * 50)
            if citizen.formerIdNumber != nil { withFormer += 1 }
            if citizen.dateOfBirth.month == nil { yearOnly += 1 } else if citizen.dateOfBirth.day == nil { monthOnly += 1 }
            styles[citizen.toneStyle, default: 0] += 1
            if citizen.fullName != citizen.fullNameOtherToneStyle {
                differingStyles += 1
                #expect(PersonName.comparisonKey(citizen.fullName) == PersonName.comparisonKey(citizen.fullNameOtherToneStyle))
            }
            #expect(citizen.nationality == "Việt Nam")
        }
        #expect((0.08...0.12).contains(Double(withFormer) / Double(sample)), "former CMND share \(withFormer)")
        #expect((0.01...0.05).contains(Double(yearOnly) / Double(sample)), "year-only share \(yearOnly)")
        #expect((0.005...0.04).contains(Double(monthOnly) / Double(sample)), "month-only share \(monthOnly)")
        #expect(styles[.firstVowel, default: 0] > sample / 3 && styles[.mainVowel, default: 0] > sample / 3)
        #expect(differingStyles > sample / 20)
    }

    @Test func bothToneStylesAreSpelledRight() {
        var seen: Set<String> = []
        for index in 0..<50_000 {
            let name = self.population.citizen(at: index).fullName
            for word in ["Hòa", "Hoà", "Thủy", "Thuỷ", "Thúy", "Thuý"] where name.split(separator: " ").contains(Substring(word)) {
                seen.insert(word)
            }
        }
        #expect(seen == ["Hòa", "Hoà", "Thủy", "Thuỷ", "Thúy", "Thuý"])
    }

    @Test func isCheapToCreateAndToQuery() {
        let start = ContinuousClock.now
        // The largest population: materialising 63 million people would take minutes and gigabytes,
        // so a bound with room for a loaded test machine still tells lazy from materialised.
        let size = SyntheticPopulation.maximumSize
        let population = SyntheticPopulation(seed: 99, size: size)
        var found = 0, asked = 0
        for index in stride(from: 0, to: size, by: size / 10_000) {
            asked += 1
            let number = population.citizen(at: index).personalIdNumber
            if population.citizen(personalIdNumber: number) != nil { found += 1 }
        }
        #expect(asked > 10_000 && found == asked)
        #expect(start.duration(to: .now) < .seconds(20))
    }

    @Test func samplesCarryTheirExpectedAnswer() {
        let samples = self.population.samples(count: 600)
        #expect(samples == self.population.samples(count: 600))
        for sample in samples {
            let result = self.population.match(
                idNumber: sample.idNumber, fullName: sample.fullName, dateOfBirth: PartialDate(sample.dateOfBirth)!)
            switch result {
            case .match(let index, let personalIdNumber, let byFormer):
                #expect(sample.expectMatch, "variant \(sample.variant) matched")
                #expect(index == sample.citizenIndex)
                #expect(byFormer == (sample.expectPersonalIdNumber != nil))
                if byFormer { #expect(personalIdNumber == sample.expectPersonalIdNumber) }
            case .noMatch:
                #expect(!sample.expectMatch, "variant \(sample.variant) did not match")
            }
        }
        let variants = Set(samples.map(\.variant))
        #expect(variants.isSuperset(of: [
            "exact", "other_tone_style", "case_and_spacing", "full_date_for_partial_record", "former_id",
            "wrong_given_name", "wrong_date", "partial_date_for_full_record", "unknown_id", "diacritics_stripped",
        ]))
    }
}
