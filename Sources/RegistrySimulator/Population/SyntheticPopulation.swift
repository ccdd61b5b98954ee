import Identity

/// A deterministic synthetic population: person `i` of seed `s` is a pure function of `(s, i)`.
///
/// Nothing is materialised. The 12-digit number's province code and serial encode the person's
/// index (province = `i mod 63`, serial = a seeded affine permutation of `i / 63`, never `000000`),
/// and a former CMND is another affine permutation of `i`, so finding a person by either number is
/// O(1) arithmetic: decode the index, generate that person, compare the full number. Construction
/// is instant and memory-free whatever the size.
public struct SyntheticPopulation: Sendable, Hashable {
    /// The most people the number layout can hold: 63 provinces × 999,999 serials.
    public static let maximumSize = 63 * 999_999

    public let seed: UInt64
    public let size: Int

    private let serials: AffinePermutation
    private let formerNumbers: AffinePermutation
    private static let provinceCodes: [String] = RegionCodes.provinces.keys.sorted()
    private static let provinceIndex: [String: Int] = Dictionary(
        uniqueKeysWithValues: provinceCodes.enumerated().map { ($1, $0) })

    /// - Precondition: `1 <= size <= maximumSize`.
    public init(seed: UInt64, size: Int = 1_000_000) {
        precondition(size >= 1 && size <= Self.maximumSize, "population size must be 1...\(Self.maximumSize)")
        self.seed = seed
        self.size = size
        var generator = SplitMix64(seed: seed, stream: .max)
        // Multipliers are primes that divide neither 999,999 (3³·7·11·13·37) nor 900,000,000 (2⁸·3²·5⁸).
        let primes: [Int64] = [7_919, 104_729, 15_485_863, 32_452_843, 49_979_687, 86_028_121]
        self.serials = AffinePermutation(
            modulus: 999_999,
            multiplier: primes[generator.below(primes.count)],
            offset: Int64(generator.below(999_999)))
        self.formerNumbers = AffinePermutation(
            modulus: 900_000_000,
            multiplier: primes[generator.below(primes.count)],
            offset: Int64(generator.below(900_000_000)))
    }

    /// What identifies a person: enough to match a query. The rest of the record (``citizen(at:)``)
    /// is drawn from the same stream afterwards, only when a lookup needs it.
    struct Core {
        let index: Int
        let gender: SimulatedCitizen.Gender
        let dateOfBirth: PartialDate
        let toneStyle: ToneStyle
        let fullName: String
        let fullNameOtherToneStyle: String
        /// `PersonName.comparisonKey(fullName)`, from the words' cached keys.
        let nameKey: String
        let provinceCode: String
        let personalIdNumber: String
        let formerIdNumber: String?
        /// The person's generator, positioned after the core draws.
        let random: SplitMix64
    }

    /// Person `index` (`0..<size`).
    public func citizen(at index: Int) -> SimulatedCitizen {
        self.citizen(self.core(at: index))
    }

