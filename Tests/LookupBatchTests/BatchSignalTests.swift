// SIGTERM and Ctrl-C: a stopped run leaves no temp files, no work directories, no worker processes, and a job log listing exactly the finished outputs.
import Foundation
import LookupTestSupport
import Testing

@Suite("lookup run: SIGTERM and Ctrl-C", .serialized)
struct BatchSignalTests {
    /// After an interrupted run into `out`: the outputs present are exactly those the job log
    /// lists, each complete; no work directories or temp files; no worker left running.
    private func expectCleanStop(_ r: LookupResult, process: LookupProcess, workers: Set<ProcessIdentity>, out: String,
                                 files: [InputSpec], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let told = r.says("interrupted")
        #expect(told, "\(what): no interruption message: \(r.err)", sourceLocation: sourceLocation)
        // Workers: every child seen during the run is gone, and nothing carrying this run's tag is alive.
        #expect(!workers.isEmpty, "\(what): no worker process was seen during the run", sourceLocation: sourceLocation)
        let alive = workers.filter(\.exists)
        #expect(alive.isEmpty, "\(what): workers still exist after the coordinator exited: \(alive.map { "\($0) state \($0.state ?? "?")" })",
                sourceLocation: sourceLocation)
        let tagged = processesTagged(process.tag)
        #expect(tagged.isEmpty, "\(what): processes of the run still alive: \(tagged)", sourceLocation: sourceLocation)
        // Outputs and job log agree, and every present output is complete.
        expectNoLeftovers(out, what, sourceLocation: sourceLocation)
        let present = files.filter { fileExists(out + "/" + $0.rel) }
        let log = readJobLog(out, sourceLocation: sourceLocation)
        #expect(log.map(\.input).sorted() == present.map(\.path).sorted(),
                "\(what): job log lists \(log.map(\.input)), outputs present for \(present.map(\.path))", sourceLocation: sourceLocation)
        #expect(Set(log.compactMap(\.output)) == Set(present.map(\.rel)), "\(what): job log outputs differ", sourceLocation: sourceLocation)
        let known = Set(files.map(\.rel) + [".lookup-joblog.jsonl"])
        let strays = listFiles(out).filter { !known.contains($0) }
        #expect(strays.isEmpty, "\(what): unexpected files in OUT: \(strays)", sourceLocation: sourceLocation)
        for f in present { expectFile(out + "/" + f.rel, equals: f.ref.join, "\(what): \(f.rel)", sourceLocation: sourceLocation) }
        #expect(present.count < files.count, "\(what): the run was not stopped before the end", sourceLocation: sourceLocation)
    }

    @Test("SIGTERM (LOOKUP_FAULT_STOP_AFTER_FILES=2): exit 143, clean OUT, no workers left", arguments: ["spawn", "fork"])
    func sigterm(_ start: String) throws {
        let table = try sharedTable.get()
        let work = try TempDir("sigterm")
        let input = work.file("in"), out = work.file("out")
        let files = try makeInputDirectory(input, table: table, count: 12, baseLines: 5000, seed: 0x7E2)
        let process = try LookupProcess(["run", table.lmdb, input, "-o", out, "-j", "2", "--start", start, "--no-progress"],
                                        environment: ["LOOKUP_FAULT_STOP_AFTER_FILES": "2"])
        var workers = Set<ProcessIdentity>()
        let r = try process.wait(sampleEvery: 0.002) { pid in
            for child in childPIDs(of: pid) { if let id = ProcessIdentity(child) { workers.insert(id) } }
        }
        expectExit(r, 143, "SIGTERM --start \(start)")
        #expect(files.filter { fileExists(out + "/" + $0.rel) }.count >= 2, "SIGTERM --start \(start): fewer than 2 files done")
        expectCleanStop(r, process: process, workers: workers, out: out, files: files, "SIGTERM --start \(start)")
    }

    @Test("Ctrl-C (SIGINT to the process group once a file is done): exit 130, clean OUT, no workers left",
          arguments: ["spawn", "fork"])
    func ctrlC(_ start: String) throws {
        let table = try sharedTable.get()
        let work = try TempDir("sigint")
        let input = work.file("in"), out = work.file("out")
        let files = try makeInputDirectory(input, table: table, count: 16, baseLines: 6000, seed: 0x1A7)
        let process = try LookupProcess(["run", table.lmdb, input, "-o", out, "-j", "2", "--start", start, "--no-progress"],
                                        ownGroup: true)
        var workers = Set<ProcessIdentity>()
        var sent = false
        // Watches the run; the first finished file (its job log line, after the header line)
        // triggers the Ctrl-C.
        let r = try process.wait(sampleEvery: 0.002) { pid in
            for child in childPIDs(of: pid) { if let id = ProcessIdentity(child) { workers.insert(id) } }
            if !sent, let log = readProcFile(out + "/.lookup-joblog.jsonl"), log.count(where: { $0 == 10 }) >= 2 {
                sent = true
                kill(-pid, SIGINT)
            }
        }
        #expect(sent, "Ctrl-C --start \(start): the run ended before a file was done (\(r.summary))")
        expectExit(r, 130, "Ctrl-C --start \(start)")
        expectCleanStop(r, process: process, workers: workers, out: out, files: files, "Ctrl-C --start \(start)")
    }
}
