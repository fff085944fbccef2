// StreamMapper: the per-line job as a stdin-to-stdout filter, for Hadoop Streaming, Spark's
// rdd.pipe and shell pipelines. Same lines in, same bytes out as `lookup run`; constant memory;
// output flushed after every block of input, so it works on an endless pipe. Optionally
// reports Hadoop Streaming counters and status on stderr.
import Foundation
import SharedLookup

/// Runs a job over standard input, writing to standard output.
public struct StreamMapper {
    /// The run's options (`inputs` and `output` are ignored).
    public var options: RunOptions
    /// Write Hadoop Streaming counters (`reporter:counter:lookup,hits,N`) and status lines to
    /// stderr, at most once a second and at the end.
    public var hadoop = false
    /// Receives messages for people (bad lines); default: one line on stderr, as
    /// given (a tool prefixes its own name by setting this).
    public var report: (String) -> Void = { message in
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    /// Creates a mapper for `options`.
    public init(options: RunOptions) { self.options = options }

    /// Runs the built-in job named by `options.mode` from `input` to `output`.
    public func run(input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO) throws -> TaskCounts {
        try run(options.mode.job, input: input, output: output)
    }

    /// Runs a custom job from `input` to `output`.
    public func run<J: LineJob>(_ job: J.Type, input inputFD: Int32 = STDIN_FILENO, output outputFD: Int32 = STDOUT_FILENO) throws -> TaskCounts {
        let table = options.verify ? try Table.openVerified(path: options.table) : try Table(path: options.table)
        if let problem = options.problem(with: table.metadata) { throw problem }
        let processor = try TaskProcessor<J>(table: table, options: options)
        let input = try InputReader(descriptor: inputFD, name: "<stdin>", maxLineLength: options.maxLineLength,
                                    blockSize: TaskProcessor<J>.blockSize(for: table, workers: 1))
        var out = OutputBuffer(fd: outputFD, name: "<stdout>", capacity: 256 << 10)
        var reported = TaskCounts()
        var lastReport = Date()
        var badShown = 0
        func emitCounters(_ counts: TaskCounts) {
            guard hadoop else { return }
            var text = ""
            for (name, now, before) in [("lines", counts.lines, reported.lines), ("hits", counts.hits, reported.hits),
                                        ("misses", counts.misses, reported.misses), ("bad_lines", counts.badLines, reported.badLines),
                                        ("rows", counts.rows, reported.rows)]
            where now > before {
                text += "reporter:counter:lookup,\(name),\(now - before)\n"
            }
            text += "reporter:status:lookup: \(counts.lines) lines, \(counts.hits) hits, \(counts.misses) misses, \(counts.badLines) bad lines\n"
            FileHandle.standardError.write(Data(text.utf8))
            reported = counts
            lastReport = Date()
        }
        let name = options.format == "tsv" ? "stdin.tsv" : "stdin.csv"
        let (counts, _) = try processor.stream(input, path: name, start: 0, end: Int.max, header: options.header,
                                               output: &out) { counts, out, bad in
            // Flush after every block: the next block may be slow to come (an endless pipe).
            try out.flush()
            for line in bad where badShown < TaskProcessor<J>.badLineSamples {
                report("<stdin>:\(line.line): \(line.message)")
                badShown += 1
            }
            if Date().timeIntervalSince(lastReport) >= 1 { emitCounters(counts) }
        }
        try out.flush()
        if counts.badLines > badShown {
            report("<stdin>: \(counts.badLines - badShown) more bad lines not shown (\(counts.badLines) in all)")
        }
        emitCounters(counts)
        return counts
    }
}
