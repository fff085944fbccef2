// `lookup run`: the batch job. Looks every line of many input files up in one table with
// several worker processes that share the table's pages, and writes one output per input.
import ArgumentParser
import Foundation
import LookupBatch
import SharedLookup

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Look up every line of many input files, with worker processes.",
        discussion: """
        Every line's key (column -k of a CSV or TSV line) is looked up in TABLE by worker \
        processes that all map the same table file, so memory holds one copy of the table \
        however many workers run. Directories are read recursively (hidden files skipped); \
        .gz, .zst, .xz and .bz2 files are decompressed (also when their first bytes say so), \
        each read whole by one worker. Large uncompressed files are split into ranges so every \
        worker stays busy.

        Modes: join writes each line whose key is in the table with the table's value appended \
        (after the delimiter); filter writes the lines whose key is in the table; anti those \
        whose key is not; count writes nothing and counts.

        Output: -o DIR writes one file per input file, at the input's path relative to the \
        directory given (a .gz, .zst, .xz or .bz2 suffix dropped), each byte-identical to a \
        sequential run, lines in input order and line ends as "\\n". A file appears under its \
        name only when complete. -o - writes everything to standard output, file after file. \
        DIR/.lookup-joblog.jsonl records the table (content hash, file) and the options that \
        change output (--compress and --pipe among them), then the finished files; --resume skips those that are done and unchanged, and refuses a job log \
        written with another table or other options. An input inside DIR is refused. Every \
        worker reads the table file that was at TABLE when the run started.

        --compress gz|zst compresses each output (its name gets the .gz or .zst suffix); a file \
        split into ranges is compressed range by range, and the members (frames) follow one \
        another, which gzip -d and zstd -d read as one file; with -o - standard output gets them. \
        The job log records the compressed names, so --resume finds them.

        --pipe CMD streams each task's output through `sh -c CMD` in the worker: CMD reads the \
        lines the job would have written and what it prints becomes the output (compressed if \
        --compress is given too), so a Python or awk step runs in parallel beside the shared \
        table. CMD runs once per task, even for no lines (it may print a header); a large file \
        split into ranges runs one CMD per range, whose outputs are concatenated in order. CMD's \
        standard error is the run's. A CMD that exits with a status other than 0, is killed, or \
        stops reading before the end fails its task, which is retried (--retries) and then \
        reported with its file.

        A line without the key column (or with broken quoting, or longer than --max-line) is \
        reported with its file and line number, counted, and skipped. A worker that dies has its \
        task run again (--retries); a file that still fails is reported and the run goes on. \
        Exit status: 0 all files done; 1 some files failed; 2 the run could not start.
        """)

    @Argument(help: "The table file.")
    var table: String

    @Argument(help: "Input files and directories.")
    var inputs: [String]

    @Option(name: .shortAndLong, help: "Output directory, or - for standard output.")
    var output: String

    @OptionGroup var job: JobOptions

    @Option(name: [.customShort("j"), .customLong("workers")], help: "Worker processes (default: the number of cores).")
    var workers: Int?

    @Option(help: "How workers start: spawn (run this program again) or fork.")
    var start: StartMethod = .spawn

    @Option(help: "Compress each output file: gz or zst (its name gets the suffix).")
    var compress: OutputCompression?

    @Option(help: ArgumentHelp("Stream each task's output through `sh -c CMD`; its output is the task's output.", valueName: "CMD"))
    var pipe: String?

    @Option(help: "Times a task is retried after its worker died or its --pipe command failed.")
    var retries: Int = 2

    @Option(parsing: .singleValue, help: "Only files whose name (or relative path) matches this glob; repeatable.")
    var include: [String] = []

    @Option(parsing: .singleValue, help: "Skip files and directories matching this glob; repeatable.")
    var exclude: [String] = []

    @Flag(help: "Skip inputs the job log shows as done and unchanged (same table content and options, else refused).")
    var resume = false

    @Flag(help: "Replace results already in the output directory.")
    var overwrite = false

    @Flag(inversion: .prefixedNo, help: "Show a live progress line on stderr (default: when stderr is a terminal).")
    var progress: Bool?

    @Option(help: "Also write the summary as JSON to this file.")
    var summaryJson: String?

    @Flag(name: .shortAndLong, help: "No summary line.")
    var quiet = false

    func validate() throws {
        if let workers, workers < 1 { throw ValidationError("--workers must be 1 or more") }
        if retries < 0 { throw ValidationError("--retries must be 0 or more") }
        if resume && overwrite { throw ValidationError("--resume and --overwrite contradict each other; pick one") }
        if job.mode == .count && (compress != nil || pipe != nil) {
            throw ValidationError("--mode count writes no output files: --compress and --pipe do not apply")
        }
        if let pipe, pipe.allSatisfy(\.isWhitespace) { throw ValidationError("--pipe needs a command") }
    }

    func run() throws {
        var failed = false
        try reportingErrors {
            var options = job.runOptions(table: table, inputs: inputs, output: output)
            options.workers = workers ?? RunOptions.defaultWorkers
            options.start = start
            options.retries = retries
            options.include = include
            options.exclude = exclude
            options.resume = resume
            options.overwrite = overwrite
            options.compress = compress?.compression
            options.pipe = pipe
            guardTable(table)
            let runner = BatchRunner(options: options)
            runner.report = printError
            runner.showProgress = progress
            let summary: RunSummary
            do {
                summary = try runner.run()
            } catch let interrupted as BatchInterrupted {
                printError(interrupted.description)
                throw ExitCode(128 + interrupted.signal)
            }
            if !quiet { printError(summary.line) }
            if let summaryJson {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                let data = try encoder.encode(summary)
                if !FileManager.default.createFile(atPath: summaryJson, contents: data) {
                    throw LookupError(.io, path: summaryJson, "cannot write the summary")
                }
            }
            failed = !summary.errors.isEmpty
        }
        if failed { throw Status.someFailed }
    }
}
