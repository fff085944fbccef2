// KeyBatch: many keys looked up together. With the table's key index, the keys are looked up
// in the order they came, a few keys ahead of the lookup the CPU is told to load the index
// bucket and then the record each will need, so the cache misses of many lookups overlap.
// Without one, they are sorted (radix, after their shared prefix) and looked up in key order
// with one cursor, so consecutive lookups reuse the same B+tree pages. For a table larger than
// memory (MemoryRegime), the keys are looked up in the order their records sit in the file,
// and the pages of the next few thousand are requested from the disk together before the
// current ones are read. Small: about 40 bytes per key, reused from batch to batch.
import CSupport
import LMDB

/// A reusable batch of keys to look up in one table.
public struct KeyBatch {
    /// A looked-up value: where it is in the map, or `nil` for a missing key.
    @usableFromInline
    struct Found {
        @usableFromInline var start: UnsafeRawPointer?
        @usableFromInline var count: Int
    }
    private var items: [KeyItem] = []
    private var found: [Found] = []
    private var sharedPrefix = Int.max
    private var first: UnsafeRawBufferPointer?
    /// Larger than memory: kept keys by the file offset of their likely record.
    private var byOffset: [(offset: Int, item: Int32)] = []
    /// An updated table: positions of the keys its change layer has no change for.
    private var unchangedScratch: [Int32] = []
    /// Larger than memory: copies of the values found, which the kernel may take the pages
    /// of before they are used.
    private var copies: ValueCopies?

    /// Whether values found are copied into the batch's own memory when the table is read
    /// larger than memory: then `value(at:)` is valid until the next `lookUp` or `removeAll`
    /// (not for the whole read transaction), and a large batch's values stay in memory while
    /// the kernel reclaims the pages its later lookups read. Off by default.
    public var copiesValues = false

    /// An empty batch.
    public init() {}

    /// Keys kept so far (all but those that cannot be in a table).
    public var count: Int { items.count }

    /// How many keys ahead of the lookup the record is prefetched; the index bucket is
    /// prefetched twice as far ahead.
    static let lookahead = 8

    /// Empties the batch, keeping its storage.
    public mutating func removeAll() {
        items.removeAll(keepingCapacity: true)
        found.removeAll(keepingCapacity: true)
        sharedPrefix = Int.max
        first = nil
    }

    /// Whether keys over LMDB's 511-byte limit are kept, for a range or prefix table (whose
    /// segments such keys can fall in); they are kept cut to 512 bytes, which compare with
    /// every stored start and end (at most 511 bytes) as the whole key does. Off by default:
    /// an exact table cannot hold them.
    public var keepsLongKeys = false

    /// Adds `key` unless it cannot be in the table (empty, or over 511 bytes without
    /// `keepsLongKeys`); returns whether it was kept. A kept key's bytes must stay valid until
    /// `lookUp` returns; its value is then `value(at:)` its position among kept keys.
    @inline(__always)
    public mutating func add(_ key: UnsafeRawBufferPointer) -> Bool {
        var key = key
        if key.count > lmdbMaxKeySize {
            guard keepsLongKeys else { return false }
            key = UnsafeRawBufferPointer(rebasing: key[..<(lmdbMaxKeySize + 1)])
        }
        if key.isEmpty { return false }
        if let first {
            if sharedPrefix > 0 { sharedPrefix = sharedPrefixLength(first, key, limit: sharedPrefix) }
        } else {
            first = key
            sharedPrefix = key.count
        }
        items.append(KeyItem(prefix: 0, key: key.baseAddress, count: UInt32(key.count),
                                   index: UInt32(truncatingIfNeeded: items.count)))
        return true
    }

    /// Looks every kept key up: through the key index, or in key order with one cursor of
    /// `reader`.
    public mutating func lookUp(in reader: borrowing TableReader) throws {
        resetFound()
        if items.isEmpty { return }
        if reader.changes != nil {
            try lookUpLayered(in: reader)
            return
        }
        try lookUpInFile(in: reader)
    }

