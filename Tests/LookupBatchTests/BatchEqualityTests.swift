// Equality: `lookup run` writes byte-identical output to the naive reference for every mode, worker count and start method.
import Foundation
import LookupTestSupport
import Testing

/// One way to run a batch.
struct RunConfig: Sendable, CustomTestStringConvertible {
    var mode: OutputMode
    var workers: Int
    var start: String
    init(_ mode: OutputMode, _ workers: Int, _ start: String) {
        self.mode = mode
        self.workers = workers
        self.start = start
    }
    var testDescription: String { "--mode \(mode.rawValue) -j \(workers) --start \(start)" }
    var arguments: [String] { ["--mode", mode.rawValue, "-j", "\(workers)", "--start", start] }
}

@Suite("lookup run: output equals the reference")
struct BatchEqualityTests {
    /// Every mode with 1, 2 and 4 workers, and join with each worker count under both start methods.
    static let directoryConfigs: [RunConfig] = [
        RunConfig(.join, 1, "spawn"), RunConfig(.join, 2, "fork"), RunConfig(.join, 4, "spawn"),
        RunConfig(.filter, 1, "fork"), RunConfig(.filter, 2, "spawn"), RunConfig(.filter, 4, "fork"),
        RunConfig(.anti, 1, "spawn"), RunConfig(.anti, 2, "fork"), RunConfig(.anti, 4, "spawn"),
        RunConfig(.join, 1, "fork"), RunConfig(.join, 2, "spawn"), RunConfig(.join, 4, "fork"),
    ]

    @Test("-o DIR: one output per input, mirrored paths, byte-identical; summary and job log agree",
          arguments: directoryConfigs)
    func directoryOutput(_ c: RunConfig) throws {
        let fx = try mixedFixture.get()
        let work = try TempDir("eq")
        let out = work.file("out"), summaryPath = work.file("summary.json")
        let r = try runLookup(["run", fx.table.lmdb] + fx.arguments + ["-o", out, "--summary-json", summaryPath, "--no-progress"] + c.arguments)
        expectExit(r, 0, c.testDescription)
        expectOutputs(out, fx.files, mode: c.mode, c.testDescription)

        let s = try readSummary(summaryPath)
        let totals = fx.totals(fx.files)
        #expect(totals.matches(s.counts), "\(c.testDescription): summary counts \(s.counts), reference \(totals)")
        #expect(s.files == fx.files.count && s.filesFailed == 0 && s.filesSkipped == 0 && s.errors.isEmpty && s.retries == 0,
                "\(c.testDescription): \(s)")
        // big.csv (~70 MiB) is cut into byte ranges: more tasks than files.
        #expect(s.tasks > fx.files.count, "\(c.testDescription): \(s.tasks) tasks for \(fx.files.count) files: big.csv was not split")
        #expect(s.workers == c.workers, "\(c.testDescription): \(s.workers) workers")

        // The job log lists every file once, with its output and its counts.
        let log = readJobLog(out)
        #expect(log.count == fx.files.count, "\(c.testDescription): job log has \(log.count) entries for \(fx.files.count) files")
        let byInput = Dictionary(log.map { ($0.input, $0) }, uniquingKeysWith: { a, _ in a })
        for f in fx.files {
            guard let e = byInput[f.path] else { Issue.record("\(c.testDescription): \(f.path) not in the job log"); continue }
            #expect(e.output == f.rel, "\(c.testDescription): job log output \(e.output ?? "nil") for \(f.path)")
            #expect(f.ref.counts.matches(e.counts), "\(c.testDescription): \(f.rel): job log counts \(e.counts), reference \(f.ref.counts)")
        }
    }

    @Test("--mode count: no outputs; summary and per-file job log counts equal the reference",
          arguments: [RunConfig(.join, 1, "spawn"), RunConfig(.join, 4, "fork"), RunConfig(.join, 2, "spawn")])
    func countMode(_ c: RunConfig) throws {
        let fx = try mixedFixture.get()
        let work = try TempDir("count")
        let out = work.file("out"), summaryPath = work.file("summary.json")
        let r = try runLookup(["run", fx.table.lmdb] + fx.arguments +
                              ["-o", out, "--summary-json", summaryPath, "--no-progress", "--mode", "count",
                               "-j", "\(c.workers)", "--start", c.start])
        let what = "count -j \(c.workers) --start \(c.start)"
        expectExit(r, 0, what)
        let s = try readSummary(summaryPath)
        let totals = fx.totals(fx.files)
        #expect(totals.matches(s.counts), "\(what): summary counts \(s.counts), reference \(totals)")
        #expect(s.files == fx.files.count && s.errors.isEmpty && s.tasks > fx.files.count, "\(what): \(s)")
        #expect(listFiles(out) == [".lookup-joblog.jsonl"], "\(what): count mode wrote \(listFiles(out))")
        expectNoLeftovers(out, what)
        let byInput = Dictionary(readJobLog(out).map { ($0.input, $0) }, uniquingKeysWith: { a, _ in a })
        for f in fx.files {
            guard let e = byInput[f.path] else { Issue.record("\(what): \(f.path) not in the job log"); continue }
            #expect(f.ref.counts.matches(e.counts), "\(what): \(f.rel): job log counts \(e.counts), reference \(f.ref.counts)")
        }
    }

    @Test("-o -: standard output is the per-file reference outputs concatenated in planned input order",
          arguments: [RunConfig(.join, 2, "spawn"), RunConfig(.anti, 4, "fork"), RunConfig(.filter, 1, "spawn")])
    func standardOutput(_ c: RunConfig) throws {
        let fx = try mixedFixture.get()
        let work = try TempDir("stdout")
        let tmp = work.file("tmp")
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        let r = try LookupProcess(["run", fx.table.lmdb] + fx.arguments + ["-o", "-", "--no-progress"] + c.arguments,
                                  environment: ["TMPDIR": tmp]).wait()
        expectExit(r, 0, "-o - \(c.testDescription)")
        let expected = ByteSink(capacity: 96 << 20)
        for f in fx.files { expected.append(f.ref.output(c.mode)) }
        let want = expected.bytes
        let same = sameBytes(r.stdout, want)
        #expect(same, "-o - \(c.testDescription): \(same ? "" : describeDifference(r.stdout, want))")
        // The summary line goes to stderr, never into the data.
        let summarized = r.says("\(fx.files.count) files", "lines")
        #expect(summarized, "-o - \(c.testDescription): no summary line on stderr: \(r.err)")
        #expect(listTree(tmp).isEmpty, "-o - \(c.testDescription): left in TMPDIR: \(listTree(tmp))")
    }
}
