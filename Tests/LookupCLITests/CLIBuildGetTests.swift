// End-to-end build + get on generated CSV (arguments, stdin, --missing, --with-keys, exit codes) and a spilling --memory build.
import Foundation
import LookupTestSupport
import Testing

@Suite("lookup build + get")
struct CLIBuildGetTests {
    /// Builds a table from a few thousand unsorted, quoted CSV records.
    private func builtTable(_ dir: TempDir, count: Int, rng: inout SeededRNG) throws -> (table: String, csv: GeneratedCSV) {
        let csv = generateCSV(count: count, rng: &rng)
        let input = dir.file("records.csv")
        try writeFile(input, csv.text)
        let table = dir.file("records.lmdb")
        let result = try lookup(["build", input, "-o", table])
        expectSuccess(result, "build (seed \(rng.seed))")
        #expect(result.err.contains("\(count) records"), "build report: \(result.err)")
        return (table, csv)
    }

    @Test("every key's value is the rest of its CSV line")
    func everyValueIsTheRestOfTheLine() throws {
        let dir = try TempDir("bg")
        var rng = SeededRNG()
        let (table, csv) = try builtTable(dir, count: 4000, rng: &rng)

        // The whole table, through dump.
        expectRecords(try lookupDump(table), equal: byteTable(csv.expected), "dump (seed \(rng.seed))")

        // Every key through stdin, in a shuffled order: one output line per key, in input order.
        let order = csv.keys.shuffled(using: &rng)
        let result = try lookup(["get", table], stdin: Array((order.joined(separator: "\n") + "\n").utf8))
        expectSuccess(result, "get all keys")
        #expect(result.errLines.isEmpty, "get printed to stderr: \(result.err.prefix(500))")
        let lines = result.outLines
        #expect(lines.count == order.count)
        var wrong: [String] = []
        for (i, key) in order.enumerated() where i < lines.count && lines[i] != csv.expected[key] {
            wrong.append("\(key): got \(lines[i]), expected \(csv.expected[key] ?? "-")")
        }
        #expect(wrong.isEmpty, "seed \(rng.seed): \(wrong.prefix(5))")
    }

    @Test("get with KEY arguments: values in argument order, exit 0 / 1, and exit 2 for a missing table")
    func getWithArguments() throws {
        let dir = try TempDir("bga")
        var rng = SeededRNG()
        let (table, csv) = try builtTable(dir, count: 3000, rng: &rng)
        let picked = Array(csv.keys.shuffled(using: &rng).prefix(25))

        let found = try lookup(["get", table] + picked)
        expectSuccess(found, "get 25 present keys")
        #expect(found.outLines == picked.map { csv.expected[$0]! }, "seed \(rng.seed)")

        // One missing key among present ones: exit 1, the found values still printed in order.
        let missing = "no-such-key-" + randomWord(&rng, 8...8)
        let some = try lookup(["get", table, picked[0], missing, picked[1]])
        #expect(!some.signaled && some.status == 1, "get with a missing key: \(some.summary)")
        #expect(some.outLines == [csv.expected[picked[0]]!, csv.expected[picked[1]]!])
        #expect(some.err.contains(missing), "stderr names the missing key: \(some.err)")

        // A key longer than LMDB allows cannot be in the table: missing, not an error.
        let long = try lookup(["get", table, "--missing", "NA", String(repeating: "y", count: 600), picked[3]])
        #expect(!long.signaled && long.status == 1, "get with a 600-byte key: \(long.summary)")
        #expect(long.outLines == ["NA", csv.expected[picked[3]]!])

        // --missing keeps lines aligned; --with-keys prefixes KEY<TAB>.
        let aligned = try lookup(["get", table, "--missing", "NA", "--with-keys", picked[2], missing])
        #expect(aligned.status == 1 && !aligned.signaled, "\(aligned.summary)")
        #expect(aligned.outLines == ["\(picked[2])\t\(csv.expected[picked[2]]!)", "\(missing)\tNA"])

        // No such table: exit 2 and one line naming it.
        let absent = dir.file("absent.lmdb")
        expectCleanError(try lookup(["get", absent, picked[0]]), status: 2, mentions: [absent], "get from a missing table")
        expectCleanError(try lookup(["get", absent], stdin: Array("a\n".utf8)), status: 2, mentions: [absent],
                         "get (stdin) from a missing table")
    }

