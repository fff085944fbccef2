// TableFaultGuard: contains a fault met while reading a damaged table. LMDB trusts its pages;
// in a file damaged inside, a garbage page number or node size can make it read outside the
// file (SIGSEGV, SIGBUS) or fail one of its assertions (SIGABRT). The guard turns any of these
// into one prepared line naming the table and an exit status, instead of a crash report.
// It costs nothing on the lookup path: it is a signal handler, armed once per process.
import CSupport

/// Process-wide containment of faults from a damaged table (see the file comment).
///
/// A command-line tool arms it once it knows which table it reads; from then on a fatal signal
/// (or an LMDB assertion) ends the process with `LookupError.damaged`'s line for that table on
/// standard error and exit status 2, not a backtrace. Libraries embedding a table should not
/// arm it for their host process: verify the table in a child (`Table.verifyIsolated`) instead.
public enum TableFaultGuard {
    /// Arms the guard for the table at `path`: a fault writes `prefix` and the line of
    /// `LookupError.damaged(path, "SIGNAL while reading it")` to `fd` and exits with `status`.
    public static func arm(table path: String, prefix: String = "", fd: Int32 = STDERR_FILENO, status: Int32 = 2) {
        let marker = "\u{1}"
        let line = prefix + LookupError.damaged(path, marker + " while reading it").description + "\n"
        let parts = line.split(separator: marker, maxSplits: 1, omittingEmptySubsequences: false)
        arm(fd: fd, before: String(parts[0]), after: parts.count > 1 ? String(parts[1]) : "\n", status: status)
    }

    /// Arms the guard with a raw line: a fault writes `before`, the signal's name (or the
    /// cause, e.g. "an LMDB assertion") and `after` to `fd` (nothing when `fd < 0`) and exits
    /// with `status`.
    public static func arm(fd: Int32, before: String, after: String, status: Int32) {
        _ = lookup_fault_guard_arm(fd, before, after, status)
    }

    /// Called by LMDB when one of its assertions fails (set on every table's environment): trips
    /// the guard if armed; otherwise LMDB goes on to abort.
    static let lmdbAssertion: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> Void = { _, _ in
        lookup_fault_guard_trip("an LMDB assertion")
    }
}
