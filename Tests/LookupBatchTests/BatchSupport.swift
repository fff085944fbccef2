// Test support for `lookup run`: running the binary (with its own env tag, through the shared
// ChildProcess), /proc probes, files, summaries, job logs.
import Foundation
import LookupTestSupport
import Testing

// MARK: - Running lookup

/// What a finished `lookup` process did.
struct LookupResult {
    var pid: pid_t
    /// Exit status, or the signal number when `signaled`.
    var status: Int32
    var signaled: Bool
    var stdout: [UInt8]
    var stderr: String

    /// The result of the process `output` describes.
    init(_ output: ProcessOutput) {
        pid = output.pid
        status = output.status
        signaled = output.signaled
        stdout = output.stdout
        stderr = output.err
    }

    var summary: String { (signaled ? "killed by signal \(status)" : "exit \(status)") + "; stderr: " + err }

    /// Standard error for messages: whole if short, the relevant lines of a crash report.
    var err: String { stderr.contains("crashed") ? crashExcerpt(stderr) : String(stderr.prefix(2000)) }

    /// Whether one line of standard error contains every one of `needles`.
    func says(_ needles: String...) -> Bool {
        stderr.split(separator: "\n").contains { line in needles.allSatisfy { line.contains($0) } }
    }
}

/// A `lookup` process started by a test.
final class LookupProcess {
    /// Every worker and the coordinator carry LOOKUP_TEST_TAG=tag in their environment.
    let tag: String
    private let child: ChildProcess
    var pid: pid_t { child.pid }

    /// Starts `lookup arguments` with `environment` added (fault hooks etc.); with `ownGroup`
    /// the process leads a new process group (for Ctrl-C-like group signals).
    init(_ arguments: [String], environment extra: [String: String] = [:], ownGroup: Bool = false) throws {
        tag = UUID().uuidString
        child = try ChildProcess(try TestBinaries.requireLookup(), arguments,
                                 environment: ["LOOKUP_TEST_TAG": tag].merging(extra) { $1 }, ownGroup: ownGroup)
    }

    /// Waits for the process to end. `sample`, when given, is called every `interval` seconds
    /// while it runs (measurement only: nothing waits on what it sees).
    func wait(sampleEvery interval: Double = 0.005, _ sample: ((pid_t) -> Void)? = nil) throws -> LookupResult {
        LookupResult(try child.wait(sampleEvery: interval, sample))
    }
}

/// Runs `lookup arguments` to completion.
@discardableResult
func runLookup(_ arguments: [String], environment: [String: String] = [:]) throws -> LookupResult {
    try LookupProcess(arguments, environment: environment).wait()
}

/// Expects the run neither crashed nor died of a signal, and no worker crashed either (workers
/// share its stderr: a Swift runtime trap prints "Fatal error" / "Fatal access conflict" and
/// the backtracer "Program crashed").
func expectNoCrash(_ r: LookupResult, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let signaled = r.signaled
    #expect(!signaled, "\(what): \(r.summary)", sourceLocation: sourceLocation)
    for marker in ["Fatal error", "Fatal access conflict", "Program crashed", "Stack dump"] {
        let crashed = r.stderr.contains(marker)
        #expect(!crashed, "\(what): a process crashed (\(marker)): \(r.err)", sourceLocation: sourceLocation)
    }
}

/// The lines of stderr that matter in a crash report (the first few, and lookup's own messages).
func crashExcerpt(_ stderr: String) -> String {
    let lines = stderr.split(separator: "\n")
    let own = lines.filter { $0.hasPrefix("lookup:") || $0.contains("Fatal") || $0.contains("crashed") }
    return (lines.prefix(3) + ["..."] + own.prefix(12)).joined(separator: "\n")
}

/// Expects exit status `status` (and no crash).
func expectExit(_ r: LookupResult, _ status: Int32, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    expectNoCrash(r, what, sourceLocation: sourceLocation)
    let matches = !r.signaled && r.status == status
    #expect(matches, "\(what): expected exit \(status), got \(r.summary)", sourceLocation: sourceLocation)
}

