// RunSummary: what a batch run did, as the one-line summary printed at the end and as JSON
// (`--summary-json`).
import Foundation

/// The outcome of a batch run.
public struct RunSummary: Codable, Sendable {
    /// Input files processed in this run.
    public var files = 0
    /// Input files skipped because the job log shows them done (`--resume`).
    public var filesSkipped = 0
    /// Input files that failed.
    public var filesFailed = 0
    /// Summed line counts of the processed files.
    public var counts = TaskCounts()
    /// Errors: failed files and unreadable inputs, one message each.
    public var errors: [String] = []
    /// Wall time in seconds.
    public var seconds = 0.0
    /// Worker processes used.
    public var workers = 0
    /// Tasks run (byte ranges and whole files), and tasks retried after a worker died.
    public var tasks = 0, retries = 0
    /// How the workers read the table (`MemoryRegime`), and why.
    public var regime = ""

    /// Lines per second.
    public var linesPerSecond: Double { seconds > 0 ? Double(counts.lines) / seconds : 0 }

    /// The one-line summary.
    public var line: String {
        let mb = Double(counts.bytes) / 1_048_576
        var text = "\(files) file\(files == 1 ? "" : "s")"
        if filesSkipped > 0 { text += " (+\(filesSkipped) already done)" }
        text += ", \(counts.lines) lines"
        // Header lines (--header) are counted as lines but are neither hits, misses nor bad.
        let headers = counts.lines - counts.hits - counts.misses - counts.badLines
        if headers > 0 { text += " (\(headers) header\(headers == 1 ? "" : "s"))" }
        text += ", \(counts.hits) hits, \(counts.misses) misses, \(counts.badLines) bad lines"
        // A one-to-many table or a left join writes another number of rows than hits.
        if counts.rows != counts.hits { text += ", \(counts.rows) output rows" }
        text += ", \(errors.count) error\(errors.count == 1 ? "" : "s")"
        text += String(format: " in %.2f s (%.0f lines/s, %.1f MiB/s)", seconds, linesPerSecond, seconds > 0 ? mb / seconds : 0)
        if !regime.isEmpty { text += "; table read \(regime)" }
        return text
    }

    enum CodingKeys: String, CodingKey {
        case files, filesSkipped, filesFailed, counts, errors, seconds, workers, tasks, retries, linesPerSecond, regime
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        files = try c.decode(Int.self, forKey: .files)
        filesSkipped = try c.decode(Int.self, forKey: .filesSkipped)
        filesFailed = try c.decode(Int.self, forKey: .filesFailed)
        counts = try c.decode(TaskCounts.self, forKey: .counts)
        errors = try c.decode([String].self, forKey: .errors)
        seconds = try c.decode(Double.self, forKey: .seconds)
        workers = try c.decode(Int.self, forKey: .workers)
        tasks = try c.decode(Int.self, forKey: .tasks)
        retries = try c.decode(Int.self, forKey: .retries)
        regime = try c.decodeIfPresent(String.self, forKey: .regime) ?? ""
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(files, forKey: .files)
        try c.encode(filesSkipped, forKey: .filesSkipped)
        try c.encode(filesFailed, forKey: .filesFailed)
        try c.encode(counts, forKey: .counts)
        try c.encode(errors, forKey: .errors)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(workers, forKey: .workers)
        try c.encode(tasks, forKey: .tasks)
        try c.encode(retries, forKey: .retries)
        try c.encode(linesPerSecond, forKey: .linesPerSecond)
        try c.encode(regime, forKey: .regime)
    }
}
