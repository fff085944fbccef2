// JobLog: the record of finished input files inside the output directory, one JSON object
// per line, appended and synced after each file's output is in place. `--resume` skips the
// inputs it lists whose size and modification time are unchanged.
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

/// The job log file of an output directory.
final class JobLog {
    static let fileName = ".lookup-joblog.jsonl"
    let path: String
    private var fd: Int32 = -1

    init(directory: String) {
        path = directory + "/" + Self.fileName
    }

    deinit { if fd >= 0 { close(fd) } }

    /// The entries already in the log (a torn last line, from a crash, is ignored).
    func entries() -> [JobLogEntry] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let decoder = JSONDecoder()
        return data.split(separator: 10).compactMap { try? decoder.decode(JobLogEntry.self, from: Data($0)) }
    }

    /// Empties the log (for `--overwrite`).
    func reset() { unlink(path) }

    /// Appends `entry` and syncs it to disk.
    func append(_ entry: JobLogEntry) throws {
        if fd < 0 {
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            if fd < 0 { throw LookupError.system("cannot write the job log", path: path) }
        }
        var data = try JSONEncoder().encode(entry)
        data.append(10)
        let ok = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) == $0.count }
        if !ok || fsync(fd) != 0 { throw LookupError.system("cannot write the job log", path: path) }
    }
}
