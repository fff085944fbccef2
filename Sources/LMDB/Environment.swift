// Environment: an open LMDB environment (`MDB_env`), its opening options, transactions scoped
// by closures, named databases, stat/info, compacting copy, sync and reader checks. A handle
// remembers the process that opened it and refuses to work in any other (after `fork()`).
import CLMDB

/// Options applied before `mdb_env_open`.
public struct EnvironmentOptions: Sendable, Hashable {
    /// Flags passed to `mdb_env_open`.
    public var flags: EnvironmentFlags
    /// `mdb_env_set_mapsize`; `nil` keeps LMDB's default (a reader adopts the file's size).
    public var mapSize: Int?
    /// `mdb_env_set_maxreaders`; LMDB's default is 126.
    public var maxReaders: Int
    /// `mdb_env_set_maxdbs`: how many named databases may be opened.
    public var maxDatabases: Int
    /// File mode for files the environment creates.
    public var mode: mode_t

    /// Creates options; the defaults suit a single-file environment with a few named databases.
    public init(
        flags: EnvironmentFlags = [.noSubdirectory],
        mapSize: Int? = nil,
        maxReaders: Int = 1024,
        maxDatabases: Int = 8,
        mode: mode_t = 0o644
    ) {
        self.flags = flags
        self.mapSize = mapSize
        self.maxReaders = maxReaders
        self.maxDatabases = maxDatabases
        self.mode = mode
    }
}

/// A handle to a database inside an environment (`MDB_dbi`). Valid for the environment's life.
public struct Database: Sendable, Hashable {
    /// The raw `MDB_dbi`.
    public let dbi: MDB_dbi
    /// The database's name, or `nil` for the main (unnamed) database.
    public let name: String?

    /// LMDB's own database of free pages (`FREE_DBI`, 0): page numbers freed by each
    /// transaction. Readable like any other (as `mdb_stat -f` reads it).
    public static let freePages = Database(dbi: 0, name: "(free pages)")
}

/// An open LMDB environment (`MDB_env`).
///
/// Transactions are scoped by closures (`read`, `write`): they cannot outlive the call, and the
/// bytes they hand out point into the map and are valid only inside it. The handle belongs to
/// the process that opened it: used in a forked child it throws instead of touching LMDB.
/// Never open the same file twice in one process (closing one would drop the other's locks).
public final class Environment: @unchecked Sendable {
    /// The raw `MDB_env` pointer.
    public let handle: OpaquePointer
    /// The path the environment was opened with.
    public let path: String
    /// The flags it was opened with.
    public let flags: EnvironmentFlags
    /// The process that opened this handle.
    public let ownerProcess: pid_t
    /// For a read-only environment, where the file's pages lie in the map: every key and value
    /// read through this module is checked against it (a damaged node cannot reach outside).
    public let readBounds: MapBounds?

    /// Opens (or, without `.readOnly`, creates) the environment at `path`.
    public init(path: String, options: EnvironmentOptions = EnvironmentOptions()) throws(LMDBError) {
        var env: OpaquePointer?
        try check(mdb_env_create(&env), "mdb_env_create", path: path)
        guard let env else { throw LMDBError(code: ENOMEM, operation: "mdb_env_create", path: path) }
        do {
            if let mapSize = options.mapSize {
                try check(mdb_env_set_mapsize(env, mapSize), "mdb_env_set_mapsize", path: path)
            }
            try check(mdb_env_set_maxreaders(env, UInt32(options.maxReaders)), "mdb_env_set_maxreaders", path: path)
            try check(mdb_env_set_maxdbs(env, MDB_dbi(options.maxDatabases)), "mdb_env_set_maxdbs", path: path)
            try check(mdb_env_open(env, path, options.flags.rawValue, options.mode), "mdb_env_open", path: path)
        } catch {
            mdb_env_close(env)
            throw error
        }
        self.handle = env
        self.path = path
        self.flags = options.flags
        self.ownerProcess = getpid()
        self.readBounds = options.flags.contains(.readOnly) ? MapBounds(env) : nil
    }

    deinit {
        // In a forked child the env is not ours to close: leave the parent's state alone.
        if getpid() == ownerProcess { mdb_env_close(handle) }
    }

    /// Throws unless called in the process that opened the environment.
    @inline(__always)
    public func checkProcess() throws(LMDBError) {
        let pid = getpid()
        if _slowPath(pid != ownerProcess) {
            throw LMDBError(
                code: LMDBError.usedAfterForkCode, operation: "environment", path: path,
                detail: "opened by process \(ownerProcess), used in process \(pid); open it again in each process after fork()")
        }
    }

