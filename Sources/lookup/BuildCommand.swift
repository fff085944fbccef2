// `lookup build`: builds a table file from CSV, TSV, JSON Lines, mdb_dump text or cdbmake input.
import ArgumentParser
import Foundation
import SharedLookup

struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build a table file from records.",
        discussion: """
        Reads every INPUT (a file, `-` for standard input; `.gz`, `.zst`, `.xz` and `.bz2` files, \
        and input whose first bytes are one of those formats, are decompressed; several \
        members, frames or streams in a row are read as one input), takes \
        each record's key from the key column, and writes a single LMDB file at TABLE. By \
        default the value is the rest of the record, as text in the input's own format.

        The table is written to a temp file beside TABLE and renamed over it only when it is \
        complete and synced: an interrupted build leaves TABLE as it was, and programs that \
        have the old table open keep reading it.

        Formats: csv (RFC 4180 quoting), tsv, jsonl (key from --key-field), mdb-dump (the \
        output of mdb_dump, plain or -p), cdb (cdbmake: +klen,dlen:key->data). Without \
        --format the format comes from each file's extension (.csv .tsv .jsonl .dump .cdb), \
        looking through a compression suffix (data.csv.zst is csv). A broken compressed input \
        (truncated, or not in the format its name says) stops the build with one line naming \
        it; TABLE is left as it was.
        """)

    @Argument(help: "Input files; `-` reads standard input.")
    var inputs: [String]

    @Option(name: .shortAndLong, help: "The table file to write.")
    var output: String

    @Option(help: "Input format: csv, tsv, jsonl, mdb-dump or cdb (default: from the file extension).")
    var format: RecordFormat?

    @Option(name: [.customShort("k"), .customLong("key-column")], help: "1-based column of the key (csv, tsv); several, like 2,5, make a composite key: those columns' values joined by the byte 0x1F.")
    var keyColumn = KeyColumns([1])

    @Option(help: "Field holding the key (jsonl).")
    var keyField: String = "key"

    @Option(name: [.customShort("d"), .customLong("delimiter")], help: "Field delimiter: one character, or tab (default: , for csv, tab for tsv).")
    var delimiter: String?

    @Flag(help: "The first line of each input is a header: skip it (the first input's header is stored, so `--columns` can name columns).")
    var header = false

    @Option(help: "Duplicate keys: error (stop and name both lines), first or last (keep that one), or all (keep every value, in input order: a one-to-many table).")
    var duplicates: DuplicatePolicy = .error

    @Flag(help: "Range rows: start,end,value... (inclusive; -k names the two columns, default 1,2). A lookup matches the range holding its key. See --key-type and --overlaps.")
    var ranges = false

    @Flag(help: "Network rows: network,value... such as 10.0.0.0/8 or 2001:db8::/32 (IPv4 and IPv6). A lookup matches the network holding its address.")
    var cidr = false

    @Flag(help: "Prefix rows: prefix,value... A lookup matches the longest stored key that is a prefix of its key.")
    var prefixes = false

    @Option(help: "With --ranges: how keys compare: ip (IPv4 and IPv6 addresses by value), int (integers by value) or text (by bytes).")
    var keyType: RangeKeyType?

    @Option(help: "With --ranges or --cidr: error (overlapping ranges stop the build, naming both lines) or narrowest (where ranges nest, the narrowest wins, as longest-prefix for CIDR).")
    var overlaps: OverlapPolicy = .error

    @Flag(help: "Compare keys ignoring case (Unicode case folding). Recorded in the table: every lookup folds its keys too.")
    var ignoreCase = false

    @Flag(help: "Compare keys without surrounding whitespace (of each key column). Recorded in the table: every lookup trims its keys too.")
    var trim = false

    @Option(help: "Memory for sorting, e.g. 512M or 2G; beyond it, sorted runs spill to temp files. (default: 1G, or half the memory limit when that is less: the cgroup's or the RAM)")
    var memory: String?

    @Option(help: "Directory for temporary sort files (default: the table's directory).")
    var tempDir: String?

    @Option(help: "For mdb-dump input holding several databases: the one to load.")
    var database: String?

    @Flag(inversion: .prefixedNo, help: "Store a hash index of the keys (about 10 bytes a key), so a lookup costs a cache line or two instead of a B+tree descent.")
    var index = true

    @Flag(help: "Count and skip malformed records instead of stopping at the first.")
    var skipBadLines = false

    @Flag(name: .shortAndLong, help: "Print nothing but errors.")
    var quiet = false

    func validate() throws {
        if [ranges, cidr, prefixes].filter({ $0 }).count > 1 {
            throw ValidationError("--ranges, --cidr and --prefixes are different kinds of table; give one")
        }
        if let keyType, !ranges {
            if cidr && keyType != .ip { throw ValidationError("--cidr keys are IP addresses: --key-type ip (or none)") }
            if prefixes && keyType != .text { throw ValidationError("--prefixes keys are text: --key-type text (or none)") }
            if !cidr && !prefixes { throw ValidationError("--key-type is for --ranges, --cidr and --prefixes") }
        }
        if overlaps == .narrowest && !ranges && !cidr { throw ValidationError("--overlaps is for --ranges and --cidr") }
        if ranges && keyColumn.columns.count != 2 && keyColumn.columns != [1] {
            throw ValidationError("--ranges: -k names the start and end columns, like 1,2")
        }
        if (cidr || prefixes) && keyColumn.columns.count != 1 { throw ValidationError("--cidr and --prefixes: -k names one column") }
        if (ranges || cidr || prefixes) && duplicates == .all { throw ValidationError("--duplicates all is for exact keys, not ranges") }
        if let delimiter, parseDelimiter(delimiter) == nil {
            throw ValidationError("--delimiter must be a single character other than a quote or newline, or 'tab'")
        }
        guard let memory else { return }
        guard let bytes = parseSize(memory), bytes >= 16 << 20 else {
            throw ValidationError("--memory must be a size of at least 16M, like 512M or 2G")
        }
        if inputs.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input (-) can be read only once") }
    }

    func run() throws {
        try reportingErrors {
            TemporaryFiles.removeOnInterrupt()
            let started = Date()
            var options = BuildOptions()
            options.format = format
            options.record = RecordOptions(delimiter: delimiter.flatMap(parseDelimiter),
                                           header: header, keyField: keyField, database: database)
            options.record.keyColumns = keyColumn.columns
            options.duplicates = duplicates
            options.keyForm = KeyForm(parts: keyColumn.columns.count, ignoreCase: ignoreCase, trim: trim)
            if ranges || cidr || prefixes {
                options.match = ranges ? .range : cidr ? .cidr : .prefix
                options.keyType = keyType ?? (cidr ? .ip : .text)
                options.narrowest = overlaps == .narrowest
                options.keyIndex = false
                if ranges && keyColumn.columns == [1] { options.record.keyColumns = [1, 2] }
                options.keyForm.parts = 1
            }
            options.memoryBudget = memory.flatMap(parseSize) ?? BuildOptions.defaultMemoryBudget
            options.skipBadRecords = skipBadLines
            options.temporaryDirectory = tempDir
            options.keyIndex = index
            if options.format == nil, let unknown = inputs.first(where: { RecordFormat.infer(fromPath: $0) == nil }) {
                throw LookupError(.usage, path: unknown == "-" ? "<stdin>" : unknown,
                                  "cannot tell the input format from the file name; give --format csv|tsv|jsonl|mdb-dump|cdb")
            }
            let report = try TableBuilder.build(inputs: inputs, to: output, options: options)
            if report.badRecords > 0 {
                for sample in report.badRecordSamples { printError("skipped: \(sample.description)") }
                let more = report.badRecords - report.badRecordSamples.count
                printError("skipped \(report.badRecords) bad record\(report.badRecords == 1 ? "" : "s")" + (more > 0 ? " (\(more) not shown)" : ""))
            }
            if !quiet {
                let seconds = Date().timeIntervalSince(started)
                var line = "built \(output): \(report.records) record\(report.records == 1 ? "" : "s")"
                if let values = report.metadata.values { line += " (\(values) value\(values == 1 ? "" : "s"))" }
                line += " from \(inputs.count) input\(inputs.count == 1 ? "" : "s") in \(String(format: "%.2f", seconds)) s"
                if report.duplicatesDropped > 0 { line += ", \(report.duplicatesDropped) duplicates dropped" }
                if report.badRecords > 0 { line += ", \(report.badRecords) bad records skipped" }
                if report.runsSpilled > 0 { line += ", sorted in \(report.runsSpilled) runs on disk" }
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
        }
    }
}
