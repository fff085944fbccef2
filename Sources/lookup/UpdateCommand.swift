// `lookup update`: publishes a new version of a table from upserts and deletes, without a
// rebuild (TableUpdater); `lookup compact` folds an updated table's changes into a new base.
import ArgumentParser
import Foundation
import SharedLookup

struct UpdateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Publish a new version of a table from upserts and deletes, without a rebuild.",
        discussion: """
        Upserts (--upsert) are read as `lookup build` reads its inputs: the same formats, \
        compression, -k, --header, --delimiter and --duplicates (default: the table's own key \
        columns, delimiter, header and duplicate policy; its case folding and trimming always \
        apply). \
        An upsert gives its key the new value (every value of the key, for a one-to-many table). \
        Deletes (--delete) are keys: the key column(s) of a CSV or TSV file, the key field of JSON \
        Lines, else one key per line (a composite key's parts joined by a tab). A key both upserted \
        and deleted keeps its upsert.

        The changes are written as a small change layer over the table's base (its cost follows \
        the size of the changes, not of the table), as the next version in TABLE.versions/, and \
        published by one rename over TABLE: a run, map or serve reading TABLE sees the old \
        version or the new one whole. A bad line, a full disk or a killed update leaves TABLE as \
        it was. Two updates of one table run one after the other (the second waits). \
        `lookup versions` lists the versions, `lookup rollback` republishes an older one, \
        `lookup compact` folds the changes into a new base.
        """)

    @Argument(help: "The table to update.")
    var table: String

    @Option(parsing: .upToNextOption, help: "Files of records to insert or replace (`-` reads standard input).")
    var upsert: [String] = []

    @Option(parsing: .upToNextOption, help: "Files of keys to delete (`-` reads standard input).")
    var delete: [String] = []

    @Option(help: "Change file format: csv, tsv, jsonl, mdb-dump or cdb (default: from the file extension; deletes without one are one key per line).")
    var format: RecordFormat?

    @Option(name: [.customShort("k"), .customLong("key-column")], help: "1-based key column(s) of the change files (default: the table's).")
    var keyColumn: KeyColumns?

    @Option(help: "Field holding the key (jsonl; default: the table's).")
    var keyField: String?

    @Option(name: [.customShort("d"), .customLong("delimiter")], help: "Field delimiter: one character, or tab (default: each file's format's own: , for csv, tab for tsv; or the table's, when it was built with another).")
    var delimiter: String?

    @Flag(inversion: .prefixedNo, help: "The first line of each change file is a header: skip it (default: when the table was built with --header).")
    var header: Bool?

    @Option(help: "Duplicate keys among the upserts: error, first, last or all (default: the table's policy).")
    var duplicates: DuplicatePolicy?

    @Option(help: "Previous versions to keep (older ones are removed, except bases of kept ones).")
    var keep = 2

    @Flag(help: "Fail at once if another update of the table is running, instead of waiting for it.")
    var noWait = false

    @Flag(name: .shortAndLong, help: "Print nothing but errors.")
    var quiet = false

    func validate() throws {
        if upsert.isEmpty && delete.isEmpty { throw ValidationError("give --upsert FILE... and/or --delete FILE...") }
        if keep < 0 { throw ValidationError("--keep must be 0 or more") }
        if (upsert + delete).filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input (-) can be read only once") }
        if let delimiter, parseDelimiter(delimiter) == nil {
            throw ValidationError("--delimiter must be a single character other than a quote or newline, or 'tab'")
        }
    }

    func run() throws {
        try reportingErrors {
            TemporaryFiles.removeOnInterrupt()
            let started = Date()
            // The table's own reading of records, with what the command line changes.
            let opened = try openTable(table)
            let metadata = opened.metadata
            var record = metadata.map(TableUpdater.recordOptions(for:)) ?? RecordOptions()
            if let given = delimiter.flatMap(parseDelimiter) { record.delimiter = given }
            record.header = header ?? (metadata?.columns != nil)
            if let keyField { record.keyField = keyField }
            if let keyColumn { record.keyColumns = keyColumn.columns }
            if let unknown = upsert.first(where: { format == nil && RecordFormat.infer(fromPath: $0) == nil }) {
                throw LookupError(.usage, path: unknown == "-" ? "<stdin>" : unknown,
                                  "cannot tell the input format from the file name; give --format csv|tsv|jsonl|mdb-dump|cdb")
            }
            let options = UpdateOptions(record: record, format: format, duplicates: duplicates, keep: keep, wait: !noWait)
            let updater = try TableUpdater(table: table, options: options, waiting: announceWaiting(for: table))
            for path in upsert { try updater.addUpserts(from: path) }
            for path in delete { try updater.addDeletes(from: path) }
            let report = try updater.publish()
            if !quiet {
                let seconds = Date().timeIntervalSince(started)
                printError("updated \(table): version \(report.version) (from \(report.madeFrom)), \(report.records) records; "
                    + "\(report.upserted) upserted (\(report.inserted) new), \(report.deleted) deleted; "
                    + "\(report.layerRecords) changed keys over the base, in \(String(format: "%.2f", seconds)) s")
            }
        }
    }
}

struct CompactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Fold an updated table's changes into a new base, published as a new version.",
        discussion: """
        Writes the table's current records as a new base (as `lookup build` would have) in \
        TABLE.versions/ and publishes it by one rename over TABLE. Lookups through it need no \
        change layer; its cost is a build's. A table without changes is left as it is.
        """)

    @Argument(help: "The table to compact.")
    var table: String

    @Option(help: "Previous versions to keep.")
    var keep = 2

    @Flag(help: "Fail at once if another update of the table is running, instead of waiting for it.")
    var noWait = false

    @Flag(name: .shortAndLong, help: "Print nothing but errors.")
    var quiet = false

    func run() throws {
        try reportingErrors {
            TemporaryFiles.removeOnInterrupt()
            let started = Date()
            let report = try TableUpdater.compact(table: table, keep: keep, wait: !noWait, waiting: announceWaiting(for: table))
            guard !quiet else { return }
            guard let report else {
                printError("\(table) has no changes to fold: left as it is")
                return
            }
            printError("compacted \(table): version \(report.version) (from \(report.madeFrom)), \(report.records) records, in \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
        }
    }
}
