// stats --json against the build, and check: 0 on a sound table, 1 on one altered behind its metadata by py-lmdb
// or damaged inside its pages (where reading it in-process dies of SIGBUS or SIGSEGV).
import Foundation
import LookupTestSupport
import Testing

@Suite("lookup stats and check")
struct CLIStatsCheckTests {
    private func build(_ dir: TempDir, count: Int, rng: inout SeededRNG) throws -> (table: String, input: String, csv: GeneratedCSV) {
        let csv = generateCSV(count: count, rng: &rng)
        let input = dir.file("in.csv")
        try writeFile(input, csv.text)
        let table = dir.file("t.lmdb")
        expectSuccess(try lookup(["build", input, "-o", table]), "build")
        return (table, input, csv)
    }

    @Test("stats --json: entries, fileSize and metadata match the build")
    func statsJSON() throws {
        let dir = try TempDir("stats")
        var rng = SeededRNG()
        let (table, input, csv) = try build(dir, count: 5000, rng: &rng)
        let result = try lookup(["stats", table, "--json"])
        expectSuccess(result, "stats --json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any])
        #expect(json["entries"] as? Int == csv.expected.count)
        #expect(json["fileSize"] as? Int == fileSize(table))
        let mapSize = json["mapSize"] as? Int ?? 0
        #expect(mapSize >= fileSize(table))
        #expect((json["depth"] as? Int ?? 0) >= 2)
        let meta = try #require(json["metadata"] as? [String: Any])
        #expect(meta["records"] as? Int == csv.expected.count)
        #expect(meta["sources"] as? [String] == [input])
        #expect(meta["format"] as? String == "csv")
        #expect(meta["keyColumn"] as? Int == 1)
        #expect(meta["duplicates"] as? String == "error")
        #expect(meta["duplicatesDropped"] as? Int == 0)

        // The text form says the same.
        let text = try lookup(["stats", table])
        expectSuccess(text, "stats")
        #expect(text.outLines.contains { $0.hasPrefix("entries:") && $0.hasSuffix(" \(csv.expected.count)") }, "\(text.out)")
        #expect(text.out.contains("\(fileSize(table)) bytes"), "\(text.out)")
    }

    @Test("check: 0 on a sound table; 1 after py-lmdb deletes a record or changes a value")
    func checkFindsTampering() throws {
        let dir = try TempDir("check")
        var rng = SeededRNG()
        let (table, _, csv) = try build(dir, count: 3000, rng: &rng)
        let good = try lookup(["check", table])
        expectSuccess(good, "check a sound table")
        #expect(good.out.contains("\(csv.expected.count) records"), "\(good.out)")

        let tamper = """
        import sys, lmdb
        env = lmdb.open(sys.argv[1], subdir=False, lock=False, max_dbs=4)
        data = env.open_db(b"data", create=False)
        with env.begin(write=True, db=data) as txn:
            if sys.argv[2] == "delete":
                ok = txn.delete(sys.argv[3].encode())
            else:
                ok = txn.replace(sys.argv[3].encode(), b"tampered") is not None
        env.close()
        sys.exit(0 if ok else 1)
        """
        // A record deleted: the count disagrees with the metadata.
        let deleted = dir.file("deleted.lmdb"), changed = dir.file("changed.lmdb")
        try writeFile(deleted, try readFile(table))
        try writeFile(changed, try readFile(table))
        let victim = csv.keys[Int.random(in: 0..<csv.keys.count, using: &rng)]
        expectSuccess(try python(tamper, [deleted, "delete", victim]), "py-lmdb delete")
        let afterDelete = try lookup(["check", deleted])
        #expect(!afterDelete.signaled && afterDelete.status == 1, "check after a delete: \(afterDelete.summary)")
        #expect(afterDelete.err.contains(deleted), "\(afterDelete.err)")
        for marker in crashMarkers { #expect(!afterDelete.err.contains(marker)) }
        let gone = try lookup(["get", deleted, victim])
        #expect(gone.status == 1 && gone.stdout.isEmpty, "\(gone.summary)")
        let stats = try lookup(["stats", deleted, "--json"])
        let json = try JSONSerialization.jsonObject(with: Data(stats.stdout)) as? [String: Any]
        #expect(json?["entries"] as? Int == csv.expected.count - 1)

        // A value changed, the count still right: the content hash disagrees.
        expectSuccess(try python(tamper, [changed, "replace", victim]), "py-lmdb replace")
        let afterChange = try lookup(["check", changed])
        #expect(!afterChange.signaled && afterChange.status == 1, "check after a changed value: \(afterChange.summary)")
        #expect(afterChange.err.contains(changed), "\(afterChange.err)")

        // The original is still sound.
        expectSuccess(try lookup(["check", table]), "check the untouched table")
    }

    @Test("check: a table with random bytes overwritten in its pages fails its check (exit 1, one line), never crashes")
    func checkSurvivesDamagedPages() throws {
        let dir = try TempDir("damaged")
        var rng = SeededRNG()
        let (table, _, _) = try build(dir, count: 20_000, rng: &rng)
        let original = try readFile(table)
        let pageSize = 4096
        // Ten differently damaged copies; most of them crash a reader that trusts the pages.
        for copy in 0..<10 {
            var bytes = original
            for _ in 0..<50 {
                // Past the two meta pages and the first tree pages: damage inside, not a truncation.
                let at = 3 * pageSize + Int.random(in: 0..<(bytes.count - 3 * pageSize), using: &rng)
                bytes[at] = UInt8.random(in: 0...255, using: &rng)
            }
            let damaged = dir.file("damaged-\(copy).lmdb")
            try writeFile(damaged, bytes)
            let result = try lookup(["check", damaged])
            expectCleanError(result, status: 1, mentions: [damaged], "check of damaged copy \(copy) (seed \(rng.seed))")
        }
    }
}