    func core(at index: Int) -> Core {
        precondition(index >= 0 && index < self.size, "citizen index out of range")
        var random = SplitMix64(seed: self.seed, stream: UInt64(index))

        let gender: SimulatedCitizen.Gender = random.below(2) == 0 ? .male : .female
        let birthYear = Self.birthYear(&random)
        let month = 1 + random.below(12)
        let day = 1 + random.below(Self.daysInMonth(year: birthYear, month: month))
        let precisionDraw = random.below(1_000)
        let partialShare = birthYear < 1960 ? 120 : 25  // older records are more often incomplete
        let dateOfBirth: PartialDate =
            if precisionDraw < partialShare * 3 / 5 {
                PartialDate(year: birthYear, month: nil, day: nil)
            } else if precisionDraw < partialShare {
                PartialDate(year: birthYear, month: month, day: nil)
            } else {
                PartialDate(year: birthYear, month: month, day: day)
            }

        let family = random.pick(NameTables.familyNames)
        let middle = random.pick(gender == .male ? NameTables.maleMiddleNames : NameTables.femaleMiddleNames)
        let given = random.pick(gender == .male ? NameTables.maleGivenNames : NameTables.femaleGivenNames)
        // About one in six has two middle names ("Nguyễn Thị Thu Hà").
        let secondMiddle: String? =
            random.chance(permille: 160)
            ? random.pick(gender == .male ? NameTables.maleMiddleNames : NameTables.femaleMiddleNames) : nil
        var words = [family, middle]
        if let secondMiddle, secondMiddle != middle, secondMiddle != "Thị", secondMiddle != "Văn" { words.append(secondMiddle) }
        words.append(given)
        let toneStyle: ToneStyle = random.below(2) == 0 ? .firstVowel : .mainVowel
        let firstVowelName = words.joined(separator: " ")
        let mainVowelName = words.map { NameTables.mainVowelSpellings[$0] ?? $0 }.joined(separator: " ")

        // Number: province and serial encode the index; century/sex digit and YY the birth.
        let provinceCode = Self.provinceCodes[index % Self.provinceCodes.count]
        let serial = self.serials.apply(Int64(index / Self.provinceCodes.count)) + 1
        let centuryDigit = ((birthYear / 100) - 19) * 2 + (gender == .female ? 1 : 0)
        let personalIdNumber =
            provinceCode + String(centuryDigit) + Self.padded(birthYear % 100, 2) + Self.padded(Int(serial), 6)

        // Former CMND: about one in ten of those old enough to have had one.
        let cmndDraw = random.below(1_000)
        var formerIdNumber: String?
        if birthYear <= 2006 && cmndDraw < 130 {
            let candidate = String(100_000_000 + self.formerNumbers.apply(Int64(index)))
            if Set(candidate).count > 1 { formerIdNumber = candidate }
        }

        return Core(
            index: index,
            gender: gender,
            dateOfBirth: dateOfBirth,
            toneStyle: toneStyle,
            fullName: toneStyle == .firstVowel ? firstVowelName : mainVowelName,
            fullNameOtherToneStyle: toneStyle == .firstVowel ? mainVowelName : firstVowelName,
            nameKey: words.map { NameTables.comparisonKeys[$0] ?? PersonName.comparisonKey($0) }.joined(separator: " "),
            provinceCode: provinceCode,
            personalIdNumber: personalIdNumber,
            formerIdNumber: formerIdNumber,
            random: random
        )
    }

    private func citizen(_ core: Core) -> SimulatedCitizen {
        var random = core.random
        let ethnicity = random.pick(NameTables.ethnicities)
        let religion = random.pick(NameTables.religions)

        let originProvince = random.below(10) < 7 ? core.provinceCode : random.pick(Self.provinceCodes)
        let placeOfOrigin = "Xã \(random.pick(NameTables.placeNames)), Huyện \(random.pick(NameTables.placeNames)), \(Self.provinceName(originProvince))"
        let homeProvince = random.below(10) < 6 ? core.provinceCode : random.pick(Self.provinceCodes)
        let permanentAddress = Self.address(&random, province: homeProvince)
        let currentAddress =
            random.below(10) < 8 ? permanentAddress : Self.address(&random, province: random.pick(Self.provinceCodes))

        return SimulatedCitizen(
            index: core.index,
            fullName: core.fullName,
            fullNameOtherToneStyle: core.fullNameOtherToneStyle,
            toneStyle: core.toneStyle,
            dateOfBirth: core.dateOfBirth,
            gender: core.gender,
            personalIdNumber: core.personalIdNumber,
            formerIdNumber: core.formerIdNumber,
            nationality: "Việt Nam",
            ethnicity: ethnicity,
            religion: religion,
            placeOfOrigin: placeOfOrigin,
            permanentAddress: permanentAddress,
            currentAddress: currentAddress
        )
    }

