// RecordSorter: collects records in an arena and hands them back in key order (ties in input
// order). Within its memory budget it sorts in memory; past it, it spills sorted runs to temp
// files and merges them, so a table larger than RAM builds with bounded memory. Input that
// arrives sorted is not sorted again.

import CSupport

/// One record handed back by `RecordSorter.next()`: borrowed until the next call.
struct SortedRecord {
    var key: UnsafeRawBufferPointer
    var value: UnsafeRawBufferPointer
    /// The record's position in the input: `source << 40 | line`.
    var sequence: UInt64
}

final class RecordSorter {
    /// An arena record: [u32 key length][u32 value length][key][value].
    private struct Entry: PrefixKeyed { var prefix: UInt64; var offset: Int; var sequence: UInt64 }

    private let budget: Int
    private let temporaryDirectory: String
    private var arena: UnsafeMutableRawPointer?
    private var arenaCapacity = 0
    private var arenaUsed = 0
    private var entries: [Entry] = []
    /// The last key added, when it is no longer in the arena (after a spill).
    private var spilledLastKey: [UInt8]?
    /// Offset in the arena of the previous record, or -1.
    private var previousOffset = -1
    /// Length of the prefix shared by every key in memory (sorting skips it).
    private var commonPrefix = 0
    /// Whether every record so far arrived in key order.
    private(set) var inputSorted = true
    /// Run files spilled so far.
    private(set) var runPaths: [String] = []
    /// Records added.
    private(set) var count = 0
    /// Size of the largest record added (key + value bytes).
    private(set) var largestRecord = 0

    // Iteration state.
    private var position = 0
    private var merger: RunMerger?

    /// Alignment of the arena, so it can be backed by transparent huge pages.
    private static let hugePage = 2 << 20

    /// How far ahead `next()` prefetches records.
    private static let prefetchDistance = 12

    /// Bytes of memory per record beyond its key and value: its entry and the radix sort's
    /// scratch copy of it.
    private static let entryOverhead = 2 * MemoryLayout<Entry>.stride

    init(budget: Int, temporaryDirectory: String) {
        self.budget = max(budget, 16 << 20)
        self.temporaryDirectory = temporaryDirectory
    }

    deinit {
        arena?.deallocate()
        removeRuns()
    }

    /// Deletes the spilled run files.
    func removeRuns() {
        merger = nil
        for path in runPaths {
            unlink(path)
            TemporaryFiles.unregister(path)
        }
        runPaths.removeAll()
    }

