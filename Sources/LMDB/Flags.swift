// Typed flag sets for environments, databases, writes and copies; each member names the
// liblmdb constant it stands for.
import CLMDB

/// Flags for `mdb_env_open`.
public struct EnvironmentFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `MDB_RDONLY`: open read-only; no writes, and no lock-file writes except reader slots.
    public static let readOnly = EnvironmentFlags(rawValue: UInt32(MDB_RDONLY))
    /// `MDB_NOSUBDIR`: the path names the data file itself, not a directory.
    public static let noSubdirectory = EnvironmentFlags(rawValue: UInt32(MDB_NOSUBDIR))
    /// `MDB_NOTLS`: tie read transactions to the transaction object, not to the thread.
    public static let noThreadLocalStorage = EnvironmentFlags(rawValue: UInt32(MDB_NOTLS))
    /// `MDB_NORDAHEAD`: turn off OS read-ahead; helps random reads of tables larger than RAM.
    public static let noReadAhead = EnvironmentFlags(rawValue: UInt32(MDB_NORDAHEAD))
    /// `MDB_NOLOCK`: use no lock file; the caller guarantees there is no concurrent writer.
    public static let noLock = EnvironmentFlags(rawValue: UInt32(MDB_NOLOCK))
    /// `MDB_NOSYNC`: do not fsync on commit; call `Environment.sync(force:)` yourself.
    public static let noSync = EnvironmentFlags(rawValue: UInt32(MDB_NOSYNC))
    /// `MDB_NOMETASYNC`: fsync data but not the meta page on commit.
    public static let noMetaSync = EnvironmentFlags(rawValue: UInt32(MDB_NOMETASYNC))
    /// `MDB_WRITEMAP`: write through a writable memory map.
    public static let writeMap = EnvironmentFlags(rawValue: UInt32(MDB_WRITEMAP))
    /// `MDB_MAPASYNC`: with `writeMap`, flush asynchronously.
    public static let mapAsync = EnvironmentFlags(rawValue: UInt32(MDB_MAPASYNC))
    /// `MDB_NOMEMINIT`: do not zero malloc'ed pages before writing them.
    public static let noMemoryInit = EnvironmentFlags(rawValue: UInt32(MDB_NOMEMINIT))
}

/// Flags for `mdb_dbi_open`.
public struct DatabaseFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `MDB_CREATE`: create the named database if it does not exist (write transactions only).
    public static let create = DatabaseFlags(rawValue: UInt32(MDB_CREATE))
    /// `MDB_REVERSEKEY`: compare keys from their last byte to their first.
    public static let reverseKey = DatabaseFlags(rawValue: UInt32(MDB_REVERSEKEY))
    /// `MDB_DUPSORT`: allow several sorted values per key.
    public static let duplicateSort = DatabaseFlags(rawValue: UInt32(MDB_DUPSORT))
    /// `MDB_INTEGERKEY`: keys are native unsigned integers.
    public static let integerKey = DatabaseFlags(rawValue: UInt32(MDB_INTEGERKEY))
}

/// Flags for `mdb_put` and `mdb_cursor_put`.
public struct WriteFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `MDB_NOOVERWRITE`: fail with `MDB_KEYEXIST` if the key is present.
    public static let noOverwrite = WriteFlags(rawValue: UInt32(MDB_NOOVERWRITE))
    /// `MDB_NODUPDATA`: with `duplicateSort`, fail if the key/value pair is present.
    public static let noDuplicateData = WriteFlags(rawValue: UInt32(MDB_NODUPDATA))
    /// `MDB_APPEND`: the key is greater than every key present; fast bulk loading.
    public static let append = WriteFlags(rawValue: UInt32(MDB_APPEND))
    /// `MDB_APPENDDUP`: as `append`, for sorted duplicate values.
    public static let appendDuplicate = WriteFlags(rawValue: UInt32(MDB_APPENDDUP))
}