    /// The person holding this 12-digit personal identification number, if any. O(1).
    public func citizen(personalIdNumber number: String) -> SimulatedCitizen? {
        self.core(personalIdNumber: number).map(self.citizen)
    }

    /// The person whose former 9-digit CMND this is, if any. O(1).
    public func citizen(formerIdNumber number: String) -> SimulatedCitizen? {
        self.core(formerIdNumber: number).map(self.citizen)
    }

    /// The person with this 12-digit or 9-digit number, if any.
    public func citizen(idNumber number: String) -> SimulatedCitizen? {
        self.core(idNumber: number).map(self.citizen)
    }

    func core(idNumber number: String) -> Core? {
        switch number.utf8.count {
        case 12: self.core(personalIdNumber: number)
        case 9: self.core(formerIdNumber: number)
        default: nil
        }
    }

    func core(personalIdNumber number: String) -> Core? {
        let bytes = Array(number.utf8)
        guard bytes.count == 12, bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        guard let province = Self.provinceIndex[String(decoding: bytes[0..<3], as: UTF8.self)] else { return nil }
        let serial = Self.value(bytes[6..<12])
        guard serial >= 1 else { return nil }
        let block = self.serials.invert(Int64(serial - 1))
        let index = Int(block) * Self.provinceCodes.count + province
        guard index < self.size else { return nil }
        let core = self.core(at: index)
        return core.personalIdNumber == number ? core : nil
    }

    func core(formerIdNumber number: String) -> Core? {
        let bytes = Array(number.utf8)
        guard bytes.count == 9, bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        let value = Self.value(bytes[...])
        guard value >= 100_000_000 else { return nil }
        let index = Int(self.formerNumbers.invert(Int64(value - 100_000_000)))
        guard index < self.size else { return nil }
        let core = self.core(at: index)
        return core.formerIdNumber == number ? core : nil
    }

    /// A well-formed 12-digit number that belongs to nobody in this population (for mismatch
    /// samples): a valid province, century digit and year, and a serial beyond the population.
    public func unassignedPersonalIdNumber(like citizen: SimulatedCitizen, variant: Int) -> String {
        let prefix = String(citizen.personalIdNumber.prefix(6))
        var serial = (citizen.index * 7 + variant * 13) % 999_999 + 1
        while true {
            let number = prefix + Self.padded(serial, 6)
            if self.core(personalIdNumber: number) == nil { return number }
            serial = serial % 999_999 + 1
        }
    }

    // MARK: Drawing

    /// Birth years 1930–2024, shaped like a population pyramid.
    private static let ageBands = WeightedTable<ClosedRange<Int>>([
        (1...17, 240), (18...30, 200), (31...45, 240), (46...60, 190), (61...75, 100), (76...94, 30),
    ])

    private static func birthYear(_ random: inout SplitMix64) -> Int {
        let band = random.pick(Self.ageBands)
        let age = band.lowerBound + random.below(band.count)
        return 2025 - age
    }

    private static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static func provinceName(_ code: String) -> String {
        let name = RegionCodes.provinces[code] ?? code
        return NameTables.centralCities.contains(code) ? "Thành phố \(name)" : "Tỉnh \(name)"
    }

    private static func address(_ random: inout SplitMix64, province: String) -> String {
        let city = NameTables.centralCities.contains(province)
        let number = 1 + random.below(300)
        let street = random.pick(NameTables.streetNames)
        let ward = random.pick(NameTables.placeNames)
        let district = random.pick(NameTables.placeNames)
        return city
            ? "Số \(number) \(street), Phường \(ward), Quận \(district), \(provinceName(province))"
            : "Số \(number) \(street), Xã \(ward), Huyện \(district), \(provinceName(province))"
    }

    static func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    private static func value(_ bytes: ArraySlice<UInt8>) -> Int {
        bytes.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }
}
