// Transaction: a read or write transaction (`MDB_txn`), lent to a closure by `Environment.read`
// or `.write`. It is non-copyable, so it cannot be stored or escape the closure.
import CLMDB

/// A transaction (`MDB_txn`). Only `Environment.read` and `Environment.write` create one,
/// and lend it to their closure; values it returns point into the map and are valid only
/// until the closure returns.
public struct Transaction: ~Copyable {
    /// The raw `MDB_txn` pointer.
    public let handle: OpaquePointer
    /// The environment this transaction belongs to.
    public let environment: Environment
    /// Whether this is a read-only transaction.
    public let isReadOnly: Bool
    private var finished = false

    /// The transaction's ID (`mdb_txn_id`): for a read transaction the ID of the snapshot it
    /// reads, for a write transaction the ID its commit will have.
    public var id: Int { Int(truncatingIfNeeded: mdb_txn_id(handle)) }

    init(environment: Environment, readOnly: Bool) throws(LMDBError) {
        try environment.checkProcess()
        var txn: OpaquePointer?
        try check(
            mdb_txn_begin(environment.handle, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn),
            readOnly ? "mdb_txn_begin(read)" : "mdb_txn_begin(write)", path: environment.path)
        self.handle = txn!
        self.environment = environment
        self.isReadOnly = readOnly
    }

    consuming func commit() throws(LMDBError) {
        finished = true
        let rc = mdb_txn_commit(handle)
        try check(rc, "mdb_txn_commit", path: environment.path)
    }

    deinit {
        if !finished { mdb_txn_abort(handle) }
    }

    /// Opens a database inside this transaction (`mdb_dbi_open`).
    public func openDatabase(_ name: String? = nil, flags: DatabaseFlags = []) throws(LMDBError) -> Database {
        var dbi: MDB_dbi = 0
        let rc: Int32
        if let name {
            rc = mdb_dbi_open(handle, name, flags.rawValue, &dbi)
        } else {
            rc = mdb_dbi_open(handle, nil, flags.rawValue, &dbi)
        }
        if rc != MDB_SUCCESS {
            throw LMDBError(code: rc, operation: "mdb_dbi_open", path: environment.path,
                            detail: name.map { "database \"\($0)\"" } ?? "main database")
        }
        return Database(dbi: dbi, name: name)
    }

    /// The value stored under `key`, or `nil`. The bytes point into the map: valid only
    /// inside this transaction's closure.
    @inline(__always)
    public func get(_ db: Database, _ key: UnsafeRawBufferPointer) throws(LMDBError) -> UnsafeRawBufferPointer? {
        var k = MDB_val(key)
        var v = MDB_val()
        let rc = mdb_get(handle, db.dbi, &k, &v)
        if rc == MDB_SUCCESS {
            try environment.readBounds?.check(v.bytes, "mdb_get", path: environment.path)
            return v.bytes
        }
        if rc == MDB_NOTFOUND { return nil }
        throw LMDBError(code: rc, operation: "mdb_get", path: environment.path)
    }

    /// The value stored under `key`, or `nil` (bytes valid inside the transaction only).
    public func get<K: LMDBBytes>(_ db: Database, _ key: K) throws(LMDBError) -> UnsafeRawBufferPointer? {
        let result: Result<UnsafeRawBufferPointer?, LMDBError> = key.withLMDBBytes { k in
            Result { () throws(LMDBError) in try get(db, k) }
        }
        return try result.get()
    }

    /// Stores `value` under `key` (`mdb_put`). Returns `false` instead of throwing when
    /// `.noOverwrite` is given and the key exists.
    @discardableResult
    public func put(_ db: Database, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer,
                    flags: WriteFlags = []) throws(LMDBError) -> Bool {
        var k = MDB_val(key)
        var v = MDB_val(value)
        let rc = mdb_put(handle, db.dbi, &k, &v, flags.rawValue)
        if rc == MDB_SUCCESS { return true }
        if rc == MDB_KEYEXIST && flags.contains(.noOverwrite) { return false }
        throw LMDBError(code: rc, operation: "mdb_put", path: environment.path)
    }

    /// Reserves `count` bytes for the value of `key` (`mdb_put` with `MDB_RESERVE`) and
    /// returns them for the caller to fill: no copy of a large value is made. The space is
    /// valid until the next write in this transaction or its end.
    public func reserve<K: LMDBBytes>(_ db: Database, _ key: K, count: Int,
                                      flags: WriteFlags = []) throws(LMDBError) -> UnsafeMutableRawBufferPointer {
        let result: Result<UnsafeMutableRawBufferPointer, LMDBError> = key.withLMDBBytes { key in
            var k = MDB_val(key)
            var v = MDB_val(mv_size: count, mv_data: nil)
            let rc = mdb_put(handle, db.dbi, &k, &v, flags.rawValue | UInt32(MDB_RESERVE))
            guard rc == MDB_SUCCESS else { return .failure(LMDBError(code: rc, operation: "mdb_put", path: environment.path)) }
            return .success(UnsafeMutableRawBufferPointer(start: v.mv_data, count: count))
        }
        return try result.get()
    }

    /// Stores `value` under `key`; see `put(_:_:_:flags:)`.
    @discardableResult
    public func put<K: LMDBBytes, V: LMDBBytes>(_ db: Database, _ key: K, _ value: V,
                                                flags: WriteFlags = []) throws(LMDBError) -> Bool {
        let result: Result<Bool, LMDBError> = key.withLMDBBytes { k in
            value.withLMDBBytes { v in Result { () throws(LMDBError) in try put(db, k, v, flags: flags) } }
        }
        return try result.get()
    }

    /// Deletes `key`; returns whether it was present (`mdb_del`).
    @discardableResult
    public func delete<K: LMDBBytes>(_ db: Database, _ key: K) throws(LMDBError) -> Bool {
        let rc: Int32 = key.withLMDBBytes { kb in
            var k = MDB_val(kb)
            return mdb_del(handle, db.dbi, &k, nil)
        }
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "mdb_del", path: environment.path)
        return true
    }

    /// Removes every entry of `db` (`mdb_drop` with `del = 0`).
    public func clear(_ db: Database) throws(LMDBError) {
        try check(mdb_drop(handle, db.dbi, 0), "mdb_drop", path: environment.path)
    }

    /// Statistics of `db` as seen by this transaction (`mdb_stat`).
    public func stat(_ db: Database) throws(LMDBError) -> DatabaseStat {
        var s = MDB_stat()
        try check(mdb_stat(handle, db.dbi, &s), "mdb_stat", path: environment.path)
        return DatabaseStat(s)
    }

    /// The flags `db` was created with, as stored in the file (`mdb_dbi_flags`).
    public func flags(of db: Database) throws(LMDBError) -> DatabaseFlags {
        var flags: UInt32 = 0
        try check(mdb_dbi_flags(handle, db.dbi, &flags), "mdb_dbi_flags", path: environment.path)
        return DatabaseFlags(rawValue: flags)
    }

    /// Runs `body` with a cursor over `db`, closed when `body` returns.
    public func withCursor<R>(_ db: Database, _ body: (inout Cursor) throws -> R) throws -> R {
        var cursor = try Cursor(transaction: handle, database: db, path: environment.path, bounds: environment.readBounds)
        return try body(&cursor)
    }
}