    @Test("get from stdin: 100k keys with missing ones, in input order, --missing and --with-keys")
    func getFromStdin() throws {
        let dir = try TempDir("bgs")
        var rng = SeededRNG()
        let (table, csv) = try builtTable(dir, count: 3000, rng: &rng)

        // 100k keys: present keys (with repeats) and about 10% missing ones, in random order.
        var keys: [String] = []
        keys.reserveCapacity(100_000)
        var missingSet = Set<String>()
        for _ in 0..<100_000 {
            if Int.random(in: 0..<10, using: &rng) == 0 {
                let k = "missing-" + randomWord(&rng, 3...12)
                if csv.expected[k] == nil { missingSet.insert(k); keys.append(k); continue }
            }
            keys.append(csv.keys[Int.random(in: 0..<csv.keys.count, using: &rng)])
        }
        #expect(!missingSet.isEmpty)
        // Empty lines and keys longer than any table key are just missing.
        for odd in ["", "", String(repeating: "x", count: 600)] { keys.insert(odd, at: Int.random(in: 0...keys.count, using: &rng)) }
        let stdin = Array((keys.joined(separator: "\n") + "\n").utf8)
        let missingCount = keys.filter { csv.expected[$0] == nil }.count

        // Plain: found values only, in input order; exit 1; the count of missing keys on stderr.
        let plain = try lookup(["get", table], stdin: stdin)
        #expect(!plain.signaled && plain.status == 1, "plain: \(plain.summary)")
        let wantPlain = keys.compactMap { csv.expected[$0] }
        expectSameLines(plain.outLines, wantPlain, "plain output (seed \(rng.seed))")
        #expect(plain.err.contains("\(missingCount)"), "stderr should count \(missingCount) missing keys: \(plain.err)")

        // --missing X: one line per input key.
        let marked = try lookup(["get", table, "--missing", "<none>"], stdin: stdin)
        #expect(!marked.signaled && marked.status == 1, "--missing: \(marked.summary)")
        let wantMarked = keys.map { csv.expected[$0] ?? "<none>" }
        expectSameLines(marked.outLines, wantMarked, "--missing output (seed \(rng.seed))")

        // --with-keys with --missing: KEY<TAB>VALUE per input key.
        let withKeys = try lookup(["get", table, "--with-keys", "--missing", "-"], stdin: stdin)
        #expect(!withKeys.signaled && withKeys.status == 1, "--with-keys: \(withKeys.summary)")
        let wantWithKeys = keys.map { "\($0)\t\(csv.expected[$0] ?? "-")" }
        expectSameLines(withKeys.outLines, wantWithKeys, "--with-keys output (seed \(rng.seed))")

        // All present (CRLF line ends, no final newline): exit 0.
        let present = keys.filter { csv.expected[$0] != nil }
        let allFound = try lookup(["get", table], stdin: Array(present.joined(separator: "\r\n").utf8))
        expectSuccess(allFound, "all keys present")
        expectSameLines(allFound.outLines, present.map { csv.expected[$0]! }, "CRLF stdin output (seed \(rng.seed))")

        // Only missing keys, --missing given: exit 1, every line the marker.
        let onlyMissing = Array(missingSet.prefix(50))
        let none = try lookup(["get", table, "--missing", "?"], stdin: Array((onlyMissing.joined(separator: "\n") + "\n").utf8))
        #expect(!none.signaled && none.status == 1, "\(none.summary)")
        #expect(none.outLines == Array(repeating: "?", count: onlyMissing.count))

        // Empty stdin: nothing to find, nothing missing.
        let empty = try lookup(["get", table], stdin: [])
        expectSuccess(empty, "empty stdin")
        #expect(empty.stdout.isEmpty)
    }

    @Test("--memory 16M spills sorted runs and builds the same table as the default")
    func spillingBuildMatchesInMemoryBuild() throws {
        let dir = try TempDir("spill")
        let seed = UInt64.random(in: 0...UInt64.max)
        let input = dir.file("big.csv")
        try writeFile(input, generateBigCSV(count: 600_000, seed: seed))

        let inMemory = dir.file("memory.lmdb"), spilled = dir.file("spilled.lmdb")
        let a = try lookup(["build", input, "-o", inMemory])
        expectSuccess(a, "default build")
        let b = try lookup(["build", input, "-o", spilled, "--memory", "16M"])
        expectSuccess(b, "--memory 16M build")
        #expect(b.err.contains("runs on disk"), "the 16M build should report spilled runs: \(b.err)")
        #expect(!a.err.contains("runs on disk"), "the default build should sort in memory: \(a.err)")
        // No sort runs are left behind.
        #expect(dir.names() == ["big.csv", "memory.lmdb", "spilled.lmdb"], "left over: \(dir.names())")

        let dumpA = try lookup(["dump", inMemory]), dumpB = try lookup(["dump", spilled])
        expectSuccess(dumpA, "dump default")
        expectSuccess(dumpB, "dump spilled")
        #expect(dumpA.stdout.count > 600_000 * 40)
        if dumpA.stdout != dumpB.stdout {
            expectSameLines(splitLines(dumpB.stdout), splitLines(dumpA.stdout), "dump of the 16M build vs the default (seed \(seed))",
                            render: { show($0) })
        }
        let records = try parseDump(dumpB.stdout).records
        #expect(records.count == 600_000)

        for table in [inMemory, spilled] {
            let stats = try lookup(["stats", table, "--json"])
            expectSuccess(stats, "stats \(table)")
            let json = try JSONSerialization.jsonObject(with: Data(stats.stdout)) as? [String: Any]
            #expect(json?["entries"] as? Int == 600_000, "stats \(table): \(stats.out.prefix(300))")
            let check = try lookup(["check", table])
            expectSuccess(check, "check \(table)")
            #expect(check.out.contains("600000 records"), "check \(table): \(check.out)")
        }
    }
}
