// BatchWorker: the worker side of a batch run. A worker process opens the table itself (never
// across a fork), through the descriptor of the coordinator's table file that it inherited,
// reports ready, then runs the tasks the coordinator sends over its stdin and reports each
// result on its stdout, until its stdin closes.
import Foundation
import SharedLookup

/// Entry points of worker processes.
public enum BatchWorker {
    /// Set in a spawned worker's environment: the run's options as JSON.
    static let configVariable = "LOOKUP_BATCH_WORKER"
    /// Test hook: a worker kills itself with SIGKILL when it starts this task id on its first attempt.
    static let faultVariable = "LOOKUP_FAULT_KILL_TASK"
    /// Test hook: the coordinator sends itself SIGTERM once this many files are finished.
    static let stopVariable = "LOOKUP_FAULT_STOP_AFTER_FILES"
    /// Test hook: a FIFO that the worker about to kill itself (`faultVariable`) first reads to
    /// its end, so a test can act at that moment (replace the table) without sleeping.
    static let faultGateVariable = "LOOKUP_FAULT_KILL_GATE"

    /// Exit status of a worker whose fault guard tripped on a damaged table (after it reported
    /// `damaged` on its report pipe).
    static let damagedTableStatus: Int32 = 3

    /// Whether this process was started as a batch worker.
    public static var isWorkerProcess: Bool { getenv(configVariable) != nil }

    /// If this process is a spawned worker, runs `job` as a worker and exits; otherwise
    /// returns at once. Call it first thing in `main` of an app that runs a custom job.
    public static func runIfWorker<J: LineJob>(_ job: J.Type) {
        guard let (config, table) = workerOptions() else { return }
        exit(serve(job, options: config, table: table, input: STDIN_FILENO, output: STDOUT_FILENO))
    }

    /// If this process is a spawned worker, runs the built-in job its options name and exits.
    public static func runBuiltinIfWorker() {
        guard let (config, table) = workerOptions() else { return }
        exit(serveBuiltin(options: config, table: table, input: STDIN_FILENO, output: STDOUT_FILENO))
    }

    /// The run's options and table handoff of a spawned worker; `nil` in any other process.
    private static func workerOptions() -> (RunOptions, TableHandoff)? {
        guard let raw = getenv(configVariable) else { return nil }
        guard let options = try? JSONDecoder().decode(RunOptions.self, from: Data(String(cString: raw).utf8)) else {
            _ = sendMessage(WorkerReport(kind: .fatal, message: "worker: cannot read its options"), to: STDOUT_FILENO)
            exit(2)
        }
        guard let table = try? TableHandoff.fromEnvironment() else {
            _ = sendMessage(WorkerReport(kind: .fatal, message: "worker: no table descriptor from the coordinator (\(TableHandoff.variable))"),
                            to: STDOUT_FILENO)
            exit(2)
        }
        return (options, table)
    }

    /// Serves the built-in job of `options.mode`.
    static func serveBuiltin(options: RunOptions, table: TableHandoff, input: Int32, output: Int32) -> Int32 {
        serve(options.mode.job, options: options, table: table, input: input, output: output)
    }

    /// The worker loop: open the table (through the inherited descriptor `table`), report
    /// ready, run tasks until `input` closes.
    static func serve<J: LineJob>(_ job: J.Type, options: RunOptions, table handoff: TableHandoff, input: Int32, output: Int32) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        // A fault on a damaged page becomes a `damaged` report to the coordinator (which stops
        // the run with one line) instead of a crash report per worker.
        TableFaultGuard.arm(fd: output, before: #"{"kind":"damaged","message":""#, after: #" while reading it"}"# + "\n",
                            status: damagedTableStatus)
        let processor: TaskProcessor<J>
        do {
            let table = try handoff.open(path: options.table)
            processor = try TaskProcessor<J>(table: table, options: options)
        } catch {
            _ = sendMessage(WorkerReport(kind: .fatal, message: "\(error)"), to: output)
            return 2
        }
        guard sendMessage(WorkerReport(kind: .ready), to: output) else { return 2 }
        let fault = getenv(faultVariable).flatMap { Int(String(cString: $0)) }
        let reader = MessageReader(fd: input)
        var currentTask = -1
        processor.progress = { bytes in
            _ = sendMessage(WorkerReport(kind: .progress, task: currentTask, bytes: bytes), to: output)
        }
        while let line = reader.readLine() {
            guard let task = try? JSONDecoder().decode(TaskMessage.self, from: line) else {
                _ = sendMessage(WorkerReport(kind: .fatal, message: "worker: unreadable task message"), to: output)
                return 2
            }
            currentTask = task.id
            if let fault, fault == task.id, task.attempt == 0 {
                waitAtFaultGate()
                kill(getpid(), SIGKILL)
            }
            let report: WorkerReport
            do {
                let (counts, bad) = try processor.run(task)
                report = WorkerReport(kind: .done, task: task.id, counts: counts, badLines: bad)
            } catch let error as PipeCommandFailure {
                unlink(task.output)
                report = WorkerReport(kind: .failed, task: task.id, message: error.description, retry: true)
            } catch let error as LookupError where error.kind == .damaged {
                unlink(task.output)
                report = WorkerReport(kind: .damaged, task: task.id, message: error.damage)
            } catch {
                unlink(task.output)
                report = WorkerReport(kind: .failed, task: task.id, message: "\(error)")
            }
            guard sendMessage(report, to: output) else { return 2 }
        }
        return 0
    }

    /// Test hook: reads the FIFO named by `faultGateVariable` (if set) until the test closes it.
    private static func waitAtFaultGate() {
        guard let gate = getenv(faultGateVariable) else { return }
        let fd = open(gate, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return }
        var byte: UInt8 = 0
        while true {
            let n = read(fd, &byte, 1)
            if n == 0 || (n < 0 && errno != EINTR) { break }
        }
        close(fd)
    }
}
