// Unit tests of the coordinator's output assembly (OutputAssembler): part paths and task
// messages, parts concatenated in order and renamed into the output directory, stdout written
// in input order as files finish, failed files' parts removed, job log entries.
import Foundation
import LookupTestSupport
import Testing
@testable import LookupBatch

@Suite("coordinator: output assembly")
struct OutputAssemblerTests {
    /// Three input files; the second one's output is in a subdirectory.
    private let inputs = [
        InputFile(path: "/in/a.csv", relativeOutput: "a.csv", size: 30, modified: 1, compressed: false),
        InputFile(path: "/in/sub/b.csv.gz", relativeOutput: "sub/b.csv", size: 20, modified: 2, compressed: true),
        InputFile(path: "/in/c.csv", relativeOutput: "c.csv", size: 10, modified: 3, compressed: false),
    ]

    /// Writes part `part` of `file` as a worker would.
    private func writePart(_ output: OutputAssembler, file: Int, part: Int, _ text: String) throws {
        try writeFile(output.partPath(file: file, part: part), text)
    }

    /// A finished file of `parts` parts.
    private func finished(parts: Int, failure: String? = nil) -> FileProgress {
        var file = FileProgress(parts: parts)
        file.partCounts = Array(repeating: TaskCounts(), count: parts)
        file.failure = failure
        file.finished = true
        return file
    }

    @Test("a task's message names its input, range, part path and whether it starts with the header")
    func message() {
        let output = OutputAssembler(workDirectory: "/w", outputDirectory: nil, writesOutput: true, files: inputs, order: [0, 1, 2], log: nil)
        var task = PlannedTask(id: 7, file: 0, part: 1, start: 100, end: 200)
        task.attempts = 2
        let m = output.message(for: task)
        #expect(m.id == 7 && m.attempt == 2 && m.input == "/in/a.csv" && m.start == 100 && m.end == 200)
        #expect(m.output == "/w/0.1" && !m.header)
        #expect(output.message(for: PlannedTask(id: 0, file: 2, part: 0, start: 0, end: nil)).header)
    }

    @Test("parts are joined in order and renamed into OUT (parents made); the work directory is left empty")
    func place() throws {
        let dir = try TempDir("assemble")
        let work = dir.file("work"), out = dir.file("out")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let output = OutputAssembler(workDirectory: work, outputDirectory: out, writesOutput: true, files: inputs, order: [0, 1, 2], log: nil)
        try writePart(output, file: 0, part: 2, "5\n6\n")
        try writePart(output, file: 0, part: 0, "1\n2\n")
        try writePart(output, file: 0, part: 1, "3\n4\n")
        try writePart(output, file: 1, part: 0, "b\n")
        try output.place(0, parts: 3)
        try output.place(1, parts: 1)
        expectFile(out + "/a.csv", equals: Array("1\n2\n3\n4\n5\n6\n".utf8), "three parts")
        expectFile(out + "/sub/b.csv", equals: Array("b\n".utf8), "one part")
        #expect(listFiles(work).isEmpty, "left in the work directory: \(listFiles(work))")
    }

    @Test("a job without output places nothing; a failed file's parts are removed")
    func noOutput() throws {
        let dir = try TempDir("assemble-none")
        let work = dir.file("work"), out = dir.file("out")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let counting = OutputAssembler(workDirectory: work, outputDirectory: out, writesOutput: false, files: inputs, order: [0], log: nil)
        try counting.place(0, parts: 1)
        #expect(!fileExists(out + "/a.csv"))
        try writePart(counting, file: 2, part: 0, "x\n")
        try writePart(counting, file: 2, part: 1, "y\n")
        counting.discardParts(of: 2, count: 2)
        #expect(listFiles(work).isEmpty)
    }

    @Test("stdout gets each file in input order once it and every file before it are finished; a failed file writes nothing")
    func stdoutOrder() throws {
        let dir = try TempDir("assemble-stdout")
        let work = dir.file("work"), sink = dir.file("stdout")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let fd = open(sink, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        #expect(fd >= 0)
        defer { close(fd) }
        let output = OutputAssembler(workDirectory: work, outputDirectory: nil, writesOutput: true, files: inputs, order: [0, 1, 2],
                                     log: nil, stdoutFD: fd)
        try writePart(output, file: 0, part: 0, "a0\n")
        try writePart(output, file: 0, part: 1, "a1\n")
        try writePart(output, file: 1, part: 0, "failed\n")
        try writePart(output, file: 2, part: 0, "c\n")
        var progress: [Int: FileProgress] = [0: FileProgress(parts: 2), 1: FileProgress(parts: 1), 2: finished(parts: 1)]
        // The last file is finished first: nothing may be written before the first one is.
        try output.drainToStdout(progress)
        expectFile(sink, equals: [], "before the first file is finished")
        progress[0] = finished(parts: 2)
        try output.drainToStdout(progress)
        expectFile(sink, equals: Array("a0\na1\n".utf8), "the first file finished")
        #expect(output.stdoutNext == 1)
        progress[1] = finished(parts: 1, failure: "cannot read")
        try output.drainToStdout(progress)
        expectFile(sink, equals: Array("a0\na1\nc\n".utf8), "all finished, the second failed")
        #expect(output.stdoutNext == 3)
    }

    @Test("a finished file's job log entry: input, size, time, output and counts")
    func jobLogEntry() throws {
        let dir = try TempDir("assemble-log")
        let log = JobLog(directory: dir.path)
        let output = OutputAssembler(workDirectory: dir.path, outputDirectory: dir.path, writesOutput: true, files: inputs,
                                     order: [0, 1, 2], log: log)
        var counts = TaskCounts()
        counts.lines = 4
        counts.hits = 3
        counts.misses = 1
        try output.record(1, counts: counts)
        let entries = log.entries()
        #expect(entries.count == 1)
        let entry = try #require(entries.first)
        #expect(entry.input == "/in/sub/b.csv.gz" && entry.size == 20 && entry.modified == 2)
        #expect(entry.output == "sub/b.csv" && entry.counts == counts)
        #expect(ISO8601DateFormatter().date(from: entry.finished) != nil)
    }
}
