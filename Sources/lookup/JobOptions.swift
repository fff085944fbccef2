// JobOptions: the options that define the per-line job, shared by `run` and `map` so both read
// lines the same way.
import ArgumentParser
import LookupBatch

/// How each line is read and what is done with it.
struct JobOptions: ParsableArguments {
    @Option(help: "join, filter, anti or count.")
    var mode: RunMode = .join

    @Option(name: [.customShort("k"), .customLong("key-column")], help: "1-based column of the key.")
    var keyColumn: Int = 1

    @Option(name: [.customShort("d"), .customLong("delimiter")], help: "Field delimiter: one character, or tab (default: , for csv, tab for tsv).")
    var delimiter: String?

    @Option(help: "csv or tsv (default: from each file's extension, csv otherwise; csv on standard input).")
    var format: LineFormat?

    @Flag(help: "The first line of each file is a header: passed through (skipped in count mode).")
    var header = false

    @Option(help: "Longest line accepted, e.g. 16M; longer lines are reported and skipped.")
    var maxLine: String = "16M"

    @Flag(help: "Verify the whole table first, as `lookup check` does (in a child process): a damaged table stops the job with exit 2 before any output. Costs a walk of the table.")
    var verify = false

    func validate() throws {
        if keyColumn < 1 { throw ValidationError("--key-column must be 1 or more") }
        if let delimiter, parseDelimiter(delimiter) == nil {
            throw ValidationError("--delimiter must be a single character other than a quote or newline, or 'tab'")
        }
        if (parseSize(maxLine) ?? 0) < 1 { throw ValidationError("--max-line must be a size like 1M") }
    }

    /// Run options for `table` with these job settings.
    func runOptions(table: String, inputs: [String], output: String) -> RunOptions {
        var options = RunOptions(table: table, inputs: inputs, output: output, mode: mode,
                                 keyColumn: keyColumn, delimiter: delimiter.flatMap(parseDelimiter), format: format?.rawValue, header: header,
                                 maxLineLength: parseSize(maxLine) ?? 16 << 20)
        options.verify = verify
        return options
    }
}
