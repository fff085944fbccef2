// Atomic publish: builds killed by SIGKILL/SIGTERM leave the destination unchanged; a reader of the old table keeps it (serialized).
import Foundation
import LookupTestSupport
import Testing

@Suite("lookup build: atomic publish", .serialized)
struct CLIAtomicityTests {
    /// A directory with a published table `t.lmdb` built from `old.csv`; returns its values.
    private func publishedTable(_ dir: TempDir) throws -> [String: String] {
        var old: [String: String] = [:]
        for i in 0..<500 { old["key-\(i)"] = "old value \(i)" }
        try writeFile(dir.file("old.csv"), old.map { "\($0.key),\($0.value)\n" }.joined())
        expectSuccess(try lookup(["build", dir.file("old.csv"), "-o", dir.file("t.lmdb")]), "first build")
        return old
    }

    /// Starts `lookup build - --format csv -o TABLE --memory 16M`, writes the first half of a
    /// 1M-line CSV to its stdin and returns it: the write returns once lookup has read all but a
    /// pipe buffer of that half, so lookup is in the middle of reading, waiting for more.
    private func buildStuckHalfway(to table: String) throws -> LiveChild {
        let input = generateBigCSV(count: 1_000_000, seed: UInt64.random(in: 0...UInt64.max))
        let build = try LiveChild(TestBinaries.lookup, ["build", "-", "--format", "csv", "-o", table, "--memory", "16M"], pipeStdout: false)
        try build.write(input[..<(input.count / 2)])
        #expect(build.isRunning, "lookup should still be reading its input")
        return build
    }

    private func expectOldTable(_ table: String, _ old: [String: String], _ what: String,
                                sourceLocation: SourceLocation = #_sourceLocation) throws {
        let keys = old.keys.sorted()
        let got = try lookup(["get", table], stdin: Array((keys.joined(separator: "\n") + "\n").utf8))
        expectSuccess(got, "\(what): get", sourceLocation: sourceLocation)
        expectSameLines(got.outLines, keys.map { old[$0]! }, "\(what): values", sourceLocation: sourceLocation)
        expectSuccess(try lookup(["check", table]), "\(what): check", sourceLocation: sourceLocation)
    }

    @Test("SIGKILL mid-build leaves the destination byte for byte; the next build clears stale temp files")
    func killedBuildLeavesDestinationUnchanged() throws {
        let dir = try TempDir("kill")
        let old = try publishedTable(dir)
        let table = dir.file("t.lmdb")
        let before = try readFile(table)

        let build = try buildStuckHalfway(to: table)
        let pid = build.pid
        build.send(SIGKILL)
        let result = try build.wait()
        #expect(result.signaled && result.status == SIGKILL, "\(result.summary)")
        #expect(try readFile(table) == before, "the destination changed")
        try expectOldTable(table, old, "after SIGKILL")

        // What a build killed while writing its table leaves: a temp file named for its (now
        // dead) pid beside the destination. Whatever the killed build itself left (spilled
        // runs) is there too.
        try writeFile(dir.file(".t.lmdb.tmp-\(pid)-424242"), Array(repeating: 0xAB, count: 8192))
        let stale = dir.names().filter { $0.hasPrefix(".") }

        var new: [String: String] = [:]
        for i in 0..<300 { new["key-\(i)"] = "new value \(i)" }
        try writeFile(dir.file("new.csv"), new.map { "\($0.key),\($0.value)\n" }.joined())
        expectSuccess(try lookup(["build", dir.file("new.csv"), "-o", table]), "next build")
        let left = dir.names().filter { $0.hasPrefix(".t.lmdb.tmp-") || $0.hasPrefix(".lookup-sort-") }
        #expect(left.isEmpty, "stale temp files survived the next build: \(left) (before it: \(stale))")
        #expect(dir.names() == ["new.csv", "old.csv", "t.lmdb"], "\(dir.names())")
        try expectOldTable(table, new, "after the next build")
    }

