// JobLog: the record of a run inside the output directory, one JSON object per line, synced
// after each write. The first line is the run's header: the table it read (content hash and
// file identity) and the options that decide the bytes it writes. Each further line is a
// finished input file, appended once its output is in place. `--resume` goes on only when the
// header matches this run (see `resumeConflict`), and skips the inputs the log lists whose
// size and modification time are unchanged.
import Foundation
import SharedLookup

/// One finished input file.
struct JobLogEntry: Codable {
    var input: String
    var size: Int
    var modified: Int
    var output: String?
    var counts: TaskCounts
    var finished: String
}

/// The options of a run that change the bytes it writes (not which files it reads, how many
/// workers run, or how progress is shown).
struct OutputSettings: Codable, Equatable {
    /// `builtin` for the job `mode` names, else the custom `LineJob` type.
    var job: String
    var mode: RunMode
    var keyColumn: Int
    var delimiter: UInt8?
    var format: String?
    var header: Bool
    var maxLineLength: Int
    var outputKey: Bool
    var parameters: [String: String]
    // Options added later: absent (nil) where they keep their defaults, so logs written
    // before them still match.
    var keyColumns: [Int]?
    var columns: String?
    var missing: String?
    var keyFields: [String]?
    var valueField: String?
    /// `--compress` (absent from logs of runs without it, and of older versions).
    var compress: Compression?
    /// `--pipe` (absent likewise).
    var pipe: String?

    /// The settings of `options` for `job`.
    init(_ options: RunOptions, job: String) {
        self.job = job
        mode = options.mode
        keyColumn = options.keyColumn
        delimiter = options.delimiter
        format = options.format
        header = options.header
        maxLineLength = options.maxLineLength
        outputKey = options.outputKey
        parameters = options.parameters
        keyColumns = options.keyColumns.count > 1 ? options.keyColumns : nil
        columns = options.columns
        missing = options.missing
        keyFields = options.keyFields == ["key"] ? nil : options.keyFields
        valueField = options.valueField == "value" ? nil : options.valueField
        compress = options.compress
        pipe = options.pipe
    }

    /// Each setting spelled as its command-line option, in a fixed order.
    private var spelled: [String] {
        let delimiterText = delimiter.map { $0 == 9 ? "tab" : String(decoding: [$0], as: UTF8.self) }
        return [
            job == "builtin" ? "the built-in job" : "job \(job)",
            "--mode \(mode.rawValue)",
            "--key-column \(keyColumn)",
            delimiterText.map { "--delimiter \($0)" } ?? "no --delimiter",
            format.map { "--format \($0)" } ?? "no --format",
            header ? "--header" : "no --header",
            "--max-line \(maxLineLength)",
            outputKey ? "--output-key" : "no --output-key",
            keyColumns.map { "--key-column " + $0.map(String.init).joined(separator: ",") } ?? "one key column",
            columns.map { "--columns \($0)" } ?? "no --columns",
            missing.map { "--missing \($0)" } ?? "no --missing",
            "--key-field " + (keyFields ?? ["key"]).joined(separator: ","),
            "--value-field " + (valueField ?? "value"),
            "parameters " + parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
            compress.map { "--compress \($0.rawValue)" } ?? "no --compress",
            pipe.map { "--pipe '\($0)'" } ?? "no --pipe",
        ]
    }

    /// The first setting that differs between `recorded` and these, as the two spellings.
    func firstDifference(from recorded: OutputSettings) -> (recorded: String, now: String)? {
        zip(recorded.spelled, spelled).first { $0.0 != $0.1 }.map { (recorded: $0.0, now: $0.1) }
    }
}

/// The first line of a job log: what the run's outputs depend on.
struct JobLogHeader: Codable, Equatable {
    /// The header's layout; logs of older versions have no header at all.
    var version: Int
    /// The table the run read.
    var table: TableIdentity
    /// The options that change output bytes.
    var settings: OutputSettings

    /// The layout this code writes.
    static let currentVersion = 2
}

/// The job log file of an output directory.
final class JobLog {
    static let fileName = ".lookup-joblog.jsonl"
    let path: String
    private var fd: Int32 = -1

    /// A header line is this object, so no line is both a header and an entry.
    private struct HeaderLine: Codable { var run: JobLogHeader }

    init(directory: String) {
        path = directory + "/" + Self.fileName
    }

    deinit { if fd >= 0 { close(fd) } }

    private func lines() -> [Data] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return data.split(separator: 10).map { Data($0) }
    }

    /// The entries already in the log (a torn last line, from a crash, is ignored).
    func entries() -> [JobLogEntry] {
        let decoder = JSONDecoder()
        return lines().compactMap { try? decoder.decode(JobLogEntry.self, from: $0) }
    }

    /// The header, when the log has one.
    func header() -> JobLogHeader? {
        lines().first.flatMap { try? JSONDecoder().decode(HeaderLine.self, from: $0).run }
    }

    /// Why `--resume` must not go on with this log for a run with `header`, as one line for
    /// the output directory `directory`; `nil` when it may (no log, an empty one, or one whose
    /// header matches: the same options, and a table with the same content hash, or without
    /// hashes the same unchanged file).
    func resumeConflict(with current: JobLogHeader, directory: String) -> LookupError? {
        let all = lines()
        if all.isEmpty { return nil }
        let redo = "use --overwrite to redo the run"
        guard let recorded = all.first.flatMap({ try? JSONDecoder().decode(HeaderLine.self, from: $0).run }) else {
            // Entries without a header: a log of an older lookup, which recorded neither the
            // table nor the options. Nothing tells whether its outputs match this run.
            if entries().isEmpty { return nil }
            return LookupError(.usage, path: directory, "--resume: the job log \(Self.fileName) does not record the table and options its outputs were made with (written by an older lookup); \(redo)")
        }
        if recorded.version > JobLogHeader.currentVersion {
            return LookupError(.usage, path: directory, "--resume: the job log was written by a newer lookup (layout \(recorded.version)); \(redo)")
        }
        if let difference = current.settings.firstDifference(from: recorded.settings) {
            return LookupError(.usage, path: directory, "--resume: the job log was written with \(difference.recorded), this run asks for \(difference.now); \(redo)")
        }
        if !recorded.table.sameData(as: current.table) {
            return LookupError(.usage, path: directory, "--resume: the job log was written with \(recorded.table.summary), this run reads \(current.table.summary); \(redo)")
        }
        return nil
    }

    /// Empties the log (for `--overwrite`, or a log with nothing to resume).
    func reset() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(path)
    }

    /// Starts the log with `header` unless it already has a header (a resumed run keeps the
    /// one it was checked against).
    func start(_ header: JobLogHeader) throws {
        if self.header() != nil { return }
        // Entries without a header are not resumed (`resumeConflict`): start afresh.
        reset()
        try appendLine(HeaderLine(run: header))
    }

    /// Appends `entry` and syncs it to disk.
    func append(_ entry: JobLogEntry) throws {
        try appendLine(entry)
    }

    private func appendLine<T: Encodable>(_ value: T) throws {
        if fd < 0 {
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            if fd < 0 { throw LookupError.system("cannot write the job log", path: path) }
        }
        var data = try JSONEncoder().encode(value)
        data.append(10)
        let ok = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) == $0.count }
        if !ok || fsync(fd) != 0 { throw LookupError.system("cannot write the job log", path: path) }
    }
}
