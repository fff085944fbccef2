// BatchRunner: the coordinator of a batch run. Opens the table file once (workers read it
// through that descriptor), checks the output directory and the job log before writing
// anything, skips the inputs a resumed run already did, plans tasks (largest first), and runs
// them on worker processes (CoordinatorLoop, with TaskScheduler and OutputAssembler); returns
// the run's summary, or throws `BatchInterrupted` after a signal.
import Foundation
import SharedLookup

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

    /// Runs the batch; `startFork` is a forked worker's body, `job` names the job in the job log.
    private func execute(startFork: @escaping (TableHandoff, Int32, Int32) -> Int32, writesOutput: Bool, job: String) throws -> RunSummary {
        let started = Date()
        var summary = RunSummary()
        // The one table file of the whole run, open until it ends; it must open here too: a
        // clear error before any worker starts.
        let table = try RunTable(path: options.table)
        // The key is checked against the inputs found: their names tell JSON Lines (read by
        // --key-field) from delimited text (read by -k) when there is no --format.
        var scanner = InputScanner(include: options.include, exclude: options.exclude,
                                   outputSuffix: options.compress?.suffix ?? "")
        try scanner.scan(options.inputs)
        if let problem = options.problem(with: table.metadata, inputPaths: scanner.files.map(\.path)) { throw problem }
        if options.verify { try Table.verified(path: options.table, descriptor: table.descriptor) }

        for problem in scanner.problems {
            summary.errors.append(problem.description)
            report(problem.description)
        }
        let files = scanner.files
        let outputDir = options.output == "-" ? nil : options.output
        let log = try outputDir.map { try prepareOutput($0, files: files, table: table, job: job) }

        // Resume: skip files the job log shows done and unchanged.
        var indices = Array(files.indices)
        if options.resume, let log, let outputDir {
            indices = filesToRedo(files, log: log, outputDir: outputDir)
            summary.filesSkipped = files.count - indices.count
        }

        let workDir = try OutputDirectory.makeWorkDirectory(in: outputDir)
        defer { removeDirectory(workDir) }

        let (planned, parts) = TaskPlanner.plan(files, indices: indices, workers: options.workers)
        summary.tasks = planned.count
        summary.workers = min(options.workers, max(planned.count, 1))
        summary.regime = table.regime
        let sizes = Dictionary(uniqueKeysWithValues: indices.map { ($0, files[$0].size) })
        let scheduler = TaskScheduler(tasks: planned, parts: parts, sizes: sizes, maxWorkers: options.workers, retries: options.retries)
        let output = OutputAssembler(workDirectory: workDir, outputDirectory: outputDir, writesOutput: writesOutput,
                                     files: files, order: indices, log: log)
        let progress = LiveProgress(isOn: showProgress ?? (isatty(STDERR_FILENO) == 1),
                                    totalBytes: sizes.values.reduce(0, +), totalFiles: indices.count, started: started)
        let loop = CoordinatorLoop(options: options, table: table, files: files, scheduler: scheduler, output: output,
                                   summary: summary, progress: progress, report: report, startFork: startFork)
        try loop.run()
        if scheduler.interruptedBy != 0 { throw BatchInterrupted(signal: scheduler.interruptedBy) }
        summary = loop.summary
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }

    /// Checks the output directory `dir` and the job log in it (every refusal comes before
    /// anything is created or changed), then creates the directory and starts the log.
    private func prepareOutput(_ dir: String, files: [InputFile], table: RunTable, job: String) throws -> JobLog {
        let log = JobLog(directory: dir)
        try OutputOverlap.check(output: dir, inputs: options.inputs, files: files)
        try OutputDirectory.check(dir, files: files, resume: options.resume, overwrite: options.overwrite)
        let header = JobLogHeader(version: JobLogHeader.currentVersion, table: table.identity,
                                  settings: OutputSettings(options, job: job))
        if options.resume, let conflict = log.resumeConflict(with: header, directory: dir) { throw conflict }
        try OutputDirectory.create(dir)
        if options.overwrite { log.reset() }
        try log.start(header)
        return log
    }

    /// Indices of the `files` a resumed run must process: all but those the job log shows done
    /// with the same size and modification time and whose output is still there.
    private func filesToRedo(_ files: [InputFile], log: JobLog, outputDir: String) -> [Int] {
        let done = Dictionary(log.entries().map { ($0.input, $0) }, uniquingKeysWith: { $1 })
        return files.indices.filter { i in
            let f = files[i]
            guard let entry = done[f.path], entry.size == f.size, entry.modified == f.modified else { return true }
            if let out = entry.output, !FileManager.default.fileExists(atPath: outputDir + "/" + out) { return true }
            return false
        }
    }
}

/// Thrown when a run stops on SIGINT or SIGTERM (after cleaning up).
public struct BatchInterrupted: Error, CustomStringConvertible {
    /// The signal received.
    public let signal: Int32
    public var description: String { "interrupted by signal \(signal); finished files are kept and listed in the job log" }
}

/// `message` prefixed with `path`, unless it already names it first.
func naming(_ path: String, _ message: String) -> String {
    message.hasPrefix(path + ":") ? message : "\(path): \(message)"
}