    @Test("SIGTERM mid-build: exit status 143, destination unchanged, no temp files")
    func terminatedBuildCleansUp() throws {
        let dir = try TempDir("term")
        let old = try publishedTable(dir)
        let table = dir.file("t.lmdb")
        let before = try readFile(table)

        let build = try buildStuckHalfway(to: table)
        build.send(SIGTERM)
        let result = try build.wait()
        #expect(!result.signaled && result.status == 143, "\(result.summary)")
        for marker in crashMarkers { #expect(!result.err.contains(marker), "\(result.err.prefix(500))") }
        #expect(try readFile(table) == before, "the destination changed")
        #expect(dir.names() == ["old.csv", "t.lmdb"], "left behind: \(dir.names())")
        try expectOldTable(table, old, "after SIGTERM")
    }

    @Test("a build killed before it publishes leaves no table where there was none")
    func killedFirstBuildLeavesNothing() throws {
        let dir = try TempDir("killnew")
        let table = dir.file("fresh.lmdb")
        let build = try buildStuckHalfway(to: table)
        build.send(SIGKILL)
        let result = try build.wait()
        #expect(result.signaled && result.status == SIGKILL, "\(result.summary)")
        #expect(!FileManager.default.fileExists(atPath: table))
        #expect(!dir.names().contains("fresh.lmdb"))
        // get on the path reports a missing table, not a partial one.
        expectCleanError(try lookup(["get", table, "x"]), status: 2, mentions: [table], "get from the never-published table")
    }

    @Test("a reader holding the old table keeps reading it after a rebuild renames a new one over it")
    func readerKeepsOldTable() throws {
        let dir = try TempDir("reader")
        let old = try publishedTable(dir)
        let table = dir.file("t.lmdb")
        // A py-lmdb reader: opens the table, says "ready", then answers one key per line.
        let script = """
        import sys, lmdb
        env = lmdb.open(sys.argv[1], subdir=False, readonly=True, lock=False, max_dbs=4)
        db = env.open_db(b"data", create=False)
        print("ready", flush=True)
        for line in sys.stdin:
            key = line.rstrip("\\n").encode()
            with env.begin(db=db) as txn:
                value = txn.get(key)
            print(value.decode() if value is not None else "<missing>", flush=True)
        """
        let reader = try LiveChild(try TestBinaries.tool("python3"), ["-c", script, table])
        guard reader.readLine() == "ready" else {
            let failed = try reader.wait()
            Issue.record("the python reader did not start: \(failed.summary)")
            return
        }
        try reader.write("key-7\n")
        #expect(reader.readLine() == old["key-7"])

        // Rebuild: new values, and key-400 gone.
        var new: [String: String] = [:]
        for i in 0..<300 { new["key-\(i)"] = "new value \(i)" }
        try writeFile(dir.file("new.csv"), new.map { "\($0.key),\($0.value)\n" }.joined())
        var st = stat()
        stat(table, &st)
        let oldInode = st.st_ino
        expectSuccess(try lookup(["build", dir.file("new.csv"), "-o", table]), "rebuild")
        stat(table, &st)
        #expect(st.st_ino != oldInode, "the table should be replaced by rename")

        // The open reader still sees the old table, in new transactions too.
        try reader.write("key-7\nkey-400\n")
        #expect(reader.readLine() == old["key-7"])
        #expect(reader.readLine() == old["key-400"])
        // A fresh lookup sees the new one.
        let fresh = try lookup(["get", table, "key-7"])
        expectSuccess(fresh, "fresh get")
        #expect(fresh.outLines == [new["key-7"]!])
        let gone = try lookup(["get", table, "--missing", "<missing>", "key-400"])
        #expect(gone.status == 1 && gone.outLines == ["<missing>"], "\(gone.summary)")

        reader.closeInput()
        let done = try reader.wait()
        #expect(!done.signaled && done.status == 0, "python reader: \(done.summary)")
    }
}
