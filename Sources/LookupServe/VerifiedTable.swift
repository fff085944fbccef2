// VerifiedTable: opening a table file for serving only after a full check of that very file in
// another process, so damaged pages fail a check instead of killing the server. The file is
// opened once by path; the check and the served `Table` both read it through that descriptor
// (`/proc/self/fd/N`), so a file renamed over the path meanwhile is never the one served
// unchecked. The check runs in a freshly started process (`lookup serve --verify-only`), or in
// a forked child (`Table.verifyIsolated`) where forking is safe. Also: running blocking work
// on a thread of its own.
import Foundation
import SharedLookup

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A table opened for serving, and the file it was opened from.
struct VerifiedTable {
    /// The opened table. Its `path` is the descriptor path it was opened through; messages
    /// and stats show the served path instead (`ServedTable.relabel`).
    var table: Table
    /// Device and inode of the file checked and mapped.
    var identity: FileIdentity
    /// The path the table was opened through (`/proc/self/fd/N`), as it appears in `table`.
    var openedAs: String

    /// Opens the table at `path` after verifying it in a child process. Throws
    /// `LookupError.damaged` for a table whose pages or contents are damaged, and the error of
    /// the open for a missing, foreign or truncated file. With `requireMetadata`, a table
    /// without metadata (not built by `lookup build`, or whose databases cannot be found) is
    /// refused too. Blocks for a full walk of the table: call it off the event loops.
    static func open(_ path: String, verifier: TableVerifier, requireMetadata: Bool = false) throws(LookupError) -> VerifiedTable {
        let fd = openReadOnly(path)
        if fd < 0 { throw LookupError.system("cannot open table", path: path) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw LookupError.system("cannot stat table", path: path) }
        let identity = FileIdentity(st)
        let viaFD = descriptorPath(fd)
        func relabel(_ error: LookupError) -> LookupError { relabeled(error, from: viaFD, to: path) }

        let problems: [String]
        do throws(LookupError) {
            switch verifier {
            case .forkedChild:
                problems = try ChildOutput.silenced { () throws(LookupError) in try Table.verifyIsolated(path: viaFD) }.problems
            case .process(let executable, let arguments):
                problems = try VerifierProcess.run(executable, arguments, fd: fd, path: path)
            }
        } catch where error.kind == .lmdb || error.kind == .corrupt || error.kind == .damaged {
            // LMDB met a page it cannot use while opening (MDB_CORRUPTED, MDB_PAGE_NOTFOUND...).
            throw LookupError.damaged(path, relabel(error).message)
        } catch {
            throw relabel(error)
        }
        if !problems.isEmpty {
            let detail = problems.map { $0.replacingOccurrences(of: viaFD, with: path) }.joined(separator: "; ")
            throw LookupError.damaged(path, detail)
        }

        let table: Table
        do { table = try Table(path: viaFD) } catch { throw relabel(error) }
        // The same open file description, so the same file; say so plainly if it ever is not.
        var mapped = stat()
        guard let lmdbFD = try? table.environment.fileDescriptor(), fstat(lmdbFD, &mapped) == 0,
              FileIdentity(mapped) == identity else {
            throw LookupError(.io, path: path, "the file opened is not the file checked (replaced while opening); publish it again")
        }
        try checkLayout(table, path: path, requireMetadata: requireMetadata)
        return VerifiedTable(table: table, identity: identity, openedAs: viaFD)
    }

    /// Refuses a table built by `lookup` whose named databases cannot be opened: its main
    /// database then reads as a plain LMDB file holding the names "data" and "meta" (a damaged
    /// database flags field does that), and every lookup would miss. With `requireMetadata`, any
    /// table without metadata is refused. The table has been verified: its pages are sound.
    private static func checkLayout(_ table: Table, path: String, requireMetadata: Bool) throws(LookupError) {
        guard table.metadata == nil else { return }
        var names: Set<String> = []
        var walked = 0
        _ = try? table.scan { key, _ in
            walked += 1
            names.insert(String(decoding: key, as: UTF8.self))
            return walked < 16
        }
        if names.contains("data") && names.contains("meta") {
            throw LookupError.damaged(path, "its main database lists the databases \"data\" and \"meta\" but they cannot be opened; the database flags are damaged")
        }
        if requireMetadata {
            throw LookupError(.notATable, path: path,
                              "the table has no metadata, unlike the table served (damaged, or not built by `lookup build`); `lookup check \(path)` tells more")
        }
    }

    /// The path through which `fd` opens the file it refers to.
    static func descriptorPath(_ fd: Int32) -> String {
        #if os(Linux)
        "/proc/self/fd/\(fd)"
        #else
        "/dev/fd/\(fd)"
        #endif
    }

    /// `error` with `from` (a descriptor path) replaced by `to` (the served path).
    static func relabeled(_ error: LookupError, from: String, to: String) -> LookupError {
        var error = error
        if error.path == from { error.path = to }
        error.message = error.message.replacingOccurrences(of: from, with: to)
        return error
    }
}

/// How a table is verified before it is served: a full walk, compared with its metadata, in a
/// process other than the server, so damaged pages cannot kill the server.
public enum TableVerifier: Sendable, Hashable {
    /// `Table.verifyIsolated` in a forked child. The child runs Swift code after `fork()`: if
    /// another thread of the server held a lock of the Swift runtime at that moment (a generic
    /// type's metadata being instantiated while requests are answered), the child hangs and
    /// the check never ends. Use it only where no other thread is busy (a tool, a test).
    case forkedChild
    /// A freshly started process: `executable` with `arguments` and then the path of the table
    /// (open as its descriptor 3), which prints `TableVerifier.childReport(path:)` on standard
    /// output. `lookup serve --verify-only` is one.
    case process(executable: String, arguments: [String])

