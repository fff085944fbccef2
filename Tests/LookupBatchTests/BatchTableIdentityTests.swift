// The table and options behind a run's outputs: the job log records them and --resume refuses another table or other options (nothing changed, exit 2), accepts a rebuild with the same content; every worker reads the run's table file even when a new table is renamed over its path mid-run and a worker restarts.
import Foundation
import LookupTestSupport
import Testing

/// Builds `lmdb` from `csv` with `lookup build` (published by rename: a new inode each time).
private func buildTable(_ csv: String, _ lmdb: String) throws {
    let r = try runLookup(["build", csv, "-o", lmdb])
    guard !r.signaled && r.status == 0 else { throw TestFailure("lookup build \(csv): \(r.summary)") }
}

/// Writes a table CSV with `table`'s keys and other values; returns it as a dictionary.
private func writeVariantCSV(_ path: String, of table: TableFixture) throws -> [[UInt8]: [UInt8]] {
    let sink = ByteSink()
    for (i, key) in table.keys.enumerated() {
        sink.append(key)
        sink.append(",new-\(i)\n")
    }
    try writeFile(path, sink.bytes)
    return loadTableCSV(sink.bytes)
}

/// The inode of `path`.
private func inode(_ path: String) -> UInt64? { inodeAndMTime(path)?.inode }

/// A worker to kill mid-run while the table is replaced.
struct ReplacementCase: Sendable, CustomTestStringConvertible {
    var start: String
    var workers: Int
    var testDescription: String { "--start \(start) -j \(workers)" }
}

@Suite("lookup run: the table and options behind the outputs", .serialized)
struct BatchTableIdentityTests {
    @Test("--resume refuses other options and a republished table, accepts a rebuild with the same content; --overwrite redoes")
    func resumeChecksTableAndOptions() throws {
        let shared = try sharedTable.get()
        let work = try TempDir("identity")
        let table = work.file("t.lmdb"), input = work.file("in"), out = work.file("out")
        try buildTable(shared.csv, table)
        let variantMap = try writeVariantCSV(work.file("variant.csv"), of: shared)
        let files = try makeInputDirectory(input, table: shared, count: 6, baseLines: 500, seed: 0x1D5)
        func run(_ extra: [String], env: [String: String] = [:], summary: String? = nil) throws -> LookupResult {
            try runLookup(["run", table, input, "-o", out, "-j", "1", "--no-progress"] +
                          (summary.map { ["--summary-json", work.file($0)] } ?? []) + extra, environment: env)
        }

        // 1. A run stopped after two files; its job log names the table and the options.
        let stopped = try run([], env: ["LOOKUP_FAULT_STOP_AFTER_FILES": "2"])
        expectExit(stopped, 143, "stopped run")
        let header = try #require(readJobLogHeader(out), "the job log has no header line")
        #expect(header.table.contentHash?.isEmpty == false, "no content hash recorded: \(header.table)")
        #expect(header.table.inode == inode(table), "recorded inode \(header.table.inode), table's \(String(describing: inode(table)))")
        // Keep the first table's inode taken (a link to it), so a later rebuild cannot be given
        // the same inode number again once the file is replaced: the rebuild must be a new file.
        #expect(link(table, work.file("first-table.lmdb")) == 0, "cannot link the first table: \(errno)")
        #expect(header.settings.mode == "join" && header.settings.keyColumn == 1 && header.settings.delimiter == nil
                && header.settings.format == nil && !header.settings.header, "recorded settings: \(header.settings)")
        #expect(readJobLog(out).count == 2)

        // 2. Other options: refused, one line saying what differs, nothing changed.
        let optionCases: [(args: [String], recorded: String, asked: String)] = [
            (["--mode", "filter"], "--mode join", "--mode filter"),
            (["-k", "2"], "--key-column 1", "--key-column 2"),
            (["-d", "tab"], "no --delimiter", "--delimiter tab"),
            (["--format", "tsv"], "no --format", "--format tsv"),
            (["--header"], "no --header", "--header"),
        ]
        for c in optionCases {
            let before = treeSnapshot(out)
            let r = try run(["--resume"] + c.args)
            expectExit(r, 2, "--resume \(c.args)")
            let explained = r.says(out, "--resume", "written with \(c.recorded), this run asks for \(c.asked)", "--overwrite")
            #expect(explained, "--resume \(c.args): expected a line naming \(c.recorded) and \(c.asked): \(r.err)")
            expectUnchanged(out, since: before, "--resume \(c.args)")
        }

        // 3. A table with other values published over the path: refused.
        try buildTable(work.file("variant.csv"), table)
        var before = treeSnapshot(out)
        let other = try run(["--resume"])
        expectExit(other, 2, "--resume with a republished table")
        let named = other.says(out, "--resume", "content hash", header.table.contentHash ?? "?", "--overwrite")
        #expect(named, "--resume with another table: expected a line naming the recorded content hash: \(other.err)")
        expectUnchanged(out, since: before, "--resume with a republished table")

        // 4. The same content rebuilt (a new file, the same content hash): accepted.
        try buildTable(shared.csv, table)
        #expect(inode(table) != header.table.inode, "the rebuild kept the inode: the case is not tested")
        let same = try run(["--resume"], summary: "same.json")
        expectExit(same, 0, "--resume after a rebuild with the same content")
        let s = try readSummary(work.file("same.json"))
        #expect(s.filesSkipped == 2 && s.files == files.count - 2, "--resume after a rebuild: skipped \(s.filesSkipped), files \(s.files)")
        expectOutputs(out, files, mode: .join, "--resume after a rebuild with the same content")

