// TableReader: lookups inside one read transaction, the hot path of every job. Point lookups
// (through the key index, or `mdb_get`), batches (see KeyBatch), scans and counts.
import LMDB

/// Lookups inside one read transaction of a `Table`, lent to a closure by `Table.read`.
/// Values point into the memory map: valid until the closure returns.
public struct TableReader: ~Copyable {
    /// The records' database in the read transaction: LMDB's door.
    let view: ReadView
    /// The table being read.
    public let table: Table
    /// An updated table's change layer, in a read transaction of its own (see ChangeLayer.swift).
    let changes: ReadView?

    init(view: ReadView, table: Table, changes: ReadView? = nil) {
        self.view = view
        self.table = table
        self.changes = changes
    }

    /// The stored value for `key` (in the table's stored form: see `Table.storedKey`),
    /// borrowed from the map, or `nil`. For a one-to-many table, a `ValueList`.
    @inline(__always)
    public func value(for key: UnsafeRawBufferPointer) throws(LookupError) -> UnsafeRawBufferPointer? {
        if key.isEmpty { return nil }
        // A range or prefix table matches keys of any length (its stored starts are not longer
        // than LMDB's limit, and its ends not longer than the limit plus one: see
        // `floorEntry`); in an exact table, an over-long key (which LMDB rejects) is missing.
        if table.matchKind != .exact { return try rangeValue(for: key) }
        if key.count > lmdbMaxKeySize { return nil }
        if changes != nil {
            switch try change(for: key) {
            case .deleted, .malformed: return nil
            case .value(let value): return value
            case nil: break
            }
        }
        return try fileValue(for: key)
    }

    /// The value for `key` in the file the environment reads (an updated table's base),
    /// without its changes.
    @inline(__always)
    func fileValue(for key: UnsafeRawBufferPointer) throws(LookupError) -> UnsafeRawBufferPointer? {
        if let index = table.keyIndex { return try value(for: key, hash: KeyIndex.hash(key), index: index) }
        return try treeValue(for: key)
    }

    /// The value for `key` (of hash `hash`) through `index`, or the B+tree where the index
    /// cannot answer.
    @inline(__always)
    func value(for key: UnsafeRawBufferPointer, hash: UInt64, index: KeyIndex) throws(LookupError) -> UnsafeRawBufferPointer? {
        switch index.find(key, hash: hash) {
        case .found(let value): return value
        case .missing: return nil
        case .unknown: return try treeValue(for: key)
        }
    }

    /// The value of the segment of a range table holding `key` (the greatest start <= `key`,
    /// if `key` is before its end), or `nil`.
    func rangeValue(for key: UnsafeRawBufferPointer) throws(LookupError) -> UnsafeRawBufferPointer? {
        do {
            let cursor = try view.cursor()
            return try Self.segmentValue(holding: key, cursor: cursor)
        } catch {
            throw LookupError(error, path: table.path)
        }
    }

    /// The value of the segment holding `key`, found with `cursor`, or `nil`.
    @inline(__always)
    static func segmentValue(holding key: UnsafeRawBufferPointer, cursor: borrowing Cursor) throws(LMDBError) -> UnsafeRawBufferPointer? {
        guard let segment = try floorEntry(key, cursor: cursor) else { return nil }
        return RangeRecord.value(of: segment.value, holding: key)
    }

    /// The record with the greatest key <= `key` (of any length), or `nil`. A key longer than
    /// LMDB's limit is sought cut to it: no stored key (at most that long) lies between the
    /// cut key and the whole one, so the floor is the same.
    @inline(__always)
    static func floorEntry(_ key: UnsafeRawBufferPointer, cursor: borrowing Cursor) throws(LMDBError) -> Entry? {
        let sought = key.count > lmdbMaxKeySize ? UnsafeRawBufferPointer(rebasing: key[..<lmdbMaxKeySize]) : key
        if let found = try cursor.seek(sought) {
            return compareKeys(found.key, key) <= 0 ? found : try cursor.previous()
        }
        return try cursor.last()
    }

    /// The value for `key` from the B+tree (`mdb_get`), or `nil`.
    func treeValue(for key: UnsafeRawBufferPointer) throws(LookupError) -> UnsafeRawBufferPointer? {
        do { return try view.get(key) } catch { throw LookupError(error, path: table.path) }
    }

    /// Whether a B+tree descent finds `key` with its value at `value`, where a walk found it
    /// (for `check`: the branch pages route to that record).
    func descentFinds(_ key: UnsafeRawBufferPointer, at value: UnsafeRawPointer?) -> Bool {
        guard let found = try? treeValue(for: key) else { return false }
        return found.baseAddress == value
    }

