// ReadView: the hot paths' door into a read transaction. A reader lent to a closure cannot
// hold the ~Copyable `Transaction`, so it holds this copyable view of one database instead:
// point gets (bounds-checked against the map, as every read here is), statistics and cursors,
// with no other module calling LMDB itself.
import CLMDB

/// One database as a read transaction sees it, by raw handles: valid only while that
/// transaction is (inside its `read` closure).
public struct ReadView {
    /// The raw `MDB_txn`.
    let transaction: OpaquePointer
    /// The database read.
    public let database: Database
    /// Where keys and values must lie (read-only environments); `nil`: not checked.
    let bounds: MapBounds?
    /// The environment's path, for errors.
    let path: String

    /// A view of `database` in the read transaction `txn`.
    public init(_ txn: borrowing Transaction, database: Database) {
        transaction = txn.handle
        self.database = database
        bounds = txn.environment.readBounds
        path = txn.environment.path
    }

    /// The value stored under `key` (`mdb_get`), or `nil`; it points into the map.
    @inline(__always)
    public func get(_ key: UnsafeRawBufferPointer) throws(LMDBError) -> UnsafeRawBufferPointer? {
        var k = MDB_val(key)
        var v = MDB_val()
        let rc = mdb_get(transaction, database.dbi, &k, &v)
        if rc == MDB_SUCCESS {
            try bounds?.check(v.bytes, "mdb_get", path: path)
            return v.bytes
        }
        if rc == MDB_NOTFOUND { return nil }
        throw LMDBError(code: rc, operation: "mdb_get", path: path)
    }

    /// Statistics of the database (`mdb_stat`).
    public func stat() throws(LMDBError) -> DatabaseStat {
        var s = MDB_stat()
        try check(mdb_stat(transaction, database.dbi, &s), "mdb_stat", path: path)
        return DatabaseStat(s)
    }

    /// A cursor over the database, bounds-checked as the view is; closed when it goes.
    public func cursor() throws(LMDBError) -> Cursor {
        try Cursor(transaction: transaction, database: database, path: path, bounds: bounds)
    }
}
