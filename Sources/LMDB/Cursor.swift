// Cursor: ordered access to a database (`MDB_cursor`): first/last/next/previous, seek to a key
// or the first key at or after it, iteration over ranges and prefixes, and appending puts.
import CLMDB

/// A borrowed key/value pair; both point into the map (valid inside the transaction only).
public typealias Entry = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)

/// A cursor over one database, lent to a closure by `Transaction.withCursor`.
public struct Cursor: ~Copyable {
    /// The raw `MDB_cursor` pointer.
    public let handle: OpaquePointer
    let path: String
    /// Where keys and values must lie (`Environment.readBounds`); `nil`: not checked.
    let bounds: MapBounds?

    /// Opens a cursor on a raw `MDB_txn` (for wrappers that hold one); closed on deinit. With
    /// `bounds`, every entry it returns is checked to lie inside them (else `MDB_CORRUPTED`).
    public init(transaction: OpaquePointer, database: Database, path: String, bounds: MapBounds? = nil) throws(LMDBError) {
        var c: OpaquePointer?
        try check(mdb_cursor_open(transaction, database.dbi, &c), "mdb_cursor_open", path: path)
        self.handle = c!
        self.path = path
        self.bounds = bounds
    }

    deinit { mdb_cursor_close(handle) }

    @inline(__always)
    private func get(_ op: MDB_cursor_op, key: UnsafeRawBufferPointer? = nil) throws(LMDBError) -> Entry? {
        var k = key.map(MDB_val.init) ?? MDB_val()
        var v = MDB_val()
        let rc = mdb_cursor_get(handle, &k, &v, op)
        if rc == MDB_SUCCESS {
            if let bounds {
                try bounds.check(k.bytes, "mdb_cursor_get", path: path)
                try bounds.check(v.bytes, "mdb_cursor_get", path: path)
            }
            return (k.bytes, v.bytes)
        }
        if rc == MDB_NOTFOUND { return nil }
        throw LMDBError(code: rc, operation: "mdb_cursor_get", path: path)
    }

    /// Moves to the first entry (`MDB_FIRST`).
    public func first() throws(LMDBError) -> Entry? { try get(MDB_FIRST) }
    /// Moves to the last entry (`MDB_LAST`).
    public func last() throws(LMDBError) -> Entry? { try get(MDB_LAST) }
    /// Moves to the next entry (`MDB_NEXT`); from an unpositioned cursor, the first.
    public func next() throws(LMDBError) -> Entry? { try get(MDB_NEXT) }
    /// Moves to the previous entry (`MDB_PREV`).
    public func previous() throws(LMDBError) -> Entry? { try get(MDB_PREV) }
    /// The entry at the cursor (`MDB_GET_CURRENT`).
    public func current() throws(LMDBError) -> Entry? { try get(MDB_GET_CURRENT) }

    /// Moves to exactly `key` (`MDB_SET_KEY`); `nil` when absent.
    @inline(__always)
    public func find(_ key: UnsafeRawBufferPointer) throws(LMDBError) -> Entry? { try get(MDB_SET_KEY, key: key) }

    /// Moves to the first entry whose key is `>= key` (`MDB_SET_RANGE`).
    public func seek(_ key: UnsafeRawBufferPointer) throws(LMDBError) -> Entry? { try get(MDB_SET_RANGE, key: key) }

    /// Writes through the cursor (`mdb_cursor_put`); with `.append`, the fast bulk-load path.
    @inline(__always)
    public func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, flags: WriteFlags = []) throws(LMDBError) {
        var k = MDB_val(key)
        var v = MDB_val(value)
        let rc = mdb_cursor_put(handle, &k, &v, flags.rawValue)
        if rc != MDB_SUCCESS {
            throw LMDBError(code: rc, operation: "mdb_cursor_put", path: path)
        }
    }

    /// Calls `body` for each entry with `lower <= key < upper` in key order (either bound may
    /// be `nil`). `body` returns `false` to stop. Returns how many entries were visited.
    @discardableResult
    public func forEach(from lower: UnsafeRawBufferPointer? = nil, to upper: UnsafeRawBufferPointer? = nil,
                        _ body: (Entry) throws -> Bool) throws -> Int {
        var entry = try lower.map { (k) throws(LMDBError) in try seek(k) } ?? first()
        var count = 0
        while let e = entry {
            if let upper, compareBytes(e.key, upper) >= 0 { break }
            count += 1
            if try !body(e) { break }
            entry = try next()
        }
        return count
    }

    /// Calls `body` for each entry whose key starts with `prefix`, in key order. `body` returns
    /// `false` to stop. Returns how many entries were visited.
    @discardableResult
    public func forEach(prefix: UnsafeRawBufferPointer, _ body: (Entry) throws -> Bool) throws -> Int {
        var entry = prefix.isEmpty ? try first() : try seek(prefix)
        var count = 0
        while let e = entry, e.key.starts(with: prefix) {
            count += 1
            if try !body(e) { break }
            entry = try next()
        }
        return count
    }
}

/// Lexicographic byte comparison, LMDB's default key order: negative, zero or positive.
@inline(__always)
public func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let n = min(a.count, b.count)
    if n > 0 {
        let c = memcmp(a.baseAddress!, b.baseAddress!, n)
        if c != 0 { return Int(c) }
    }
    return a.count - b.count
}