// MARK: - /proc

/// The whole content of a small (e.g. /proc) file, or nil.
func readProcFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; return out.isEmpty ? nil : out }
        if n == 0 { return out }
        out += chunk[0..<n]
    }
}

/// The children of `pid`, from /proc/PID/task/*/children (every thread's).
func childPIDs(of pid: pid_t) -> [pid_t] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    var out: [pid_t] = []
    for t in tasks {
        guard let bytes = readProcFile("/proc/\(pid)/task/\(t)/children") else { continue }
        out += String(decoding: bytes, as: UTF8.self).split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
    return out
}

/// The `Pss:` of /proc/PID/smaps_rollup, in kB (nil when the process is gone).
func pssKB(_ pid: pid_t) -> Int? {
    guard let bytes = readProcFile("/proc/\(pid)/smaps_rollup") else { return nil }
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("Pss:") {
        return Int(line.dropFirst(4).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
    }
    return nil
}

/// Fields of /proc/PID/stat after the command name: state (index 0), ppid (1), ..., starttime (19).
func procStat(_ pid: pid_t) -> [String]? {
    guard let bytes = readProcFile("/proc/\(pid)/stat") else { return nil }
    let text = String(decoding: bytes, as: UTF8.self)
    guard let close = text.range(of: ")", options: .backwards) else { return nil }
    return text[close.upperBound...].split(separator: " ").map(String.init)
}

/// A process identity that survives pid reuse: pid plus start time.
struct ProcessIdentity: Hashable, CustomStringConvertible {
    var pid: pid_t
    var start: String
    init?(_ pid: pid_t) {
        guard let f = procStat(pid), f.count > 19 else { return nil }
        self.pid = pid
        start = f[19]
    }
    /// Whether this very process still exists (in any state, zombies included).
    var exists: Bool { ProcessIdentity(pid)?.start == start }
    /// Its state letter now, if it exists.
    var state: String? { exists ? procStat(pid)?.first : nil }
    var description: String { "pid \(pid)" }
}

/// Processes whose environment holds LOOKUP_TEST_TAG=tag (a run's coordinator and workers).
func processesTagged(_ tag: String) -> [pid_t] {
    let needle = Array("LOOKUP_TEST_TAG=\(tag)".utf8)
    var found: [pid_t] = []
    for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let pid = pid_t(name), pid != getpid(), let env = readProcFile("/proc/\(name)/environ") else { continue }
        for entry in env.split(separator: 0) where Array(entry) == needle { found.append(pid) }
    }
    return found
}

// MARK: - Files

func fileExists(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0
}

/// Inode and modification time (ns) of a file.
func inodeAndMTime(_ path: String) -> (inode: UInt64, mtime: Int)? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return (UInt64(st.st_ino), Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec))
}

/// Every entry under `dir` (files, directories, symlinks, hidden ones included), as paths
/// relative to it, sorted. Symlinks are not followed.
func listTree(_ dir: String) -> [String] {
    var out: [String] = []
    func walk(_ rel: String) {
        let full = rel.isEmpty ? dir : dir + "/" + rel
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: full)) ?? []).sorted() {
            let r = rel.isEmpty ? name : rel + "/" + name
            out.append(r)
            var st = stat()
            if lstat(dir + "/" + r, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR { walk(r) }
        }
    }
    walk("")
    return out
}

/// One entry of a `treeSnapshot`: type, inode, size, mtime, and a file's bytes.
struct TreeEntry: Equatable {
    var meta: String
    var bytes: [UInt8]
}

/// Every entry under `dir` (hidden ones included, symlinks not followed) with its type,
/// inode, size, mtime and, for files, its bytes: equal snapshots mean nothing changed.
func treeSnapshot(_ dir: String) -> [String: TreeEntry] {
    var out: [String: TreeEntry] = [:]
    for rel in listTree(dir) {
        var st = stat()
        guard lstat(dir + "/" + rel, &st) == 0 else { continue }
        let meta = "mode \(st.st_mode) inode \(st.st_ino) size \(st.st_size) mtime \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
        let regular = (st.st_mode & S_IFMT) == S_IFREG
        out[rel] = TreeEntry(meta: meta, bytes: regular ? ((try? readFile(dir + "/" + rel)) ?? []) : [])
    }
    return out
}

