/// SplitMix64: a tiny, fast, well-mixed deterministic generator. Person `i` of seed `s` is drawn
/// from `SplitMix64(seed: s, stream: i)`, so any person can be generated alone, in O(1), without
/// generating the people before it.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { self.state = seed }

    /// A generator for one stream (one person) of a seed.
    init(seed: UInt64, stream: UInt64) {
        self.state = Self.mix(seed ^ Self.mix(stream &+ 0x9E37_79B9_7F4A_7C15))
    }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(self.state)
    }

    /// A uniform integer in `0..<bound` (bound > 0), with negligible bias for small bounds.
    mutating func below(_ bound: Int) -> Int {
        Int(self.next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// `true` with probability `permille / 1000`.
    mutating func chance(permille: Int) -> Bool { self.below(1_000) < permille }

    /// An element of a weighted table.
    mutating func pick<T>(_ table: WeightedTable<T>) -> T { table.element(at: self.below(table.totalWeight)) }

    /// An element of an array, uniformly.
    mutating func pick<T>(_ array: [T]) -> T { array[self.below(array.count)] }

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Elements with integer weights, drawn by cumulative weight.
struct WeightedTable<T>: Sendable where T: Sendable {
    let elements: [T]
    private let cumulative: [Int]
    let totalWeight: Int

    init(_ pairs: [(T, Int)]) {
        var total = 0
        var cumulative: [Int] = []
        for (_, weight) in pairs {
            total += weight
            cumulative.append(total)
        }
        self.elements = pairs.map(\.0)
        self.cumulative = cumulative
        self.totalWeight = total
    }

    func element(at position: Int) -> T {
        var low = 0
        var high = self.cumulative.count - 1
        while low < high {
            let middle = (low + high) / 2
            if self.cumulative[middle] > position { high = middle } else { low = middle + 1 }
        }
        return self.elements[low]
    }
}

/// An affine bijection `x ↦ (a·x + b) mod m` on `0..<m` and its inverse: how person numbers become
/// id-number serials and back without any table.
struct AffinePermutation: Sendable, Hashable {
    let modulus: Int64
    let multiplier: Int64
    let offset: Int64
    let inverseMultiplier: Int64

    /// - Precondition: `multiplier` and `modulus` are coprime.
    init(modulus: Int64, multiplier: Int64, offset: Int64) {
        self.modulus = modulus
        self.multiplier = multiplier % modulus
        self.offset = ((offset % modulus) + modulus) % modulus
        guard let inverse = Self.modularInverse(multiplier, modulus) else {
            preconditionFailure("AffinePermutation: multiplier and modulus must be coprime")
        }
        self.inverseMultiplier = inverse
    }

    func apply(_ x: Int64) -> Int64 {
        (Self.mulmod(x, self.multiplier, self.modulus) + self.offset) % self.modulus
    }

    func invert(_ y: Int64) -> Int64 {
        let shifted = ((y - self.offset) % self.modulus + self.modulus) % self.modulus
        return Self.mulmod(shifted, self.inverseMultiplier, self.modulus)
    }

    private static func mulmod(_ a: Int64, _ b: Int64, _ m: Int64) -> Int64 {
        let (high, low) = a.multipliedFullWidth(by: b)
        return Int64(truncatingIfNeeded: m.dividingFullWidth((high, low)).remainder)
    }

    private static func modularInverse(_ a: Int64, _ m: Int64) -> Int64? {
        var (oldR, r) = (a % m, m)
        var (oldS, s) = (Int64(1), Int64(0))
        while r != 0 {
            let quotient = oldR / r
            (oldR, r) = (r, oldR - quotient * r)
            (oldS, s) = (s, oldS - quotient * s)
        }
        guard oldR == 1 else { return nil }
        return ((oldS % m) + m) % m
    }
}
