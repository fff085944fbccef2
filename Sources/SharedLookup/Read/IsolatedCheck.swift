// IsolatedCheck: `Table.verify()` run in a child process. LMDB trusts the pages it reads: in a
// file damaged inside (not truncated: that is caught on open), a garbage page number or node
// size sends it outside the file, and the process dies of SIGBUS or SIGSEGV. Walking the table
// in a forked child turns that death into a failed check for the caller.
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Table {
    /// Verifies the table at `path` like `verify()`, but reads it in a child process, so a
    /// table whose pages are corrupt fails its check (a problem in the report) instead of
    /// crashing the calling process. The child opens the table itself after the fork; the
    /// caller should not have it open. Errors opening or reading the table are thrown as the
    /// child met them.
    /// With `descriptor`, the child reads the file that descriptor refers to (see
    /// `Table(descriptor:path:)`), so the file verified is the file the caller then opens.
    public static func verifyIsolated(path: String, descriptor: Int32? = nil, options: TableOptions = TableOptions()) throws(LookupError) -> TableCheckReport {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw LookupError.system("cannot create a pipe to check the table", path: path) }
        let pid = fork()
        if pid < 0 {
            let code = errno
            close(fds[0]); close(fds[1])
            throw LookupError.system("cannot fork to check the table", path: path, errno: code)
        }
        if pid == 0 {
            close(fds[0])
            // A fault on a bad page (or an LMDB assertion) sends its name up the pipe and ends
            // the child with `faultStatus`, without a crash report: the parent reports it.
            TableFaultGuard.arm(fd: fds[1], before: "", after: "", status: faultStatus)
            let outcome: CheckOutcome
            do {
                let table = try Table(path: path, descriptor: descriptor, options: options)
                do {
                    outcome = CheckOutcome(report: try table.verify())
                } catch let error as LookupError where error.kind == .lmdb {
                    // Opened, but LMDB failed on a page it cannot use.
                    outcome = CheckOutcome(report: TableCheckReport(records: 0, bytes: 0, contentHash: "",
                                                                   problems: ["reading the table failed: \(error.message)"]))
                }
            } catch let error as LookupError where error.damage != nil {
                // Damage found on the way (meta pages, flags, a page LMDB cannot use): the
                // table fails its check, it is not an error of the check.
                outcome = CheckOutcome(report: TableCheckReport(records: 0, bytes: 0, contentHash: "", problems: [error.damage ?? ""]))
            } catch let error as LookupError {
                outcome = CheckOutcome(error: error)
            } catch {
                outcome = CheckOutcome(error: LookupError(.io, path: path, "\(error)"))
            }
            let bytes = (try? JSONEncoder().encode(outcome)) ?? Data()
            var pipeOut = OutputBuffer(fd: fds[1], name: "check pipe", capacity: max(bytes.count, 1))
            let sent: Bool = bytes.withUnsafeBytes { raw in
                do { try pipeOut.append(raw); try pipeOut.flush(); return true } catch { return false }
            }
            _exit(sent ? 0 : 1)
        }
        close(fds[1])
        let received = readAll(fds[0])
        close(fds[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        let exitStatus = (status >> 8) & 0xff
        if signal != 0 || exitStatus == faultStatus {
            let cause = signal != 0 ? "signal \(signal)" : String(decoding: received, as: UTF8.self)
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
}

/// The exit status of a checking child whose fault guard tripped.
private let faultStatus: Int32 = 3

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

    init(report: TableCheckReport) { self.report = report }

    init(error: LookupError) {
        kind = error.kind.rawValue
        path = error.path
        line = error.line
        message = error.message
    }
}

extension Table {
    /// Opens the table at `path` after verifying the very same file in a child process
    /// (`verifyIsolated`): a table that fails its check is refused with `LookupError.damaged`
    /// naming its problems, before anything reads it here. Costs a walk of the whole table.
    public static func openVerified(path: String, options: TableOptions = TableOptions()) throws(LookupError) -> Table {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 { throw LookupError.system("cannot open table", path: path) }
        defer { close(fd) }
        _ = try TableFileHeader.read(path: path, fd: fd)
        try verified(path: path, descriptor: fd, options: options)
        return try Table(path: path, descriptor: fd, options: options)
    }

    /// Verifies the table file behind `descriptor` (named `path`) in a child process; throws
    /// `LookupError.damaged` with the check's problems when it fails.
    public static func verified(path: String, descriptor: Int32, options: TableOptions = TableOptions()) throws(LookupError) {
        let report = try verifyIsolated(path: path, descriptor: descriptor, options: options)
        if !report.ok { throw LookupError.damaged(path, report.problems.joined(separator: "; ")) }
    }
}
