// SeededRNG: a small seeded random number generator for tests, so a failing run can be
// reproduced from the seed it prints ($LOOKUP_TEST_SEED).
import Foundation

/// A small seeded generator (SplitMix64), so a failing run can be reproduced from its seed.
public struct SeededRNG: RandomNumberGenerator {
    public private(set) var state: UInt64
    public let seed: UInt64

    /// Seeded from $LOOKUP_TEST_SEED when set, else at random.
    public init(seed: UInt64? = nil) {
        let chosen = seed ?? ProcessInfo.processInfo.environment["LOOKUP_TEST_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: 0...UInt64.max)
        self.seed = chosen
        state = chosen
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return mix(state)
    }
}

extension SeededRNG {
    /// A number in 0..<n.
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    /// True with probability percent/100.
    public mutating func percent(_ p: Int) -> Bool { below(100) < p }
}

/// The SplitMix64 finalizer: a bijection on UInt64 (distinct inputs give distinct outputs).
@inline(__always)
public func mix(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
