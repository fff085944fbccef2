// BatchRunner: the coordinator of a batch run. Opens the table file once (workers read it
// through that descriptor), checks the output directory and the job log before writing
// anything, plans tasks (largest first), starts worker processes, hands the next task to
// whichever worker is idle, retries tasks of workers that die, assembles each output file in
// input order under a temp name and renames it into place, records finished files in the job
// log, and shows progress and a summary.
import Foundation
import SharedLookup

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a batch: every line of every input file looked up in one table by worker processes.
///
/// With a custom `LineJob` and the default `spawn` start, the app's own executable is started
/// again as each worker: call `BatchWorker.runIfWorker(MyJob.self)` first thing in `main`.
public final class BatchRunner {
    /// The run's options.
    public let options: RunOptions
    /// Show the live progress line on stderr: `nil` means only when stderr is a terminal.
    public var showProgress: Bool?
    /// Receives each message for people (bad lines, failed files); default: one line on stderr, as
    /// given (a tool prefixes its own name by setting this).
    public var report: (String) -> Void = { message in
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    /// Creates a runner for `options`.
    public init(options: RunOptions) {
        self.options = options
    }

    /// Runs the built-in job named by `options.mode`.
    public func run() throws -> RunSummary {
        let options = self.options
        return try execute(startFork: { BatchWorker.serveBuiltin(options: options, table: $0, input: $1, output: $2) },
                           writesOutput: options.mode != .count, job: "builtin")
    }

    /// Runs a custom job in the workers.
    public func run<J: LineJob>(job: J.Type) throws -> RunSummary {
        let options = self.options
        return try execute(startFork: { BatchWorker.serve(J.self, options: options, table: $0, input: $1, output: $2) },
                           writesOutput: J.writesOutput, job: String(reflecting: J.self))
    }

    // MARK: - The run

    private struct FileState {
        var parts: Int
        var partCounts: [TaskCounts?]
        var partBad: [[BadLine]]
        var failure: String?
        var finished = false
        var written = false
        var doneParts: Int { partCounts.filter { $0 != nil }.count }
    }

    /// Runs the batch; `startFork` is a forked worker's body, `job` names the job in the job log.
    private func execute(startFork: @escaping (TableHandoff, Int32, Int32) -> Int32, writesOutput: Bool, job: String) throws -> RunSummary {
        let started = Date()
        var summary = RunSummary()
        // The one table file of the whole run, open until it ends; it must open here too: a
        // clear error before any worker starts.
        let table = try RunTable(path: options.table)
        if options.verify { try Table.verified(path: options.table, descriptor: table.descriptor) }

        var scanner = InputScanner(include: options.include, exclude: options.exclude)
        try scanner.scan(options.inputs)
        for problem in scanner.problems {
            summary.errors.append(problem.description)
            report(problem.description)
        }
        let files = scanner.files
        let toStdout = options.output == "-"
        let outputDir = toStdout ? nil : options.output
        let log = outputDir.map { JobLog(directory: $0) }
        if let outputDir, let log {
            // Every refusal comes before anything is created or changed.
            try OutputOverlap.check(output: outputDir, inputs: options.inputs, files: files)
            try checkOutputDirectory(outputDir, files: files)
            let header = JobLogHeader(version: JobLogHeader.currentVersion, table: table.identity,
                                      settings: OutputSettings(options, job: job))
            if options.resume, let conflict = log.resumeConflict(with: header, directory: outputDir) { throw conflict }
            try createOutputDirectory(outputDir)
            if options.overwrite { log.reset() }
            try log.start(header)
        }

        // Resume: skip files the job log shows done and unchanged.
        var indices = Array(files.indices)
        if options.resume, let log {
            let done = Dictionary(log.entries().map { ($0.input, $0) }, uniquingKeysWith: { $1 })
            indices = indices.filter { i in
                let f = files[i]
                guard let entry = done[f.path], entry.size == f.size, entry.modified == f.modified else { return true }
                if let out = entry.output, !FileManager.default.fileExists(atPath: outputDir! + "/" + out) { return true }
                return false
            }
            summary.filesSkipped = files.count - indices.count
        }

        let workDir = try makeWorkDirectory(outputDir)
        defer { removeDirectory(workDir) }

        let (planned, parts) = TaskPlanner.plan(files, indices: indices, workers: options.workers)
        var states: [Int: FileState] = [:]
        for i in indices {
            let n = parts[i] ?? 1
            states[i] = FileState(parts: n, partCounts: Array(repeating: nil, count: n), partBad: Array(repeating: [], count: n))
        }
        var queue = planned
        summary.tasks = planned.count
        summary.workers = min(options.workers, max(planned.count, 1))
        summary.regime = table.regime
        var workers: [WorkerProcess] = []
        var stdoutNext = 0  // position in `indices` of the next file to write to stdout
        let totalBytes = indices.reduce(0) { $0 + files[$1].size }
        var doneBytes = 0
        var doneFiles = 0
        var progressCounts = TaskCounts()
        let progressLine = ProgressLine(totalBytes: totalBytes, totalFiles: indices.count, started: started)
        let progressOn = showProgress ?? (isatty(STDERR_FILENO) == 1)
        var lastProgress = Date.distantPast
        var consecutiveEarlyDeaths = 0

        // Test hook: stop the run (SIGTERM to itself) once this many files are finished.
        let stopAfter = ProcessInfo.processInfo.environment[BatchWorker.stopVariable].flatMap { Int($0) }
        let interrupt = InterruptPipe()
        defer { interrupt.restore() }
        // A worker that died leaves a closed pipe: writing to it must fail, not kill us.
        let previousSIGPIPE = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, previousSIGPIPE) }
        let executable = currentExecutable()

