// RunTable: the table file of a batch run, opened once by the coordinator and kept open until
// the run ends. Workers open the table through this descriptor (inherited across fork(), or
// handed to a spawned worker at a fixed number), so every worker reads the same file from
// start to end, also one restarted after a new table was renamed over the path mid-run.
// TableIdentity: what the job log records of that file, for `--resume` to compare.
import SharedLookup

/// What identifies the table a run read: its content hash (from the table's metadata, when it
/// has some) and the file itself.
struct TableIdentity: Codable, Equatable, Sendable {
    /// The path the run named the table by.
    var path: String
    /// `TableMetadata.contentHash`; `nil` for a plain LMDB file without metadata.
    var contentHash: String?
    /// Device and inode of the file.
    var device: UInt64
    var inode: UInt64
    /// Size in bytes and modification time (nanoseconds since the epoch).
    var size: Int
    var modified: Int

    /// Whether a run over `other` writes the same outputs as one over this table: the same
    /// content hash when both have one, else the very same file, unchanged.
    func sameData(as other: TableIdentity) -> Bool {
        if let contentHash, let otherHash = other.contentHash { return contentHash == otherHash }
        return device == other.device && inode == other.inode && size == other.size && modified == other.modified
    }

    /// How the table is described in a `--resume` refusal.
    var summary: String {
        if let contentHash { return "table \(path) with content hash \(contentHash)" }
        return "table \(path) (no content hash; device \(device), inode \(inode), \(size) bytes, mtime \(modified) ns)"
    }
}

/// The run's table file, open for the whole run.
final class RunTable {
    /// The table's path, as given (it names the table in every message).
    let path: String
    /// The coordinator's descriptor of the file: close-on-exec, and never 0...9, so that
    /// handing it to a spawned worker at `TableHandoff.spawnDescriptor` is a real `dup2`.
    let descriptor: Int32
    /// What the job log records of it.
    let identity: TableIdentity
    /// How the workers (in this process's memory limits) read it, and why (`MemoryRegime`).
    let regime: String
    /// The table's metadata (how its keys are formed, its columns).
    let metadata: TableMetadata?
    /// An updated table's base file, open for the run too (never 0...9): a later update may
    /// remove it from the versions directory while workers still start.
    let baseDescriptor: Int32?

    /// Opens the table at `path`, checks that it is a table (a clear error before any worker
    /// starts), and reads its identity. The `Table` handle is closed again at once: nothing
    /// LMDB may cross a `fork()`.
    init(path: String) throws {
        self.path = path
        // O_NONBLOCK: a FIFO given as the table must not block the open (it is refused next).
        let fd = try Self.openAboveTen(path, flags: O_NONBLOCK, failure: "cannot open table")
        descriptor = fd
        do {
            var info = stat()
            if fstat(fd, &info) != 0 { throw LookupError.system("cannot stat table", path: path) }
            var table = try Table(descriptor: fd, path: path)
            if let basePath = table.basePath {
                let moved = try Self.openAboveTen(basePath, flags: 0, failure: "cannot open the table's base")
                baseDescriptor = moved
                // The base this descriptor reads is the one the table's changes were made on.
                do { table = try Table(descriptor: fd, path: path, baseDescriptor: moved) } catch {
                    close(moved)
                    throw error
                }
            } else {
                baseDescriptor = nil
            }
            metadata = table.metadata
            let contentHash = table.metadata?.contentHash
            regime = table.regimeDescription
            identity = TableIdentity(path: path, contentHash: contentHash, device: UInt64(info.st_dev), inode: UInt64(info.st_ino),
                                     size: Int(info.st_size),
                                     modified: Int(info.st_mtim.tv_sec) * 1_000_000_000 + Int(info.st_mtim.tv_nsec))
        } catch {
            close(fd)
            throw error
        }
    }

    /// Opens `path` read-only, close-on-exec, at a descriptor never 0...9 (a spawned worker
    /// gets it at a fixed low number by a real `dup2`).
    private static func openAboveTen(_ path: String, flags: Int32, failure: String) throws -> Int32 {
        let opened = open(path, O_RDONLY | O_CLOEXEC | flags)
        if opened < 0 { throw LookupError.system(failure, path: path) }
        let fd = fcntl(opened, F_DUPFD_CLOEXEC, 10)
        let dupErrno = errno
        close(opened)
        if fd < 0 { throw LookupError.system(failure, path: path, errno: dupErrno) }
        return fd
    }

    deinit {
        close(descriptor)
        if let baseDescriptor { close(baseDescriptor) }
    }

    /// What a worker needs to open this file: the descriptor numbers it has it (and its base)
    /// at.
    func handoff(at descriptor: Int32, base: Int32?) -> TableHandoff {
        TableHandoff(descriptor: descriptor, device: identity.device, inode: identity.inode,
                     baseDescriptor: baseDescriptor == nil ? nil : base)
    }
}
