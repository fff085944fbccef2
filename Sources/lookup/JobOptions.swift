// JobOptions: the options that define the per-line job, shared by `run` and `map` so both read
// lines the same way.
import ArgumentParser
import LookupBatch

/// How each line is read and what is done with it.
struct JobOptions: ParsableArguments {
    @Option(help: "join (lines whose key is in the table, with its value; one line per value of a one-to-many table), left (every line; a miss gets empty fields or --missing), filter, anti or count.")
    var mode: RunMode = .join

    @Option(name: [.customShort("k"), .customLong("key-column")], help: "1-based column of the key; several, like 2,5, for a table built with a composite key (as many columns as its key).")
    var keyColumn = KeyColumns([1])

    @Option(help: "Append only these columns of the table's row: 1-based positions in the row, or names from the header the table was built with (--header), comma separated, e.g. name,city or 3,4.")
    var columns: String?

    @Option(help: "--mode left: the text written in each column of a line whose key is missing (default: empty; JSON Lines: null, or this text as a string).")
    var missing: String?

    @Option(help: "JSON Lines input: the dotted path of the key's member, e.g. user.id (a string or an integer); several, comma separated, for a composite key.")
    var keyField: String = "key"

    @Option(help: "JSON Lines input: the member a join adds the table's value under.")
    var valueField: String = "value"

    @Option(name: [.customShort("d"), .customLong("delimiter")], help: "Field delimiter: one character, or tab (default: , for csv, tab for tsv).")
    var delimiter: String?

    @Option(help: "csv, tsv or jsonl (default: from each file's extension: .tsv/.tab tsv, .jsonl/.ndjson jsonl, csv otherwise; csv on standard input).")
    var format: LineFormat?

    @Flag(help: "The first line of each file is a header: passed through (skipped in count mode).")
    var header = false

    @Option(help: "Longest line accepted, e.g. 16M; longer lines are reported and skipped.")
    var maxLine: String = "16M"

    @Flag(help: "Verify the whole table first, as `lookup check` does (in a child process): a damaged table stops the job with exit 2 before any output. Costs a walk of the table.")
    var verify = false

    func validate() throws {
        if keyField.split(separator: ",", omittingEmptySubsequences: false).contains(where: { $0.isEmpty || $0.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) }) {
            throw ValidationError("--key-field must be member names joined by dots (user.id), comma separated for a composite key")
        }
        if missing != nil && mode != .left { throw ValidationError("--missing is for --mode left") }
        if let delimiter, parseDelimiter(delimiter) == nil {
            throw ValidationError("--delimiter must be a single character other than a quote or newline, or 'tab'")
        }
        if (parseSize(maxLine) ?? 0) < 1 { throw ValidationError("--max-line must be a size like 1M") }
    }

    /// Run options for `table` with these job settings.
    func runOptions(table: String, inputs: [String], output: String) -> RunOptions {
        var options = RunOptions(table: table, inputs: inputs, output: output, mode: mode,
                                 delimiter: delimiter.flatMap(parseDelimiter), format: format?.rawValue, header: header,
                                 maxLineLength: parseSize(maxLine) ?? 16 << 20)
        options.verify = verify
        options.keyColumns = keyColumn.columns
        options.columns = columns
        options.missing = missing
        options.keyFields = keyField.split(separator: ",").map(String.init)
        options.valueField = valueField
        return options
    }
}
