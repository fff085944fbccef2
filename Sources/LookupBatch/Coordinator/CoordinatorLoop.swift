// CoordinatorLoop: one batch run's event loop. Starts as many workers as the work left needs,
// hands idle workers their next task, polls the workers' report pipes and the interrupt pipe,
// turns each report into a scheduler event, and acts on what the scheduler says: reports, a
// finished file's output put in place and logged, a task retried. Workers are stopped however
// the loop ends.
import Foundation
import SharedLookup

/// Runs the planned tasks of one batch run on worker processes.
final class CoordinatorLoop {
    private let options: RunOptions
    private let table: RunTable
    private let files: [InputFile]
    /// The run's bookkeeping: queue, files, workers, counters.
    let scheduler: TaskScheduler
    /// The run's outputs: parts, assembly, stdout, job log.
    let output: OutputAssembler
    /// What the run did so far.
    private(set) var summary: RunSummary
    private var progress: LiveProgress
    private let report: (String) -> Void
    /// A forked worker's body: the table, its task and report descriptors; returns its status.
    private let startFork: (TableHandoff, Int32, Int32) -> Int32
    private let executable = currentExecutable()
    private let interrupt = InterruptPipe()
    /// Test hook: stop the run (SIGTERM to itself) once this many files are finished.
    private let stopAfter = ProcessInfo.processInfo.environment[BatchWorker.stopVariable].flatMap { Int($0) }

    /// A loop over `scheduler`'s tasks writing through `output`; catches SIGINT and SIGTERM
    /// from now until `run` returns.
    init(options: RunOptions, table: RunTable, files: [InputFile], scheduler: TaskScheduler, output: OutputAssembler,
         summary: RunSummary, progress: LiveProgress, report: @escaping (String) -> Void,
         startFork: @escaping (TableHandoff, Int32, Int32) -> Int32) {
        self.options = options
        self.table = table
        self.files = files
        self.scheduler = scheduler
        self.output = output
        self.summary = summary
        self.progress = progress
        self.report = report
        self.startFork = startFork
    }