    /// Calls `body` with the stored value for `key` (or `nil`); the key is case folded and
    /// trimmed first when the table's keys are. For a one-to-many table, a `ValueList`.
    @inline(__always)
    public func withValue<K: LMDBBytes, R>(for key: K, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        if table.keyForm.normalizes || table.matchKind != .exact {
            return try table.storedKey(key).withUnsafeBytes { k in try body(try value(for: k)) }
        }
        return try key.withLMDBBytes { k in try body(try value(for: k)) }
    }

    /// Looks up every key of `keys` together (much faster than one by one; keys are case
    /// folded and trimmed first when the table's are) and calls `body(index, value)` with
    /// each stored value (a `ValueList` for a one-to-many table), where `index` is the key's position in `keys`. Calls for
    /// keys that cannot be in a table (empty, over 511 bytes) come first, then the others in
    /// `keys` order.
    public func lookupBatch<K: LMDBBytes>(_ keys: [K], _ body: (Int, UnsafeRawBufferPointer?) throws -> Void) throws {
        // One contiguous copy of every key, viewed only inside its own `withUnsafeBytes`: no
        // pointer to a key's bytes outlives the closure that lent it.
        var arena: [UInt8] = []
        var spans: [Range<Int>] = []
        spans.reserveCapacity(keys.count)
        let former = table.keyForm.normalizes || table.matchKind != .exact ? table.keyNormalizer() : nil
        for key in keys {
            key.withLMDBBytes { raw in
                // A key not of a range table's type is empty: it matches nothing.
                let bytes = former.map { $0.stored(raw) ?? UnsafeRawBufferPointer(start: nil, count: 0) } ?? raw
                spans.append(arena.count ..< arena.count + bytes.count)
                arena.append(contentsOf: bytes)
            }
        }
        try arena.withUnsafeBytes { base in
            try lookupBatch(spans.map { UnsafeRawBufferPointer(rebasing: base[$0]) }, body)
        }
    }

    /// Looks up `keys` (in the table's stored form: see `Table.storedKey`) together; see
    /// `lookupBatch(_:_:)` for `[K]`. For repeated batches without allocation, use `KeyBatch`.
    public func lookupBatch(_ keys: [UnsafeRawBufferPointer], _ body: (Int, UnsafeRawBufferPointer?) throws -> Void) throws {
        var batch = KeyBatch()
        batch.keepsLongKeys = table.matchKind != .exact
        var kept: [Int32] = []
        kept.reserveCapacity(keys.count)
        for (i, key) in keys.enumerated() {
            if batch.add(key) { kept.append(Int32(i)) } else { try body(i, nil) }
        }
        try batch.lookUp(in: self)
        for (position, index) in kept.enumerated() { try body(Int(index), batch.value(at: position)) }
    }

    /// Calls `body` for each record whose key starts with `prefix`; see `Table.scan(prefix:_:)`.
    @discardableResult
    public func scan<K: LMDBBytes>(prefix: K, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws -> Int {
        try prefix.withLMDBBytes { p in
            if changes != nil {
                var visited = 0
                _ = try forEachMerged(from: p, to: nil) { key, value in
                    guard key.starts(with: p) else { return false }
                    visited += 1
                    return try body(key, value)
                }
                return visited
            }
            return try withCursor { cursor in try cursor.forEach(prefix: p) { try body($0.key, $0.value) } }
        }
    }

    /// Calls `body` for each record with `lower <= key < upper`; see `Table.scan(from:to:_:)`.
    @discardableResult
    public func scan(from lower: [UInt8]?, to upper: [UInt8]?,
                     _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws -> Int {
        let lo = lower ?? [], hi = upper ?? []
        return try lo.withUnsafeBytes { l in
            try hi.withUnsafeBytes { h in
                if changes != nil { return try forEachMerged(from: lower == nil ? nil : l, to: upper == nil ? nil : h, body) }
                return try withCursor { cursor in
                    try cursor.forEach(from: lower == nil ? nil : l, to: upper == nil ? nil : h) { try body($0.key, $0.value) }
                }
            }
        }
    }

    /// Number of records (of an updated table: as its metadata records them).
    public func count() throws -> Int {
        if changes != nil, let records = table.metadata?.layer?.records { return records }
        return try stat().entries
    }

    /// B+tree statistics of the records' database.
    public func stat() throws -> DatabaseStat {
        do { return try view.stat() } catch { throw LookupError(error, path: table.path) }
    }

    /// Runs `body` with a cursor over the records.
    public func withCursor<R>(_ body: (inout Cursor) throws -> R) throws -> R {
        var cursor: Cursor
        do {
            cursor = try view.cursor()
        } catch {
            throw LookupError(error, path: table.path)
        }
        do {
            return try body(&cursor)
        } catch let error as LMDBError {
            throw LookupError(error, path: table.path)
        }
    }
}
