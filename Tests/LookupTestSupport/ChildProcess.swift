// ChildProcess: how the tests run programs. A child is spawned (posix_spawn) with its standard
// input from bytes or /dev/null and its output and error captured through files (so no pipe
// can fill up and block either side), no signals blocked and SIGINT, SIGTERM, SIGPIPE and
// SIGCHLD at their defaults (the test runner's threads block some, and a child inherits the
// mask), no descriptor but 0, 1 and 2 inherited, and the fault-injection hooks of the
// environment removed unless asked for.
import Foundation

/// What a finished process did.
public struct ProcessOutput: Sendable {
    /// Its process id.
    public var pid: pid_t
    /// The exit status, or the signal number when `signaled`.
    public var status: Int32
    /// Whether the process died of a signal.
    public var signaled: Bool
    public var stdout: [UInt8]
    public var stderr: [UInt8]

    /// What process `pid` did: its status (or signal, when `signaled`) and its output.
    public init(pid: pid_t, status: Int32, signaled: Bool, stdout: [UInt8], stderr: [UInt8]) {
        self.pid = pid
        self.status = status
        self.signaled = signaled
        self.stdout = stdout
        self.stderr = stderr
    }

    /// Standard output as text.
    public var out: String { String(decoding: stdout, as: UTF8.self) }
    /// Standard error as text.
    public var err: String { String(decoding: stderr, as: UTF8.self) }

    /// Standard output split into lines (a final newline does not start another line).
    public var outLines: [String] { splitLines(stdout).map { String(decoding: $0, as: UTF8.self) } }
    /// Standard error split into lines.
    public var errLines: [String] { splitLines(stderr).map { String(decoding: $0, as: UTF8.self) } }

    /// A one-line summary for failure messages.
    public var summary: String {
        let how = signaled ? "killed by signal \(status)" : "exit \(status)"
        return "\(how); stderr: \(err.prefix(2000))"
    }
}

/// Splits bytes into lines on "\n"; a final newline does not start another line.
public func splitLines(_ bytes: [UInt8]) -> [[UInt8]] {
    if bytes.isEmpty { return [] }
    var lines = bytes.split(separator: 10, omittingEmptySubsequences: false).map { Array($0) }
    if bytes.last == 10 { lines.removeLast() }
    return lines
}

/// A program started by a test, running until `wait` collects what it did.
public final class ChildProcess {
    /// Its process id.
    public let pid: pid_t
    private let inPath: String?
    private let outPath: String
    private let errPath: String

    /// Starts `executable arguments`. Standard input is `stdin` (/dev/null when nil). The
    /// child's environment is this process's without the test hooks (`LOOKUP_FAULT_*`,
    /// `LOOKUP_BATCH_WORKER`), plus `environment`. With `ownGroup` it leads a new process
    /// group (for Ctrl-C-like group signals).
    public init(_ executable: String, _ arguments: [String], stdin: [UInt8]? = nil, environment extra: [String: String] = [:],
                ownGroup: Bool = false) throws {
        let io = "\(scratchRoot)/io-\(UUID().uuidString)"
        outPath = io + ".out"
        errPath = io + ".err"
        inPath = stdin.map { _ in io + ".in" }
        if let inPath, let stdin {
            guard FileManager.default.createFile(atPath: inPath, contents: Data(stdin)) else { throw TestFailure("cannot write \(inPath)") }
        }

        let env = childEnvironment(extra)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inPath ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // Pipes other tests hold open must not stay open in this child.
        _ = closeFromDescriptor?(&actions, 3)

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let rc = withChildAttributes(ownGroup: ownGroup) { posix_spawn(&child, executable, &actions, $0, argv, envp) }
        if rc != 0 {
            if let inPath { unlink(inPath) }
            throw TestFailure("posix_spawn \(executable): \(String(cString: strerror(rc)))")
        }
        pid = child
    }

    /// Waits for the process to end. `sample`, when given, is called every `interval` seconds
    /// while it runs (measurement only: nothing waits on what it sees).
    public func wait(sampleEvery interval: Double = 0.005, _ sample: ((pid_t) -> Void)? = nil) throws -> ProcessOutput {
        var status: Int32 = 0
        if let sample {
            while true {
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid { break }
                if r < 0 && errno != EINTR { throw TestFailure("waitpid: \(String(cString: strerror(errno)))") }
                sample(pid)
                usleep(useconds_t(interval * 1_000_000))
            }
        } else {
            while waitpid(pid, &status, 0) < 0 {
                if errno != EINTR { throw TestFailure("waitpid: \(String(cString: strerror(errno)))") }
            }
        }
        defer {
            unlink(outPath)
            unlink(errPath)
            if let inPath { unlink(inPath) }
        }
        let signo = status & 0x7f
        let out = FileManager.default.contents(atPath: outPath).map { [UInt8]($0) } ?? []
        let err = FileManager.default.contents(atPath: errPath).map { [UInt8]($0) } ?? []
        return ProcessOutput(pid: pid, status: signo != 0 ? signo : (status >> 8) & 0xff, signaled: signo != 0,
                             stdout: out, stderr: err)
    }
}

/// Calls `body` with spawn attributes for a test's child: no signals blocked, SIGINT, SIGTERM,
/// SIGPIPE and SIGCHLD at their defaults, and with `ownGroup` a process group of its own.
public func withChildAttributes<R>(ownGroup: Bool = false, _ body: (UnsafePointer<posix_spawnattr_t>) throws -> R) rethrows -> R {
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attr, &none)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for s in [SIGINT, SIGTERM, SIGPIPE, SIGCHLD] { sigaddset(&defaults, s) }
    posix_spawnattr_setsigdefault(&attr, &defaults)
    var flags = Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF)
    if ownGroup {
        flags |= Int32(POSIX_SPAWN_SETPGROUP)
        posix_spawnattr_setpgroup(&attr, 0)
    }
    posix_spawnattr_setflags(&attr, Int16(flags))
    return try withUnsafePointer(to: &attr) { try body($0) }
}

/// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later; the Glibc module does
/// not declare it), found at run time.
let closeFromDescriptor: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
    guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
}()

/// A test child's environment: this process's without the test hooks (`LOOKUP_FAULT_*`,
/// `LOOKUP_BATCH_WORKER`), plus `extra`.
func childEnvironment(_ extra: [String: String]) -> [String: String] {
    var env = ProcessInfo.processInfo.environment
    for key in env.keys where key.hasPrefix("LOOKUP_FAULT_") || key == "LOOKUP_BATCH_WORKER" { env[key] = nil }
    for (k, v) in extra { env[k] = v }
    return env
}

/// Runs `executable arguments` to completion (see `ChildProcess`).
@discardableResult
public func runProcess(_ executable: String, _ arguments: [String], stdin: [UInt8]? = nil,
                       environment: [String: String] = [:]) throws -> ProcessOutput {
    try ChildProcess(executable, arguments, stdin: stdin, environment: environment).wait()
}
