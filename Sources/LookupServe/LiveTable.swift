// LiveTable: the table the service answers from, and its live replacement. A new table is
// published by renaming a file over the path; LiveTable notices (the path names another inode),
// verifies the new file in a child process (a full walk, on a thread of its own), opens it and
// swaps it in, while requests that already hold the old one finish on it. A file that fails
// is never served: the old table keeps answering, and the failure is logged and counted.
import Foundation
import SharedLookup

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
/// replaced it. Every served table passed `Table.verifyIsolated` first.
public final class ServedTable: Sendable {
    /// The opened table, named by the served path.
    public let table: Table
    /// The path served.
    public let path: String
    /// The file it was opened from.
    public let identity: FileIdentity
    /// 1 for the table opened at start, one more for each replacement.
    public let generation: Int
    /// When this table was opened.
    public let loadedAt: Date

    init(_ verified: VerifiedTable, path: String, generation: Int) {
        self.table = verified.table
        self.path = path
        self.identity = verified.identity
        self.generation = generation
        self.loadedAt = Date()
    }
}

/// What a check of the table path found.
public enum TableCheck: Sendable, Equatable {
    /// The path still names the served file (or a broken file already reported).
    case unchanged
    /// A new table was verified, opened and is now served.
    case replaced(generation: Int)
    /// The path names a file that cannot be served (cannot be opened, or failed its check), or
    /// nothing: the previous table is still served. The message says why.
    case failed(String)
}

/// What the replacements so far came to: for `GET /v1/stats`, `/healthz` and `/metrics`.
public struct ReplacementStatus: Sendable, Equatable {
    /// New tables verified and switched to.
    public var replacements = 0
    /// New files refused: damaged, not a table, or unreadable.
    public var rejected = 0
    /// The log line of the last refusal.
    public var lastRejection: String?
    /// When the last refusal happened.
    public var lastRejectionAt: Date?
    /// A new file is being verified now.
    public var verifying = false

    /// No replacement yet.
    public init() {}
}

/// The currently served table of a path, replaced when a new file is published over the path.
///
/// `current` is cheap (a lock and a reference copy) and safe from any thread; `check()` looks at
/// the path (one `stat`) and, when it names another file, verifies that file in a child process
/// and swaps it in. Checks run one at a time, in the order called. The same file is never
/// opened twice, and a refused file is reported once and not retried until it changes (or a
/// check is forced).
public final class LiveTable: @unchecked Sendable {
    /// The path served.
    public let path: String
    private let lock = NSLock()
    private var served: ServedTable
    private var replacement = ReplacementStatus()
    /// Serializes checks, so two never verify or swap at once.
    private let gate = SerialGate()
    // Touched only inside the gate:
    /// A file refused (identity, size, mtime), not retried until one of them changes.
    private var rejected: [Int64]?
    /// The refused file, kept open so its inode number is not reused by a newer file that
    /// would then look the same (same size, and an mtime within the clock's granularity).
    private var rejectedHold: Int32 = -1
    private var reportedMissing = false
    private let log: @Sendable (String) -> Void
    /// How tables are verified before they are served.
    public let verifier: TableVerifier

    /// Verifies and opens the table at `path` (a full walk in another process, by `verifier`;
    /// blocks until done). Throws `LookupError.damaged` for a damaged table, and the open's
    /// error for a missing, foreign or truncated one. `log` receives one line for each
    /// replacement and each problem found by `check()`.
    public init(path: String, verifier: TableVerifier = .forkedChild,
                log: @escaping @Sendable (String) -> Void = { _ in }) throws(LookupError) {
        self.path = path
        self.log = log
        self.verifier = verifier
        served = ServedTable(try VerifiedTable.open(path, verifier: verifier), path: path, generation: 1)
    }

    /// The table to answer a request from. Hold it for the whole request: one request, one table.
    public var current: ServedTable {
        lock.lock()
        defer { lock.unlock() }
        return served
    }

