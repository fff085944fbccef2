// RunOptions: everything that defines a batch run, shared by the coordinator and (as JSON) by
// its worker processes.
import SharedLookup

/// How workers are started.
public enum StartMethod: String, Codable, Sendable, CaseIterable {
    /// Run the executable again in a worker role (safe everywhere; the default).
    case spawn
    /// `fork()` the coordinator (each worker opens the table after the fork).
    case fork
}

/// The options of a batch run.
public struct RunOptions: Codable, Sendable {
    /// The table file.
    public var table: String
    /// Input files and directories.
    public var inputs: [String]
    /// The output directory, or "-" for standard output.
    public var output: String
    /// The built-in job (ignored by custom jobs, which see it in `JobContext`).
    public var mode: RunMode
    /// 1-based key column (the first, for a composite key).
    public var keyColumn: Int {
        get { keyColumns[0] }
        set { keyColumns = [newValue] }
    }
    /// 1-based key columns of CSV/TSV lines, in key order; several make a composite key,
    /// which must have as many parts as the table's.
    public var keyColumns: [Int]
    /// The field delimiter; `nil` for the format's own.
    public var delimiter: UInt8?
    /// `csv` (quoting), `tsv` or `jsonl`; `nil` infers it from each file's extension
    /// (`.tsv`/`.tab`: tsv, `.jsonl`/`.ndjson`: jsonl, others csv).
    public var format: String?
    /// Whether the first line of each file is a header (passed to the job's `header`).
    public var header: Bool
    /// The longest line accepted; longer lines are counted as bad and skipped.
    public var maxLineLength: Int
    /// Worker processes.
    public var workers: Int
    /// How workers start.
    public var start: StartMethod
    /// How many times a task is retried on a fresh worker after its worker died.
    public var retries: Int
    /// Glob patterns a file name must match (any), when not empty.
    public var include: [String]
    /// Glob patterns that exclude files and directories.
    public var exclude: [String]
    /// Skip inputs the job log shows as done and unchanged.
    public var resume: Bool
    /// Replace the results already in the output directory.
    public var overwrite: Bool
    /// Free-form parameters for custom jobs.
    public var parameters: [String: String]
    /// Built-in jobs write `key<TAB>` before each output line (for a reducer to group by key).
    public var outputKey: Bool = false
    /// Verify the whole table (as `lookup check` does, in a child process) before the job
    /// reads it: a table that fails stops the job with `LookupError.damaged`.
    public var verify: Bool = false
    /// The table columns a join appends (`--columns`: positions or header names, comma
    /// separated); `nil`: the whole value.
    public var columns: String?
    /// What a left join writes in each column of a miss (default: nothing, an empty field).
    public var missing: String?
    /// JSON Lines lines: the dotted paths of the key's members (several: a composite key).
    public var keyFields: [String] = ["key"]
    /// JSON Lines lines: the member a join adds the table's value under.
    public var valueField: String = "value"
    /// Compress each output file in this format (`gz` or `zst`); its name gets the suffix.
    public var compress: Compression? = nil
    /// A shell command (`sh -c`) each task's output streams through in its worker: the command's
    /// standard output becomes the task's output.
    public var pipe: String? = nil

    /// Creates options with defaults: join, key column 1, one worker per core, spawn.
    public init(table: String, inputs: [String], output: String, mode: RunMode = .join, keyColumn: Int = 1,
                delimiter: UInt8? = nil, format: String? = nil, header: Bool = false, maxLineLength: Int = 16 << 20,
                workers: Int = RunOptions.defaultWorkers, start: StartMethod = .spawn, retries: Int = 2,
                include: [String] = [], exclude: [String] = [], resume: Bool = false, overwrite: Bool = false,
                parameters: [String: String] = [:]) {
        self.table = table
        self.inputs = inputs
        self.output = output
        self.mode = mode
        self.keyColumns = [keyColumn]
        self.delimiter = delimiter
        self.format = format
        self.header = header
        self.maxLineLength = maxLineLength
        self.workers = workers
        self.start = start
        self.retries = retries
        self.include = include
        self.exclude = exclude
        self.resume = resume
        self.overwrite = overwrite
        self.parameters = parameters
    }

    /// One worker per core.
    public static var defaultWorkers: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Why these options cannot read a table with `metadata`, or `nil`: a key with another
    /// number of parts than the table's keys, or `--columns` the table does not have. Checked
    /// before any worker starts (one line, the run does not begin).
    /// `inputPaths`: the input files of a run, whose names tell JSON Lines from delimited
    /// text when there is no `--format` (`nil`: standard input, CSV unless `--format`); the
    /// key is checked the way each kind of input reads it (`--key-field` or `-k`).
    public func problem(with metadata: TableMetadata?, inputPaths: [String]? = nil) -> LookupError? {
        let parts = metadata?.keyForm.parts ?? 1
        let jsonInputs: Bool, delimitedInputs: Bool
        if format != nil || inputPaths == nil {
            jsonInputs = format == "jsonl"
            delimitedInputs = !jsonInputs
        } else {
            let paths = inputPaths ?? []
            jsonInputs = paths.contains { isJSONLines(path: $0) }
            delimitedInputs = paths.contains { !isJSONLines(path: $0) }
        }
        for json in [true, false] where json ? jsonInputs : delimitedInputs {
            let given = json ? keyFields.count : keyColumns.count
            if given != parts {
                let what = json ? "--key-field \(keyFields.joined(separator: ","))" : "--key-column \(keyColumns.map(String.init).joined(separator: ","))"
                return LookupError(.usage, path: table,
                                   "the table's keys have \(parts) part\(parts == 1 ? "" : "s") (built with \(parts) key column\(parts == 1 ? "" : "s")); \(what) gives \(given)")
            }
        }
        let json = jsonInputs
        do { _ = try ColumnChoice(list: columns, metadata: metadata) } catch { return LookupError(error.kind, path: table, error.message) }
        do { _ = try JSONKeyReader(paths: keyFields) } catch where json { return LookupError(error.kind, "--key-field: \(error.message)") } catch {}
        return nil
    }

    /// Whether the input at `path` is JSON Lines: `--format jsonl`, or without `--format` a
    /// `.jsonl` or `.ndjson` file (compressed or not).
    public func isJSONLines(path: String) -> Bool {
        if let format { return format == "jsonl" }
        return RecordFormat.infer(fromPath: path) == .jsonl
    }

    /// The field syntax of the input at `path`: `--format` if given, else `.tsv`/`.tab` files
    /// are TSV and all others CSV (a compression suffix looked through); `--delimiter` overrides the format's delimiter.
    public func fieldSyntax(forPath path: String) -> (delimiter: UInt8, quoting: Bool) {
        let name = Compression.removingSuffix(path.lowercased())
        let tsv = format.map { $0 == "tsv" } ?? (name.hasSuffix(".tsv") || name.hasSuffix(".tab"))
        return (delimiter ?? (tsv ? 9 : UInt8(ascii: ",")), !tsv)
    }
}

