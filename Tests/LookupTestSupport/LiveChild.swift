// LiveChild: a program the test talks to while it runs: its standard input is a pipe the test
// writes, its standard output a pipe the test reads (or a file), its standard error a file.
// Spawned as ChildProcess spawns (signals at their defaults, no other descriptor inherited,
// the test hooks removed from the environment).
import CSupport
import Foundation

/// A running program with piped standard input (and output).
public final class LiveChild: @unchecked Sendable {
    /// Its process id.
    public let pid: pid_t
    private var stdinFD: Int32
    private var stdoutFD: Int32
    private let outPath: String?
    /// The file its standard error goes to.
    public let errorPath: String
    private let ownsErrorFile: Bool
    private var pending: [UInt8] = []
    private var reaped: ProcessOutput?

    /// Starts `executable arguments`; with `pipeStdout` the test reads its output
    /// (`readLine`, `readLines`, `readAll`), else it goes to a file `wait` returns. Standard
    /// error goes to `errorPath` when given (the caller's file, kept), else to a file of its own.
    public init(_ executable: String, _ arguments: [String], pipeStdout: Bool = true,
                environment extra: [String: String] = [:], errorPath: String? = nil) throws {
        var input: [Int32] = [-1, -1], output: [Int32] = [-1, -1]
        // Close-on-exec: a child another test spawns meanwhile must not inherit these ends
        // (it would keep this child's input open forever).
        guard lookup_pipe_cloexec(&input, 0) == 0 else { throw TestFailure("pipe failed") }
        if pipeStdout && lookup_pipe_cloexec(&output, 0) != 0 {
            close(input[0]); close(input[1])
            throw TestFailure("pipe failed")
        }
        let io = "\(scratchRoot)/live-\(UUID().uuidString)"
        self.errorPath = errorPath ?? io + ".err"
        ownsErrorFile = errorPath == nil
        outPath = pipeStdout ? nil : io + ".out"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        if let outPath {
            posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        }
        posix_spawn_file_actions_addopen(&actions, 2, self.errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = closeFromDescriptor?(&actions, 3)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = childEnvironment(extra).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let rc = withChildAttributes { posix_spawn(&child, executable, &actions, $0, argv, envp) }
        close(input[0])
        if pipeStdout { close(output[1]) }
        if rc != 0 {
            close(input[1])
            if pipeStdout { close(output[0]) }
            throw TestFailure("posix_spawn \(executable): \(String(cString: strerror(rc)))")
        }
        pid = child
        stdinFD = input[1]
        stdoutFD = pipeStdout ? output[0] : -1
    }

    deinit {
        if reaped == nil { kill(pid, SIGKILL); _ = try? wait() }
        closeInput()
        closeOutput()
    }

    /// Writes `bytes` to its standard input; returns once the pipe took them all. Throws when
    /// the program stopped reading (EPIPE: SIGPIPE is blocked meanwhile, not raised).
    public func write<C: Collection>(_ bytes: C) throws where C.Element == UInt8 {
        let data = Array(bytes)
        var offset = 0
        try withoutSIGPIPE {
            while offset < data.count {
                let n = data.withUnsafeBytes { Glibc.write(stdinFD, $0.baseAddress! + offset, $0.count - offset) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { throw TestFailure("write to the child's input: \(String(cString: strerror(errno)))") }
                offset += n
            }
        }
    }

    /// Writes `text` (UTF-8) to its standard input.
    public func write(_ text: String) throws { try write(Array(text.utf8)) }

    /// Closes its standard input (it sees the end of input).
    public func closeInput() {
        if stdinFD >= 0 { close(stdinFD); stdinFD = -1 }
    }

    /// Closes the test's end of its standard output (its next write gets EPIPE).
    public func closeOutput() {
        if stdoutFD >= 0 { close(stdoutFD); stdoutFD = -1 }
    }

    /// Reads more of its output into `pending`; false at the end.
    private func fill() -> Bool {
        guard stdoutFD >= 0 else { return false }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(stdoutFD, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            pending += chunk[0..<n]
            return true
        }
    }

    /// One line of its output, without the newline (blocking); `nil` at the end.
    public func readLine() -> String? {
        while true {
            if let newline = pending.firstIndex(of: 10) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return line
            }
            if !fill() { return nil }
        }
    }

    /// The next `count` lines of its output (fewer when it ends first).
    public func readLines(_ count: Int) -> [String] {
        var lines: [String] = []
        while lines.count < count, let line = readLine() { lines.append(line) }
        return lines
    }

    /// The rest of its output, up to its end.
    public func readAll() -> [UInt8] {
        while fill() {}
        defer { pending = [] }
        return pending
    }

    /// Sends `signal` to it.
    public func send(_ signal: Int32) { kill(pid, signal) }

    /// Whether it has not ended yet (it is not reaped by asking).
    public var isRunning: Bool {
        if reaped != nil { return false }
        var info = siginfo_t()
        return waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info._sifields._sigchld.si_pid == 0
    }

    /// Closes its input, waits for it to end, and returns what it did (the rest of its
    /// output, read to its end, or its output file).
    public func wait() throws -> ProcessOutput {
        if let reaped { return reaped }
        closeInput()
        let rest = stdoutFD >= 0 ? readAll() : []
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { throw TestFailure("waitpid: \(String(cString: strerror(errno)))") }
        }
        defer {
            if ownsErrorFile { unlink(errorPath) }
            if let outPath { unlink(outPath) }
        }
        let signo = status & 0x7f
        let out = outPath.map { (try? readFile($0)) ?? [] } ?? rest
        let result = ProcessOutput(pid: pid, status: signo != 0 ? signo : (status >> 8) & 0xff, signaled: signo != 0,
                                   stdout: out, stderr: (try? readFile(errorPath)) ?? [])
        reaped = result
        return result
    }
}

/// Runs `body` with SIGPIPE blocked in this thread, discarding one raised meanwhile, so a
/// write to a pipe whose reader died fails with EPIPE instead of killing the test runner.
public func withoutSIGPIPE<R>(_ body: () throws -> R) rethrows -> R {
    var pipeSet = sigset_t(), saved = sigset_t()
    sigemptyset(&pipeSet)
    sigaddset(&pipeSet, SIGPIPE)
    pthread_sigmask(SIG_BLOCK, &pipeSet, &saved)
    defer {
        var pending = sigset_t()
        sigpending(&pending)
        if sigismember(&pending, SIGPIPE) == 1 {
            var zero = timespec()
            _ = sigtimedwait(&pipeSet, nil, &zero)
        }
        pthread_sigmask(SIG_SETMASK, &saved, nil)
    }
    return try body()
}
