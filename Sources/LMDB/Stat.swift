// Statistics of a database (`mdb_stat`) and of an environment (`mdb_env_info`).
import CLMDB

/// The B+tree statistics of one database (`MDB_stat`).
public struct DatabaseStat: Sendable, Hashable, Codable {
    /// Size of a page in bytes.
    public var pageSize: Int
    /// Depth of the B+tree.
    public var depth: Int
    /// Number of internal (branch) pages.
    public var branchPages: Int
    /// Number of leaf pages.
    public var leafPages: Int
    /// Number of overflow pages (values too large for a leaf).
    public var overflowPages: Int
    /// Number of key/value entries.
    public var entries: Int

    /// Converts an `MDB_stat`.
    public init(_ s: MDB_stat) {
        pageSize = Int(s.ms_psize)
        depth = Int(s.ms_depth)
        branchPages = s.ms_branch_pages
        leafPages = s.ms_leaf_pages
        overflowPages = s.ms_overflow_pages
        entries = s.ms_entries
    }

    /// Pages used by this database: branch + leaf + overflow.
    public var totalPages: Int { branchPages + leafPages + overflowPages }
}

/// Information about an environment (`MDB_envinfo`).
public struct EnvironmentInfo: Sendable, Hashable, Codable {
    /// Size of the memory map in bytes.
    public var mapSize: Int
    /// ID of the last used page.
    public var lastPageNumber: Int
    /// ID of the last committed transaction.
    public var lastTransactionID: Int
    /// Maximum number of reader slots.
    public var maxReaders: Int
    /// Reader slots in use (0 without a lock file).
    public var readersInUse: Int

    init(_ i: MDB_envinfo) {
        mapSize = i.me_mapsize
        lastPageNumber = i.me_last_pgno
        lastTransactionID = i.me_last_txnid
        maxReaders = Int(i.me_maxreaders)
        readersInUse = Int(i.me_numreaders)
    }
}