    /// Adds a record (copied).
    func add(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, sequence: UInt64) throws(LookupError) {
        let size = 8 + key.count + value.count
        if size > largestRecord { largestRecord = size }
        if arenaUsed + size > arenaCapacity || entries.count == entries.capacity {
            try makeRoom(for: size)
        }
        if previousOffset >= 0 {
            let previous = keyAt(previousOffset)
            if inputSorted && compareKeys(previous, key) > 0 { inputSorted = false }
            // Shrink the shared prefix to what this key has in common with the first one.
            if commonPrefix > 0 {
                let first = keyAt(0)
                commonPrefix = sharedPrefixLength(first, key, limit: commonPrefix)
            }
        } else {
            if let last = spilledLastKey, inputSorted, last.withUnsafeBytes({ compareKeys($0, key) }) > 0 {
                inputSorted = false
            }
            commonPrefix = key.count
        }
        let base = arena! + arenaUsed
        base.storeBytes(of: UInt32(key.count), as: UInt32.self)
        (base + 4).storeBytes(of: UInt32(value.count), as: UInt32.self)
        if key.count > 0 { (base + 8).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        if value.count > 0 { (base + 8 + key.count).copyMemory(from: value.baseAddress!, byteCount: value.count) }
        entries.append(Entry(prefix: 0, offset: arenaUsed, sequence: sequence))
        previousOffset = arenaUsed
        arenaUsed += size
        count += 1
    }

    /// Grows the arena or the entry list within the budget, or spills a run. The budget is
    /// shared between the two in proportion to the average record size seen so far.
    private func makeRoom(for size: Int) throws(LookupError) {
        let average = entries.isEmpty ? 64 : max(arenaUsed / entries.count, 16)
        let arenaShare = budget / (average + Self.entryOverhead) * average
        let entryShare = (budget - arenaShare) / Self.entryOverhead
        if arenaUsed + size > arenaCapacity {
            let wanted = min(max(arenaCapacity * 2, 4 << 20), max(arenaShare, arenaCapacity))
            if wanted >= arenaUsed + size {
                growArena(to: wanted)
            } else {
                try spill()
                if size > arenaCapacity { growArena(to: size) }
            }
        }
        if entries.count == entries.capacity {
            let wanted = min(max(entries.capacity * 2, 1024), max(entryShare, entries.capacity))
            if wanted > entries.count {
                entries.reserveCapacity(wanted)
            } else {
                try spill()
            }
        }
    }

    private func growArena(to capacity: Int) {
        let bigger = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: Self.hugePage)
        // Sorted order visits the arena at random: huge pages spare most TLB misses.
        _ = madvise(bigger, capacity / Self.hugePage * Self.hugePage, MADV_HUGEPAGE)
        if let arena {
            bigger.copyMemory(from: arena, byteCount: arenaUsed)
            arena.deallocate()
        }
        arena = bigger
        arenaCapacity = capacity
    }

    /// The key of the arena record at `offset`.
    @inline(__always)
    private func keyAt(_ offset: Int) -> UnsafeRawBufferPointer {
        let base = arena! + offset
        return UnsafeRawBufferPointer(start: base + 8, count: Int(base.loadUnaligned(as: UInt32.self)))
    }

    @inline(__always)
    private func record(_ e: Entry) -> SortedRecord {
        let base = arena! + e.offset
        let kl = Int(base.loadUnaligned(as: UInt32.self))
        let vl = Int((base + 4).loadUnaligned(as: UInt32.self))
        return SortedRecord(key: UnsafeRawBufferPointer(start: base + 8, count: kl),
                            value: UnsafeRawBufferPointer(start: base + 8 + kl, count: vl),
                            sequence: e.sequence)
    }

    /// Sorts the in-memory entries by (key, sequence): an LSD radix sort on 8 bytes of each
    /// key taken after the prefix all keys share, then an insertion sort of each run of equal
    /// 8-byte prefixes by full key. Both are stable, and entries start in input order.
    private func sortEntries() {
        if inputSorted && runPaths.isEmpty { return }
        if entries.count < 2 { return }
        let skip = commonPrefix
        for i in entries.indices {
            entries[i].prefix = keyPrefix(keyAt(entries[i].offset), from: skip)
        }
        entries.withUnsafeMutableBufferPointer { buffer in
            sortByKey(buffer) { keyAt($0.offset) }
        }
    }

    /// Writes the in-memory records, sorted, to a new run file and empties memory.
    private func spill() throws(LookupError) {
        if entries.isEmpty { return }
        sortEntries()
        let path = "\(temporaryDirectory)/.lookup-sort-\(getpid())-\(runPaths.count)-\(UInt32.random(in: 0...UInt32.max)).run"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 { throw LookupError.system("cannot create temporary sort file (use --temp-dir)", path: path) }
        TemporaryFiles.register(path)
        runPaths.append(path)
        defer { close(fd) }
        var out = OutputBuffer(fd: fd, name: path, capacity: 4 << 20)
        for e in entries {
            let r = record(e)
            var header: (UInt32, UInt32, UInt64) = (UInt32(r.key.count), UInt32(r.value.count), r.sequence)
            try withUnsafeBytes(of: &header) { (h) throws(LookupError) in try out.append(UnsafeRawBufferPointer(rebasing: h[0..<16])) }
            try out.append(r.key)
            try out.append(r.value)
        }
        try out.flush()
        if previousOffset >= 0 { spilledLastKey = Array(keyAt(previousOffset)) }
        previousOffset = -1
        entries.removeAll(keepingCapacity: true)
        arenaUsed = 0
    }

