// KeyOrder: sorting keys in LMDB's order (bytewise, shorter first on a tie) fast, by comparing
// an 8-byte big-endian prefix first and the full keys only when prefixes tie.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The first 8 bytes of `key` as a big-endian integer (zero-padded): comparing prefixes
/// orders keys as LMDB does wherever the prefixes differ.
@inline(__always)
func keyPrefix(_ key: UnsafeRawBufferPointer) -> UInt64 {
    if key.count >= 8 {
        return UInt64(bigEndian: key.loadUnaligned(as: UInt64.self))
    }
    var p: UInt64 = 0
    for i in 0..<key.count { p |= UInt64(key[i]) << (56 - 8 * UInt64(i)) }
    return p
}

/// LMDB's default key order: bytewise, a proper prefix first.
@inline(__always)
func compareKeys(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int32 {
    let n = min(a.count, b.count)
    if n > 0 {
        let c = memcmp(a.baseAddress!, b.baseAddress!, n)
        if c != 0 { return c }
    }
    return a.count < b.count ? -1 : (a.count > b.count ? 1 : 0)
}

/// A permutation that visits a list of keys in key order (ties in list order).
struct SortKeys {
    private struct Item { var prefix: UInt64; var index: Int }
    private var items: [Item]
    private let keys: [UnsafeRawBufferPointer]

    init(_ keys: [UnsafeRawBufferPointer]) {
        self.keys = keys
        items = keys.indices.map { Item(prefix: keyPrefix(keys[$0]), index: $0) }
    }

    mutating func sort() {
        let keys = self.keys
        items.sort { a, b in
            if a.prefix != b.prefix { return a.prefix < b.prefix }
            let c = compareKeys(keys[a.index], keys[b.index])
            return c != 0 ? c < 0 : a.index < b.index
        }
    }

    var count: Int { items.count }

    /// The position in the original list of the `i`-th key in key order.
    @inline(__always)
    func index(at i: Int) -> Int { items[i].index }
}