    /// The verifying process's side of `.process`: verifies the table at `path` in this
    /// process and returns the outcome as one line of JSON for the server to read. A damaged
    /// page may kill this process; the server counts that as damage.
    public static func childReport(path: String) -> String {
        var outcome = VerifierOutcome()
        do {
            let table = try Table(path: path)
            do {
                outcome.problems = try table.verify().problems
            } catch let error as LookupError where error.kind == .lmdb {
                outcome.problems = ["reading the table failed: \(error.message)"]
            }
        } catch let error as LookupError {
            outcome.kind = error.kind.rawValue
            outcome.message = error.message
        } catch {
            outcome.kind = LookupError.Kind.io.rawValue
            outcome.message = "\(error)"
        }
        let json = (try? JSONEncoder().encode(outcome)).map { String(decoding: $0, as: UTF8.self) }
        return json ?? "{}"
    }
}

/// What a verifying process reports: the problems of its walk, or the error that stopped it.
private struct VerifierOutcome: Codable {
    var problems: [String]?
    var kind: String?
    var message: String?
}

/// Runs a `.process` verifier on an open table file.
private enum VerifierProcess {
    /// Starts `executable ARGUMENTS /proc/self/fd/3` (`/dev/fd/3` on Darwin) with `fd` as its descriptor 3, standard
    /// output to a pipe, standard error to /dev/null (a child dying of a trap prints no crash
    /// report into the server's log), and returns the problems it reports (none: the table is
    /// sound). `path` names the table in errors.
    static func run(_ executable: String, _ arguments: [String], fd: Int32, path: String) throws(LookupError) -> [String] {
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw LookupError.system("cannot create a pipe to check the table", path: path) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 onto a different number clears close-on-exec; the table's descriptor is never 3
        // here only by luck, so move it out of the way first when it is.
        let source = fd == 3 ? fcntl(fd, F_DUPFD_CLOEXEC, 10) : fd
        defer { if source != fd { close(source) } }
        posix_spawn_file_actions_adddup2(&actions, source, 3)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], STDOUT_FILENO)
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0)
        let argv = [executable] + arguments + [VerifiedTable.descriptorPath(3)]
        // No crash report (and its symbolication, which takes seconds) from a child that traps.
        let environment = ProcessInfo.processInfo.environment.filter { $0.key != "SWIFT_BACKTRACE" }
            .map { "\($0.key)=\($0.value)" } + ["SWIFT_BACKTRACE=enable=no"]
        var pid: pid_t = 0
        let spawned = withCStrings(argv) { cArgv in
            withCStrings(environment) { cEnv in posix_spawn(&pid, executable, &actions, nil, cArgv, cEnv) }
        }
        close(pipeFDs[1])
        defer { close(pipeFDs[0]) }
        guard spawned == 0 else {
            throw LookupError.system("cannot start \(executable) to check the table", path: path, errno: spawned)
        }
        let output = FileHandle(fileDescriptor: pipeFDs[0], closeOnDealloc: false).readDataToEndOfFile()
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        if signal != 0 {
            let name = signal == SIGBUS ? "SIGBUS" : signal == SIGSEGV ? "SIGSEGV" : signal == SIGILL ? "SIGILL" : "signal \(signal)"
            return ["reading the table's pages killed the checking process (\(name))"]
        }
        guard let outcome = try? JSONDecoder().decode(VerifierOutcome.self, from: output) else {
            throw LookupError(.io, path: path, "the process checking the table (\(executable)) ended without a report (exit status \((status >> 8) & 0xff))")
        }
        // The child named the table by its descriptor path; the server names it by its path.
        let childPath = VerifiedTable.descriptorPath(3)
        if let problems = outcome.problems {
            return problems.map { $0.replacingOccurrences(of: childPath, with: path) }
        }
        throw LookupError(LookupError.Kind(rawValue: outcome.kind ?? "") ?? .io, path: path,
                          (outcome.message ?? "the check failed").replacingOccurrences(of: childPath, with: path))
    }

    /// Calls `body` with `strings` as a NULL-terminated C array.
    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        return body(copies + [nil])
    }
}

/// `open(path, O_RDONLY | O_CLOEXEC)`.
private func openReadOnly(_ path: String) -> Int32 { open(path, O_RDONLY | O_CLOEXEC) }

/// Keeps the checking child's standard error quiet: a child that dies of a Swift runtime
/// trap (not a plain SIGBUS/SIGSEGV) would print a crash report into the server's log.
/// A `pthread_atfork` child handler points fd 2 at /dev/null in every child forked while a
/// `silenced` call runs (`lookup serve` forks for nothing else).
enum ChildOutput {
    private static let lock = NSLock()
    /// Calls of `silenced` running now; read by the child handler in the child's snapshot.
    nonisolated(unsafe) private static var active = 0
    private static let installed: Bool = {
        pthread_atfork(nil, nil) {
            guard ChildOutput.active > 0 else { return }
            let null = open("/dev/null", O_WRONLY)
            if null >= 0 { dup2(null, STDERR_FILENO); close(null) }
        } == 0
    }()

    /// Runs `body` with the stderr of children forked meanwhile going to /dev/null.
    static func silenced<R>(_ body: () throws(LookupError) -> R) throws(LookupError) -> R {
        _ = installed
        lock.lock(); active += 1; lock.unlock()
        defer { lock.lock(); active -= 1; lock.unlock() }
        return try body()
    }
}

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
