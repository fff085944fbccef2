// MapBounds: the bytes of a read-only environment's map that hold the file's pages. LMDB trusts
// the node sizes it reads; in a damaged file a key or value can reach past the end of the file
// (touching it: SIGBUS) or outside the map (SIGSEGV, or EFAULT from a write of it). Every key
// and value this module hands out of a read-only environment is checked against these bounds.
import CLMDB

/// The address range of the file's pages in a read-only environment's memory map.
public struct MapBounds: Sendable, Hashable {
    /// The first byte of the map, and one past the last page the file holds.
    public let start: UInt, end: UInt

    /// The bounds of a just opened read-only `env`'s map, up to its last page. LMDB does not
    /// tell where it mapped the file (`me_mapaddr` is the meta page's fixed-map address, 0), so
    /// it is found from the first key of the main database; `nil` when that is empty.
    init?(_ env: OpaquePointer) {
        var info = MDB_envinfo()
        var stat = MDB_stat()
        guard mdb_env_info(env, &info) == MDB_SUCCESS, mdb_env_stat(env, &stat) == MDB_SUCCESS else { return nil }
        let pageSize = Int(stat.ms_psize)
        let (size, overflow) = (info.me_last_pgno + 1).multipliedReportingOverflow(by: pageSize)
        guard !overflow else { return nil }
        var txn: OpaquePointer?
        guard mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn) == MDB_SUCCESS, let txn else { return nil }
        defer { mdb_txn_abort(txn) }
        var dbi = MDB_dbi()
        var cursor: OpaquePointer?
        guard mdb_dbi_open(txn, nil, 0, &dbi) == MDB_SUCCESS, mdb_cursor_open(txn, dbi, &cursor) == MDB_SUCCESS,
              let cursor else { return nil }
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val(), value = MDB_val()
        guard mdb_cursor_get(cursor, &key, &value, MDB_FIRST) == MDB_SUCCESS, let record = key.mv_data,
              let base = Self.base(of: UnsafeRawPointer(record), pageSize: pageSize) else { return nil }
        start = UInt(bitPattern: base)
        end = start + UInt(size)
    }

    /// Where the file is mapped, found from `record`, a pointer LMDB returned into a page of
    /// the map: the page starts at `record` rounded down to `pageSize`, and its header begins
    /// with its page number. `nil` when that is not plausible.
    public static func base(of record: UnsafeRawPointer, pageSize: Int) -> UnsafeRawPointer? {
        guard pageSize > 0, pageSize & (pageSize - 1) == 0 else { return nil }
        let page = UnsafeRawPointer(bitPattern: UInt(bitPattern: Int(bitPattern: record)) & ~UInt(pageSize - 1))!
        let number = page.loadUnaligned(as: UInt64.self)
        guard number > 0, number < UInt64(Int.max / pageSize),
              Int(number) * pageSize <= Int(bitPattern: page) else { return nil }
        return page - Int(number) * pageSize
    }

    /// Whether all of `bytes` lies inside the file's pages.
    @inline(__always)
    public func contains(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return bytes.isEmpty }
        let from = UInt(bitPattern: base)
        return from >= start && from <= end && UInt(bytes.count) <= end - from
    }

    /// Throws `MDB_CORRUPTED` for `operation` unless `bytes` lies inside the file's pages.
    @inline(__always)
    public func check(_ bytes: UnsafeRawBufferPointer, _ operation: String, path: String) throws(LMDBError) {
        if _slowPath(!contains(bytes)) {
            throw LMDBError(code: MDB_CORRUPTED, operation: operation, path: path, detail: "a record reaches outside the file")
        }
    }
}
