// OutputAssembler: where a run's outputs are made. Each task writes its part to the work
// directory (`partPath`); when a file is finished its parts are concatenated in order under a
// temp name and renamed to the file's output (`--output DIR`), or written to stdout in input
// order as far as the files before are finished (`--output -`); each finished file then gets
// its line in the job log.
import Foundation
import SharedLookup

/// Puts the parts that workers write together into a run's outputs.
final class OutputAssembler {
    /// The run's work directory (parts and assembled files before their rename).
    let workDirectory: String
    /// The output directory; `nil` when the output goes to `stdoutFD`.
    let outputDirectory: String?
    /// Whether the job writes output at all (`count` does not).
    let writesOutput: Bool
    /// The run's input files.
    let files: [InputFile]
    /// Indices of the files this run processes, in input order (the order of stdout).
    let order: [Int]
    /// Where the output goes without an output directory.
    let stdoutFD: Int32
    /// The job log, with an output directory.
    let log: JobLog?
    /// Position in `order` of the next file to write to stdout.
    private(set) var stdoutNext = 0

    /// An assembler for the files `order` of `files`, with parts in `workDirectory`.
    init(workDirectory: String, outputDirectory: String?, writesOutput: Bool, files: [InputFile], order: [Int],
         log: JobLog?, stdoutFD: Int32 = STDOUT_FILENO) {
        self.workDirectory = workDirectory
        self.outputDirectory = outputDirectory
        self.writesOutput = writesOutput
        self.files = files
        self.order = order
        self.log = log
        self.stdoutFD = stdoutFD
    }

    /// Where part `part` of file `file` is written.
    func partPath(file: Int, part: Int) -> String { "\(workDirectory)/\(file).\(part)" }

    /// Where `task` writes its output.
    func partPath(_ task: PlannedTask) -> String { partPath(file: task.file, part: task.part) }

    /// The message that hands `task` to a worker.
    func message(for task: PlannedTask) -> TaskMessage {
        TaskMessage(id: task.id, attempt: task.attempts, input: files[task.file].path, start: task.start, end: task.end,
                    output: partPath(task), header: task.start == 0)
    }

    /// Removes what `task` wrote (its worker died).
    func discardPart(of task: PlannedTask) {
        unlink(partPath(task))
    }

    /// Removes the parts of a failed file.
    func discardParts(of file: Int, count: Int) {
        for p in 0..<count { unlink(partPath(file: file, part: p)) }
    }

    /// Puts the output of the finished file `index` (of `parts` parts) in place in the output
    /// directory: parts assembled, then renamed to the file's output path. Nothing to do for
    /// stdout (see `drainToStdout`) or a job without output.
    func place(_ index: Int, parts: Int) throws {
        guard let outputDirectory, writesOutput else { return }
        let target = outputDirectory + "/" + files[index].relativeOutput
        try makeParents(of: target)
        let assembled = try assemble(index, parts: parts)
        if rename(assembled, target) != 0 { throw LookupError.system("cannot move output into place", path: target) }
    }

    /// Concatenates a file's parts in order into one synced temp file; returns its path (the
    /// only part's, for a file of one part).
    func assemble(_ index: Int, parts: Int) throws -> String {
        let first = partPath(file: index, part: 0)
        if parts == 1 { return first }
        let target = "\(workDirectory)/\(index).out"
        let out = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if out < 0 { throw LookupError.system("cannot create output", path: target) }
        defer { close(out) }
        for p in 0..<parts {
            let part = partPath(file: index, part: p)
            try appendFile(part, to: out, name: target)
            unlink(part)
        }
        if fsync(out) != 0 { throw LookupError.system("cannot sync output", path: target) }
        return target
    }

    /// Writes finished files to stdout in input order, as far as they are finished (a failed
    /// file writes nothing). Does nothing with an output directory.
    func drainToStdout(_ progress: [Int: FileProgress]) throws {
        guard outputDirectory == nil, writesOutput else { return }
        while stdoutNext < order.count, let file = progress[order[stdoutNext]], file.finished {
            let index = order[stdoutNext]
            if file.failure == nil {
                for p in 0..<file.parts {
                    let part = partPath(file: index, part: p)
                    try appendFile(part, to: stdoutFD, name: "<stdout>")
                    unlink(part)
                }
            }
            stdoutNext += 1
        }
    }

    /// Records the finished file `index` with its `counts` in the job log (if there is one).
    func record(_ index: Int, counts: TaskCounts) throws {
        guard let log else { return }
        let file = files[index]
        try log.append(JobLogEntry(input: file.path, size: file.size, modified: file.modified,
                                   output: writesOutput ? file.relativeOutput : nil, counts: counts,
                                   finished: ISO8601DateFormatter().string(from: Date())))
    }
}
