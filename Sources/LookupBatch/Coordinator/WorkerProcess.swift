// WorkerProcess: one worker as seen by the coordinator: started by spawning the executable
// again in the worker role (posix_spawn) or by fork(), with a pipe each way and the
// coordinator's table descriptor.
import CSupport
import Foundation
import SharedLookup

/// A running worker process and its pipes.
final class WorkerProcess {
    let pid: pid_t
    /// Where tasks are sent (the worker's stdin).
    let taskFD: Int32
    /// Where reports arrive (the worker's stdout).
    let reports: MessageReader
    /// The task it is running, if any.
    var task: PlannedTask?
    /// Whether it reported ready (it opened the table).
    var ready = false
    /// Input bytes of its current task processed so far.
    var progressBytes = 0

    /// Whether the task pipe is still open.
    private var taskPipeOpen = true

    /// The worker `pid` with its task pipe's write end and its report pipe's read end (the
    /// tests make workers without a process this way).
    init(pid: pid_t, taskFD: Int32, reportFD: Int32) {
        self.pid = pid
        self.taskFD = taskFD
        self.reports = MessageReader(fd: reportFD)
    }

    /// Closes the task pipe: the worker exits when it has no more work.
    func closeTaskPipe() {
        if taskPipeOpen { close(taskFD) }
        taskPipeOpen = false
    }

    /// Closes both pipes and waits for the process to end; returns how it ended.
    func reap() -> WorkerExit {
        closeTaskPipe()
        close(reports.fd)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return WorkerExit(status: status)
    }

    /// Starts a worker by spawning `executable` with the run's options in its environment and
    /// the run's table file at descriptor `TableHandoff.spawnDescriptor`.
    static func spawn(executable: String, options: RunOptions, table: RunTable) throws -> WorkerProcess {
        var down: [Int32] = [0, 0], up: [Int32] = [0, 0]
        guard makePipe(&down), makePipe(&up) else {
            throw LookupError.system("cannot create a pipe", path: executable)
        }
        let config = String(decoding: try JSONEncoder().encode(options), as: UTF8.self)
        var environment = ProcessInfo.processInfo.environment
        environment[BatchWorker.configVariable] = config
        environment[TableHandoff.variable] = try table.handoff(at: TableHandoff.spawnDescriptor,
                                                               base: TableHandoff.spawnBaseDescriptor).environmentValue()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, down[0], STDIN_FILENO)
        posix_spawn_file_actions_adddup2(&actions, up[1], STDOUT_FILENO)
        // Last, once the pipes are in place: the table's descriptor is never 0...9 (RunTable),
        // so this is a real dup2, which leaves the copy open across the exec.
        posix_spawn_file_actions_adddup2(&actions, table.descriptor, TableHandoff.spawnDescriptor)
        if let base = table.baseDescriptor { posix_spawn_file_actions_adddup2(&actions, base, TableHandoff.spawnBaseDescriptor) }
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(executable), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        close(down[0])
        close(up[1])
        if rc != 0 {
            close(down[1])
            close(up[0])
            throw LookupError(.io, path: executable, "cannot start a worker: \(String(cString: strerror(rc)))")
        }
        return WorkerProcess(pid: pid, taskFD: down[1], reportFD: up[0])
    }

    /// Starts a worker with fork(); the child runs `body(taskFD, reportFD)` and exits with
    /// its result. The child opens the table itself: nothing LMDB crosses the fork.
    /// `closeInChild` lists descriptors the child must not keep (other workers' pipes, or
    /// those workers would never see their task pipe close).
    static func fork(closeInChild: [Int32], _ body: (Int32, Int32) -> Int32) throws -> WorkerProcess {
        var down: [Int32] = [0, 0], up: [Int32] = [0, 0]
        guard makePipe(&down), makePipe(&up) else {
            throw LookupError.system("cannot create a pipe", path: "fork")
        }
        let pid = Glibc.fork()
        if pid < 0 { throw LookupError.system("cannot fork a worker", path: "fork") }
        if pid == 0 {
            close(down[1])
            close(up[0])
            for fd in closeInChild { close(fd) }
            // Default signal actions in the worker (the coordinator catches SIGINT/SIGTERM).
            signal(SIGINT, SIG_DFL)
            signal(SIGTERM, SIG_DFL)
            _exit(body(down[0], up[1]))
        }
        close(down[0])
        close(up[1])
        return WorkerProcess(pid: pid, taskFD: down[1], reportFD: up[0])
    }
}

/// How a worker process ended: its wait status.
struct WorkerExit: CustomStringConvertible {
    /// The status `waitpid` gave.
    let status: Int32

    /// The signal that killed it (0 when it exited).
    var signal: Int32 { status & 0x7f }
    /// Its exit status, when it exited.
    var exitStatus: Int32 { (status >> 8) & 0xff }

    /// Whether it exited because it met a damaged page of the table.
    var isDamagedTable: Bool { signal == 0 && exitStatus == BatchWorker.damagedTableStatus }

    /// "killed by signal N" or "exited with status N".
    var description: String { signal != 0 ? "killed by signal \(signal)" : "exited with status \(exitStatus)" }
}

/// The path of the running executable (for spawning workers).
func currentExecutable() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    if n > 0 { return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    return CommandLine.arguments[0]
}

/// Creates a pipe whose ends close on exec (optionally non-blocking).
func makePipe(_ fds: inout [Int32], nonBlocking: Bool = false) -> Bool {
    // Atomically close-on-exec: no child spawned meanwhile by another thread inherits them.
    lookup_pipe_cloexec(&fds, nonBlocking ? 1 : 0) == 0
}
