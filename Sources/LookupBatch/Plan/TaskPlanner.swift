// TaskPlanner: cuts the input files into tasks, largest first. A large uncompressed file is
// split into byte ranges (a worker starts at the first line that begins in its range), so one
// huge file still keeps every worker busy; a compressed file is always one task.

/// One planned task: a byte range of one input file.
struct PlannedTask: Equatable {
    var id: Int
    /// Index of the file in the run's file list.
    var file: Int
    /// Index of this range within the file (its output part number).
    var part: Int
    var start: Int
    var end: Int?
    /// Attempts made before this one (a retried task's worker died).
    var attempts = 0

    /// The task's input bytes, in a file of `fileSize` bytes.
    func byteCount(fileSize: Int) -> Int { (end ?? fileSize) - start }
}

enum TaskPlanner {
    /// Files at least this large may be split.
    static let minimumSplit = 32 << 20

    /// Plans tasks for `files` (given by index) with `workers` workers: ranges of about
    /// total / (4 * workers) bytes, at least `minimumSplit`. Returns tasks largest first and
    /// each file's number of parts.
    static func plan(_ files: [InputFile], indices: [Int], workers: Int) -> (tasks: [PlannedTask], parts: [Int: Int]) {
        let total = indices.reduce(0) { $0 + files[$1].size }
        let rangeSize = max(minimumSplit, total / max(1, 4 * workers))
        var tasks: [PlannedTask] = []
        var parts: [Int: Int] = [:]
        for index in indices {
            let file = files[index]
            if file.compressed || file.size <= rangeSize + rangeSize / 2 {
                tasks.append(PlannedTask(id: tasks.count, file: index, part: 0, start: 0, end: nil))
                parts[index] = 1
                continue
            }
            let count = (file.size + rangeSize - 1) / rangeSize
            let step = (file.size + count - 1) / count
            for p in 0..<count {
                let start = p * step
                let end = p == count - 1 ? nil : min(file.size, (p + 1) * step)
                tasks.append(PlannedTask(id: tasks.count, file: index, part: p, start: start, end: end))
            }
            parts[index] = count
        }
        func size(_ t: PlannedTask) -> Int { t.byteCount(fileSize: files[t.file].size) }
        tasks.sort { size($0) != size($1) ? size($0) > size($1) : $0.id < $1.id }
        return (tasks, parts)
    }
}
