// IsolatedCheck: `Table.verify()` run in another process. LMDB trusts the pages it reads: in a
// file damaged inside (not truncated: that is caught on open), a garbage page number or node
// size sends it outside the file, and the process dies of SIGBUS or SIGSEGV. Walking the table
// in a child process turns that death into a failed check for the caller. The child is either
// forked (`TableVerifier.forkedChild`) or a freshly started program that calls
// `Table.runVerifierProcess(path:)` (`TableVerifier.process`); both report the same way.
import CSupport
import Foundation

/// How `Table.verifyIsolated` runs its check in a process other than the caller's.
public enum TableVerifier: Sendable, Hashable {
    /// A forked child runs the check. The child runs Swift code after `fork()`: if another
    /// thread of the caller held a lock of the Swift runtime at that moment (a generic type's
    /// metadata being instantiated, say), the child hangs and the check never ends. Use it only
    /// where no other thread is busy (a command-line tool before it starts its work, a test).
    case forkedChild
    /// A freshly started process: `executable` with `arguments` and then the table's path, with
    /// the table file open as its descriptor 3 and standard output a pipe to the caller. The
    /// program calls `Table.runVerifierProcess(path:)` and exits with its result
    /// (`lookup serve --verify-only` is one). Safe in a multi-threaded process.
    case process(executable: String, arguments: [String])
}

extension Table {
    /// Verifies the table at `path` like `verify()`, but reads it in another process (see
    /// `verifier`), so a table whose pages are corrupt fails its check (a problem in the
    /// report) instead of crashing the calling process. The caller should not have the table
    /// open. Errors opening or reading the table are thrown as the child met them.
    /// With `descriptor`, the child reads the file that descriptor refers to (see
    /// `Table(descriptor:path:)`), so the file verified is the file the caller then opens.
    /// `options` apply to a forked child; a verifier process opens the table with the defaults.
    public static func verifyIsolated(path: String, descriptor: Int32? = nil, verifier: TableVerifier = .forkedChild,
                                      options: TableOptions = TableOptions()) throws(LookupError) -> TableCheckReport {
        var fds: [Int32] = [0, 0]
        // Close-on-exec from the start: a process spawned meanwhile by another thread must not
        // inherit the write end, or reading the pipe to its end would wait for that process too.
        guard lookup_pipe_cloexec(&fds, 0) == 0 else { throw LookupError.system("cannot create a pipe to check the table", path: path) }
        let pid: pid_t
        do throws(LookupError) {
            switch verifier {
            case .forkedChild:
                pid = try forkChecker(path: path, descriptor: descriptor, options: options, reportFD: fds[1])
            case .process(let executable, let arguments):
                pid = try spawnChecker(executable, arguments, path: path, descriptor: descriptor, reportFD: fds[1])
            }
        } catch {
            close(fds[0]); close(fds[1])
            throw error
        }
        close(fds[1])
        let received = readAll(fds[0])
        close(fds[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return try CheckOutcome.report(received: received, status: status, path: path)
    }

    /// The verifier process's side of `TableVerifier.process`: verifies the table file open as
    /// descriptor 3 (named `path` in every message), writes the outcome as JSON on standard
    /// output for the caller of `verifyIsolated`, and returns the exit status to end with. A
    /// fault on a damaged page ends the process at once, with the status the caller expects.
    public static func runVerifierProcess(path: String) -> Int32 {
        TableFaultGuard.arm(fd: STDOUT_FILENO, before: "", after: "", status: CheckOutcome.faultStatus)
        return CheckOutcome.checking(path: path, descriptor: 3, options: TableOptions()).send(to: STDOUT_FILENO) ? 0 : 1
    }

    /// Forks a child that checks the table and reports on `reportFD`; returns its pid.
    private static func forkChecker(path: String, descriptor: Int32?, options: TableOptions, reportFD: Int32) throws(LookupError) -> pid_t {
        let pid = fork()
        if pid < 0 { throw LookupError.system("cannot fork to check the table", path: path) }
        if pid == 0 {
            // A fault on a bad page (or an LMDB assertion) sends its name up the pipe and ends
            // the child with `faultStatus`, without a crash report: the parent reports it.
            TableFaultGuard.arm(fd: reportFD, before: "", after: "", status: CheckOutcome.faultStatus)
            let outcome = CheckOutcome.checking(path: path, descriptor: descriptor, options: options)
            _exit(outcome.send(to: reportFD) ? 0 : 1)
        }
        return pid
    }

    /// Starts `executable ARGUMENTS PATH` with the table file as descriptor 3, `reportFD` as
    /// standard output, standard input and error on /dev/null (a child that traps prints no
    /// crash report into the caller's log) and no Swift backtracer; returns its pid.
    private static func spawnChecker(_ executable: String, _ arguments: [String], path: String, descriptor: Int32?,
                                     reportFD: Int32) throws(LookupError) -> pid_t {
        let opened = descriptor == nil ? open(path, O_RDONLY | O_CLOEXEC) : -1
        if descriptor == nil && opened < 0 { throw LookupError.system("cannot open table", path: path) }
        defer { if opened >= 0 { close(opened) } }
        // dup2 onto the same number would leave close-on-exec set, and a source at 1 or 3 could
        // be overwritten by the other dup2: move low descriptors out of the way first.
        var moved: [Int32] = []
        defer { moved.forEach { close($0) } }
        func raised(_ fd: Int32) -> Int32 {
            guard fd <= 3 else { return fd }
            let copy = fcntl(fd, F_DUPFD_CLOEXEC, 10)
            if copy >= 0 { moved.append(copy) }
            return copy
        }
        let table = raised(descriptor ?? opened), report = raised(reportFD)
        if table < 0 || report < 0 { throw LookupError.system("cannot duplicate a descriptor to check the table", path: path) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, table, 3)
        posix_spawn_file_actions_adddup2(&actions, report, STDOUT_FILENO)
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0)
        let argv = [executable] + arguments + [path]
        // No crash report (and its symbolication, which takes seconds) from a child that traps.
        let environment = ProcessInfo.processInfo.environment.filter { $0.key != "SWIFT_BACKTRACE" }
            .map { "\($0.key)=\($0.value)" } + ["SWIFT_BACKTRACE=enable=no"]
        let cArgv = argv.map { strdup($0) } + [nil], cEnv = environment.map { strdup($0) } + [nil]
        defer { (cArgv + cEnv).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, cArgv, cEnv)
        if rc != 0 { throw LookupError.system("cannot start \(executable) to check the table", path: path, errno: rc) }
        return pid
    }
}

/// Everything `fd` delivers until end of file (or an error).
private func readAll(_ fd: Int32) -> [UInt8] {
    var received = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return received }
        received += buffer[0..<n]
    }
}

