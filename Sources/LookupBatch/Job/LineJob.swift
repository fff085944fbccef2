// LineJob: the per-line logic of a batch run, and the built-in jobs: join, filter, anti, count.
// A job runs inside the worker processes; it sees each line in input order with its key and
// the table's value for it, borrowed from the shared memory map (no copies).
import SharedLookup

/// What a batch run does with each line. Conform to write your own; see `BatchRunner`.
public protocol LineJob {
    /// Creates the job once in each worker process, after the table is opened there.
    init(context: JobContext) throws
    /// Handles one line (without its line end), in input order: `key` is its key (the key
    /// columns' values joined by 0x1F for a composite key, case folded and trimmed as the
    /// table's keys are) and `value` the table's value for it, or `nil` when the key is not in
    /// the table; for a one-to-many table (`context.table.valuesPerKey == .many`) the value is a
    /// `ValueList` of every value (iterate `ValueList(value)`, or use `forEachValue`). Both
    /// borrow memory valid only during the call. Write output lines (with their "\n") to
    /// `output`.
    mutating func process(line: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer,
                          value: UnsafeRawBufferPointer?, output: inout OutputBuffer) throws
    /// Called before the lines of each task (a file, or a byte range of one) in this worker.
    mutating func begin(file: FileContext) throws
    /// Handles the first line of a file when the run has `header` set. By default it is copied
    /// to the output unchanged.
    mutating func header(line: UnsafeRawBufferPointer, output: inout OutputBuffer) throws
    /// Whether the job writes output files at all (`count` does not).
    static var writesOutput: Bool { get }
}

extension LineJob {
    public mutating func begin(file: FileContext) throws {}

    public mutating func header(line: UnsafeRawBufferPointer, output: inout OutputBuffer) throws {
        try output.append(line)
        try output.append(10)
    }

    public static var writesOutput: Bool { true }
}

/// What a job knows about its run.
public struct JobContext {
    /// The table, opened in this worker process.
    public let table: Table
    /// The run's options (mode, key column, delimiter, user parameters ...).
    public let options: RunOptions
}

/// The file a task reads.
public struct FileContext {
    /// The input file's path.
    public let path: String
    /// Its field delimiter.
    public let delimiter: UInt8
    /// Whether its fields may be quoted (CSV).
    public let quoting: Bool
    /// Whether its lines are JSON objects (JSON Lines), not delimited fields.
    public let isJSONLines: Bool
}

/// The built-in per-line jobs.
public enum RunMode: String, Codable, Sendable, CaseIterable {
    /// Lines whose key is in the table, with the table's value appended after the delimiter
    /// (one line per value of a one-to-many table).
    case join
    /// Every line: a join, where a miss gets empty fields (or `--missing`) for the value.
    case left
    /// Lines whose key is in the table, unchanged.
    case filter
    /// Lines whose key is not in the table, unchanged.
    case anti
    /// No output, only counts of hits and misses.
    case count

    /// The job type of this mode: the one place a mode is mapped to its job (`run` and `map`
    /// pass it to their generic runners, which open the existential).
    var job: any LineJob.Type {
        switch self {
        case .join: JoinJob.self
        case .left: LeftJoinJob.self
        case .filter: FilterJob.self
        case .anti: AntiJob.self
        case .count: CountJob.self
        }
    }
}

/// Writes `key<TAB>` before an output line when the run asks for keyed output.
@inline(__always)
func writeKeyPrefix(_ key: UnsafeRawBufferPointer, _ enabled: Bool, _ output: inout OutputBuffer) throws {
    if enabled {
        try output.append(key)
        try output.append(9)
    }
}

/// The join jobs (join, left): their rows are written by a `JoinWriter`, which also takes the
/// file's syntax and writes the joined header.
protocol JoinWriting: LineJob {
    var join: JoinWriter { get set }
}

extension JoinWriting {
    public mutating func begin(file: FileContext) { join.begin(file: file) }
    public mutating func header(line: UnsafeRawBufferPointer, output: inout OutputBuffer) throws {
        try join.header(line: line, output: &output)
    }
}

/// `join`: writes `line<delimiter>value` for each line whose key is in the table: one line
/// per value of a one-to-many table, the chosen columns only with `--columns`. A JSON Lines
/// line gets the value as a member (`--value-field`) instead.
public struct JoinJob: JoinWriting {
    var join: JoinWriter
    public init(context: JobContext) throws { join = try JoinWriter(context: context, left: false) }
    @inline(__always)
    public mutating func process(line: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer,
                                 value: UnsafeRawBufferPointer?, output: inout OutputBuffer) throws {
        guard let value else { return }
        try join.hit(line: line, key: key, stored: value, output: &output)
    }
}

/// `left`: a join that also writes every line whose key is missing, with an empty field (or
/// `--missing TEXT`) for each column the value would have filled (`null` for JSON Lines).
public struct LeftJoinJob: JoinWriting {
    var join: JoinWriter
    public init(context: JobContext) throws { join = try JoinWriter(context: context, left: true) }
    @inline(__always)
    public mutating func process(line: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer,
                                 value: UnsafeRawBufferPointer?, output: inout OutputBuffer) throws {
        if let value {
            try join.hit(line: line, key: key, stored: value, output: &output)
        } else {
            try join.miss(line: line, key: key, output: &output)
        }
    }
}

/// `filter`: writes each line whose key is in the table.
public struct FilterJob: LineJob {
    let keyed: Bool
    public init(context: JobContext) { keyed = context.options.outputKey }
    @inline(__always)
    public mutating func process(line: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer,
                                 value: UnsafeRawBufferPointer?, output: inout OutputBuffer) throws {
        guard value != nil else { return }
        try writeKeyPrefix(key, keyed, &output)
        try output.append(line)
        try output.append(10)
    }
}

/// `anti`: writes each line whose key is not in the table.
public struct AntiJob: LineJob {
    let keyed: Bool
    public init(context: JobContext) { keyed = context.options.outputKey }
    @inline(__always)
    public mutating func process(line: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer,
                                 value: UnsafeRawBufferPointer?, output: inout OutputBuffer) throws {
        guard value == nil else { return }
        try writeKeyPrefix(key, keyed, &output)
        try output.append(line)
        try output.append(10)
    }
}

/// `count`: writes nothing; the run counts hits and misses.
public struct CountJob: LineJob {
    public init(context: JobContext) {}
    @inline(__always)
    public mutating func process(line: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer,
                                 value: UnsafeRawBufferPointer?, output: inout OutputBuffer) throws {}
    public mutating func header(line: UnsafeRawBufferPointer, output: inout OutputBuffer) throws {}
    public static var writesOutput: Bool { false }
}
