// KeyOrder: sorting keys in LMDB's order (bytewise, a proper prefix first) fast. Keys are
// ordered first by 8 bytes taken after the prefix they all share (an LSD radix sort, stable),
// then runs of equal 8-byte prefixes by their full keys (insertion sort, stable).

/// The 8 bytes of `key` from `offset` as a big-endian integer (zero-padded): comparing these
/// orders keys as LMDB does wherever they differ, for keys that agree before `offset`.
@inline(__always)
func keyPrefix(_ key: UnsafeRawBufferPointer, from offset: Int = 0) -> UInt64 {
    if key.count >= offset + 8 {
        return UInt64(bigEndian: key.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    var p: UInt64 = 0
    var i = offset
    while i < key.count {
        p |= UInt64(key[i]) << (56 - 8 * UInt64(i - offset))
        i += 1
    }
    return p
}

/// LMDB's default key order: bytewise, a proper prefix first.
@inline(__always)
func compareKeys(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int32 {
    let n = min(a.count, b.count)
    // Eight bytes at a time as big-endian words (short keys: no call to memcmp).
    var i = 0
    while i + 8 <= n {
        let x = a.loadUnaligned(fromByteOffset: i, as: UInt64.self).bigEndian
        let y = b.loadUnaligned(fromByteOffset: i, as: UInt64.self).bigEndian
        if x != y { return x < y ? -1 : 1 }
        i += 8
    }
    if i < n {
        let c = memcmp(a.baseAddress! + i, b.baseAddress! + i, n - i)
        if c != 0 { return c }
    }
    return a.count < b.count ? -1 : (a.count > b.count ? 1 : 0)
}

/// `compareKeys` for owned keys.
@inline(__always)
func compareKeys(_ a: [UInt8], _ b: [UInt8]) -> Int32 {
    a.withUnsafeBytes { x in b.withUnsafeBytes { y in compareKeys(x, y) } }
}

/// Length of the longest prefix shared by `a` and `b`, at most `limit`.
@inline(__always)
func sharedPrefixLength(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, limit: Int) -> Int {
    let n = min(limit, a.count, b.count)
    if n > 0 && memcmp(a.baseAddress!, b.baseAddress!, n) == 0 { return n }
    var i = 0
    while i < n && a[i] == b[i] { i += 1 }
    return i
}

/// An item sorted by key: it carries the 8-byte prefix its key is radix-sorted on.
protocol PrefixKeyed {
    var prefix: UInt64 { get }
}

/// Sorts `items` by key, stably: by `prefix` (radix), then equal prefixes by `key(item)`.
func sortByKey<E: PrefixKeyed>(_ items: UnsafeMutableBufferPointer<E>, key: (E) -> UnsafeRawBufferPointer) {
    let n = items.count
    if n < 2 { return }
    let counts = UnsafeMutablePointer<Int>.allocate(capacity: 8 * 256)
    counts.initialize(repeating: 0, count: 8 * 256)
    defer { counts.deallocate() }
    for e in items {
        var p = e.prefix
        for digit in 0..<8 {
            counts[digit << 8 | Int(p & 0xff)] += 1
            p >>= 8
        }
    }
    let scratch = UnsafeMutableBufferPointer<E>.allocate(capacity: n)
    defer { scratch.deallocate() }
    var source = items.baseAddress!, target = scratch.baseAddress!
    var sourceIsScratch = false
    for digit in 0..<8 {
        let c = counts + digit << 8
        // A digit that is the same in every item reorders nothing.
        if (0..<256).contains(where: { c[$0] == n }) { continue }
        var sum = 0
        for b in 0..<256 { let k = c[b]; c[b] = sum; sum += k }
        let shift = UInt64(digit * 8)
        for i in 0..<n {
            let b = Int((source[i].prefix >> shift) & 0xff)
            (target + c[b]).initialize(to: source[i])
            c[b] += 1
        }
        swap(&source, &target)
        sourceIsScratch.toggle()
    }
    if sourceIsScratch { items.baseAddress!.update(from: source, count: n) }
    // Runs of equal prefixes: order by the full key, stably.
    var i = 0
    while i < n {
        var j = i + 1
        while j < n && items[j].prefix == items[i].prefix { j += 1 }
        if j - i > 1 {
            for m in (i + 1)..<j {
                let e = items[m]
                let k = key(e)
                var p = m
                while p > i && compareKeys(key(items[p - 1]), k) > 0 {
                    items[p] = items[p - 1]
                    p -= 1
                }
                items[p] = e
            }
        }
        i = j
    }
}

/// A key to sort: its radix prefix, where its bytes are, and its position in its batch.
struct KeyItem: PrefixKeyed {
    var prefix: UInt64
    var key: UnsafeRawPointer?
    var count: UInt32
    var index: UInt32
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: key, count: Int(count)) }
}