/// What the checking child sends back: its report, or the error it met.
private struct CheckOutcome: Codable {
    var report: TableCheckReport?
    var kind: String?
    var path: String?
    var line: Int?
    var message: String?

    /// The exit status of a checking child whose fault guard tripped.
    static let faultStatus: Int32 = 3

    init(report: TableCheckReport) { self.report = report }

    init(problem: String) { report = TableCheckReport(records: 0, bytes: 0, contentHash: "", problems: [problem]) }

    init(error: LookupError) {
        kind = error.kind.rawValue
        path = error.path
        line = error.line
        message = error.message
    }

    /// The child's work: opens the table (through `descriptor` when given) and verifies it.
    static func checking(path: String, descriptor: Int32?, options: TableOptions) -> CheckOutcome {
        do {
            let table = try Table(path: path, descriptor: descriptor, options: options)
            do {
                return CheckOutcome(report: try table.verify())
            } catch let error as LookupError where error.kind == .lmdb {
                // Opened, but LMDB failed on a page it cannot use.
                return CheckOutcome(problem: "reading the table failed: \(error.message)")
            }
        } catch let error as LookupError where error.damage != nil {
            // Damage found on the way (meta pages, flags, a page LMDB cannot use): the table
            // fails its check, it is not an error of the check.
            return CheckOutcome(problem: error.damage ?? "")
        } catch let error as LookupError {
            return CheckOutcome(error: error)
        } catch {
            return CheckOutcome(error: LookupError(.io, path: path, "\(error)"))
        }
    }

    /// Writes this outcome as JSON to `fd`; false when it could not.
    func send(to fd: Int32) -> Bool {
        let bytes = (try? JSONEncoder().encode(self)) ?? Data()
        var out = OutputBuffer(fd: fd, name: "check pipe", capacity: max(bytes.count, 1))
        return bytes.withUnsafeBytes { raw in
            do { try out.append(raw); try out.flush(); return true } catch { return false }
        }
    }

    /// The parent's side: the report of a child that sent `received` and ended with wait
    /// status `status`. A child killed by a signal, or whose fault guard tripped, read a
    /// damaged page: that is a problem of the table. Throws the error the child met.
    static func report(received: [UInt8], status: Int32, path: String) throws(LookupError) -> TableCheckReport {
        let signal = status & 0x7f
        let exitStatus = (status >> 8) & 0xff
        if signal != 0 || exitStatus == faultStatus {
            let cause = signal != 0 ? signalName(signal) : String(decoding: received, as: UTF8.self)
            return TableCheckReport(records: 0, bytes: 0, contentHash: "", problems: [
                "reading the table's pages failed (\(cause)): the file is damaged; rebuild it or copy it again"])
        }
        guard let outcome = try? JSONDecoder().decode(CheckOutcome.self, from: Data(received)) else {
            throw LookupError(.io, path: path, "the process checking the table ended without a report (exit status \(exitStatus))")
        }
        if let report = outcome.report { return report }
        throw LookupError(LookupError.Kind(rawValue: outcome.kind ?? "") ?? .io, path: outcome.path,
                          line: outcome.line, outcome.message ?? "check failed")
    }

    /// The name of a signal that ends a process reading a damaged page.
    private static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGBUS: "SIGBUS"
        case SIGSEGV: "SIGSEGV"
        case SIGILL: "SIGILL"
        case SIGABRT: "SIGABRT"
        case SIGTRAP: "SIGTRAP"
        case SIGKILL: "SIGKILL"
        default: "signal \(signal)"
        }
    }
}

extension Table {
    /// Opens the table at `path` after verifying the very same file in another process
    /// (`verifyIsolated` with `verifier`): a table that fails its check is refused with
    /// `LookupError.damaged` naming its problems, before anything reads it here. Costs a walk
    /// of the whole table.
    public static func openVerified(path: String, verifier: TableVerifier = .forkedChild,
                                    options: TableOptions = TableOptions()) throws(LookupError) -> Table {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 { throw LookupError.system("cannot open table", path: path) }
        defer { close(fd) }
        _ = try TableFileHeader.read(path: path, fd: fd)
        try verified(path: path, descriptor: fd, verifier: verifier, options: options)
        return try Table(path: path, descriptor: fd, options: options)
    }

    /// Verifies the table file behind `descriptor` (named `path`) in another process (see
    /// `verifyIsolated`); throws `LookupError.damaged` with the check's problems when it fails.
    public static func verified(path: String, descriptor: Int32, verifier: TableVerifier = .forkedChild,
                                options: TableOptions = TableOptions()) throws(LookupError) {
        let report = try verifyIsolated(path: path, descriptor: descriptor, verifier: verifier, options: options)
        if !report.ok { throw LookupError.damaged(path, report.problems.joined(separator: "; ")) }
    }
}