        func partPath(_ t: PlannedTask) -> String { "\(workDir)/\(t.file).\(t.part)" }

        func startWorker() throws {
            let worker: WorkerProcess
            if options.start == .fork {
                // The child keeps the table's descriptor, at the coordinator's number.
                let inherited = workers.flatMap { [$0.taskFD, $0.reports.fd] } + [interrupt.readFD, interrupt.writeFD]
                let handoff = table.handoff(at: table.descriptor)
                worker = try WorkerProcess.fork(closeInChild: inherited) { startFork(handoff, $0, $1) }
            } else {
                worker = try WorkerProcess.spawn(executable: executable, options: options, table: table)
            }
            workers.append(worker)
        }

        func send(_ task: PlannedTask, to worker: WorkerProcess) {
            worker.task = task
            worker.progressBytes = 0
            let file = files[task.file]
            let message = TaskMessage(id: task.id, attempt: task.attempts, input: file.path, start: task.start, end: task.end,
                                      output: partPath(task), header: task.start == 0)
            // If the worker is gone, its death is noticed when its report pipe closes.
            _ = sendMessage(message, to: worker.taskFD)
        }

        func fileFinished(_ index: Int) throws {
            guard var state = states[index] else { return }
            state.finished = true
            let file = files[index]
            if let failure = state.failure {
                summary.filesFailed += 1
                summary.errors.append(naming(file.path, failure))
                for p in 0..<state.parts { unlink("\(workDir)/\(index).\(p)") }
                states[index] = state
                return
            }
            // Bad lines, numbered within the whole file.
            var lineBase = 0
            var reported = 0
            var total = TaskCounts()
            for p in 0..<state.parts {
                for bad in state.partBad[p] where reported < TaskProcessor<CountJob>.badLineSamples {
                    report("\(file.path):\(lineBase + bad.line): \(bad.message)")
                    reported += 1
                }
                lineBase += state.partCounts[p]?.lines ?? 0
                total.add(state.partCounts[p] ?? TaskCounts())
            }
            if total.badLines > reported {
                report("\(file.path): \(total.badLines - reported) more bad lines not shown (\(total.badLines) in all)")
            }
            summary.files += 1
            summary.counts.add(total)
            if let outputDir, writesOutput {
                let target = outputDir + "/" + file.relativeOutput
                try makeParents(of: target)
                let assembled = try assemble(index: index, parts: state.parts)
                if rename(assembled, target) != 0 { throw LookupError.system("cannot move output into place", path: target) }
                state.written = true
            }
            if let log {
                try log.append(JobLogEntry(input: file.path, size: file.size, modified: file.modified,
                                           output: writesOutput ? file.relativeOutput : nil, counts: total,
                                           finished: ISO8601DateFormatter().string(from: Date())))
            }
            states[index] = state
            if let stopAfter, summary.files >= stopAfter { kill(getpid(), SIGTERM) }
        }

