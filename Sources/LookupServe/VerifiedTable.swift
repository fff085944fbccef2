// VerifiedTable: opening a table file for serving only after a full check of that very file in
// another process (`Table.verified`), so damaged pages fail a check instead of killing the
// server. The file is opened once by path; the check and the served `Table` both read it
// through that descriptor (`Table(descriptor:path:)`), so a file renamed over the path
// meanwhile is never the one served unchecked. Also: running blocking work on a thread of its
// own.
import Foundation
import SharedLookup

/// A table opened for serving, and the file it was opened from.
struct VerifiedTable {
    /// The opened table, named by the served path.
    var table: Table
    /// Device and inode of the file checked and mapped.
    var identity: FileIdentity

    /// Opens the table at `path` after verifying it in another process by `verifier`. Throws
    /// `LookupError.damaged` for a table whose pages or contents are damaged, and the error of
    /// the open for a missing, foreign or truncated file. With `requireMetadata`, a table
    /// without metadata (a plain LMDB file, not built by `lookup build`) is refused too: it
    /// would replace a table that has them. Blocks for a full walk of the table: call it off
    /// the event loops.
    static func open(_ path: String, verifier: TableVerifier, requireMetadata: Bool = false) throws(LookupError) -> VerifiedTable {
        let fd = openReadOnly(path)
        if fd < 0 { throw LookupError.system("cannot open table", path: path) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw LookupError.system("cannot stat table", path: path) }
        let identity = FileIdentity(st)

        let table: Table
        do throws(LookupError) {
            try Table.verified(path: path, descriptor: fd, verifier: verifier)
            table = try Table(descriptor: fd, path: path)
        } catch where error.kind == .lmdb {
            // LMDB met a page it cannot use while opening (MDB_CORRUPTED, MDB_PAGE_NOTFOUND...).
            throw LookupError.damaged(path, error.message)
        }
        // The same open file description, so the same file; say so plainly if it ever is not.
        guard let mapped = try? table.mappedFileID(), mapped.device == identity.device, mapped.inode == identity.inode else {
            throw LookupError(.io, path: path, "the file opened is not the file checked (replaced while opening); publish it again")
        }
        if requireMetadata && table.metadata == nil {
            throw LookupError(.notATable, path: path,
                              "the table has no metadata, unlike the table served (not built by `lookup build`); `lookup check \(path)` tells more")
        }
        // Larger than memory: the key index read in and kept resident before it serves.
        table.prepareForManyLookups()
        return VerifiedTable(table: table, identity: identity)
    }
}

/// `open(path, O_RDONLY | O_CLOEXEC)` (named apart from `VerifiedTable.open`).
private func openReadOnly(_ path: String) -> Int32 { open(path, O_RDONLY | O_CLOEXEC) }

/// Runs `work` on a thread of its own (never an event loop or a thread of the cooperative
/// pool) and returns its result; returns `nil` at once when the calling task is cancelled
/// (the work then finishes unobserved).
func runOnOwnThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T? {
    let handoff = Handoff<T>()
    return await withTaskCancellationHandler {
        await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            guard handoff.install(continuation) else { return }
            Thread { handoff.finish(work()) }.start()
        }
    } onCancel: {
        handoff.finish(nil)
    }
}

/// A continuation resumed once: by the work's result or by cancellation, whichever is first.
private final class Handoff<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T?, Never>?
    private var finished = false

    /// Keeps `continuation`; returns false (after resuming it with `nil`) when already cancelled.
    func install(_ continuation: CheckedContinuation<T?, Never>) -> Bool {
        lock.lock()
        if finished {
            lock.unlock()
            continuation.resume(returning: nil)
            return false
        }
        self.continuation = continuation
        lock.unlock()
        return true
    }

    /// Resumes the waiting task with `value`, unless it was resumed already.
    func finish(_ value: T?) {
        lock.lock()
        guard !finished else { lock.unlock(); return }
        finished = true
        let waiting = continuation
        continuation = nil
        lock.unlock()
        waiting?.resume(returning: value)
    }
}
