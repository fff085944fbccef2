// `lookup map`: the per-line job as a filter from standard input to standard output, for Hadoop
// Streaming, Spark's rdd.pipe and shell pipelines.
import ArgumentParser
import LookupBatch
import SharedLookup

struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Look up the lines of standard input; write results to standard output.",
        discussion: """
        The streaming form of `lookup run`: the same modes and the same output bytes for the \
        same lines, in constant memory, with output flushed after every block of input, so it \
        works on an endless pipe. Use it as a Hadoop Streaming mapper or with Spark's rdd.pipe.

        Bad lines (no key column, broken quoting, longer than --max-line) are reported on \
        stderr with their line number, counted and skipped, as in `lookup run`. Exit status: 0 \
        on success; 2 when the table cannot be read or output cannot be written (the engine \
        then retries the task). A closed standard output ends the program quietly.
        """)

    @Argument(help: "The table file.")
    var table: String

    @OptionGroup var job: JobOptions

    @Flag(help: "Write Hadoop Streaming counters (group lookup: lines, hits, misses, bad_lines, rows) and status to stderr.")
    var hadoop = false

    @Flag(help: "Write KEY<TAB> before each output line, so a reducer can group by key.")
    var outputKey = false

    func run() throws {
        try reportingErrors {
            var options = job.runOptions(table: table, inputs: [], output: "-")
            options.outputKey = outputKey
            guardTable(table)
            var mapper = StreamMapper(options: options)
            mapper.report = printError
            mapper.hadoop = hadoop
            let counts = try mapper.run()
            if options.mode == .count {
                try printOutput("lines=\(counts.lines) hits=\(counts.hits) misses=\(counts.misses) bad_lines=\(counts.badLines) rows=\(counts.rows)")
            }
        }
    }
}
