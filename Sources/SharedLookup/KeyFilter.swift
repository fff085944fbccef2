// KeyFilter: a blocked Bloom filter over a table's keys, stored in the table file (database
// "filter", key "bloom") and read straight from the shared memory map. It answers "not in the
// table" for most missing keys with one cache line, sparing a B+tree descent.
//
// Layout of the stored value (little-endian):
//   0  "LKBLOOM1"        8 bytes magic
//   8  blocks            u64: number of 64-byte blocks
//   16 probes            u32: bits set per key (within one block)
//   20 bitsOffset        u32: offset of the first block from the start of the value
//   24 keys              u64: keys added
//   32 ...padding to bitsOffset (48), then blocks * 64 bytes of bits
// LMDB stores a large value 16 bytes into its first overflow page, so offset 48 puts the
// blocks on 64-byte (cache line) boundaries in the map.

/// A blocked Bloom filter: each key sets `probes` bits inside one 512-bit block.
public struct KeyFilter {
    static let magic: UInt64 = 0x314D_4F4F_4C42_4B4C  // "LKBLOOM1" read as little-endian
    static let headerSize = 32
    /// Bits per key: about 0.5% false positives with 7 probes in 512-bit blocks.
    public static let bitsPerKey = 12
    static let probes = 7

    let blocks: UInt64
    let bits: UnsafeRawPointer
    let probes: Int

    /// Offset of the first block in the stored value.
    static let bitsOffset = 48

    /// The bytes a filter for `keys` keys needs (value size, padding included).
    static func storedSize(forKeys keys: Int) -> Int {
        bitsOffset + blockCount(forKeys: keys) * 64
    }

    /// Size of the filter in bytes.
    public var size: Int { Int(blocks) * 64 }

    static func blockCount(forKeys keys: Int) -> Int {
        max(1, (keys * bitsPerKey + 511) / 512)
    }

    /// Reads a filter from its stored bytes; `nil` if they are not a filter.
    init?(stored: UnsafeRawBufferPointer) {
        guard stored.count >= Self.headerSize,
              stored.loadUnaligned(as: UInt64.self) == Self.magic else { return nil }
        let blocks = stored.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        let probes = Int(stored.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
        let offset = Int(stored.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
        guard blocks > 0, probes > 0, probes <= 7, offset >= Self.headerSize,
              offset + Int(blocks) * 64 <= stored.count else { return nil }
        self.blocks = blocks
        self.probes = probes
        self.bits = stored.baseAddress! + offset
    }

    /// A 64-bit hash of `key` (multiply-rotate over 8-byte words, then a final mix).
    @inline(__always)
    static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(key.count)
        var i = 0
        let n = key.count
        while i + 8 <= n {
            let w = key.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ (w &* 0xC2B2_AE3D_27D4_EB4F)).rotated(31) &* 0x9E37_79B9_7F4A_7C15
            i += 8
        }
        if i < n {
            var w: UInt64 = 0
            var shift: UInt64 = 0
            while i < n { w |= UInt64(key[i]) << shift; shift += 8; i += 1 }
            h = (h ^ (w &* 0xC2B2_AE3D_27D4_EB4F)).rotated(31) &* 0x9E37_79B9_7F4A_7C15
        }
        // fmix64
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h = h &* 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 33
        return h
    }

    /// The block of hash `h`, and the bit positions (9 bits each) taken from its mix.
    @inline(__always)
    static func block(_ h: UInt64, blocks: UInt64) -> UInt64 {
        (h >> 32) &* blocks >> 32
    }

    /// Whether `key` may be in the table (`false`: certainly not).
    @inline(__always)
    public func mayContain(_ key: UnsafeRawBufferPointer) -> Bool {
        mayContain(hash: Self.hash(key))
    }

    @inline(__always)
    func mayContain(hash h: UInt64) -> Bool {
        let block = bits + Int(Self.block(h, blocks: blocks)) * 64
        var positions = h &* 0x9E37_79B9_7F4A_7C15
        for _ in 0..<probes {
            let bit = Int(positions & 511)
            let word = block.loadUnaligned(fromByteOffset: (bit >> 6) * 8, as: UInt64.self)
            if word & (1 << UInt64(bit & 63)) == 0 { return false }
            positions >>= 9
        }
        return true
    }

    /// Writes an empty filter for `keys` keys into `stored` (of `storedSize(forKeys:)` bytes).
    static func initialize(_ stored: UnsafeMutableRawBufferPointer, keys: Int) {
        let blocks = blockCount(forKeys: keys)
        stored.initializeMemory(as: UInt8.self, repeating: 0)
        let offset = bitsOffset
        stored.storeBytes(of: magic, toByteOffset: 0, as: UInt64.self)
        stored.storeBytes(of: UInt64(blocks), toByteOffset: 8, as: UInt64.self)
        stored.storeBytes(of: UInt32(probes), toByteOffset: 16, as: UInt32.self)
        stored.storeBytes(of: UInt32(offset), toByteOffset: 20, as: UInt32.self)
        stored.storeBytes(of: UInt64(keys), toByteOffset: 24, as: UInt64.self)
    }

    /// Adds `key` to a filter initialized in `stored`.
    @inline(__always)
    static func add(_ key: UnsafeRawBufferPointer, to stored: UnsafeMutableRawBufferPointer) {
        let blocks = stored.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        let offset = Int(stored.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
        let h = hash(key)
        let block = stored.baseAddress! + offset + Int(Self.block(h, blocks: blocks)) * 64
        var positions = h &* 0x9E37_79B9_7F4A_7C15
        for _ in 0..<probes {
            let bit = Int(positions & 511)
            let at = (bit >> 6) * 8
            let word = block.loadUnaligned(fromByteOffset: at, as: UInt64.self)
            block.storeBytes(of: word | (1 << UInt64(bit & 63)), toByteOffset: at, as: UInt64.self)
            positions >>= 9
        }
    }
}

extension UInt64 {
    @inline(__always)
    fileprivate func rotated(_ n: UInt64) -> UInt64 { (self << n) | (self >> (64 - n)) }
}