    /// Runs until every task is done or a signal arrives (`scheduler.interruptedBy`, and the
    /// work directory is removed); stops the workers either way, and on an error.
    func run() throws {
        defer { interrupt.restore() }
        // A worker that died leaves a closed pipe: writing to it must fail, not kill us.
        let previousSIGPIPE = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, previousSIGPIPE) }
        do {
            while scheduler.interruptedBy == 0 && !scheduler.isDone {
                try step()
            }
        } catch {
            stopWorkers()
            progress.clear()
            throw error
        }
        stopWorkers()
        progress.finish(bytes: scheduler.processedBytes, files: scheduler.doneFiles, counts: scheduler.doneCounts)
        // Stopped by a signal: the parts go while the signals are still caught.
        if scheduler.interruptedBy != 0 { removeDirectory(output.workDirectory) }
    }

    /// One turn: workers started and given tasks, then one poll and the events it brings.
    private func step() throws {
        if scheduler.consecutiveEarlyDeaths > 3 {
            throw LookupError(.io, path: executable, "workers keep dying before they start; giving up")
        }
        // Enough workers for the work left.
        while scheduler.workers.count < scheduler.workersWanted { try startWorker() }
        // Idle ready workers get the next task, or are let go when there is none.
        for worker in scheduler.idleWorkers {
            if let task = scheduler.assign(to: worker) {
                // If the worker is gone, its death is noticed when its report pipe closes.
                _ = sendMessage(output.message(for: task), to: worker.taskFD)
            } else {
                worker.closeTaskPipe()
            }
        }
        let workers = scheduler.workers
        var fds = workers.map { pollfd(fd: $0.reports.fd, events: Int16(POLLIN), revents: 0) }
        fds.append(pollfd(fd: interrupt.readFD, events: Int16(POLLIN), revents: 0))
        let n = poll(&fds, nfds_t(fds.count), 250)
        if n < 0 && errno != EINTR { throw LookupError.system("poll failed", path: "workers") }
        if fds[workers.count].revents != 0 { scheduler.interrupted(by: interrupt.signalReceived()) }
        for (i, worker) in workers.enumerated() where fds[i].revents != 0 {
            for line in worker.reports.readAvailable() {
                if let message = try? JSONDecoder().decode(WorkerReport.self, from: line) {
                    try handle(message, from: worker)
                }
            }
            if worker.reports.closed { try reap(worker) }
        }
        progress.update(bytes: scheduler.processedBytes, files: scheduler.doneFiles, counts: scheduler.doneCounts)
    }

    // MARK: - Workers

    /// Starts one worker: forked, or the executable spawned again.
    private func startWorker() throws {
        let worker: WorkerProcess
        if options.start == .fork {
            // The child keeps the table's descriptor, at the coordinator's number.
            let inherited = scheduler.workers.flatMap { [$0.taskFD, $0.reports.fd] } + [interrupt.readFD, interrupt.writeFD]
            let handoff = table.handoff(at: table.descriptor, base: table.baseDescriptor)
            let body = startFork
            worker = try WorkerProcess.fork(closeInChild: inherited) { body(handoff, $0, $1) }
        } else {
            worker = try WorkerProcess.spawn(executable: executable, options: options, table: table)
        }
        scheduler.started(worker)
    }

    /// Acts on one report of `worker`.
    private func handle(_ message: WorkerReport, from worker: WorkerProcess) throws {
        switch message.kind {
        case .ready:
            scheduler.ready(worker)
        case .progress:
            scheduler.progress(worker, bytes: message.bytes ?? worker.progressBytes)
        case .done:
            try act(on: scheduler.done(worker, task: message.task, counts: message.counts ?? TaskCounts(),
                                       badLines: message.badLines ?? []))
        case .failed:
            try act(on: scheduler.failed(worker, message: message.message ?? "failed", retryable: message.retry ?? false))
        case .fatal:
            throw LookupError(.io, path: options.table, "worker cannot start: \(message.message ?? "unknown error")")
        case .damaged:
            // Every attempt would meet the same page: stop the run, say it once.
            throw LookupError.damaged(options.table, message.message ?? "a worker met a damaged page")
        }
    }

    /// Reaps `worker`, whose report pipe closed; a task it was running is run again or fails.
    private func reap(_ worker: WorkerProcess) throws {
        let exit = worker.reap()
        guard let task = scheduler.ended(worker) else { return }
        // The worker died during a task: run it again on a fresh worker, or give up.
        output.discardPart(of: task)
        if exit.isDamagedTable { throw LookupError.damaged(options.table, "a worker met a damaged page") }
        try act(on: scheduler.lost(task, how: exit.description, wasReady: worker.ready))
    }

    /// Kills and reaps every worker still running.
    private func stopWorkers() {
        for worker in scheduler.workers {
            kill(worker.pid, SIGKILL)
            _ = worker.reap()
        }
    }

    // MARK: - Events

    /// Acts on what the scheduler said, in order; then writes to stdout what is ready.
    private func act(on events: [RunEvent]) throws {
        for event in events {
            switch event {
            case .fileFailing(let file, let message):
                report(naming(files[file].path, message))
            case .fileFinished(let file):
                try finish(file)
            case .retrying(let task, let how):
                summary.retries += 1
                report("\(files[task.file].path): worker \(how); retrying its task (attempt \(task.attempts + 1) of \(options.retries + 1))")
            case .retryingFailed(let task, let message):
                summary.retries += 1
                report(naming(files[task.file].path, message) + "; retrying its task (attempt \(task.attempts + 1) of \(options.retries + 1))")
            }
        }
        if events.contains(where: { if case .fileFinished = $0 { true } else { false } }) {
            try output.drainToStdout(scheduler.files)
        }
    }

    /// The file `index` is finished: a failed one counted and its parts removed; else its bad
    /// lines reported, its counts added, its output put in place and the job log told.
    private func finish(_ index: Int) throws {
        guard let progress = scheduler.files[index] else { return }
        let file = files[index]
        if let failure = progress.failure {
            summary.filesFailed += 1
            summary.errors.append(naming(file.path, failure))
            output.discardParts(of: index, count: progress.parts)
            return
        }
        for message in progress.badLineMessages(path: file.path, samples: TaskProcessor<CountJob>.badLineSamples) {
            report(message)
        }
        let total = progress.total
        summary.files += 1
        summary.counts.add(total)
        try output.place(index, parts: progress.parts)
        try output.record(index, counts: total)
        if let stopAfter, summary.files >= stopAfter { kill(getpid(), SIGTERM) }
    }
}
