import Foundation
import Identity

/// A query built from the synthetic population with the answer the registry will give: for load
/// generation and tests. Exported as JSON lines by `idverify registry-sim --export-samples N --out FILE`.
///
/// Every sample passes the identity rules (the year of birth always agrees with the number), so a
/// mismatching sample reaches the registry and comes back `match: false` rather than being
/// stopped as `invalid`.
public struct SampleQuery: Sendable, Hashable, Codable {
    /// How the query was derived: `exact`, `other_tone_style`, `case_and_spacing`,
    /// `full_date_for_partial_record`, `former_id` (match); `wrong_given_name`, `wrong_date`,
    /// `partial_date_for_full_record`, `unknown_id`, `diacritics_stripped` (mismatch).
    public var variant: String
    public var idNumber: String
    public var fullName: String
    public var dateOfBirth: String
    /// Whether the registry answers `match: true`.
    public var expectMatch: Bool
    /// On a match by former CMND: the 12-digit number verify returns.
    public var expectPersonalIdNumber: String?
    /// The person the sample was made from.
    public var citizenIndex: Int

    public init(
        variant: String, idNumber: String, fullName: String, dateOfBirth: String,
        expectMatch: Bool, expectPersonalIdNumber: String? = nil, citizenIndex: Int
    ) {
        self.variant = variant
        self.idNumber = idNumber
        self.fullName = fullName
        self.dateOfBirth = dateOfBirth
        self.expectMatch = expectMatch
        self.expectPersonalIdNumber = expectPersonalIdNumber
        self.citizenIndex = citizenIndex
    }
}

extension SyntheticPopulation {
    /// The variants, in the order samples cycle through them: seven matching, five mismatching.
    static let sampleVariants = [
        "exact", "other_tone_style", "wrong_given_name", "case_and_spacing", "wrong_date",
        "full_date_for_partial_record", "partial_date_for_full_record", "former_id", "unknown_id",
        "exact", "diacritics_stripped", "other_tone_style",
    ]

    /// `count` deterministic samples (the same population and count give the same samples).
    public func samples(count: Int) -> [SampleQuery] {
        (0..<max(0, count)).map { self.sample($0) }
    }

    /// Sample number `number`.
    public func sample(_ number: Int) -> SampleQuery {
        var random = SplitMix64(seed: self.seed ^ 0x5A4D_504C_4553, stream: UInt64(number))
        let citizen = self.citizen(at: random.below(self.size))
        let variant = Self.sampleVariants[number % Self.sampleVariants.count]
        let date = citizen.dateOfBirth

        func make(_ variant: String, id: String? = nil, name: String? = nil, dob: String? = nil,
                  match: Bool, personalId: String? = nil) -> SampleQuery {
            SampleQuery(
                variant: variant, idNumber: id ?? citizen.personalIdNumber, fullName: name ?? citizen.fullName,
                dateOfBirth: dob ?? date.description, expectMatch: match, expectPersonalIdNumber: personalId,
                citizenIndex: citizen.index)
        }
        func wrongGivenName() -> SampleQuery {
            var words = citizen.fullName.split(separator: " ").map(String.init)
            let table = citizen.gender == .male ? NameTables.maleGivenNames : NameTables.femaleGivenNames
            let current = PersonName.comparisonKey(words[words.count - 1])
            var replacement = random.pick(table)
            while PersonName.comparisonKey(replacement) == current { replacement = random.pick(table) }
            words[words.count - 1] = replacement
            return make("wrong_given_name", name: words.joined(separator: " "), match: false)
        }

        switch variant {
        case "other_tone_style":
            return make(variant, name: citizen.fullNameOtherToneStyle, match: true)
        case "case_and_spacing":
            let spaced = "  " + citizen.fullName.uppercased().replacingOccurrences(of: " ", with: "  ") + " "
            return make(variant, name: spaced, match: true)
        case "full_date_for_partial_record":
            guard date.day == nil else { return make("exact", match: true) }
            let month = date.month ?? 1 + random.below(12)
            return make(variant, dob: PartialDate(year: date.year, month: month, day: 1 + random.below(28)).description, match: true)
        case "former_id":
            guard let former = citizen.formerIdNumber else { return make("exact", match: true) }
            return make(variant, id: former, match: true, personalId: citizen.personalIdNumber)
        case "wrong_given_name":
            return wrongGivenName()
        case "wrong_date":
            // Same year, so the number's year digits still agree: the registry decides, not local rules.
            if let month = date.month, let day = date.day {
                let other = PartialDate(year: date.year, month: month, day: day % 28 + 1)
                return make(variant, dob: other.description, match: false)
            } else if let month = date.month {
                return make(variant, dob: PartialDate(year: date.year, month: month % 12 + 1, day: nil).description, match: false)
            }
            return wrongGivenName()
        case "partial_date_for_full_record":
            guard date.month != nil else { return wrongGivenName() }
            return make(variant, dob: String(date.year), match: false)
        case "unknown_id":
            return make(variant, id: self.unassignedPersonalIdNumber(like: citizen, variant: number), match: false)
        case "diacritics_stripped":
            let stripped = Self.strippingDiacritics(citizen.fullName)
            guard PersonName.comparisonKey(stripped) != PersonName.comparisonKey(citizen.fullName) else { return wrongGivenName() }
            return make(variant, name: stripped, match: false)
        default:
            return make("exact", match: true)
        }
    }

    /// Writes `count` samples to `path` as JSON lines.
    public func writeSamples(count: Int, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var output = Data()
        for number in 0..<max(0, count) {
            output.append(try encoder.encode(self.sample(number)))
            output.append(0x0A)
        }
        try output.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// "Nguyễn Đức" → "Nguyen Duc".
    static func strippingDiacritics(_ name: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in name.decomposedStringWithCanonicalMapping.unicodeScalars {
            switch scalar.value {
            case 0x0300...0x036F: continue
            case 0x0110: scalars.append("D")
            case 0x0111: scalars.append("d")
            default: scalars.append(scalar)
            }
        }
        return String(scalars)
    }
}