    /// Frees the in-memory records once iteration is over.
    func releaseMemory() {
        arena?.deallocate()
        arena = nil
        arenaCapacity = 0
        arenaUsed = 0
        entries = []
        merger = nil
    }

    /// Prepares iteration: sorts in memory, or spills the rest and opens the merge.
    func finish() throws(LookupError) {
        if !runPaths.isEmpty {
            try spill()
            arena?.deallocate()
            arena = nil
            arenaCapacity = 0
            entries = []
            merger = try RunMerger(paths: runPaths)
        } else {
            sortEntries()
        }
        position = 0
    }

    /// The next record in (key, input order), or `nil` when done. Borrowed until the next call.
    @inline(__always)
    func next() throws(LookupError) -> SortedRecord? {
        if let merger { return try merger.next() }
        if position == entries.count { return nil }
        // Records sit in the arena in input order, so sorted order jumps around it: ask for
        // a record a few steps ahead while this one is used.
        if position + Self.prefetchDistance < entries.count {
            lookup_prefetch(arena! + entries[position + Self.prefetchDistance].offset)
        }
        let r = record(entries[position])
        position += 1
        return r
    }
}

/// Merges sorted run files with a binary heap ordered by (key, sequence).
final class RunMerger {
    private var readers: [InputReader] = []
    private var heads: [SortedRecord?] = []
    private var heap: [Int] = []
    private var lastPopped = -1

    init(paths: [String]) throws(LookupError) {
        for path in paths {
            readers.append(try InputReader(path: path, maxLineLength: Int(Int32.max)))
            heads.append(nil)
        }
        for i in readers.indices {
            heads[i] = try read(i)
            if heads[i] != nil { push(i) }
        }
    }

    private func read(_ i: Int) throws(LookupError) -> SortedRecord? {
        guard let header = try readers[i].readBytes(16) else { return nil }
        let kl = Int(header.loadUnaligned(as: UInt32.self))
        let vl = Int(header.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let seq = header.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        guard let body = try readers[i].readBytes(kl + vl) else {
            throw LookupError(.io, path: readers[i].name, "temporary sort file ends early")
        }
        return SortedRecord(key: UnsafeRawBufferPointer(rebasing: body[0..<kl]),
                            value: UnsafeRawBufferPointer(rebasing: body[kl...]), sequence: seq)
    }

    @inline(__always)
    private func less(_ a: Int, _ b: Int) -> Bool {
        let x = heads[a]!, y = heads[b]!
        let c = compareKeys(x.key, y.key)
        return c != 0 ? c < 0 : x.sequence < y.sequence
    }

    private func push(_ i: Int) {
        heap.append(i)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if !less(heap[child], heap[parent]) { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private func siftDown() {
        var parent = 0
        while true {
            let l = 2 * parent + 1, r = l + 1
            var smallest = parent
            if l < heap.count && less(heap[l], heap[smallest]) { smallest = l }
            if r < heap.count && less(heap[r], heap[smallest]) { smallest = r }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }

    func next() throws(LookupError) -> SortedRecord? {
        // Advance the run whose record was handed out last time (its buffer is now free).
        if lastPopped >= 0 {
            let i = lastPopped
            lastPopped = -1
            heads[i] = try read(i)
            if heads[i] != nil { heap[0] = i; siftDown() } else {
                heap[0] = heap[heap.count - 1]
                heap.removeLast()
                if !heap.isEmpty { siftDown() }
            }
        }
        guard let top = heap.first else { return nil }
        lastPopped = top
        return heads[top]
    }
}
