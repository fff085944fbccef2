// LMDBError: the one error type of the LMDB wrapper, carrying the LMDB (or errno) code,
// its message, the operation that failed and the environment's path.
import CLMDB

/// An error returned by liblmdb, with the code, its message, the failed operation and the path
/// of the environment it happened on.
public struct LMDBError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The LMDB return code (`MDB_*`) or an `errno` value; `LMDBError.usedAfterForkCode` for
    /// a handle used in a process other than the one that opened it.
    public let code: Int32
    /// The name of the liblmdb call (or wrapper operation) that failed.
    public let operation: String
    /// The path of the environment, or "" when not known.
    public let path: String
    /// Extra detail added by the wrapper, or "".
    public let detail: String

    /// The code used for a handle used after `fork()`; not an LMDB or errno code.
    public static let usedAfterForkCode: Int32 = -40_000

    /// Creates an error from a return code.
    public init(code: Int32, operation: String, path: String = "", detail: String = "") {
        self.code = code
        self.operation = operation
        self.path = path
        self.detail = detail
    }

    /// LMDB's own message for `code` (`mdb_strerror`, which also covers errno values).
    public var message: String {
        if code == Self.usedAfterForkCode { return "handle used after fork()" }
        return String(cString: mdb_strerror(code))
    }

    /// `MDB_NOTFOUND`: key or data not found.
    public var isNotFound: Bool { code == MDB_NOTFOUND }
    /// `MDB_MAP_FULL`: the environment's map size is reached.
    public var isMapFull: Bool { code == MDB_MAP_FULL }
    /// `MDB_INVALID` or `MDB_VERSION_MISMATCH`: the file is not an LMDB file of this version.
    public var isInvalidFile: Bool { code == MDB_INVALID || code == MDB_VERSION_MISMATCH }
    /// `MDB_CORRUPTED`, `MDB_PAGE_NOTFOUND` or `MDB_BAD_TXN` (a transaction that met one of
    /// them): a page of the file cannot be used as what it should be.
    public var isDamagedPage: Bool { code == MDB_CORRUPTED || code == MDB_PAGE_NOTFOUND || code == MDB_BAD_TXN }
    /// `ENOSPC` or `EDQUOT`: the disk (or quota) is full.
    public var isDiskFull: Bool { code == ENOSPC || code == EDQUOT }

    public var description: String {
        var text = path.isEmpty ? "" : "\(path): "
        text += "\(operation): \(message)"
        if !detail.isEmpty { text += " (\(detail))" }
        return text
    }
}

/// Throws an `LMDBError` when `rc` is not `MDB_SUCCESS`.
@inline(__always)
func check(_ rc: Int32, _ operation: @autoclosure () -> String, path: @autoclosure () -> String = "") throws(LMDBError) {
    if rc != MDB_SUCCESS {
        throw LMDBError(code: rc, operation: operation(), path: path())
    }
}