    /// A missing value for each kept key.
    private mutating func resetFound() {
        found.removeAll(keepingCapacity: true)
        found.append(contentsOf: repeatElement(Found(start: nil, count: 0), count: items.count))
    }

    /// An updated table: the keys in its change layer first; those it has no change for then
    /// as a batch of their own in the base, their values put back in place.
    private mutating func lookUpLayered(in reader: borrowing TableReader) throws {
        var unchanged = unchangedScratch
        try items.withUnsafeBufferPointer { items in
            try found.withUnsafeMutableBufferPointer { found in
                try Self.lookUpChanges(items, in: reader, found: found, unchanged: &unchanged)
            }
        }
        defer { unchangedScratch = unchanged }
        if unchanged.isEmpty { return }
        let all = items, allFound = found
        items.removeAll(keepingCapacity: false)
        items.reserveCapacity(unchanged.count)
        for (j, i) in unchanged.enumerated() {
            var item = all[Int(i)]
            item.index = UInt32(j)
            items.append(item)
        }
        resetFound()
        try lookUpInFile(in: reader)
        var merged = allFound
        for (j, i) in unchanged.enumerated() { merged[Int(i)] = found[j] }
        found = merged
        items = all
    }

    /// Looks every kept key up in the file the environment reads (the base of an updated
    /// table); `found` holds a missing value for each.
    private mutating func lookUpInFile(in reader: borrowing TableReader) throws {
        if reader.table.matchKind != .exact {
            try lookUpRanges(in: reader)
            return
        }
        if let index = reader.table.keyIndex {
            if let pages = reader.table.pages {
                try lookUp(in: reader, index: index, pages: pages, indexResident: reader.table.prepareForManyLookups())
            } else {
                try lookUp(in: reader, index: index)
            }
            return
        }
        let skip = sharedPrefix == Int.max ? 0 : sharedPrefix
        try items.withUnsafeMutableBufferPointer { items in
            for i in items.indices { items[i].prefix = keyPrefix(items[i].bytes, from: skip) }
            sortByKey(items) { $0.bytes }
            try reader.withCursor { cursor in
                try found.withUnsafeMutableBufferPointer { found in
                    for item in items {
                        if let value = try cursor.find(item.bytes)?.value {
                            found[Int(item.index)] = Found(start: value.baseAddress, count: value.count)
                        }
                    }
                }
            }
        }
    }

    /// A range table: the keys in order, walked with one cursor; a key inside the segment the
    /// previous one found needs no seek, and one not past the last start on the leaf page the
    /// previous seek reached is found on that page, searching forward from the node before.
    private mutating func lookUpRanges(in reader: borrowing TableReader) throws {
        let skip = sharedPrefix == Int.max ? 0 : sharedPrefix
        try items.withUnsafeMutableBufferPointer { items in
            for i in items.indices { items[i].prefix = keyPrefix(items[i].bytes, from: skip) }
            sortByKey(items) { $0.bytes }
            let pageSize = reader.table.fileHeader.pageSize
            let bounds = reader.table.environment.readBounds
            try reader.withCursor { cursor in
                try found.withUnsafeMutableBufferPointer { found in
                    // The segment found last: its end (`nil`: none) and value, valid once
                    // `found` is set (keys come in order, so a later key is never before its
                    // start); and the leaf page it is on with the node's position there.
                    var haveSegment = false
                    var end: UnsafeRawBufferPointer?
                    var value = UnsafeRawBufferPointer(start: nil, count: 0)
                    var page: LeafPage?
                    var node = 0
                    var pageLast = UnsafeRawBufferPointer(start: nil, count: 0)
                    for item in items {
                        let key = item.bytes
                        if haveSegment, end.map({ compareKeys(key, $0) < 0 }) ?? true {
                            found[Int(item.index)] = Found(start: value.baseAddress, count: value.count)
                            continue
                        }
                        var entry: Entry?
                        if let page, compareKeys(key, pageLast) <= 0 {
                            if let at = Self.floor(key, in: page, from: node) {
                                node = at
                                entry = page.node(at).map { ($0.keyBytes, $0.valueBytes) }
                            }
                        }
                        if entry == nil {
                            haveSegment = false
                            guard let e = try TableReader.floorEntry(key, cursor: cursor) else { continue }
                            entry = e
                            page = nil
                            if let address = e.key.baseAddress, bounds?.contains(e.value) ?? false,
                               let p = LeafPage(holding: address, pageSize: pageSize), let last = p.node(p.count - 1),
                               bounds?.contains(UnsafeRawBufferPointer(start: p.base, count: pageSize)) ?? false,
                               let at = p.position(ofKeyAt: address) {
                                page = p
                                node = at
                                pageLast = last.keyBytes
                            }
                        }
                        guard let entry, let segment = RangeRecord.decode(entry.value) else {
                            haveSegment = false
                            continue
                        }
                        haveSegment = true
                        end = segment.end
                        value = segment.value
                        if end.map({ compareKeys(key, $0) < 0 }) ?? true {
                            found[Int(item.index)] = Found(start: value.baseAddress, count: value.count)
                        }
                    }
                }
            }
        }
    }