/// Expects `dir` to be as `before` was, naming what changed.
func expectUnchanged(_ dir: String, since before: [String: TreeEntry], _ what: String,
                     sourceLocation: SourceLocation = #_sourceLocation) {
    let after = treeSnapshot(dir)
    let changed = Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }.sorted()
    #expect(changed.isEmpty, "\(what): changed in \(dir): \(changed)", sourceLocation: sourceLocation)
}

/// The regular files under `dir`, relative, sorted (hidden ones included).
func listFiles(_ dir: String) -> [String] {
    listTree(dir).filter { rel in
        var st = stat()
        return lstat(dir + "/" + rel, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }
}

/// Runs an external tool (gzip, ...) and fails when it fails.
func runTool(_ path: String, _ arguments: [String]) throws {
    let r = try runProcess(path, arguments)
    if r.status != 0 || r.signaled { throw TestFailure("\(path) \(arguments.joined(separator: " ")) failed: \(r.summary)") }
}

/// gzip-compresses `bytes` into `path` with the system's gzip.
func writeGzip(_ path: String, _ bytes: [UInt8]) throws {
    precondition(path.hasSuffix(".gz"))
    let plain = String(path.dropLast(3))
    try writeFile(plain, bytes)
    try runTool("/usr/bin/env", ["gzip", "-n", "-f", plain])
    guard fileExists(path) else { throw TestFailure("gzip did not write \(path)") }
}

/// Byte equality without a per-element loop (test code is built unoptimized).
func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    a.count == b.count && a.withUnsafeBytes { x in b.withUnsafeBytes { y in a.isEmpty || memcmp(x.baseAddress!, y.baseAddress!, a.count) == 0 } }
}

/// Where two byte strings first differ, described by line (for failure messages).
func describeDifference(_ got: [UInt8], _ want: [UInt8]) -> String {
    var i = 0
    let n = min(got.count, want.count)
    got.withUnsafeBytes { g in want.withUnsafeBytes { w in
        // Skip equal 4 KiB chunks quickly.
        while i + 4096 <= n && memcmp(g.baseAddress! + i, w.baseAddress! + i, 4096) == 0 { i += 4096 }
        while i < n && g[i] == w[i] { i += 1 }
    } }
    let line = got[0..<i].reduce(1) { $1 == 10 ? $0 + 1 : $0 }
    func lineAt(_ bytes: [UInt8]) -> String {
        var s = i
        while s > 0 && bytes[s - 1] != 10 { s -= 1 }
        var e = i
        while e < bytes.count && bytes[e] != 10 { e += 1 }
        return showBytes(Array(bytes[s..<e]))
    }
    return "\(got.count) bytes, expected \(want.count); first difference at byte \(i) (line \(line)): got \(lineAt(got)), expected \(lineAt(want))"
}

/// Printable rendering of bytes for messages.
func showBytes(_ bytes: [UInt8], limit: Int = 120) -> String {
    var text = "\""
    for b in bytes.prefix(limit) {
        if b >= 0x20 && b < 0x7f && b != 0x5c && b != 0x22 { text.unicodeScalars.append(Unicode.Scalar(b)) }
        else { text += String(format: "\\x%02x", b) }
    }
    return text + (bytes.count > limit ? "...\"(\(bytes.count) bytes)" : "\"")
}

/// Expects the file at `path` to hold exactly `want`.
func expectFile(_ path: String, equals want: [UInt8], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let got = try? readFile(path) else {
        Issue.record("\(what): output \(path) is missing", sourceLocation: sourceLocation)
        return
    }
    if !sameBytes(got, want) {
        Issue.record("\(what): \(path): \(describeDifference(got, want))", sourceLocation: sourceLocation)
    }
}

