// FileProgress: where one input file of a run stands: which of its parts (tasks) are done,
// their counts and bad lines, and the first failure. Once every part is done the file is
// finished: its bad lines are numbered within the whole file and its counts summed.

/// One input file's progress through a run.
struct FileProgress: Equatable {
    /// How many parts (tasks) the file was cut into.
    let parts: Int
    /// Each part's counts, once the part is done (a failed part counts zero).
    var partCounts: [TaskCounts?]
    /// Each part's sampled bad lines, numbered within the part.
    var partBad: [[BadLine]]
    /// Why the file failed: the message of its first failed part.
    var failure: String?
    /// Whether every part is done and the file was handed on (assembled, or discarded).
    var finished = false

    /// A file of `parts` parts, none done.
    init(parts: Int) {
        self.parts = parts
        partCounts = Array(repeating: nil, count: parts)
        partBad = Array(repeating: [], count: parts)
    }

    /// Parts done, failed ones included.
    var doneParts: Int { partCounts.filter { $0 != nil }.count }

    /// Whether every part is done.
    var allPartsDone: Bool { doneParts == parts }

    /// The counts of the whole file.
    var total: TaskCounts {
        partCounts.reduce(into: TaskCounts()) { $0.add($1 ?? TaskCounts()) }
    }

    /// The messages for the file's bad lines, numbered within the whole file: at most
    /// `samples` of them, then one line for those not shown.
    func badLineMessages(path: String, samples: Int) -> [String] {
        var messages: [String] = []
        var lineBase = 0
        for p in 0..<parts {
            for bad in partBad[p] where messages.count < samples {
                messages.append("\(path):\(lineBase + bad.line): \(bad.message)")
            }
            lineBase += partCounts[p]?.lines ?? 0
        }
        let badLines = total.badLines
        if badLines > messages.count {
            messages.append("\(path): \(badLines - messages.count) more bad lines not shown (\(badLines) in all)")
        }
        return messages
    }
}
