import Synchronization

/// Random bits for trace and span ids without a system call each (`SystemRandomNumberGenerator`
/// asks the kernel for every 8 bytes, and a request starts two or three spans): SplitMix64 over a
/// process-wide counter that starts at a random point. Its mix is a bijection, so ids are unique
/// within the process; W3C Trace Context asks ids to be random so that they do not collide, not secret.
struct TraceIDGenerator: RandomNumberGenerator {
    private static let counter = Atomic<UInt64>(UInt64.random(in: .min ... .max))

    mutating func next() -> UInt64 {
        var z = Self.counter.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
