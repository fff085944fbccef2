// Fault injection: a worker killed with SIGKILL mid-run (LOOKUP_FAULT_KILL_TASK) is retried without lost or duplicated lines, or fails cleanly with --retries 0.
import Foundation
import LookupTestSupport
import Testing

/// A worker to kill: the run's config and which task (by the file it belongs to).
struct FaultCase: Sendable, CustomTestStringConvertible {
    enum Target: Sendable { case bigRange(Int), smallGzip }
    var workers: Int
    var start: String
    var target: Target
    var testDescription: String {
        switch target {
        case .bigRange(let p): return "-j \(workers) --start \(start), kill the worker of big.csv range \(p)"
        case .smallGzip: return "-j \(workers) --start \(start), kill the worker of a .gz file"
        }
    }
}

@Suite("lookup run: worker faults", .serialized)
struct BatchFaultTests {
    /// Task ids are given in file order before the largest-first sort: each file before big.csv
    /// is one task (id = its index); big.csv's ranges follow. big.csv's ranges are the largest
    /// tasks, so with -j 1 range 1 starts a third into the run, and with -j 2 range 2 starts
    /// when one of the first two ranges is done. A .gz file is small: it runs late.
    @Test("a worker killed with SIGKILL: its task runs again; output equals the reference, exit 0",
          arguments: [FaultCase(workers: 2, start: "spawn", target: .bigRange(2)),
                      FaultCase(workers: 1, start: "fork", target: .bigRange(1)),
                      FaultCase(workers: 4, start: "spawn", target: .smallGzip)])
    func killedWorkerIsRetried(_ c: FaultCase) throws {
        let fx = try mixedFixture.get()
        let bigIndex = fx.files.firstIndex { $0.path == fx.big }!
        let taskID: Int, victim: InputSpec
        switch c.target {
        case .bigRange(let p): taskID = bigIndex + p; victim = fx.files[bigIndex]
        case .smallGzip:
            taskID = fx.files.firstIndex { $0.gz && $0.ref.counts.lines > 0 }!
            victim = fx.files[taskID]
        }
        let work = try TempDir("fault")
        let out = work.file("out"), summaryPath = work.file("summary.json")
        let r = try runLookup(["run", fx.table.lmdb] + fx.arguments +
                              ["-o", out, "-j", "\(c.workers)", "--start", c.start, "--summary-json", summaryPath, "--no-progress"],
                              environment: ["LOOKUP_FAULT_KILL_TASK": "\(taskID)"])
        expectExit(r, 0, c.testDescription)
        // The retry is reported, naming the file.
        let retryLines = r.stderr.split(separator: "\n").filter { $0.contains("retry") }
        let oneRetryNamed = retryLines.count == 1 && retryLines[0].contains(victim.path)
        #expect(oneRetryNamed, "\(c.testDescription): expected one retry message naming \(victim.path); stderr: \(r.err)")
        let s = try readSummary(summaryPath)
        #expect(s.retries == 1, "\(c.testDescription): summary retries \(s.retries)")
        #expect(s.errors.isEmpty && s.filesFailed == 0 && s.files == fx.files.count, "\(c.testDescription): \(s)")
        let totals = fx.totals(fx.files)
        #expect(totals.matches(s.counts), "\(c.testDescription): summary counts \(s.counts), reference \(totals)")
        // No lost lines, no duplicated lines.
        expectOutputs(out, fx.files, mode: .join, c.testDescription)
        #expect(readJobLog(out).count == fx.files.count)
    }

    @Test("--retries 0: the killed task fails; that output is absent, the others complete; exit 1, error in the summary")
    func killedWorkerWithoutRetries() throws {
        let fx = try mixedFixture.get()
        let files = fx.dirFiles   // a run over in/ alone: one task per file, id = index
        let victimIndex = files.indices.first { $0 >= 20 && !files[$0].gz && files[$0].ref.counts.lines > 100 }!
        let victim = files[victimIndex]
        let work = try TempDir("fault0")
        let out = work.file("out"), summaryPath = work.file("summary.json")
        let r = try runLookup(["run", fx.table.lmdb, fx.inDir, "-o", out, "-j", "2", "--retries", "0",
                               "--summary-json", summaryPath, "--no-progress"],
                              environment: ["LOOKUP_FAULT_KILL_TASK": "\(victimIndex)"])
        expectExit(r, 1, "--retries 0")
        let named = r.says(victim.path)
        #expect(named, "stderr does not name \(victim.path): \(r.err)")
        #expect(!fileExists(out + "/" + victim.rel), "the failed file's output \(victim.rel) exists")
        let others = files.enumerated().filter { $0.offset != victimIndex }.map(\.element)
        let expected = Set(others.map(\.rel) + [".lookup-joblog.jsonl"])
        let got = Set(listFiles(out))
        #expect(got == expected, "unexpected \(got.subtracting(expected).sorted()), missing \(expected.subtracting(got).sorted())")
        for f in others { expectFile(out + "/" + f.rel, equals: f.ref.join, "--retries 0: \(f.rel)") }
        expectNoLeftovers(out, "--retries 0")

        let s = try readSummary(summaryPath)
        #expect(s.filesFailed == 1 && s.files == others.count, "summary: \(s)")
        #expect(s.errors.count == 1 && s.errors.first.map { $0.contains(victim.path) && $0.contains("signal 9") } == true,
                "summary errors should name \(victim.path) and the signal: \(s.errors)")
        let totals = fx.totals(others)
        #expect(totals.matches(s.counts), "summary counts \(s.counts), reference for the other files \(totals)")
        let log = readJobLog(out)
        #expect(Set(log.map(\.input)) == Set(others.map(\.path)), "job log inputs differ from the completed files")
    }
}