    /// What the replacements so far came to.
    public var status: ReplacementStatus {
        lock.lock()
        defer { lock.unlock() }
        return replacement
    }

    /// Looks at the path and, when it names another file than the one served, verifies that
    /// file (off the calling thread) and serves it from now on. A file that cannot be opened or
    /// fails its check leaves the current table served; it is reported once, and retried when
    /// it changes or when `force` is set. Returns `.failed` without swapping when the calling
    /// task is cancelled during the verification.
    @discardableResult
    public func check(force: Bool = false) async -> TableCheck {
        await gate.enter()
        let result = await checkAlone(force: force)
        await gate.leave()
        return result
    }

    private func checkAlone(force: Bool) async -> TableCheck {
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
        let signature = Self.signature(st)
        if signature == rejected && !force { return .unchanged }

        setVerifying(true)
        let path = self.path, verifier = self.verifier
        let requireMetadata = old.table.metadata != nil
        let outcome = await runOnOwnThread { () -> Result<VerifiedTable, LookupError> in
            Result { () throws(LookupError) in try VerifiedTable.open(path, verifier: verifier, requireMetadata: requireMetadata) }
        }
        setVerifying(false)
        guard let outcome else { return .failed("the check of \(path) was cancelled; still serving generation \(old.generation)") }
        let opened: VerifiedTable
        switch outcome {
        case .success(let table):
            opened = table
        case .failure(let error):
            remember(rejected: signature)
            let message = "new table at \(path) cannot be used, still serving generation \(old.generation): \(error.description)"
            recordRejection(message)
            log(message)
            return .failed(message)
        }
        // The path may name the served file again by now: it is never kept open twice.
        if opened.identity == old.identity { return .unchanged }
        remember(rejected: nil)
        let next = ServedTable(opened, path: path, generation: old.generation + 1)
        swapIn(next)
        let entries = (try? next.table.count()).map { "\($0) entries" } ?? "entries unknown"
        log("switched to the new table at \(path) (generation \(next.generation), \(entries), verified)")
        return .replaced(generation: next.generation)
    }

    /// Remembers `signature` as refused (`nil`: nothing is), holding the file it names open.
    private func remember(rejected signature: [Int64]?) {
        if rejectedHold >= 0 { close(rejectedHold) }
        rejectedHold = -1
        rejected = nil
        guard let signature else { return }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        var st = stat()
        if fd >= 0 && fstat(fd, &st) == 0 && Self.signature(st) == signature {
            rejectedHold = fd
            rejected = signature
        } else if fd >= 0 {
            close(fd)
        }
    }

    /// What identifies a version of a file: device, inode, size and modification time.
    private static func signature(_ st: stat) -> [Int64] {
        #if canImport(Darwin)
        let modified = st.st_mtimespec
        #else
        let modified = st.st_mtim
        #endif
        return [Int64(bitPattern: UInt64(st.st_dev)), Int64(bitPattern: UInt64(st.st_ino)), Int64(st.st_size),
                Int64(modified.tv_sec), Int64(modified.tv_nsec)]
    }

    private func recordRejection(_ message: String) {
        lock.lock()
        defer { lock.unlock() }
        replacement.rejected += 1
        replacement.lastRejection = message
        replacement.lastRejectionAt = Date()
    }

    private func swapIn(_ next: ServedTable) {
        lock.lock()
        defer { lock.unlock() }
        served = next
        replacement.replacements += 1
    }

    private func setVerifying(_ on: Bool) {
        lock.lock()
        replacement.verifying = on
        lock.unlock()
    }
}

/// An asynchronous lock: `enter` waits until every earlier holder has called `leave`.
private actor SerialGate {
    private var held = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func enter() async {
        if !held {
            held = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func leave() {
        if waiting.isEmpty {
            held = false
        } else {
            waiting.removeFirst().resume()
        }
    }
}