        /// Concatenates a file's parts in order into one temp file; returns its path.
        func assemble(index: Int, parts: Int) throws -> String {
            let first = "\(workDir)/\(index).0"
            if parts == 1 { return first }
            let target = "\(workDir)/\(index).out"
            let out = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if out < 0 { throw LookupError.system("cannot create output", path: target) }
            defer { close(out) }
            for p in 0..<parts {
                let part = "\(workDir)/\(index).\(p)"
                try appendFile(part, to: out, name: target)
                unlink(part)
            }
            if fsync(out) != 0 { throw LookupError.system("cannot sync output", path: target) }
            return target
        }

        /// Writes finished files to stdout in input order, as far as they are done.
        func drainToStdout() throws {
            guard toStdout, writesOutput else { return }
            while stdoutNext < indices.count, let state = states[indices[stdoutNext]], state.finished {
                let index = indices[stdoutNext]
                if state.failure == nil {
                    for p in 0..<state.parts {
                        let part = "\(workDir)/\(index).\(p)"
                        try appendFile(part, to: STDOUT_FILENO, name: "<stdout>")
                        unlink(part)
                    }
                }
                stdoutNext += 1
            }
        }

        func updateProgress(force: Bool = false) {
            guard progressOn else { return }
            let now = Date()
            if !force && now.timeIntervalSince(lastProgress) < 0.25 { return }
            lastProgress = now
            let inFlight = workers.reduce(0) { $0 + $1.progressBytes }
            let text = progressLine.text(bytes: doneBytes + inFlight, files: doneFiles, lines: progressCounts.lines, hits: progressCounts.hits)
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
        }

        func taskFailed(_ task: PlannedTask, _ message: String) throws {
            guard var state = states[task.file] else { return }
            if state.failure == nil {
                state.failure = message
                report(naming(files[task.file].path, message))
            }
            state.partCounts[task.part] = TaskCounts()
            states[task.file] = state
            if state.doneParts == state.parts {
                try fileFinished(task.file)
                doneFiles += 1
            }
        }

        func handle(_ message: WorkerReport, from worker: WorkerProcess) throws {
            switch message.kind {
            case .ready:
                worker.ready = true
                consecutiveEarlyDeaths = 0
            case .progress:
                worker.progressBytes = message.bytes ?? worker.progressBytes
            case .done:
                guard let task = worker.task, task.id == message.task else { return }
                worker.task = nil
                worker.finished += 1
                worker.progressBytes = 0
                let counts = message.counts ?? TaskCounts()
                doneBytes += (task.end ?? files[task.file].size) - task.start
                progressCounts.add(counts)
                guard var state = states[task.file] else { return }
                state.partCounts[task.part] = counts
                state.partBad[task.part] = message.badLines ?? []
                states[task.file] = state
                if state.doneParts == state.parts {
                    try fileFinished(task.file)
                    doneFiles += 1
                    try drainToStdout()
                }
            case .failed:
                guard let task = worker.task else { return }
                worker.task = nil
                doneBytes += (task.end ?? files[task.file].size) - task.start
                try taskFailed(task, message.message ?? "failed")
                try drainToStdout()
            case .fatal:
                throw LookupError(.io, path: options.table, "worker cannot start: \(message.message ?? "unknown error")")
            case .damaged:
                // Every attempt would meet the same page: stop the run, say it once.
                throw LookupError.damaged(options.table, message.message ?? "a worker met a damaged page")
            }
        }

