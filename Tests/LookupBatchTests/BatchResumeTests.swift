// Resume: a run stopped half-way (LOOKUP_FAULT_STOP_AFTER_FILES) is finished by --resume without redoing done files; existing results are refused unless --resume/--overwrite.
import Foundation
import LookupTestSupport
import Testing

@Suite("lookup run: resume and existing results", .serialized)
struct BatchResumeTests {
    @Test("stop after 3 files (exit 143), --resume finishes; done files untouched; plain rerun refused; changed input redone; --overwrite")
    func resumeAfterStop() throws {
        let table = try sharedTable.get()
        let work = try TempDir("resume")
        let input = work.file("in"), out = work.file("out")
        var files = try makeInputDirectory(input, table: table, count: 8, baseLines: 3000, seed: 0x2E5)
        func run(_ extra: [String], env: [String: String] = [:], summary: String) throws -> LookupResult {
            try runLookup(["run", table.lmdb, input, "-o", out, "-j", "1", "--no-progress", "--summary-json", work.file(summary)] + extra,
                          environment: env)
        }

        // 1. Stopped by SIGTERM after three files.
        let first = try run([], env: ["LOOKUP_FAULT_STOP_AFTER_FILES": "3"], summary: "s1.json")
        expectExit(first, 143, "stopped run")
        let done = files.filter { fileExists(out + "/" + $0.rel) }
        #expect(done.count == 3, "after the stop, outputs exist for \(done.map(\.rel)); expected 3 files")
        for f in done { expectFile(out + "/" + f.rel, equals: f.ref.join, "stopped run: \(f.rel)") }
        let log1 = readJobLog(out)
        #expect(Set(log1.map(\.input)) == Set(done.map(\.path)) && log1.count == done.count,
                "job log \(log1.map(\.input)) does not list exactly the done files \(done.map(\.path))")
        expectNoLeftovers(out, "stopped run")
        let before = Dictionary(uniqueKeysWithValues: done.map { ($0.rel, inodeAndMTime(out + "/" + $0.rel)!) })

        // 2. --resume does the rest and leaves the done files alone.
        let second = try run(["--resume"], summary: "s2.json")
        expectExit(second, 0, "--resume")
        let s2 = try readSummary(work.file("s2.json"))
        #expect(s2.filesSkipped == 3 && s2.files == files.count - 3, "--resume summary: skipped \(s2.filesSkipped), files \(s2.files)")
        let rest = files.filter { f in !done.contains { $0.rel == f.rel } }
        let restTotals = rest.reduce(into: RefCounts()) { $0.add($1.ref.counts) }
        #expect(restTotals.matches(s2.counts), "--resume counted \(s2.counts), reference for the remaining files \(restTotals)")
        expectOutputs(out, files, mode: .join, "--resume")
        for f in done {
            let now = inodeAndMTime(out + "/" + f.rel)
            #expect(now?.inode == before[f.rel]?.inode && now?.mtime == before[f.rel]?.mtime, "--resume rewrote \(f.rel)")
        }
        #expect(Set(readJobLog(out).map(\.input)) == Set(files.map(\.path)))

        // 3. Without --resume or --overwrite the results are kept and the run refused.
        let all = Dictionary(uniqueKeysWithValues: files.map { ($0.rel, inodeAndMTime(out + "/" + $0.rel)!) })
        let third = try run([], summary: "s3.json")
        expectExit(third, 2, "rerun into a full OUT")
        let explained = third.says(out, "--resume", "--overwrite")
        #expect(explained, "refusal should name OUT and the options: \(third.err)")
        for f in files {
            let now = inodeAndMTime(out + "/" + f.rel)
            #expect(now?.inode == all[f.rel]?.inode && now?.mtime == all[f.rel]?.mtime, "refused run touched \(f.rel)")
        }

        // 4. A changed input is done again by --resume; the others are skipped.
        let changed = files[5]
        var bytes = try readFile(changed.path)
        bytes += Array("\(String(decoding: table.keys[7], as: UTF8.self)),appended\n".utf8)
        try writeFile(changed.path, bytes)
        files[5].ref = referenceRun(bytes, table: table.map)
        let fourth = try run(["--resume"], summary: "s4.json")
        expectExit(fourth, 0, "--resume after a change")
        let s4 = try readSummary(work.file("s4.json"))
        #expect(s4.files == 1 && s4.filesSkipped == files.count - 1, "--resume after a change: files \(s4.files), skipped \(s4.filesSkipped)")
        expectOutputs(out, files, mode: .join, "--resume after a change")

        // 5. --overwrite redoes everything and starts a fresh job log.
        let fifth = try run(["--overwrite"], summary: "s5.json")
        expectExit(fifth, 0, "--overwrite")
        let s5 = try readSummary(work.file("s5.json"))
        #expect(s5.files == files.count && s5.filesSkipped == 0, "--overwrite: files \(s5.files), skipped \(s5.filesSkipped)")
        expectOutputs(out, files, mode: .join, "--overwrite")
        let log5 = readJobLog(out)
        #expect(log5.count == files.count && Set(log5.map(\.input)) == Set(files.map(\.path)),
                "--overwrite job log has \(log5.count) entries for \(files.count) files")
    }
}
