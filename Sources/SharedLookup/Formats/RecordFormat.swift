// RecordFormat: the input formats a table is built from, their options, inference from file
// names, and the contract between a format's parser and the builder (RecordHandler).
import LMDB

/// An input format for building a table.
public enum RecordFormat: String, CaseIterable, Sendable, Codable {
    /// Comma-separated values with RFC 4180 quoting.
    case csv
    /// Tab-separated values, no quoting.
    case tsv
    /// JSON Lines: one JSON object per line; the key is a named field.
    case jsonl
    /// The text format of LMDB's `mdb_dump` (`bytevalue` or `print`).
    case mdbDump = "mdb-dump"
    /// The cdbmake format: `+klen,dlen:key->data` per record, an empty line at the end.
    case cdb

    /// The format a file name implies (`.csv`, `.tsv`/`.tab`, `.jsonl`/`.ndjson`, `.dump`/
    /// `.mdb-dump`, `.cdb`/`.cdbmake`), looking through a trailing `.gz`, `.zst`, `.xz` or `.bz2`; `nil` if none.
    public static func infer(fromPath path: String) -> RecordFormat? {
        let name = Compression.removingSuffix(path.lowercased())
        guard let dot = name.lastIndex(of: "."), !name[dot...].contains("/") else { return nil }
        switch name[name.index(after: dot)...] {
        case "csv": return .csv
        case "tsv", "tab": return .tsv
        case "jsonl", "ndjson": return .jsonl
        case "dump", "mdbdump", "mdb-dump": return .mdbDump
        case "cdb", "cdbmake": return .cdb
        default: return nil
        }
    }
}

/// How records are read from an input.
public struct RecordOptions: Sendable, Hashable {
    /// 1-based column holding the key (CSV/TSV). Default 1.
    public var keyColumn: Int {
        get { keyColumns[0] }
        set { keyColumns = [newValue] }
    }
    /// 1-based columns whose values, joined by 0x1F in this order, make the key (CSV/TSV):
    /// one for a plain key, several for a composite key (`-k 2,5`).
    public var keyColumns: [Int]
    /// Field delimiter for CSV/TSV; `nil` means the format's own (`,` or tab).
    public var delimiter: UInt8?
    /// Whether the first line of each CSV/TSV input is a header to skip.
    public var header: Bool
    /// The JSON Lines field holding the key. Default "key".
    public var keyField: String
    /// For mdb-dump input with several databases: the one to load. `nil` loads the main
    /// (unnamed) database, or the only one, or one named "data".
    public var database: String?
    /// The longest key accepted (LMDB's limit is 511 bytes).
    public var maxKeySize: Int

    /// Creates options with the defaults described on each property.
    public init(keyColumn: Int = 1, delimiter: UInt8? = nil, header: Bool = false, keyField: String = "key",
                database: String? = nil, maxKeySize: Int = lmdbMaxKeySize) {
        self.keyColumns = [keyColumn]
        self.delimiter = delimiter
        self.header = header
        self.keyField = keyField
        self.database = database
        self.maxKeySize = maxKeySize
    }
}

/// Where a parser sends what it reads.
///
/// `record` receives each record's key and value; both buffers are valid only during the call.
/// `badRecord` receives each malformed record as a `LookupError` (kind `.badRecord`, with path
/// and line); it either throws (strict mode, the parse stops) or returns (the record is
/// skipped and parsing goes on with the next record).
public protocol RecordHandler {
    /// One record: `key` (1...maxKeySize bytes, already validated), `value`, and the 1-based
    /// line where the record starts.
    mutating func record(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, line: Int) throws
    /// One malformed record; throw to stop, return to skip it.
    mutating func badRecord(_ error: LookupError) throws
    /// The columns of a CSV/TSV input, told once per input: the header's names (with
    /// `header`), and how many columns its first record (or its header) has.
    mutating func layout(names: [String]?, columns: Int)
}

extension RecordHandler {
    public mutating func layout(names: [String]?, columns: Int) {}
}

extension RecordFormat {
    /// Reads every record of `input` in this format, sending them to `handler`.
    public func parse<H: RecordHandler>(_ input: InputReader, options: RecordOptions, into handler: inout H) throws {
        switch self {
        case .csv:
            var parser = DelimitedParser(options: options, delimiter: options.delimiter ?? UInt8(ascii: ","), quoting: true)
            try parser.parse(input, into: &handler)
        case .tsv:
            var parser = DelimitedParser(options: options, delimiter: options.delimiter ?? UInt8(ascii: "\t"), quoting: false)
            try parser.parse(input, into: &handler)
        case .jsonl:
            var parser = JSONLinesParser(options: options)
            try parser.parse(input, into: &handler)
        case .mdbDump:
            var parser = MDBDumpParser(options: options)
            try parser.parse(input, into: &handler)
        case .cdb:
            var parser = CDBParser(options: options)
            try parser.parse(input, into: &handler)
        }
    }
}