        func reap(_ worker: WorkerProcess) throws {
            worker.closePipes()
            var status: Int32 = 0
            while waitpid(worker.pid, &status, 0) < 0 && errno == EINTR {}
            workers.removeAll { $0 === worker }
            guard var task = worker.task else { return }
            // The worker died during a task: run it again on a fresh worker, or give up.
            unlink(partPath(task))
            if status & 0x7f == 0 && (status >> 8) & 0xff == BatchWorker.damagedTableStatus {
                throw LookupError.damaged(options.table, "a worker met a damaged page")
            }
            let how = (status & 0x7f) != 0 ? "killed by signal \(status & 0x7f)" : "exited with status \((status >> 8) & 0xff)"
            if !worker.ready { consecutiveEarlyDeaths += 1 }
            task.attempts += 1
            if task.attempts > options.retries {
                doneBytes += (task.end ?? files[task.file].size) - task.start
                try taskFailed(task, "worker \(how) on each of \(task.attempts) attempts")
                try drainToStdout()
            } else {
                summary.retries += 1
                report("\(files[task.file].path): worker \(how); retrying its task (attempt \(task.attempts + 1) of \(options.retries + 1))")
                queue.insert(task, at: 0)
            }
        }

        var interruptedBy: Int32 = 0
        do {
            while interruptedBy == 0 {
                let busy = workers.filter { $0.task != nil }.count
                if queue.isEmpty && busy == 0 { break }
                if consecutiveEarlyDeaths > 3 {
                    throw LookupError(.io, path: executable, "workers keep dying before they start; giving up")
                }
                // Enough workers for the work left.
                while workers.count < min(options.workers, queue.count + busy) { try startWorker() }
                // Idle ready workers get the next task, or are let go when there is none.
                for worker in workers where worker.ready && worker.task == nil {
                    if !queue.isEmpty {
                        send(queue.removeFirst(), to: worker)
                    } else {
                        close(worker.taskFD)
                        worker.ready = false
                    }
                }
                var fds = workers.map { pollfd(fd: $0.reports.fd, events: Int16(POLLIN), revents: 0) }
                fds.append(pollfd(fd: interrupt.readFD, events: Int16(POLLIN), revents: 0))
                let n = poll(&fds, nfds_t(fds.count), 250)
                if n < 0 && errno != EINTR { throw LookupError.system("poll failed", path: "workers") }
                if fds.last!.revents != 0 { interruptedBy = interrupt.signalReceived() }
                for (i, worker) in workers.enumerated() where fds[i].revents != 0 {
                    for line in worker.reports.readAvailable() {
                        if let message = try? JSONDecoder().decode(WorkerReport.self, from: line) {
                            try handle(message, from: worker)
                        }
                    }
                    if worker.reports.closed { try reap(worker) }
                }
                updateProgress()
            }
        } catch {
            stopWorkers(workers)
            if progressOn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            throw error
        }
        stopWorkers(workers)
        if progressOn { updateProgress(force: true); FileHandle.standardError.write(Data("\n".utf8)) }
        if interruptedBy != 0 {
            removeDirectory(workDir)
            throw BatchInterrupted(signal: interruptedBy)
        }
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }

    /// Kills and reaps every worker still running.
    private func stopWorkers(_ workers: [WorkerProcess]) {
        for worker in workers {
            kill(worker.pid, SIGKILL)
            worker.closePipes()
            var status: Int32 = 0
            while waitpid(worker.pid, &status, 0) < 0 && errno == EINTR {}
        }
    }

    // MARK: - Output directory

    /// Refuses an output directory that cannot take this run's outputs; writes nothing.
    private func checkOutputDirectory(_ dir: String, files: [InputFile]) throws {
        var st = stat()
        if stat(dir, &st) == 0 && (st.st_mode & S_IFMT) != S_IFDIR {
            throw LookupError(.usage, path: dir, "output exists and is not a directory")
        }
        // Two inputs must not write the same output file.
        var seen: [String: String] = [:]
        for f in files {
            if let other = seen[f.relativeOutput] {
                throw LookupError(.usage, path: f.path, "writes the same output \(f.relativeOutput) as \(other); rename one or run them separately")
            }
            seen[f.relativeOutput] = f.path
        }
        // Results already there are kept unless asked.
        if !options.resume && !options.overwrite {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            if entries.contains(where: { !$0.hasPrefix(".lookup-work-") }) {
                throw LookupError(.usage, path: dir, "output directory already holds results; use --resume to continue or --overwrite to replace them")
            }
        }
    }

    /// Creates the output directory (and its parents) if missing; it must be writable.
    private func createOutputDirectory(_ dir: String) throws {
        if mkdir(dir, 0o755) != 0 && errno != EEXIST {
            try makeParents(of: dir + "/x")
        }
        if access(dir, W_OK) != 0 { throw LookupError.system("output directory is not writable", path: dir) }
    }

    private func makeWorkDirectory(_ outputDir: String?) throws -> String {
        let parent: String
        if let outputDir {
            parent = outputDir
            // Work directories of coordinators that were killed.
            TemporaryFiles.removeStaleDirectories(in: outputDir, prefix: ".lookup-work-")
        } else {
            parent = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        }
        let path = "\(parent)/.lookup-work-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        if mkdir(path, 0o700) != 0 { throw LookupError.system("cannot create a work directory", path: path) }
        return path
    }
}

