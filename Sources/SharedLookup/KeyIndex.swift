// KeyIndex: a hash index over a table's keys, stored in the table file (database "index", key
// "hash") and read straight from the shared memory map. It finds a key's record with one cache
// line of index plus the record itself, where a B+tree descent touches a dozen scattered cache
// lines, and answers a missing key with one cache line.
//
// A table file is never written in place, so once the build has committed the records each
// one's byte offset in the file is fixed: the index maps a key's hash to the offset of the
// key's LMDB leaf node. The node's 8-byte header (LMDB 0.9 data format: value size low and
// high 16 bits, flags, key size) gives the sizes. The index records the ID of the transaction
// that wrote it and where the first and last records' nodes are: a table opened with another
// last transaction (written in place after the build, by another program) or with its ends
// elsewhere is read without its index. Every probe compares the whole key and checks every
// offset against the file size. Records whose value lives in overflow pages (over about
// 2 KiB) are looked up in the B+tree. `lookup check` verifies that every record is found
// through the index.
//
// Layout of the stored value (little-endian):
//   0  "LKHASH01"        8 bytes magic
//   8  buckets           u64: number of 64-byte buckets
//   16 bucketsOffset     u32: offset of the first bucket from the start of the value (48)
//   20 slotsPerBucket    u32: 8
//   24 keys              u64: keys indexed
//   32 firstNode         u64: file offset of the node of the table's first key
//   40 lastNode          u64: file offset of the node of its last key
//   48 transaction       u64: ID of the LMDB transaction that stored the index
//   56 ...zeros up to bucketsOffset (112)
//   112 buckets * 64 bytes, each 8 slots of u64: nodeOffset << 16 | tag, 0 for an empty slot.
// A key's probe starts at bucket `(hash * buckets) >> 64` and goes on to the next bucket
// (wrapping) while a bucket is full; the first empty slot ends it. LMDB stores a large value
// 16 bytes into its first overflow page, so offset 112 puts the buckets on cache lines.
import CSupport
import LMDB

/// A hash index over a table's keys, read from the table's memory map (valid while its
/// `Table` is open; only the table holds one).
struct KeyIndex: @unchecked Sendable {
    static let magic: UInt64 = 0x3130_4853_4148_4B4C  // "LKHASH01" read as little-endian
    static let headerSize = 56
    static let bucketsOffset = 112
    static let slotsPerBucket = 8
    /// Slots per key: buckets are filled to at most 80%.
    static let loadFactor = 0.8

    let buckets: UInt64
    let slots: UnsafeRawPointer
    let map: UnsafeRawPointer
    let fileSize: Int
    /// Keys indexed.
    let keys: Int

    /// Size of the index in bytes (the buckets).
    var size: Int { Int(buckets) * 64 }

    /// The result of a probe.
    enum Probe {
        /// The key's value, borrowed from the map.
        case found(UnsafeRawBufferPointer)
        /// The key is not in the table.
        case missing
        /// The index cannot answer (a value in overflow pages, or a damaged index): ask the B+tree.
        case unknown
    }

    /// Reads an index from its stored bytes, for a file of `fileSize` bytes mapped at `map`;
    /// `nil` if they are not an index.
    init?(stored: UnsafeRawBufferPointer, map: UnsafeRawPointer, fileSize: Int) {
        guard let header = KeyIndexHeader(stored), header.magic == Self.magic else { return nil }
        let buckets = header.buckets, keys = header.keys
        let offset = Int(header.bucketsOffset), perBucket = Int(header.slotsPerBucket)
        guard buckets > 0, buckets < UInt64(Int.max / 64), perBucket == Self.slotsPerBucket,
              offset >= Self.headerSize, offset + Int(buckets) * 64 <= stored.count,
              keys < buckets * UInt64(Self.slotsPerBucket) else { return nil }
        self.buckets = buckets
        self.slots = stored.baseAddress! + offset
        self.map = map
        self.fileSize = fileSize
        self.keys = Int(keys)
    }

