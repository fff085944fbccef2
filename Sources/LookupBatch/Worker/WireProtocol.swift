// WireProtocol: the messages between the coordinator and its workers, one JSON object per line
// over a pipe each way: tasks down, and ready / progress / done / failed reports up.
import Foundation
import SharedLookup

/// A unit of work: the lines of `input` that start in bytes `start ..< end` (the whole file
/// when `end` is nil), written to `output`.
struct TaskMessage: Codable {
    var id: Int
    var attempt: Int
    var input: String
    var start: Int
    var end: Int?
    var output: String
    /// Whether the task's first line is the file's header.
    var header: Bool
}

/// Counts from one task (or summed over many).
public struct TaskCounts: Codable, Sendable, Equatable {
    /// Lines read (the header included).
    public var lines = 0
    /// Lines whose key is in the table.
    public var hits = 0
    /// Lines whose key is not.
    public var misses = 0
    /// Lines skipped as malformed.
    public var badLines = 0
    /// Bytes of input read.
    public var bytes = 0
    /// Rows a join writes for the hits: one per value (a one-to-many table gives several per
    /// line), plus one per miss in a left join.
    public var rows = 0

    /// Zero counts.
    public init() {}

    private enum CodingKeys: String, CodingKey { case lines, hits, misses, badLines, bytes, rows }

    /// Decodes counts; `rows` may be absent (job logs written before it was counted).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        lines = try c.decode(Int.self, forKey: .lines)
        hits = try c.decode(Int.self, forKey: .hits)
        misses = try c.decode(Int.self, forKey: .misses)
        badLines = try c.decode(Int.self, forKey: .badLines)
        bytes = try c.decode(Int.self, forKey: .bytes)
        rows = try c.decodeIfPresent(Int.self, forKey: .rows) ?? hits
    }

    /// Adds `other` to these counts.
    public mutating func add(_ other: TaskCounts) {
        lines += other.lines
        hits += other.hits
        misses += other.misses
        badLines += other.badLines
        bytes += other.bytes
        rows += other.rows
    }
}

/// A malformed line: its number within the task and what is wrong with it.
struct BadLine: Codable, Equatable {
    var line: Int
    var message: String
}

/// What a worker reports.
struct WorkerReport: Codable {
    /// `damaged`: the worker met a damaged page of the table (`message` says what); the run stops.
    enum Kind: String, Codable { case ready, progress, done, failed, fatal, damaged }
    var kind: Kind
    var task: Int?
    var bytes: Int?
    var counts: TaskCounts?
    var badLines: [BadLine]?
    var message: String?
    /// With `failed`: the task may succeed when run again (its pipe command failed).
    var retry: Bool?
}

/// Reads newline-delimited JSON messages from a descriptor without blocking on partial lines.
final class MessageReader {
    let fd: Int32
    private var pending: [UInt8] = []
    private(set) var closed = false

    init(fd: Int32) { self.fd = fd }

    /// Reads what is available (call when poll says readable); returns complete lines.
    func readAvailable() -> [Data] {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 {
            if n < 0 && (errno == EINTR || errno == EAGAIN) { return [] }
            closed = true
            return []
        }
        pending.append(contentsOf: chunk[0..<n])
        var lines: [Data] = []
        while let nl = pending.firstIndex(of: 10) {
            lines.append(Data(pending[..<nl]))
            pending.removeSubrange(...nl)
        }
        return lines
    }

    /// Blocks until one whole line arrives; `nil` at end of input.
    func readLine() -> Data? {
        while true {
            if let nl = pending.firstIndex(of: 10) {
                let line = Data(pending[..<nl])
                pending.removeSubrange(...nl)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { closed = true; return nil }
            pending.append(contentsOf: chunk[0..<n])
        }
    }
}

/// Writes one message as a JSON line, whole (retrying short writes).
func sendMessage<T: Encodable>(_ message: T, to fd: Int32) -> Bool {
    guard var data = try? JSONEncoder().encode(message) else { return false }
    data.append(10)
    return data.withUnsafeBytes { raw in
        writeFully(fd, raw)
    }
}
