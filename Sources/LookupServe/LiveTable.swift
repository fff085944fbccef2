// LiveTable: the table the service answers from, and its live replacement. A new table is
// published by renaming a file over the path; LiveTable notices (the path names another inode),
// opens the new file and swaps it in, while requests that already hold the old one finish on it.
import Foundation
import SharedLookup

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file's identity: the device and inode that a path names.
public struct FileIdentity: Hashable, Sendable, CustomStringConvertible {
    /// `st_dev`.
    public var device: UInt64
    /// `st_ino`.
    public var inode: UInt64

    init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }

    public var description: String { "\(device):\(inode)" }
}

/// One opened table file, as served: requests take a strong reference for their whole
/// duration, so the file stays mapped until the last of them finishes, even after a newer table
/// replaced it.
public final class ServedTable: Sendable {
    /// The opened table.
    public let table: Table
    /// The file it was opened from (read through LMDB's own descriptor).
    public let identity: FileIdentity
    /// 1 for the table opened at start, one more for each replacement.
    public let generation: Int
    /// When this table was opened.
    public let loadedAt: Date

    init(table: Table, identity: FileIdentity, generation: Int) {
        self.table = table
        self.identity = identity
        self.generation = generation
        self.loadedAt = Date()
    }
}

/// What a check of the table path found.
public enum TableCheck: Sendable, Equatable {
    /// The path still names the served file (or a broken file already reported).
    case unchanged
    /// A new table was opened and is now served.
    case replaced(generation: Int)
    /// The path names a file that cannot be opened as a table, or nothing: the previous table
    /// is still served. The message says why.
    case failed(String)
}

/// The currently served table of a path, replaced when a new file is published over the path.
///
/// `current` is cheap (a lock and a reference copy) and safe from any thread; `check()` looks at
/// the path (one `stat`) and swaps in a new table when the path names another file. The same
/// file is never opened twice, and a broken new file is reported once and not retried until
/// it changes.
public final class LiveTable: @unchecked Sendable {
    /// The path served.
    public let path: String
    private let lock = NSLock()
    private var served: ServedTable
    /// Serializes checks, so two of them never open the same new file.
    private let checkLock = NSLock()
    /// A file found unusable (identity, size, mtime), not retried until one of them changes.
    private var rejected: [Int64]?
    private var reportedMissing = false
    private let log: @Sendable (String) -> Void

    /// Opens the table at `path`. `log` receives one line for each replacement and each
    /// problem found by `check()`.
    public init(path: String, log: @escaping @Sendable (String) -> Void = { _ in }) throws(LookupError) {
        self.path = path
        self.log = log
        let (table, identity) = try Self.open(path)
        served = ServedTable(table: table, identity: identity, generation: 1)
    }

    /// The table to answer a request from. Hold it for the whole request: one request, one table.
    public var current: ServedTable {
        lock.lock()
        defer { lock.unlock() }
        return served
    }

    /// Looks at the path and, when it names another file than the one served, opens that file
    /// and serves it from now on. A file that cannot be opened leaves the current table served.
    @discardableResult
    public func check() -> TableCheck {
        checkLock.lock()
        defer { checkLock.unlock() }
        let old = current
        var st = stat()
        guard stat(path, &st) == 0 else {
            let message = "cannot stat \(path): \(String(cString: strerror(errno))); still serving generation \(old.generation)"
            if !reportedMissing { log(message) }
            reportedMissing = true
            return .failed(message)
        }
        reportedMissing = false
        let identity = FileIdentity(st)
        if identity == old.identity { return .unchanged }
        #if canImport(Darwin)
        let modified = st.st_mtimespec
        #else
        let modified = st.st_mtim
        #endif
        let signature = [Int64(bitPattern: identity.device), Int64(bitPattern: identity.inode), Int64(st.st_size),
                         Int64(modified.tv_sec), Int64(modified.tv_nsec)]
        if signature == rejected { return .unchanged }
        let opened: (Table, FileIdentity)
        do {
            opened = try Self.open(path)
        } catch {
            rejected = signature
            let message = "new table at \(path) cannot be used, still serving generation \(old.generation): \(error.description)"
            log(message)
            return .failed(message)
        }
        // The path may have changed again between the stat and the open: what counts is what
        // LMDB mapped. The file already served is never kept open twice.
        if opened.1 == old.identity { return .unchanged }
        rejected = nil
        let next = ServedTable(table: opened.0, identity: opened.1, generation: old.generation + 1)
        lock.lock()
        served = next
        lock.unlock()
        let entries = (try? next.table.count()).map { "\($0) entries" } ?? "entries unknown"
        log("switched to the new table at \(path) (generation \(next.generation), \(entries))")
        return .replaced(generation: next.generation)
    }

    /// Opens `path` and reads the identity of the file LMDB actually mapped.
    private static func open(_ path: String) throws(LookupError) -> (Table, FileIdentity) {
        let table = try Table(path: path)
        var st = stat()
        let fd: Int32
        do { fd = try table.environment.fileDescriptor() } catch {
            throw LookupError(.lmdb, path: path, "cannot get the table's file descriptor: \(error)")
        }
        guard fstat(fd, &st) == 0 else { throw LookupError.system("cannot stat the opened table", path: path) }
        return (table, FileIdentity(st))
    }
}