// MARK: - Summary JSON and job log

struct Counts: Decodable, Equatable, CustomStringConvertible {
    var lines: Int
    var hits: Int
    var misses: Int
    var badLines: Int
    var bytes: Int
    var description: String { "lines \(lines), hits \(hits), misses \(misses), bad \(badLines)" }
}

/// The `--summary-json` file.
struct Summary: Decodable {
    var files: Int
    var filesSkipped: Int
    var filesFailed: Int
    var counts: Counts
    var errors: [String]
    var seconds: Double
    var workers: Int
    var tasks: Int
    var retries: Int
}

func readSummary(_ path: String) throws -> Summary {
    try JSONDecoder().decode(Summary.self, from: Data(try readFile(path)))
}

/// One job log line.
struct JobLogLine: Decodable {
    var input: String
    var size: Int
    var modified: Int
    var output: String?
    var counts: Counts
}

/// The job log's first line: the table and the options of the run.
struct JobLogHeaderLine: Decodable {
    struct Run: Decodable {
        struct Table: Decodable {
            var path: String
            var contentHash: String?
            var device: UInt64
            var inode: UInt64
            var size: Int
            var modified: Int
        }
        struct Settings: Decodable {
            var job: String
            var mode: String
            var keyColumn: Int
            var delimiter: UInt8?
            var format: String?
            var header: Bool
        }
        var version: Int
        var table: Table
        var settings: Settings
    }
    var run: Run
}

/// The header (first line) of the job log of `out`, or nil when it has none.
func readJobLogHeader(_ out: String) -> JobLogHeaderLine.Run? {
    guard let bytes = try? readFile(out + "/.lookup-joblog.jsonl"),
          let first = bytes.split(separator: 10).first else { return nil }
    return try? JSONDecoder().decode(JobLogHeaderLine.self, from: Data(first)).run
}

/// The entries of the job log of `out` (the header line skipped): each line must be one
/// valid JSON object (recorded as an issue otherwise).
func readJobLog(_ out: String, sourceLocation: SourceLocation = #_sourceLocation) -> [JobLogLine] {
    guard let bytes = try? readFile(out + "/.lookup-joblog.jsonl") else { return [] }
    var entries: [JobLogLine] = []
    let lines = bytes.split(separator: 10, omittingEmptySubsequences: false)
    let terminated = bytes.isEmpty || bytes.last == 10
    #expect(terminated, "job log does not end with a newline", sourceLocation: sourceLocation)
    for (i, line) in lines.enumerated() where !(line.isEmpty && i == lines.count - 1) {
        let data = Data(line)
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            Issue.record("job log line \(i + 1) is not a JSON object: \(showBytes(Array(line)))", sourceLocation: sourceLocation)
            continue
        }
        if i == 0 && object["run"] != nil { continue }  // the header
        do { entries.append(try JSONDecoder().decode(JobLogLine.self, from: data)) }
        catch { Issue.record("job log line \(i + 1): \(error)", sourceLocation: sourceLocation) }
    }
    return entries
}

/// Lines of stderr that mention `path:` followed by a line number, as numbers.
func reportedLines(_ stderr: String, path: String) -> [Int] {
    var out: [Int] = []
    for line in stderr.split(separator: "\n") {
        var rest = Substring(line)
        while let r = rest.range(of: path + ":") {
            let digits = rest[r.upperBound...].prefix(while: { $0.isASCII && $0.isNumber })
            if let n = Int(digits), rest[r.upperBound...].dropFirst(digits.count).first == ":" { out.append(n) }
            rest = rest[r.upperBound...]
        }
    }
    return out
}

/// No work directories or stray hidden files left in an output directory.
func expectNoLeftovers(_ out: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let stray = listTree(out).filter { rel in
        let name = (rel as NSString).lastPathComponent
        return name.hasPrefix(".") && rel != ".lookup-joblog.jsonl"
    }
    #expect(stray.isEmpty, "\(what): left in \(out): \(stray)", sourceLocation: sourceLocation)
}