/// Thrown when a run stops on SIGINT or SIGTERM (after cleaning up).
public struct BatchInterrupted: Error, CustomStringConvertible {
    /// The signal received.
    public let signal: Int32
    public var description: String { "interrupted by signal \(signal); finished files are kept and listed in the job log" }
}

/// Turns SIGINT/SIGTERM into a readable pipe, so the coordinator's poll loop sees them.
final class InterruptPipe {
    let readFD: Int32
    let writeFD: Int32
    nonisolated(unsafe) static var target: Int32 = -1

    init() {
        var fds: [Int32] = [0, 0]
        _ = makePipe(&fds, nonBlocking: true)
        readFD = fds[0]
        writeFD = fds[1]
        Self.target = writeFD
        let handler: @convention(c) (Int32) -> Void = { signo in
            var byte = UInt8(truncatingIfNeeded: signo)
            _ = write(InterruptPipe.target, &byte, 1)
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
    }

    /// The signal number written to the pipe (0 if none).
    func signalReceived() -> Int32 {
        var byte: UInt8 = 0
        return read(readFD, &byte, 1) == 1 ? Int32(byte) : 0
    }

    func restore() {
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        close(readFD)
        close(writeFD)
    }
}

/// `message` prefixed with `path`, unless it already names it first.
func naming(_ path: String, _ message: String) -> String {
    message.hasPrefix(path + ":") ? message : "\(path): \(message)"
}

/// Appends the whole file at `path` to `fd`.
func appendFile(_ path: String, to fd: Int32, name: String) throws {
    let input = open(path, O_RDONLY | O_CLOEXEC)
    if input < 0 { throw LookupError.system("cannot read part", path: path) }
    defer { close(input) }
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; throw LookupError.system("cannot read part", path: path) }
        if n == 0 { return }
        if !buffer.withUnsafeBytes({ writeFully(fd, UnsafeRawBufferPointer(rebasing: $0[..<n])) }) {
            throw LookupError.system("write failed", path: name)
        }
    }
}

/// Creates the parent directories of `path`; an error names the directory that could not be
/// made and why (permission denied, read-only file system, a file in the way).
func makeParents(of path: String) throws {
    try makeDirectory((path as NSString).deletingLastPathComponent)
}

/// Creates `dir` and its missing ancestors (`mkdir -p`).
private func makeDirectory(_ dir: String) throws {
    if dir.isEmpty || dir == "/" || dir == "." { return }
    var info = stat()
    if stat(dir, &info) == 0 {
        if info.st_mode & S_IFMT == S_IFDIR { return }
        throw LookupError(.io, path: dir, "cannot create directory: a file of that name is in the way")
    }
    try makeDirectory((dir as NSString).deletingLastPathComponent)
    if mkdir(dir, 0o777) != 0 && errno != EEXIST {
        throw LookupError.system("cannot create directory", path: dir)
    }
}

/// Removes a directory and the files in it.
func removeDirectory(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}