    /// The position of the node of `page` with the greatest key <= `key`, which is at least
    /// node `from`'s key and at most the page's last: a few steps forward (keys in order
    /// mostly land on nearby nodes), then a binary search over the rest; `nil` when a node is
    /// not as expected.
    @inline(__always)
    private static func floor(_ key: UnsafeRawBufferPointer, in page: LeafPage, from: Int) -> Int? {
        let count = page.count
        guard from >= 0, from < count else { return nil }
        var low = from
        // Invariant: node `low` <= key; nodes after `high` > key.
        var high = count - 1
        var steps = 0
        while low < high && steps < 4 {
            guard let next = page.node(low + 1) else { return nil }
            if compareKeys(next.keyBytes, key) > 0 { return low }
            low += 1
            steps += 1
        }
        while low < high {
            let mid = (low + high + 1) >> 1
            guard let node = page.node(mid) else { return nil }
            if compareKeys(node.keyBytes, key) <= 0 { low = mid } else { high = mid - 1 }
        }
        return low
    }

    /// Looks the keys up in the order they came through `index`, with prefetches ahead.
    private mutating func lookUp(in reader: borrowing TableReader, index: KeyIndex) throws {
        let d = Self.lookahead
        try items.withUnsafeMutableBufferPointer { items in
            let n = items.count
            for i in 0..<n { items[i].prefix = KeyIndex.hash(items[i].bytes) }
            for i in 0..<min(2 * d, n) { index.prefetchBucket(hash: items[i].prefix) }
            for i in 0..<min(d, n) { index.prefetchCandidate(hash: items[i].prefix) }
            try found.withUnsafeMutableBufferPointer { found in
                for i in 0..<n {
                    if i + 2 * d < n { index.prefetchBucket(hash: items[i + 2 * d].prefix) }
                    if i + d < n { index.prefetchCandidate(hash: items[i + d].prefix) }
                    if let value = try reader.value(for: items[i].bytes, hash: items[i].prefix, index: index) {
                        found[i] = Found(start: value.baseAddress, count: value.count)
                    }
                }
            }
        }
    }

    /// Keys requested from the disk together, ahead of the lookups reading them.
    static let requestWindow = 2048

