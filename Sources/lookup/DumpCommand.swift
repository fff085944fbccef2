// `lookup dump`: writes every record in key order as mdb_dump text (accepted by mdb_load and
// by `lookup build`), CSV or TSV.
import ArgumentParser
import SharedLookup

struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Write every record of a table in key order.",
        discussion: """
        mdb-dump writes the text format of LMDB's mdb_dump (add --print for its readable -p \
        variant): `mdb_load -n -f FILE NEW.lmdb` and `lookup build --format mdb-dump` both read \
        it back (a one-to-many table's lists as stored). csv and tsv write KEY,VALUE lines, one \
        per value of a one-to-many table, the parts of a composite key as columns of their own \
        (first); a table built from CSV gets its rows back. A range table writes its disjoint \
        segments as first,last,value (inclusive bounds).
        """)

    @Argument(help: "The table file.")
    var table: String

    @Option(help: "Output format: mdb-dump, csv or tsv.")
    var format: DumpFormat = .mdbDump

    @Flag(help: "mdb-dump: print printable bytes as text (like mdb_dump -p) instead of hex.")
    var print = false

    func run() throws {
        try reportingErrors {
            let opened = try openTable(table)
            var out = OutputBuffer(fd: STDOUT_FILENO, name: "<stdout>")
            let walked: (visited: Int, contentHash: String)
            switch format {
            case .csv, .tsv:
                let csv = format == .csv
                // A table built from CSV stores the rest of each row as CSV text: write it as is.
                let raw = csv && opened.metadata?.format == "csv"
                let writer = DelimitedWriter(delimiter: csv ? UInt8(ascii: ",") : 9, quoting: csv, rawValue: raw,
                                             splitsKeyParts: opened.keyForm.parts > 1)
                let kind = opened.valuesPerKey
                let rangeType = opened.matchKind == .exact ? nil : opened.metadata?.keyType ?? .text
                let segments = DelimitedWriter(delimiter: writer.delimiter, quoting: csv, rawValue: raw, splitsKeyParts: true)
                walked = try opened.scanHashing { key, stored in
                    if let rangeType {
                        // A range table's segment: first,last,value (inclusive bounds, as text).
                        guard let segment = RangeRecord.decode(stored) else {
                            throw LookupError.damaged(table, "a segment of the range table is malformed")
                        }
                        let (first, last) = RangeKeys.bounds(start: Array(key), end: segment.end.map { Array($0) }, type: rangeType)
                        try KeyForm.compositeKey([first, last]).withUnsafeBytes { try segments.write(key: $0, value: segment.value, to: &out) }
                        return true
                    }
                    try forEachValue(stored, kind) { value in try writer.write(key: key, value: value, to: &out) }
                    return true
                }
            default:
                let writer = MDBDumpWriter(printable: print)
                try writer.writeHeader(to: &out, mapSize: try opened.stats().mapSize)
                walked = try opened.scanHashing { key, value in
                    try writer.write(key: key, value: value, to: &out)
                    return true
                }
                try writer.writeFooter(to: &out)
            }
            let written = walked.visited
            // A damaged page can end a walk early, repeat one or change a record: never exit 0
            // with other records than the table holds (its count and content hash as recorded).
            let entries = try opened.count()
            let recorded = opened.metadata?.records ?? entries
            if written != entries || written != recorded {
                try out.flush()
                throw LookupError.damaged(table, "dump walked \(written) records, its B+tree counts \(entries) and its metadata \(recorded)")
            }
            if let recordedHash = opened.metadata?.contentHash, recordedHash != walked.contentHash {
                try out.flush()
                throw LookupError.damaged(table, "the records dumped have content hash \(walked.contentHash), its metadata records \(recordedHash)")
            }
            try out.flush()
        }
    }
}