    /// The file offsets of the first and last keys' nodes, as recorded at build time.
    static func recordedEnds(_ stored: UnsafeRawBufferPointer) -> (first: Int, last: Int) {
        guard let header = KeyIndexHeader(stored) else { return (-1, -1) }
        return (Int(truncatingIfNeeded: header.firstNode), Int(truncatingIfNeeded: header.lastNode))
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

    /// The bucket where the probe for hash `h` starts.
    @inline(__always)
    static func bucket(_ h: UInt64, buckets: UInt64) -> UInt64 {
        h.multipliedFullWidth(by: buckets).high
    }

    /// The tag stored with a key of hash `h` (never 0, so a slot of a real node is never 0).
    @inline(__always)
    static func tag(_ h: UInt64) -> UInt64 { h & 0xFFFF | 1 }

    /// Asks the CPU to start loading the bucket where the probe for hash `h` starts.
    @inline(__always)
    func prefetchBucket(hash h: UInt64) {
        lookup_prefetch(slots + Int(Self.bucket(h, buckets: buckets)) * 64)
    }

    /// Asks the CPU to start loading the node of the first slot of `h`'s bucket whose tag
    /// matches: the likely record (its bucket should be in cache by now).
    @inline(__always)
    func prefetchCandidate(hash h: UInt64) {
        let offset = candidateOffset(hash: h)
        if offset > 0 { lookup_prefetch(map + offset) }
    }

    /// The file offset of the node in the first slot of `h`'s bucket whose tag matches (the
    /// likely record), or 0 when there is none in that bucket.
    @inline(__always)
    func candidateOffset(hash h: UInt64) -> Int {
        let bucket = slots + Int(Self.bucket(h, buckets: buckets)) * 64
        let tag = Self.tag(h)
        for s in 0..<Self.slotsPerBucket {
            let slot = bucket.loadUnaligned(fromByteOffset: s * 8, as: UInt64.self)
            if slot == 0 { return 0 }
            if slot & 0xFFFF == tag {
                let offset = Int(slot >> 16)
                return offset < fileSize ? offset : 0
            }
        }
        return 0
    }

    /// The offset in the map of the bucket where the probe for `h` starts.
    @inline(__always)
    func bucketOffset(hash h: UInt64) -> Int {
        slots - map + Int(Self.bucket(h, buckets: buckets)) * 64
    }

    /// Looks `key` (of hash `h`) up.
    @inline(__always)
    func find(_ key: UnsafeRawBufferPointer, hash h: UInt64) -> Probe {
        let tag = Self.tag(h)
        var b = Self.bucket(h, buckets: buckets)
        for _ in 0..<buckets {
            let bucket = slots + Int(b) * 64
            for s in 0..<Self.slotsPerBucket {
                let slot = bucket.loadUnaligned(fromByteOffset: s * 8, as: UInt64.self)
                if slot == 0 { return .missing }
                guard slot & 0xFFFF == tag else { continue }
                let offset = Int(slot >> 16)
                guard offset + LeafNode.headerSize + key.count <= fileSize else { return .unknown }
                let node = LeafNode(map + offset)
                guard node.keySize == key.count, bytesEqual(node.key, key.baseAddress!, key.count) else { continue }
                if node.flags != 0 { return .unknown }
                let size = node.valueSize
                guard offset + LeafNode.headerSize + key.count + size <= fileSize else { return .unknown }
                return .found(UnsafeRawBufferPointer(start: node.key + key.count, count: size))
            }
            b += 1
            if b == buckets { b = 0 }
        }
        return .missing
    }

    /// Whether the index describes the table as the read transaction `transaction` sees it: it
    /// was stored by the last transaction, and the node offsets it recorded for the first and
    /// last records hold the keys the B+tree returns, at the same place.
    static func agrees(_ stored: UnsafeRawBufferPointer, map: UnsafeRawPointer, transaction: Int,
                       first: UnsafeRawBufferPointer?, last: UnsafeRawBufferPointer?) -> Bool {
        let ends = recordedEnds(stored)
        guard let first, let last, let header = KeyIndexHeader(stored),
              header.transaction == UInt64(truncatingIfNeeded: transaction) else { return false }
        return first.baseAddress! - map == ends.first + LeafNode.headerSize && last.baseAddress! - map == ends.last + LeafNode.headerSize
    }
}

/// The key index's header, as the layout comment at the top of this file gives it: read and
/// written by field, little-endian.
struct KeyIndexHeader: Equatable {
    var magic: UInt64
    var buckets: UInt64
    var bucketsOffset: UInt32
    var slotsPerBucket: UInt32
    var keys: UInt64 = 0
    var firstNode: UInt64 = 0
    var lastNode: UInt64 = 0
    var transaction: UInt64

    init(magic: UInt64, buckets: UInt64, bucketsOffset: UInt32, slotsPerBucket: UInt32, transaction: UInt64) {
        self.magic = magic
        self.buckets = buckets
        self.bucketsOffset = bucketsOffset
        self.slotsPerBucket = slotsPerBucket
        self.transaction = transaction
    }

    /// The header at the start of `stored`; `nil` when it is too short to hold one.
    init?(_ stored: UnsafeRawBufferPointer) {
        guard stored.count >= KeyIndex.headerSize else { return nil }
        func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: stored.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: stored.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
        magic = u64(0)
        buckets = u64(8)
        bucketsOffset = u32(16)
        slotsPerBucket = u32(20)
        keys = u64(24)
        firstNode = u64(32)
        lastNode = u64(40)
        transaction = u64(48)
    }

