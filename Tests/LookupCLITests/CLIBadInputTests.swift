// Bad input: a non-zero exit and one stderr line naming the file (and line), never a crash; --skip-bad-lines.
import Foundation
import LookupTestSupport
import Testing

@Suite("lookup: bad input gives one clear line")
struct CLIBadInputTests {
    /// Builds `text` written to `dir/name`; expects a one-line error naming that file and, when
    /// given, exactly `line`.
    private func expectBuildFails(_ dir: TempDir, name: String, _ text: [UInt8], options: [String] = [], line: Int?,
                                  _ what: String, mentions: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let input = dir.file(name)
        try writeFile(input, text)
        let table = dir.file(name + ".lmdb")
        let result = try lookup(["build", input, "-o", table] + options)
        expectCleanError(result, status: 2, mentions: [input] + mentions, what, sourceLocation: sourceLocation)
        if let line {
            #expect(mentionedLines(result.err, path: input) == [line], "\(what): should name line \(line): \(result.err)",
                    sourceLocation: sourceLocation)
        }
        #expect(!FileManager.default.fileExists(atPath: table), "\(what): a table was published", sourceLocation: sourceLocation)
        let leftovers = dir.names().filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "\(what): temp files left: \(leftovers)", sourceLocation: sourceLocation)
    }

    /// Good CSV lines around one bad line at `line` (1-based).
    private func csv(withBadLine bad: String, at line: Int, total: Int, rng: inout SeededRNG) -> [UInt8] {
        var lines: [String] = []
        for i in 1...total {
            lines.append(i == line ? bad : "key\(i)-\(randomWord(&rng, 3...8)),\(randomCSVField(&rng)),\(i)")
        }
        return Array((lines.joined(separator: "\n") + "\n").utf8)
    }

    @Test("missing input, and a directory as input")
    func unreadableInputs() throws {
        let dir = try TempDir("badin")
        let missing = dir.file("missing.csv")
        expectCleanError(try lookup(["build", missing, "-o", dir.file("t.lmdb")]), status: 2, mentions: [missing], "missing input")
        // Root reads through chmod; a directory is an input that cannot be read as a file.
        let directory = dir.file("folder.csv")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        expectCleanError(try lookup(["build", directory, "-o", dir.file("t.lmdb")]), status: 2, mentions: [directory], "directory input")
        // A missing input after a good one: still nothing published.
        try writeFile(dir.file("good.csv"), "a,1\n")
        expectCleanError(try lookup(["build", dir.file("good.csv"), missing, "-o", dir.file("t.lmdb")]), status: 2,
                         mentions: [missing], "good input then a missing one")
        #expect(!FileManager.default.fileExists(atPath: dir.file("t.lmdb")))
    }

    @Test("a table path that is not an LMDB file: text, empty, a directory, missing",
          arguments: ["get", "stats", "check", "dump"])
    func notATable(command: String) throws {
        let dir = try TempDir("notlmdb")
        let text = dir.file("text.lmdb"), empty = dir.file("empty.lmdb"), missing = dir.file("missing.lmdb")
        try writeFile(text, String(repeating: "this is not an LMDB file\n", count: 400))
        try writeFile(empty, [])
        for path in [text, empty, dir.path, missing] {
            let args = command == "get" ? ["get", path, "somekey"] : [command, path]
            expectCleanError(try lookup(args), status: 2, mentions: [path], "\(command) \(path)")
        }
        // Keys on stdin do not change that.
        if command == "get" {
            expectCleanError(try lookup(["get", text], stdin: Array("a\nb\n".utf8)), status: 2, mentions: [text], "get (stdin) text file")
        }
    }

    @Test("a truncated table: get/stats/check/dump exit 2 with 'truncated', never SIGBUS")
    func truncatedTable() throws {
        let dir = try TempDir("trunc")
        let input = dir.file("big.csv")
        try writeFile(input, generateBigCSV(count: 50_000, seed: UInt64.random(in: 0...UInt64.max)))
        let table = dir.file("good.lmdb")
        expectSuccess(try lookup(["build", input, "-o", table]), "build")
        let bytes = try readFile(table)
        #expect(bytes.count > 1 << 20)
        // Cut at half, and at a few other places past the meta pages.
        for (name, size) in [("half", bytes.count / 2), ("most", bytes.count - 4096), ("three-pages", 3 * 4096)] {
            let cut = dir.file("\(name).lmdb")
            try writeFile(cut, Array(bytes.prefix(size)))
            for args in [["get", cut, "0000000000000000"], ["stats", cut], ["check", cut], ["dump", cut]] {
                let result = try lookup(args)
                expectCleanError(result, status: 2, mentions: [cut, "truncated"], "\(args[0]) on a table cut to \(size) bytes")
            }
            let viaStdin = try lookup(["get", cut], stdin: Array("a\nb\n".utf8))
            expectCleanError(viaStdin, status: 2, mentions: [cut, "truncated"], "get (stdin) on a table cut to \(size) bytes")
        }
        // Cut inside the meta pages.
        let tiny = dir.file("tiny.lmdb")
        try writeFile(tiny, Array(bytes.prefix(4096 + 100)))
        expectCleanError(try lookup(["check", tiny]), status: 2, mentions: [tiny], "check on a table cut inside its meta pages")
    }

    @Test("an empty key names its line")
    func emptyKey() throws {
        let dir = try TempDir("emptykey")
        var rng = SeededRNG()
        let line = Int.random(in: 2...40, using: &rng)
        try expectBuildFails(dir, name: "empty.csv", csv(withBadLine: ",value", at: line, total: 50, rng: &rng), line: line, "empty key")
        try expectBuildFails(dir, name: "emptyq.csv", csv(withBadLine: "\"\",value", at: line, total: 50, rng: &rng), line: line, "empty quoted key")
        try expectBuildFails(dir, name: "empty.tsv", Array("a\t1\n\tvalue\n".utf8), line: 2, "empty tsv key")
        try expectBuildFails(dir, name: "empty.jsonl", Array("{\"key\":\"a\"}\n{\"key\":\"\",\"v\":1}\n".utf8), line: 2, "empty jsonl key")
    }

    @Test("a key over 511 bytes names its line; 511 bytes is fine")
    func longKey() throws {
        let dir = try TempDir("longkey")
        var rng = SeededRNG()
        let line = Int.random(in: 2...40, using: &rng)
        let long = String(repeating: "k", count: 512)
        try expectBuildFails(dir, name: "long.csv", csv(withBadLine: long + ",v", at: line, total: 50, rng: &rng), line: line,
                             "512-byte key", mentions: ["512"])
        try expectBuildFails(dir, name: "long.jsonl", Array("{\"key\":\"a\"}\n{\"key\":\"\(long)x\"}\n".utf8), line: 2, "513-byte jsonl key")
        // A multi-byte character pushing the key over the limit in bytes, not characters.
        try expectBuildFails(dir, name: "utf8.csv", Array((String(repeating: "é", count: 256) + ",v\n").utf8), line: 1, "512-byte UTF-8 key")

        let max = String(repeating: "m", count: 511)
        try writeFile(dir.file("max.csv"), "a,1\n\(max),longest\n")
        expectSuccess(try lookup(["build", dir.file("max.csv"), "-o", dir.file("max.lmdb")]), "511-byte key")
        let got = try lookup(["get", dir.file("max.lmdb"), max])
        expectSuccess(got, "get the 511-byte key")
        #expect(got.outLines == ["longest"])
    }

    @Test("a line without the key column names its line")
    func missingKeyColumn() throws {
        let dir = try TempDir("keycol")
        var rng = SeededRNG()
        let line = Int.random(in: 2...40, using: &rng)
        var lines = (1...50).map { "a\($0),k\($0),c\($0)" }
        lines[line - 1] = "only,two"
        try expectBuildFails(dir, name: "short.csv", Array((lines.joined(separator: "\n") + "\n").utf8), options: ["-k", "3"],
                             line: line, "csv line without column 3")
        lines[line - 1] = "\"quoted, one\",two"
        try expectBuildFails(dir, name: "shortq.csv", Array((lines.joined(separator: "\n") + "\n").utf8), options: ["-k", "3"],
                             line: line, "quoted csv line without column 3")
        let tsv = (1...20).map { $0 == 7 ? "x\(0)" : "x\($0)\ty\($0)" }.joined(separator: "\n") + "\n"
        try expectBuildFails(dir, name: "short.tsv", Array(tsv.utf8), options: ["-k", "2"], line: 7, "tsv line without column 2")
    }

    @Test("broken CSV quoting names its line")
    func brokenQuoting() throws {
        let dir = try TempDir("quoting")
        var rng = SeededRNG()
        let line = Int.random(in: 2...40, using: &rng)
        try expectBuildFails(dir, name: "mid.csv", csv(withBadLine: "key,ab\"cd,x", at: line, total: 50, rng: &rng), line: line,
                             "quote inside an unquoted field")
        try expectBuildFails(dir, name: "after.csv", csv(withBadLine: "key,\"ab\"cd,x", at: line, total: 50, rng: &rng), line: line,
                             "text after a closing quote")
        try expectBuildFails(dir, name: "open.csv", csv(withBadLine: "key,\"never closed,x", at: line, total: 50, rng: &rng), line: line,
                             "quote never closed")
        try expectBuildFails(dir, name: "bad.jsonl", Array("{\"key\":\"a\"}\n{\"key\":\"b\",}\n{\"key\":\"c\"}\n".utf8), line: 2,
                             "invalid JSON line")
        try expectBuildFails(dir, name: "bad.dump", Array("VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 61\n 31\n 6g\n 32\nDATA=END\n".utf8),
                             line: 7, "bad hex in a dump")
        try expectBuildFails(dir, name: "bad.cdb", Array("+1,1:a->1\n+5,1:b->2\n\n".utf8), line: 2, "cdb length past the record")
    }

    @Test("a broken .gz: truncated, garbage, and garbage after the gzip magic")
    func brokenGzip() throws {
        let dir = try TempDir("gz")
        var rng = SeededRNG()
        try writeFile(dir.file("records.csv"), generateCSV(count: 5000, rng: &rng).text)
        expectSuccess(try runProcess(try TestBinaries.tool("gzip"), [dir.file("records.csv")]), "gzip")
        let gz = try readFile(dir.file("records.csv.gz"))
        #expect(gz.count > 20_000)
        try expectBuildFails(dir, name: "truncated.csv.gz", Array(gz.prefix(gz.count / 2)), line: nil, "truncated .gz")
        try expectBuildFails(dir, name: "garbage.csv.gz", randomBytes(&rng, 5000...5000), line: nil, "garbage .gz")
        try expectBuildFails(dir, name: "magic.csv.gz", [0x1f, 0x8b] + randomBytes(&rng, 5000...5000), line: nil, "gzip magic then garbage")
        // A corrupted byte in the middle of the compressed data.
        var flipped = gz
        for i in stride(from: gz.count / 3, to: gz.count / 3 + 64, by: 1) { flipped[i] ^= 0x5a }
        try expectBuildFails(dir, name: "flipped.csv.gz", flipped, line: nil, "corrupted .gz")
    }

    @Test("duplicate keys under --duplicates error")
    func duplicateKeys() throws {
        let dir = try TempDir("dupkey")
        try expectBuildFails(dir, name: "dup.csv", Array("a,1\nb,2\nc,3\nb,4\nd,5\n".utf8), line: nil, "duplicate key", mentions: ["\"b\""])
        let result = try lookup(["build", dir.file("dup.csv"), "-o", dir.file("x.lmdb")])
        #expect(mentionedLines(result.err, path: dir.file("dup.csv")) == [2, 4], "\(result.err)")
    }

    @Test("an output directory that does not exist; an output path that is a directory")
    func missingOutputDirectory() throws {
        let dir = try TempDir("outdir")
        try writeFile(dir.file("in.csv"), "a,1\n")
        let target = dir.file("no/such/dir/t.lmdb")
        expectCleanError(try lookup(["build", dir.file("in.csv"), "-o", target]), status: 2, mentions: [target], "missing output directory")
        expectCleanError(try lookup(["build", dir.file("in.csv"), "-o", dir.path]), status: 2, mentions: [dir.path], "output is a directory")
        #expect(dir.names() == ["in.csv"])
    }

    @Test("an output path that is also an input: refused, the input left intact")
    func outputIsAnInput() throws {
        let dir = try TempDir("sameio")
        var rng = SeededRNG()
        let input = dir.file("data.csv")
        let text = generateCSV(count: 200, rng: &rng).text
        try writeFile(input, text)
        let result = try lookup(["build", input, "-o", input])
        expectCleanError(result, mentions: [input], "build data.csv -o data.csv")
        #expect(try readFile(input) == text, "the input was overwritten by the table")
        // The same file through another spelling of its path (the input written afresh).
        try writeFile(input, text)
        let other = dir.path + "/./data.csv"
        let again = try lookup(["build", other, "-o", input])
        expectCleanError(again, mentions: [input], "build ./data.csv -o data.csv")
        #expect(try readFile(input) == text, "the input was overwritten by the table")
    }

    @Test("--skip-bad-lines: bad records counted and reported, good ones land, exit 0")
    func skipBadLines() throws {
        let dir = try TempDir("skip")
        var rng = SeededRNG()
        var lines: [String] = [], good: [String: String] = [:], badLines: [Int] = []
        // Bad for key column 2: empty, too long, missing, broken quoting, empty when unquoted.
        let bads = ["x,,empty key", "x," + String(repeating: "z", count: 600) + ",too long", "only-one-column",
                    "x,ab\"cd", "x,\"\",quoted empty"]
        for i in 1...400 {
            if i % 37 == 0 {
                lines.append(bads[badLines.count % bads.count])
                badLines.append(i)
            } else {
                let word = randomWord(&rng, 1...4)
                let key = "k\(i)-\(randomWord(&rng, 2...6))"
                let value = "v\(i),\(randomCSVField(&rng))"
                lines.append("\(word),\(key),\(value)")
                good[key] = word + "," + value
            }
        }
        let input = dir.file("mixed.csv")
        try writeFile(input, lines.joined(separator: "\n") + "\n")
        let table = dir.file("mixed.lmdb")
        let result = try lookup(["build", input, "-o", table, "-k", "2", "--skip-bad-lines"])
        expectSuccess(result, "--skip-bad-lines")
        #expect(result.err.contains("\(badLines.count) bad record"), "report should count \(badLines.count): \(result.err)")
        let reported = mentionedLines(result.err, path: input)
        #expect(!reported.isEmpty && reported.isSubset(of: Set(badLines)), "reported lines \(reported.sorted()), bad \(badLines)")
        for marker in crashMarkers { #expect(!result.err.contains(marker)) }
        expectRecords(try lookupDump(table), equal: byteTable(good), "skip-bad-lines table (seed \(rng.seed))")
        let stats = try lookup(["stats", table, "--json"])
        let json = try JSONSerialization.jsonObject(with: Data(stats.stdout)) as? [String: Any]
        let meta = json?["metadata"] as? [String: Any]
        #expect(meta?["badRecordsSkipped"] as? Int == badLines.count)
        #expect(meta?["records"] as? Int == good.count)
        expectSuccess(try lookup(["check", table]), "check")

        // The same input without the flag stops at the first bad line.
        let strict = try lookup(["build", input, "-o", dir.file("strict.lmdb"), "-k", "2"])
        expectCleanError(strict, status: 2, mentions: [input], "strict build of the same input")
        #expect(mentionedLines(strict.err, path: input) == [badLines[0]], "\(strict.err)")
    }

    @Test("a wrong option value exits 64 (as the README says) and names the option, without touching files")
    func usageErrors() throws {
        let dir = try TempDir("usage")
        let input = dir.file("t.csv"), table = dir.file("t.lmdb")
        try writeFile(input, "a,1\n")
        for (arguments, option) in [(["build", input, "-o", table, "-k", "0"], "-k <key-column>"),
                                    (["build", input, "-o", table, "--memory", "lots"], "--memory"),
                                    (["run", table, input, "-o", dir.file("out"), "-j", "0"], "--workers")] {
            let result = try lookup(arguments)
            #expect(!result.signaled && result.status == 64, "\(arguments): \(result.summary)")
            #expect(result.err.contains(option), "\(arguments): \(result.err)")
            for marker in crashMarkers { #expect(!result.err.contains(marker)) }
        }
        #expect(dir.names().sorted() == ["t.csv"], "usage errors wrote files: \(dir.names())")
    }

    @Test("a failed write to standard output (a full disk) exits 2 with one line naming <stdout>")
    func fullStandardOutput() throws {
        let dir = try TempDir("fullout")
        let input = dir.file("t.csv"), table = dir.file("t.lmdb")
        try writeFile(input, "a,1\nb,2\n")
        expectSuccess(try lookup(["build", input, "-o", table]), "build")
        let commands: [[String]] = [["get", table, "a"], ["dump", table], ["stats", table], ["stats", table, "--json"],
                                    ["check", table], ["map", table], ["map", table, "--mode", "count"]]
        for arguments in commands {
            // The shell points standard output at /dev/full, where every write fails with ENOSPC.
            let result = try runProcess("/bin/sh", ["-c", "exec \"$0\" \"$@\" > /dev/full", TestBinaries.lookup] + arguments,
                                 stdin: Array("a,x\nb,y\n".utf8))
            expectCleanError(result, status: 2, mentions: ["<stdout>"], "lookup \(arguments.joined(separator: " ")) > /dev/full")
        }
    }
}
