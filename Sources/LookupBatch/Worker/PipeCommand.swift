// PipeCommand: the `--pipe` command of one task, `sh -c CMD` spawned by the worker with its
// standard input and output on pipes (standard error shared with the run). The child gets
// descriptors 0-2 only (every other one closed at the spawn), the default actions for the
// signals the worker ignores or catches, and no worker settings in its environment.
import CSupport
import SharedLookup

/// A running pipe command: where its input goes in, where its output comes out, and how it ended.
final class PipeCommand {
    /// The command line given to `sh -c`.
    let command: String
    let pid: pid_t
    /// The write end of the command's standard input (-1 once closed).
    private(set) var inputFD: Int32
    /// The read end of the command's standard output (the caller takes it over).
    let outputFD: Int32
    private var exit: WorkerExit?

    /// Environment variables of the worker that a pipe command must not see (a `lookup` run
    /// inside it would take itself for a worker).
    static let hiddenVariables = [BatchWorker.configVariable, TableHandoff.variable]

    /// Starts `sh -c command`. Throws when the pipes or the process cannot be made.
    init(_ command: String, input: String) throws(LookupError) {
        self.command = command
        var stdinPipe: [Int32] = [0, 0], stdoutPipe: [Int32] = [0, 0]
        guard makePipe(&stdinPipe) else { throw LookupError.system("cannot create a pipe for the pipe command", path: input) }
        guard makePipe(&stdoutPipe) else {
            close(stdinPipe[0]); close(stdinPipe[1])
            throw LookupError.system("cannot create a pipe for the pipe command", path: input)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], STDIN_FILENO)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], STDOUT_FILENO)
        // Nothing of the worker's leaks in: not the table, not other pipes without O_CLOEXEC.
        lookup_spawn_close_from(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t(), empty = sigset_t()
        sigemptyset(&defaults)
        sigemptyset(&empty)
        for signal in [SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("sh"), strdup("-c"), strdup(command), nil]
        var envp: [UnsafeMutablePointer<CChar>?] = []
        var entry = environ
        while let variable = entry.pointee {
            let text = String(cString: variable)
            if !Self.hiddenVariables.contains(where: { text.hasPrefix($0 + "=") }) { envp.append(strdup(variable)) }
            entry += 1
        }
        envp.append(nil)
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, envp)
        close(stdinPipe[0])
        close(stdoutPipe[1])
        if rc != 0 {
            close(stdinPipe[1])
            close(stdoutPipe[0])
            throw LookupError(.io, path: input, "cannot start the pipe command: \(String(cString: strerror(rc)))")
        }
        self.pid = pid
        inputFD = stdinPipe[1]
        outputFD = stdoutPipe[0]
    }

    deinit {
        // A command never waited for (the worker gave up on its task) is not left a zombie.
        if exit == nil {
            closeInput()
            kill(pid, SIGKILL)
            _ = wait()
        }
    }

    /// Whether `wait` has seen it end.
    var hasEnded: Bool { exit != nil }

    /// Closes the command's standard input: it reads the end of its input.
    func closeInput() {
        if inputFD >= 0 { close(inputFD) }
        inputFD = -1
    }

    /// Waits for the command to end (once; later calls give the same answer).
    func wait() -> WorkerExit {
        if let exit { return exit }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let ended = WorkerExit(status: status)
        exit = ended
        return ended
    }
}

/// A task whose pipe command failed: it exited with a status other than 0, was killed, or
/// stopped reading its input before the end. The task is retried like a worker that died.
struct PipeCommandFailure: Error, CustomStringConvertible {
    /// The task's input file.
    let input: String
    /// What happened, e.g. "exited with status 1".
    let what: String

    var description: String { "\(input): pipe command \(what)" }
}