    /// Writes the header at the start of `stored`.
    func store(into stored: UnsafeMutableRawBufferPointer) {
        precondition(stored.count >= KeyIndex.headerSize)
        for (at, value) in [(0, magic), (8, buckets), (24, keys), (32, firstNode), (40, lastNode), (48, transaction)] {
            stored.storeBytes(of: value.littleEndian, toByteOffset: at, as: UInt64.self)
        }
        stored.storeBytes(of: bucketsOffset.littleEndian, toByteOffset: 16, as: UInt32.self)
        stored.storeBytes(of: slotsPerBucket.littleEndian, toByteOffset: 20, as: UInt32.self)
    }
}

/// Compares `count` bytes at `a` and `b` (keys are short: words first, no call).
@inline(__always)
func bytesEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    var i = 0
    while i + 8 <= count {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < count {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}

extension KeyIndex {
    /// While writing the index, walked pages of the map are released in steps of this size.
    static let releaseStep = 32 << 20
    /// While writing the index, keys are placed this many at a time.
    static let insertBatch = 4096

    /// The bytes an index of `keys` keys takes.
    static func storedSize(forKeys keys: Int) -> Int {
        bucketsOffset + bucketCount(forKeys: keys) * 64
    }

    static func bucketCount(forKeys keys: Int) -> Int {
        max(1, Int((Double(keys) / (Double(slotsPerBucket) * loadFactor)).rounded(.up)))
    }

    /// Writes the index of every record of `data` into `stored` (of `storedSize(forKeys:
    /// records)` bytes), inside the write transaction `txn` that will store it, after the
    /// records were committed. Returns `false` (and writes nothing useful) when a record's node
    /// does not look as expected, so the table is stored without an index.
    static func write(into stored: UnsafeMutableRawBufferPointer, records: Int, data: Database,
                      transaction txn: borrowing Transaction) throws -> Bool {
        let pageSize = try txn.stat(data).pageSize
        let firstKey = try txn.withCursor(data) { cursor in try cursor.first()?.key.baseAddress }
        guard let firstKey, let map = MapBounds.base(of: firstKey, pageSize: pageSize) else { return false }
        let buckets = UInt64(bucketCount(forKeys: records))
        stored.initializeMemory(as: UInt8.self, repeating: 0)
        var header = KeyIndexHeader(magic: magic, buckets: buckets, bucketsOffset: UInt32(bucketsOffset),
                                    slotsPerBucket: UInt32(slotsPerBucket), transaction: UInt64(txn.id))
        let slots = stored.baseAddress! + bucketsOffset
        var count = 0
        var first = -1, last = -1
        var sound = true
        // The walk reads every page of the map. Those pages stay in the page cache, but they
        // would also count in this process's memory: hand the walked ones back now and then.
        var released = 0
        func release(below offset: Int, always: Bool = false) {
            let end = offset & ~(pageSize - 1)
            guard end - released >= (always ? 1 : releaseStep) else { return }
            _ = madvise(UnsafeMutableRawPointer(mutating: map + released), end - released, MADV_DONTNEED)
            released = end
        }
        // Keys are placed in batches, each bucket asked of memory a few keys ahead: the
        // buckets are scattered over the whole index, so this overlaps their cache misses.
        var pending: [(hash: UInt64, offset: Int)] = []
        pending.reserveCapacity(insertBatch)
        func insertPending() {
            let ahead = 16
            for i in pending.indices {
                if i + ahead < pending.count {
                    lookup_prefetch(slots + Int(bucket(pending[i + ahead].hash, buckets: buckets)) * 64)
                }
                let (h, offset) = pending[i]
                var b = bucket(h, buckets: buckets)
                while true {
                    let bucket = slots + Int(b) * 64
                    var placed = false
                    for s in 0..<slotsPerBucket where bucket.loadUnaligned(fromByteOffset: s * 8, as: UInt64.self) == 0 {
                        bucket.storeBytes(of: UInt64(offset) << 16 | tag(h), toByteOffset: s * 8, as: UInt64.self)
                        placed = true
                        break
                    }
                    if placed { break }
                    b += 1
                    if b == buckets { b = 0 }
                }
            }
            pending.removeAll(keepingCapacity: true)
        }
        _ = try txn.withCursor(data) { cursor in
            try cursor.forEach { entry in
                let offset = entry.key.baseAddress! - map - LeafNode.headerSize
                guard offset > 0, offset < 1 << 48, count < records else { sound = false; return false }
                if count & 4095 == 0 { release(below: offset) }
                let node = LeafNode(map + offset)
                let flags = node.flags, keySize = node.keySize, size = node.valueSize
                guard keySize == entry.key.count, size == entry.value.count,
                      flags == LeafNode.bigData || (flags == 0 && entry.value.baseAddress.map { $0 == node.key + keySize } ?? (size == 0))
                else { sound = false; return false }
                pending.append((hash(entry.key), offset))
                if pending.count == insertBatch { insertPending() }
                if first < 0 { first = offset }
                last = offset
                count += 1
                return true
            }
        }
        insertPending()
        if last > 0 { release(below: last + pageSize, always: true) }
        guard sound, count == records else { return false }
        header.keys = UInt64(count)
        header.firstNode = UInt64(max(first, 0))
        header.lastNode = UInt64(max(last, 0))
        header.store(into: stored)
        return true
    }
}

extension UInt64 {
    @inline(__always)
    fileprivate func rotated(_ n: UInt64) -> UInt64 { (self << n) | (self >> (64 - n)) }
}
