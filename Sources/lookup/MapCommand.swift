// `lookup map`: the per-line job as a filter from standard input to standard output, for Hadoop
// Streaming, Spark's rdd.pipe and shell pipelines.
import ArgumentParser
import LookupBatch
import SharedLookup

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    @Option(help: "join, filter, anti or count.")
    var mode: String = "join"

    @Option(name: [.customShort("k"), .customLong("key-column")], help: "1-based column of the key.")
    var keyColumn: Int = 1

    @Option(name: [.customShort("d"), .customLong("delimiter")], help: "Field delimiter: one character, or tab (default: , for csv, tab for tsv).")
    var delimiter: String?

    @Option(help: "csv or tsv (default: csv).")
    var format: String = "csv"

    @Flag(help: "The first line of the input is a header: passed through (skipped in count mode).")
    var header = false

    @Option(help: "Longest line accepted, e.g. 16M; longer lines are reported and skipped.")
    var maxLine: String = "16M"

    @Flag(help: "Write Hadoop Streaming counters (group lookup: lines, hits, misses, bad_lines) and status to stderr.")
    var hadoop = false

    @Flag(help: "Write KEY<TAB> before each output line, so a reducer can group by key.")
    var outputKey = false

    func validate() throws {
        if RunMode(rawValue: mode) == nil { throw ValidationError("unknown --mode \(mode); use join, filter, anti or count") }
        if format != "csv" && format != "tsv" { throw ValidationError("--format must be csv or tsv") }
        if keyColumn < 1 { throw ValidationError("--key-column must be 1 or more") }
        if let delimiter, parseDelimiter(delimiter) == nil {
            throw ValidationError("--delimiter must be a single character other than a quote or newline, or 'tab'")
        }
        if parseSize(maxLine) == nil { throw ValidationError("--max-line must be a size like 1M") }
    }

    func run() throws {
        try reportingErrors {
            var options = RunOptions(
                table: table, inputs: [], output: "-", mode: RunMode(rawValue: mode) ?? .join, keyColumn: keyColumn,
                delimiter: delimiter.flatMap(parseDelimiter), format: format, header: header,
                maxLineLength: parseSize(maxLine) ?? 16 << 20, workers: 1)
            options.outputKey = outputKey
            var mapper = StreamMapper(options: options)
            mapper.hadoop = hadoop
            let counts = try mapper.run()
            if mode == "count" {
                print("lines=\(counts.lines) hits=\(counts.hits) misses=\(counts.misses) bad_lines=\(counts.badLines)")
            }
        }
    }
}