        // 5. --overwrite with the other table redoes every file with its values.
        try buildTable(work.file("variant.csv"), table)
        let redo = try run(["--overwrite"], summary: "redo.json")
        expectExit(redo, 0, "--overwrite with another table")
        #expect(try readSummary(work.file("redo.json")).files == files.count)
        var changed = 0
        for f in files {
            let want = referenceRun(try readFile(f.path), table: variantMap).join
            if !sameBytes(want, f.ref.join) { changed += 1 }
            expectFile(out + "/" + f.rel, equals: want, "--overwrite with another table: \(f.rel)")
        }
        #expect(changed == files.count, "only \(changed) of \(files.count) outputs differ between the two tables")
        let newHeader = readJobLogHeader(out)
        #expect(newHeader?.table.contentHash != header.table.contentHash && newHeader?.table.inode == inode(table),
                "--overwrite job log header: \(String(describing: newHeader?.table))")
        #expect(readJobLog(out).count == files.count)

        // 6. A job log of an older lookup (entries, no header): --resume refused, --overwrite redoes.
        let log = try readFile(out + "/.lookup-joblog.jsonl")
        try writeFile(out + "/.lookup-joblog.jsonl", Array(log.split(separator: 10).dropFirst().joined(separator: [10])) + [10])
        before = treeSnapshot(out)
        let old = try run(["--resume"])
        expectExit(old, 2, "--resume with a job log without header")
        let told = old.says(out, "--resume", "older", "--overwrite")
        #expect(told, "--resume with an old job log: \(old.err)")
        expectUnchanged(out, since: before, "--resume with a job log without header")
        let fresh = try run(["--overwrite"])
        expectExit(fresh, 0, "--overwrite over an old job log")
        #expect(readJobLogHeader(out) != nil && readJobLog(out).count == files.count, "--overwrite did not start a fresh job log")
    }

    @Test("a table renamed over the path mid-run while a worker is killed and restarted: every output has the old values",
          arguments: [ReplacementCase(start: "spawn", workers: 2), ReplacementCase(start: "fork", workers: 1)])
    func tableReplacedMidRun(_ c: ReplacementCase) throws {
        let shared = try sharedTable.get()
        let work = try TempDir("replaced")
        let table = work.file("t.lmdb"), newTable = work.file("new.lmdb"), input = work.file("in"), out = work.file("out")
        try buildTable(shared.csv, table)
        let variantMap = try writeVariantCSV(work.file("variant.csv"), of: shared)
        try buildTable(work.file("variant.csv"), newTable)
        // Eight files, one task each, run largest first: 7, 6, then 5, whose worker dies.
        let files = try makeInputDirectory(input, table: shared, count: 8, baseLines: 400, seed: 0x2E7)
        for f in files {
            let differs = !sameBytes(referenceRun(try readFile(f.path), table: variantMap).join, f.ref.join)
            #expect(differs, "\(f.rel): the new table gives the same output: the case is not tested")
        }
        let oldInode = inode(table)
        let gate = work.file("gate")
        #expect(mkfifo(gate, 0o600) == 0)

        let process = try LookupProcess(["run", table, input, "-o", out, "-j", "\(c.workers)", "--start", c.start,
                                         "--no-progress", "--summary-json", work.file("s.json")],
                                        environment: ["LOOKUP_FAULT_KILL_TASK": "5", "LOOKUP_FAULT_KILL_GATE": gate])
        // The worker of task 5 waits at the gate (reading the FIFO): opening it for writing
        // succeeds only then. The new table is renamed over the path, then the gate closes and
        // the worker kills itself; its task runs again on a worker started after the rename.
        var replaced = false
        let r = try process.wait(sampleEvery: 0.002) { _ in
            guard !replaced else { return }
            let fd = open(gate, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { return }
            replaced = rename(newTable, table) == 0
            close(fd)
        }
        #expect(replaced, "\(c.testDescription): the worker never reached the gate, or the rename failed (\(r.summary))")
        #expect(inode(table) != oldInode, "\(c.testDescription): the path still names the old table")
        expectExit(r, 0, "\(c.testDescription)")
        let retries = r.stderr.split(separator: "\n").filter { $0.contains("retry") }
        #expect(retries.count == 1 && retries[0].contains(files[5].path), "\(c.testDescription): expected one retry of \(files[5].rel): \(r.err)")
        #expect(try readSummary(work.file("s.json")).retries == 1)
        // Every file, also those done after the restart, has the old table's values.
        expectOutputs(out, files, mode: .join, "\(c.testDescription): table replaced mid-run")
        #expect(readJobLogHeader(out)?.table.inode == oldInode, "\(c.testDescription): the job log does not record the table the run read")

        // The path now holds another table: --resume refuses it.
        let before = treeSnapshot(out)
        let resumed = try runLookup(["run", table, input, "-o", out, "--resume", "--no-progress"])
        expectExit(resumed, 2, "\(c.testDescription): --resume after the replacement")
        expectUnchanged(out, since: before, "\(c.testDescription): --resume after the replacement")
    }
}
