// RangeReference: seeded random IPv4 range and network tables for the range-table tests of
// every test target, and the reference answer computed by brute force (the narrowest range
// holding an address), independent of how `lookup` flattens ranges into segments.

/// One inclusive IPv4 range with its value and the line of the input that holds it.
public struct IPv4Range: Sendable {
    public var first: UInt32
    public var last: UInt32
    public var value: String
    /// The CIDR length when the range is a network, else nil.
    public var prefixLength: Int?
}

/// A random table of IPv4 ranges or networks that nest but never cross, its input text, and
/// probe addresses (every bound, just outside every bound, random ones).
public struct IPv4RangeFixture: Sendable {
    /// The ranges in input (unsorted) order; line i + 1 of `csv` (after a header, if any) is range i.
    public var ranges: [IPv4Range]
    /// Addresses to look up, as text (some written as IPv4-mapped IPv6).
    public var probes: [String]
    /// The probes' addresses.
    public var probeValues: [UInt32]

    /// The input rows: `first,last,value` for ranges, `network/length,value` for networks.
    public func csv(header: String? = nil) -> String {
        var text = header.map { $0 + "\n" } ?? ""
        for r in ranges {
            if let length = r.prefixLength {
                text += "\(ipv4(r.first))/\(length),\(r.value)\n"
            } else {
                text += "\(ipv4(r.first)),\(ipv4(r.last)),\(r.value)\n"
            }
        }
        return text
    }

    /// The value of the narrowest range holding `address` (brute force), or nil.
    public func reference(_ address: UInt32) -> String? {
        var best: IPv4Range?
        for r in ranges where r.first <= address && address <= r.last {
            if best == nil || UInt64(r.last - r.first) < UInt64(best!.last - best!.first) { best = r }
        }
        return best?.value
    }

    /// The reference answer for every probe, in order.
    public func expected() -> [String?] { probeValues.map(reference) }

    /// Random networks (`count` distinct ones): fresh blocks and blocks inside earlier ones,
    /// /32 hosts, and 0.0.0.0/0 when `everything` (then every probe is found).
    public static func networks(count: Int, seed: UInt64, probes: Int = 1500, everything: Bool = false) -> IPv4RangeFixture {
        var rng = SeededRNG(seed: seed)
        var seen = Set<UInt64>()
        var ranges: [IPv4Range] = []
        if everything {
            ranges.append(IPv4Range(first: 0, last: .max, value: "n0-all", prefixLength: 0))
            seen.insert(0)
        }
        while ranges.count < count {
            var base: UInt32, length: Int
            if !ranges.isEmpty && rng.percent(70) {
                // Inside an earlier network.
                let parent = ranges[rng.below(ranges.count)]
                let parentLength = parent.prefixLength!
                if parentLength >= 32 { continue }
                length = min(32, parentLength + 1 + rng.below(8))
                base = parent.first | (UInt32(truncatingIfNeeded: rng.next()) & hostMask(parentLength))
            } else {
                length = 8 + rng.below(25)
                base = UInt32(truncatingIfNeeded: rng.next())
            }
            base &= ~hostMask(length)
            let id = UInt64(base) << 8 | UInt64(length)
            if !seen.insert(id).inserted { continue }
            ranges.append(IPv4Range(first: base, last: base | hostMask(length), value: "n\(ranges.count)-\(ipv4(base))/\(length)",
                                    prefixLength: length))
        }
        ranges.shuffle(using: &rng)
        return IPv4RangeFixture(ranges: ranges, rng: &rng, probes: probes)
    }

    /// Random ranges with arbitrary bounds (`count` about): disjoint ones, some adjacent, with
    /// ranges nested inside them (some sharing a start or an end with their parent).
    public static func nestedRanges(count: Int, seed: UInt64, probes: Int = 1500) -> IPv4RangeFixture {
        var rng = SeededRNG(seed: seed)
        var ranges: [IPv4Range] = []
        func fill(_ lo: UInt32, _ hi: UInt32, depth: Int) {
            guard ranges.count < count, depth < 6, hi - lo >= 64 else { return }
            var points = Set<UInt32>()
            let k = 2 * (1 + rng.below(5))
            // Now and then a child sharing its parent's start or end.
            if depth > 0 && rng.percent(20) { points.insert(rng.percent(50) ? lo : hi) }
            // Points next to each other now and then, so some ranges are adjacent or tiny.
            while points.count < k {
                let p = rng.percent(15) && !points.isEmpty
                    ? min(hi, points.randomElement(using: &rng)! &+ 1) : lo &+ UInt32(truncatingIfNeeded: rng.next() % (UInt64(hi - lo) + 1))
                points.insert(p)
            }
            let sorted = points.sorted()
            var i = 0
            while i + 1 < sorted.count && ranges.count < count {
                let a = sorted[i], b = sorted[i + 1]
                i += 2
                if a == lo && b == hi { continue }   // the parent itself
                ranges.append(IPv4Range(first: a, last: b, value: "r\(ranges.count)", prefixLength: nil))
                if rng.percent(60) { fill(a, b, depth: depth + 1) }
            }
        }
        // Disjoint slots of the address space, each filled with ranges nested to some depth.
        let slots = max(1, count / 6)
        let width = (UInt64(1) << 32) / UInt64(slots)
        for s in 0..<UInt64(slots) where ranges.count < count {
            fill(UInt32(s * width), UInt32(min((s + 1) * width - 1, UInt64(UInt32.max))), depth: 0)
        }
        ranges.shuffle(using: &rng)
        return IPv4RangeFixture(ranges: ranges, rng: &rng, probes: probes)
    }

    private init(ranges: [IPv4Range], rng: inout SeededRNG, probes count: Int) {
        self.ranges = ranges
        var values: [UInt32] = [0, .max]
        while values.count < count {
            let r = ranges[rng.below(ranges.count)]
            switch rng.below(6) {
            case 0: values.append(r.first)
            case 1: values.append(r.last)
            case 2: values.append(r.first &- 1)
            case 3: values.append(r.last &+ 1)
            case 4: values.append(r.first &+ UInt32(truncatingIfNeeded: rng.next() % (UInt64(r.last - r.first) + 1)))
            default: values.append(UInt32(truncatingIfNeeded: rng.next()))
            }
        }
        values.shuffle(using: &rng)
        probeValues = values
        probes = values.map { rng.percent(10) ? "::ffff:" + ipv4($0) : ipv4($0) }
    }
}

/// The host bits of a network of `length` bits.
public func hostMask(_ length: Int) -> UInt32 { length >= 32 ? 0 : UInt32.max >> UInt32(length) }

/// Dotted text of an IPv4 address.
public func ipv4(_ a: UInt32) -> String { "\(a >> 24).\(a >> 16 & 255).\(a >> 8 & 255).\(a & 255)" }
