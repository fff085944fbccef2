// TaskScheduler: the coordinator's bookkeeping, without any I/O. It holds the tasks waiting
// (largest first), each input file's progress, the workers and the run's counters, and has one
// method per event: a worker started or reported ready, a task was handed out, a task was done
// or failed, a worker died (its task goes back to the front of the queue until its retries are
// spent), a signal arrived. Each event returns what the coordinator must act on (`RunEvent`).

/// What an event of the scheduler asks the coordinator to act on, in order.
enum RunEvent: Equatable {
    /// The first failed part of `file`: `message` says why (reported at once).
    case fileFailing(file: Int, message: String)
    /// Every part of `file` is done (or failed): its output can be put in place.
    case fileFinished(file: Int)
    /// A task of a worker that died (`how`) goes back to the queue for another attempt.
    case retrying(task: PlannedTask, how: String)
    /// A task that failed (`message`, e.g. its pipe command failed) goes back to the queue for
    /// another attempt.
    case retryingFailed(task: PlannedTask, message: String)
}

/// The tasks, files, workers and counters of one run, and what each event does to them.
final class TaskScheduler {
    /// Tasks not handed out yet, in the order they will be.
    private(set) var queue: [PlannedTask]
    /// Each input file's progress, by its index in the run's file list.
    private(set) var files: [Int: FileProgress]
    /// The workers running.
    private(set) var workers: [WorkerProcess] = []
    /// How many workers the run may have at once.
    let maxWorkers: Int
    /// How many times a task of a worker that died is run again.
    let retries: Int
    /// Input bytes of tasks done or given up.
    private(set) var doneBytes = 0
    /// Files finished.
    private(set) var doneFiles = 0
    /// Counts of the tasks done.
    private(set) var doneCounts = TaskCounts()
    /// Workers that died with a task before they reported ready, since one last did.
    private(set) var consecutiveEarlyDeaths = 0
    /// The signal that stops the run (0 until one arrives).
    private(set) var interruptedBy: Int32 = 0
    /// Size in bytes of each input file, by index.
    private let fileSizes: [Int: Int]

    /// A scheduler for `tasks` (in the order to hand them out), over files of `sizes` (by
    /// index) cut into `parts` each, with at most `maxWorkers` workers.
    init(tasks: [PlannedTask], parts: [Int: Int], sizes: [Int: Int], maxWorkers: Int, retries: Int) {
        queue = tasks
        fileSizes = sizes
        files = Dictionary(uniqueKeysWithValues: sizes.keys.map { ($0, FileProgress(parts: parts[$0] ?? 1)) })
        self.maxWorkers = maxWorkers
        self.retries = retries
    }

    // MARK: - State

    /// Workers running a task.
    var busyWorkers: Int { workers.filter { $0.task != nil }.count }

    /// Whether the work is over: no task waits and none runs.
    var isDone: Bool { queue.isEmpty && busyWorkers == 0 }

    /// How many workers the work left needs.
    var workersWanted: Int { min(maxWorkers, queue.count + busyWorkers) }

    /// Workers that are ready and have no task.
    var idleWorkers: [WorkerProcess] { workers.filter { $0.ready && $0.task == nil } }

    /// Input bytes processed so far: those of tasks done, and those workers report of the
    /// tasks they run.
    var processedBytes: Int { doneBytes + workers.reduce(0) { $0 + $1.progressBytes } }

    /// The input bytes of `task`.
    private func size(of task: PlannedTask) -> Int { task.byteCount(fileSize: fileSizes[task.file] ?? 0) }

    // MARK: - Worker events

    /// A worker was started.
    func started(_ worker: WorkerProcess) {
        workers.append(worker)
    }

    /// `worker` opened the table and waits for tasks.
    func ready(_ worker: WorkerProcess) {
        worker.ready = true
        consecutiveEarlyDeaths = 0
    }