    /// Runs `body` in a read-only transaction, ended when `body` returns. (It is ended by
    /// `mdb_txn_commit`, so database handles opened inside it stay valid; aborted on a throw.)
    @discardableResult
    public func read<R>(_ body: (borrowing Transaction) throws -> R) throws -> R {
        let txn = try Transaction(environment: self, readOnly: true)
        let result = try body(txn)
        try txn.commit()
        return result
    }

    /// Runs `body` in a write transaction: committed when `body` returns, aborted if it throws.
    @discardableResult
    public func write<R>(_ body: (borrowing Transaction) throws -> R) throws -> R {
        let txn = try Transaction(environment: self, readOnly: false)
        let result = try body(txn)
        try txn.commit()
        return result
    }

    /// Opens a database: the main one (`name == nil`) or a named one. Creating one needs
    /// `flags` to hold `.create` and runs in its own write transaction.
    public func openDatabase(_ name: String? = nil, flags: DatabaseFlags = []) throws -> Database {
        if flags.contains(.create) && !self.flags.contains(.readOnly) {
            return try write { txn in try txn.openDatabase(name, flags: flags) }
        }
        return try read { txn in try txn.openDatabase(name, flags: flags) }
    }

    /// Statistics of the main database (`mdb_env_stat`).
    public func stat() throws(LMDBError) -> DatabaseStat {
        try checkProcess()
        var s = MDB_stat()
        try check(mdb_env_stat(handle, &s), "mdb_env_stat", path: path)
        return DatabaseStat(s)
    }

    /// Information about the environment (`mdb_env_info`).
    public func info() throws(LMDBError) -> EnvironmentInfo {
        try checkProcess()
        var i = MDB_envinfo()
        try check(mdb_env_info(handle, &i), "mdb_env_info", path: path)
        return EnvironmentInfo(i)
    }

    /// Changes the map size (`mdb_env_set_mapsize`); only while no transaction is active in
    /// this process. The new size is stored in the file at the next commit.
    public func setMapSize(_ size: Int) throws(LMDBError) {
        try checkProcess()
        try check(mdb_env_set_mapsize(handle, size), "mdb_env_set_mapsize", path: path)
    }

    /// Sets the function LMDB calls when one of its internal assertions fails
    /// (`mdb_env_set_assert`), before it aborts. A function that does not return (exits)
    /// replaces the abort; one that returns lets LMDB abort as usual.
    public func setAssertionHandler(_ handler: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> Void) {
        _ = mdb_env_set_assert(handle, handler)
    }

    /// The largest key size this build of LMDB accepts (`mdb_env_get_maxkeysize`, 511).
    public var maxKeySize: Int { Int(mdb_env_get_maxkeysize(handle)) }

    /// The file descriptor of the data file (`mdb_env_get_fd`).
    public func fileDescriptor() throws(LMDBError) -> Int32 {
        var fd: Int32 = -1
        try check(mdb_env_get_fd(handle, &fd), "mdb_env_get_fd", path: path)
        return fd
    }

    /// Flushes buffers to disk (`mdb_env_sync`); `force` syncs even with `.noSync`.
    public func sync(force: Bool = true) throws(LMDBError) {
        try checkProcess()
        try check(mdb_env_sync(handle, force ? 1 : 0), "mdb_env_sync", path: path)
    }

    /// Copies the environment to `destination` (`mdb_env_copy2`); `compact` omits free pages
    /// and renumbers pages (`MDB_CP_COMPACT`). With `.noSubdirectory`, `destination` is a file.
    public func copy(to destination: String, compact: Bool = false) throws(LMDBError) {
        try checkProcess()
        try check(mdb_env_copy2(handle, destination, compact ? UInt32(MDB_CP_COMPACT) : 0), "mdb_env_copy2", path: destination)
    }

    /// Clears reader slots left by processes that died (`mdb_reader_check`); returns how many.
    /// Does nothing (returns 0) without a lock file.
    @discardableResult
    public func clearStaleReaders() throws(LMDBError) -> Int {
        try checkProcess()
        if flags.contains(.noLock) { return 0 }
        var dead: Int32 = 0
        try check(mdb_reader_check(handle, &dead), "mdb_reader_check", path: path)
        return Int(dead)
    }
}