    /// Looks the keys up through `index` in the order of their records in the file, asking
    /// for the pages of the next window of keys before reading the current one. When the index
    /// itself is not resident, its buckets are asked for first.
    private mutating func lookUp(in reader: borrowing TableReader, index: KeyIndex, pages: PageRequests, indexResident: Bool) throws {
        let n = items.count
        byOffset.removeAll(keepingCapacity: true)
        if copiesValues && self.copies == nil { self.copies = ValueCopies() }
        let copies = copiesValues ? self.copies : nil
        copies?.removeAll()
        try items.withUnsafeMutableBufferPointer { items in
            for i in 0..<n { items[i].prefix = KeyIndex.hash(items[i].bytes) }
            if !indexResident {
                pages.willNeed(sortedOffsets: items.map { index.bucketOffset(hash: $0.prefix) }.sorted())
            }
            for i in 0..<n { byOffset.append((index.candidateOffset(hash: items[i].prefix), Int32(i))) }
            byOffset.sort { $0.offset < $1.offset }
            try byOffset.withUnsafeBufferPointer { order in
                try found.withUnsafeMutableBufferPointer { found in
                    let w = Self.requestWindow
                    pages.willNeed(sortedOffsets: order[0 ..< min(w, n)].lazy.map(\.offset))
                    var start = 0
                    while start < n {
                        let end = min(start + w, n)
                        if end < n { pages.willNeed(sortedOffsets: order[end ..< min(end + w, n)].lazy.map(\.offset)) }
                        for position in start ..< end {
                            let i = Int(order[position].item)
                            guard let value = try reader.value(for: items[i].bytes, hash: items[i].prefix, index: index) else { continue }
                            if let copies {
                                // Where it will be in the copies (their memory may still move).
                                found[i] = Found(start: UnsafeRawPointer(bitPattern: copies.append(value) + 1), count: value.count)
                            } else {
                                found[i] = Found(start: value.baseAddress, count: value.count)
                            }
                        }
                        start = end
                    }
                    // Now that the copies stay put, point at them.
                    if let copies {
                        for i in found.indices where found[i].start != nil {
                            found[i].start = UnsafeRawPointer(copies.base) + (Int(bitPattern: found[i].start) - 1)
                        }
                    }
                }
            }
        }
    }

    /// Calls `body` with the values found by `lookUp`, by position among kept keys: a view
    /// that reads them without touching the batch's storage again (no reference counting in a
    /// hot loop).
    public func withValues<R>(_ body: (KeyBatchValues) throws -> R) rethrows -> R {
        try found.withUnsafeBufferPointer { try body(KeyBatchValues(found: $0)) }
    }

    /// The value of the `i`-th kept key after `lookUp` (borrowed from the map, or from the
    /// batch with `copiesValues`), or `nil`.
    @inline(__always)
    public func value(at i: Int) -> UnsafeRawBufferPointer? {
        withValues { $0[i] }
    }
}

/// Copies of values, back to back in memory of their own (a batch larger than memory reads
/// them while the kernel may reclaim their pages).
final class ValueCopies {
    private(set) var base: UnsafeMutableRawPointer
    private var capacity: Int
    private var count = 0

    init() {
        capacity = 1 << 20
        base = .allocate(byteCount: capacity, alignment: 8)
    }

    deinit { base.deallocate() }

    func removeAll() { count = 0 }

    /// Appends `bytes`; returns their offset.
    @inline(__always)
    func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        if count + bytes.count > capacity {
            let bigger = max(capacity * 2, count + bytes.count)
            let new = UnsafeMutableRawPointer.allocate(byteCount: bigger, alignment: 8)
            new.copyMemory(from: base, byteCount: count)
            base.deallocate()
            base = new
            capacity = bigger
        }
        let at = count
        if let from = bytes.baseAddress { (base + at).copyMemory(from: from, byteCount: bytes.count) }
        count += bytes.count
        return at
    }
}

/// The values of a `KeyBatch` after its lookup, lent by `KeyBatch.withValues`.
public struct KeyBatchValues {
    @usableFromInline let found: UnsafeBufferPointer<KeyBatch.Found>

    init(found: UnsafeBufferPointer<KeyBatch.Found>) { self.found = found }

    /// Number of kept keys.
    public var count: Int { found.count }

    /// The value of the `i`-th kept key (borrowed from the map), or `nil` for a missing key.
    /// Inlinable, as `prefetch`: a worker's line loop calls both for every line.
    @inlinable @inline(__always)
    public subscript(i: Int) -> UnsafeRawBufferPointer? {
        let f = found[i]
        guard let start = f.start else { return nil }
        return UnsafeRawBufferPointer(start: start, count: f.count)
    }

    /// Asks the CPU to start loading the value of the `i`-th kept key, if there is one.
    @inlinable @inline(__always)
    public func prefetch(_ i: Int) {
        if i < found.count, let start = found[i].start { lookup_prefetch(start) }
    }
}