    /// Hands the next task to the idle `worker`; `nil` when no task is left, and the worker is
    /// let go (no longer ready: its task pipe is to be closed).
    func assign(to worker: WorkerProcess) -> PlannedTask? {
        guard !queue.isEmpty else {
            worker.ready = false
            return nil
        }
        let task = queue.removeFirst()
        worker.task = task
        worker.progressBytes = 0
        return task
    }

    /// `worker` has read `bytes` of its task's input.
    func progress(_ worker: WorkerProcess, bytes: Int) {
        worker.progressBytes = bytes
    }

    /// `worker` finished task `id` with `counts`; a report for another task than the one it
    /// runs is ignored.
    func done(_ worker: WorkerProcess, task id: Int?, counts: TaskCounts, badLines: [BadLine]) -> [RunEvent] {
        guard let task = worker.task, task.id == id else { return [] }
        worker.task = nil
        worker.progressBytes = 0
        doneBytes += size(of: task)
        doneCounts.add(counts)
        guard var file = files[task.file] else { return [] }
        file.partCounts[task.part] = counts
        file.partBad[task.part] = badLines
        files[task.file] = file
        return finishIfDone(task.file)
    }

    /// `worker`'s task failed with `message` (an input it cannot read): the file fails. A
    /// `retryable` failure (a pipe command that failed) is first run again, up to `retries`
    /// times, at the front of the queue.
    func failed(_ worker: WorkerProcess, message: String, retryable: Bool = false) -> [RunEvent] {
        guard var task = worker.task else { return [] }
        worker.task = nil
        worker.progressBytes = 0
        if retryable {
            task.attempts += 1
            if task.attempts <= retries {
                queue.insert(task, at: 0)
                return [.retryingFailed(task: task, message: message)]
            }
            doneBytes += size(of: task)
            return fail(task, task.attempts == 1 ? message : "\(message) (on each of \(task.attempts) attempts)")
        }
        doneBytes += size(of: task)
        return fail(task, message)
    }

    /// `worker` ended (its report pipe closed and it was reaped): it leaves the run. Returns
    /// the task it was running, if any; `lost(_:how:wasReady:)` says what becomes of it.
    @discardableResult
    func ended(_ worker: WorkerProcess) -> PlannedTask? {
        workers.removeAll { $0 === worker }
        return worker.task
    }

    /// The task of a worker that died (`how`): run again on a fresh worker, at the front of
    /// the queue, or failed once it died on each of `retries + 1` attempts.
    func lost(_ task: PlannedTask, how: String, wasReady: Bool) -> [RunEvent] {
        if !wasReady { consecutiveEarlyDeaths += 1 }
        var task = task
        task.attempts += 1
        if task.attempts > retries {
            doneBytes += size(of: task)
            return fail(task, "worker \(how) on each of \(task.attempts) attempts")
        }
        queue.insert(task, at: 0)
        return [.retrying(task: task, how: how)]
    }

    /// SIGINT or SIGTERM arrived: the run stops.
    func interrupted(by signal: Int32) {
        if signal != 0 { interruptedBy = signal }
    }

    // MARK: - Files

    /// Marks `task`'s part failed; the first failure of a file names why it failed.
    private func fail(_ task: PlannedTask, _ message: String) -> [RunEvent] {
        guard var file = files[task.file] else { return [] }
        var events: [RunEvent] = []
        if file.failure == nil {
            file.failure = message
            events.append(.fileFailing(file: task.file, message: message))
        }
        file.partCounts[task.part] = TaskCounts()
        files[task.file] = file
        return events + finishIfDone(task.file)
    }

    /// Finishes `index` when all its parts are done.
    private func finishIfDone(_ index: Int) -> [RunEvent] {
        guard var file = files[index], file.allPartsDone, !file.finished else { return [] }
        file.finished = true
        files[index] = file
        doneFiles += 1
        return [.fileFinished(file: index)]
    }
}
