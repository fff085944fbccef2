// Bad input: each case gives a clear message naming the file (and line), is counted in the summary, and never crashes a worker or the run.
import Foundation
import LookupTestSupport
import Testing

@Suite("lookup run: bad input")
struct BatchBadInputTests {
    /// Writes a generated CSV file of `lines` lines and returns its spec (relative to `dir`).
    private func goodFile(_ dir: String, _ rel: String, lines: Int, seed: UInt64, table: TableFixture) throws -> InputSpec {
        let maker = LineMaker(keys: table.keys, seed: seed)
        var rng = SeededRNG(seed: seed &+ 9)
        let sink = ByteSink()
        for _ in 0..<lines { maker.line(&rng, delimiter: 44, alwaysFields: false, into: sink); sink.append(10) }
        let bytes = sink.bytes
        try writeFile(dir + "/" + rel, bytes)
        return InputSpec(path: dir + "/" + rel, rel: rel, gz: false, ref: referenceRun(bytes, table: table.map))
    }

    /// Runs `lookup run TABLE args -o OUT --summary-json` and returns the result and the summary.
    private func run(_ table: TableFixture, _ args: [String], out: String, _ work: TempDir) throws -> (LookupResult, Summary?) {
        let summaryPath = work.file("summary-\(UUID().uuidString.prefix(6)).json")
        let r = try runLookup(["run", table.lmdb] + args + ["-o", out, "--summary-json", summaryPath, "--no-progress"])
        return (r, try? readSummary(summaryPath))
    }

    @Test("unreadable inputs: a dangling symlink and a file whose read fails are reported and counted; the rest completes; exit 1")
    func unreadableInputs() throws {
        let table = try sharedTable.get()
        let work = try TempDir("unreadable")
        let input = work.file("in"), out = work.file("out")
        let a = try goodFile(input, "a.csv", lines: 2000, seed: 1, table: table)
        let b = try goodFile(input, "sub/b.csv", lines: 1500, seed: 2, table: table)
        let dangling = input + "/dangling.csv", unreadable = input + "/mem.csv"
        symlink(work.file("does-not-exist.csv"), dangling)
        // Opens fine but every read fails with EIO (in whichever process reads it).
        symlink("/proc/self/mem", unreadable)
        let (r, s) = try run(table, [input, "-j", "2"], out: out, work)
        expectExit(r, 1, "unreadable inputs")
        for path in [dangling, unreadable] {
            let named = r.says(path)
            #expect(named, "stderr does not name \(path): \(r.err)")
            #expect(s?.errors.contains { $0.contains(path) } == true, "summary errors do not name \(path): \(s?.errors ?? [])")
        }
        #expect(s?.files == 2 && s?.retries == 0, "summary: \(String(describing: s))")
        #expect((s?.filesFailed ?? 0) >= 1, "the file whose read failed is not counted as failed: \(String(describing: s))")
        expectOutputs(out, [a, b], mode: .join, "unreadable inputs")

        // A dangling symlink given as an argument: the run cannot start.
        let (r2, _) = try run(table, [dangling], out: work.file("out2"), work)
        expectExit(r2, 2, "dangling symlink argument")
        let named = r2.says(dangling)
        #expect(named, "stderr does not name \(dangling): \(r2.err)")
    }

    @Test("broken .gz (truncated, or not gzip at all): that file fails, the others complete; exit 1")
    func brokenGzip() throws {
        let table = try sharedTable.get()
        let work = try TempDir("gz")
        let input = work.file("in"), out = work.file("out")
        let plain = try goodFile(input, "plain.csv", lines: 3000, seed: 3, table: table)
        // A good .gz, and the source of the broken one.
        let good = try goodFile(work.path, "good-src.csv", lines: 3000, seed: 4, table: table)
        try writeGzip(input + "/good.csv.gz", try readFile(good.path))
        let source = try goodFile(work.path, "trunc-src.csv", lines: 20000, seed: 5, table: table)
        try writeGzip(work.file("full.csv.gz"), try readFile(source.path))
        let gz = try readFile(work.file("full.csv.gz"))
        let truncated = input + "/trunc.csv.gz", fake = input + "/fake.csv.gz"
        try writeFile(truncated, Array(gz[0..<(gz.count / 2)]))
        try writeFile(fake, "this,is\nnot,gzip\n")

        let (r, s) = try run(table, [input, "-j", "2"], out: out, work)
        expectExit(r, 1, "broken .gz")
        for path in [truncated, fake] {
            let reported = r.says(path, "gz")
            #expect(reported, "stderr does not report \(path) as a broken .gz: \(r.err)")
            #expect(s?.errors.contains { $0.contains(path) } == true, "summary errors do not name \(path)")
        }
        #expect(s?.filesFailed == 2 && s?.files == 2 && s?.retries == 0, "summary: \(String(describing: s))")
        let goodSpec = InputSpec(path: input + "/good.csv.gz", rel: "good.csv", gz: true, ref: good.ref)
        expectOutputs(out, [plain, goodSpec], mode: .join, "broken .gz")
        #expect(Set(readJobLog(out).map(\.input)) == Set([plain.path, goodSpec.path]))
    }

    @Test("binary junk (random bytes, NUL, long keys): lines with a NUL byte reported as file:line and counted as bad, the rest processed; no crash")
    func binaryJunk() throws {
        let table = try sharedTable.get()
        let work = try TempDir("junk")
        let input = work.file("in")
        var rng = SeededRNG(seed: 0xB1A)
        func junk(quotes: Bool) -> [UInt8] {
            let sink = ByteSink()
            for i in 0..<3000 {
                if i % 10 == 0 {
                    // A hit between the junk, whose rest is junk too.
                    sink.append(table.keys[rng.below(table.keys.count)])
                    sink.append(44)
                }
                let n = i % 97 == 0 ? 600 + rng.below(1000) : rng.below(120)
                for _ in 0..<n {
                    var b = UInt8(truncatingIfNeeded: rng.next())
                    if b == 10 || (!quotes && b == 34) { b = 0 }
                    if i % 97 == 0 && b == 44 { b = 1 }  // long lines: keys over LMDB's 511-byte limit
                    sink.append(b)
                }
                sink.append(10)
            }
            return sink.bytes
        }
        // junk.csv has no quote bytes, so its key is exactly the text before the first comma.
        let exact = junk(quotes: false), wild = junk(quotes: true)
        try writeFile(input + "/junk.csv", exact)
        try writeFile(input + "/wild.csv", wild)
        let normal = try goodFile(input, "normal.csv", lines: 1000, seed: 6, table: table)
        let exactRef = referenceRun(exact, table: table.map), wildRef = referenceRun(wild, table: table.map)

        for mode in [OutputMode.join, .anti] {
            let out = work.file("out-\(mode.rawValue)")
            let (r, s) = try run(table, [input, "-j", "2", "--mode", mode.rawValue], out: out, work)
            expectExit(r, 0, "binary junk --mode \(mode.rawValue)")
            guard let s else { Issue.record("no summary"); continue }
            #expect(s.retries == 0 && s.errors.isEmpty && s.files == 3, "binary junk: \(s)")
            #expect(s.counts.lines == exactRef.counts.lines + wildRef.counts.lines + normal.ref.counts.lines,
                    "binary junk: \(s.counts.lines) lines counted, the files have \(exactRef.counts.lines + wildRef.counts.lines + normal.ref.counts.lines)")
            #expect(s.counts.hits + s.counts.misses + s.counts.badLines == s.counts.lines, "binary junk: counts do not add up: \(s.counts)")
            // Lines with a NUL byte are binary data: each reported (the first few) with its line.
            let junkPath = input + "/junk.csv"
            let reported = reportedLines(r.stderr, path: junkPath)
            #expect(exactRef.counts.bad > 100 && !reported.isEmpty && Set(reported).isSubset(of: Set(exactRef.badLines)),
                    "junk.csv: reported \(reported), reference bad lines \(exactRef.badLines.prefix(20))")
            #expect(r.says(junkPath, "NUL byte"), "the message should say the line holds binary data: \(r.err)")
            #expect(s.counts.badLines >= exactRef.counts.bad + wildRef.counts.bad, "binary junk: \(s.counts)")
            expectFile(out + "/junk.csv", equals: exactRef.output(mode), "junk.csv --mode \(mode.rawValue)")
            expectFile(out + "/normal.csv", equals: normal.ref.output(mode), "normal.csv --mode \(mode.rawValue)")
            #expect(fileExists(out + "/wild.csv"), "wild.csv has no output")
            // Lines of wild.csv: each output line is an input line (join: with a value appended).
            if mode == .anti, let got = try? readFile(out + "/wild.csv") {
                var inputLines = Set<[UInt8]>()
                for l in wild.split(separator: 10, omittingEmptySubsequences: false) {
                    var line = Array(l)
                    if line.last == 13 { line.removeLast() }
                    inputLines.insert(line)
                }
                let foreign = got.split(separator: 10, omittingEmptySubsequences: false).dropLast().filter { !inputLines.contains(Array($0)) }
                #expect(foreign.isEmpty, "wild.csv --mode anti wrote \(foreign.count) lines that are not input lines")
            }
        }
    }

    @Test("-k 3: a line without the key column is reported as file:line, counted as bad, skipped; exit 0")
    func missingKeyColumn() throws {
        let table = try sharedTable.get()
        let work = try TempDir("column")
        let input = work.file("in"), out = work.file("out")
        var rng = SeededRNG(seed: 0xC01)
        let sink = ByteSink()
        let short: Set<Int> = [4, 17, 18, 250, 999]
        for n in 1...1000 {
            let key = rng.percent(60) ? table.keys[rng.below(table.keys.count)] : randomKey(&rng, 4...10)
            if short.contains(n) {
                switch n % 3 {
                case 0: sink.append("only,two")
                case 1: sink.append("one-column")
                default: break  // an empty line
                }
            } else if n % 50 == 0 {
                sink.append("a,b,"); sink.append(key)   // the key is the last column
            } else {
                sink.append("x\(n),\"q,uoted\","); sink.append(key); sink.append(",tail \(n)")
            }
            sink.append(10)
        }
        let bytes = sink.bytes
        try writeFile(input + "/cols.csv", bytes)
        // Column 2 is often a quoted field holding a comma, so this reference splits CSV fields.
        let ref = csvReference(bytes, table: table.map, keyColumn: 3)
        #expect(Set(ref.badLines) == short, "test data: reference bad lines \(ref.badLines)")
        let (r, s) = try run(table, [input, "-k", "3"], out: out, work)
        expectExit(r, 0, "-k 3")
        let path = input + "/cols.csv"
        let reported = Set(reportedLines(r.stderr, path: path))
        #expect(reported == short, "reported lines \(reported.sorted()), expected \(short.sorted()); stderr: \(r.err)")
        let explained = r.says(path, "column")
        #expect(explained, "the message should say what is wrong: \(r.err)")
        #expect(s.map { ref.counts.matches($0.counts) } == true, "summary counts \(String(describing: s?.counts)), reference \(ref.counts)")
        #expect(s?.retries == 0 && s?.errors.isEmpty == true, "summary: \(String(describing: s))")
        expectFile(out + "/cols.csv", equals: ref.join, "-k 3 join output")
    }

    @Test("--max-line 1K: longer lines are reported with their line number and skipped; the following lines still processed")
    func overlongLines() throws {
        let table = try sharedTable.get()
        let work = try TempDir("long")
        let input = work.file("in"), out = work.file("out")
        var rng = SeededRNG(seed: 0x10C)
        let maker = LineMaker(keys: table.keys, seed: 0x10D)
        let sink = ByteSink()
        // Line lengths (content, without "\n") by line number; others are ordinary lines.
        // Line 14 (20 MiB) is longer than the reader's block; line 40, the last, has no final newline.
        let special: [Int: Int] = [5: 3000, 9: 1025, 10: 1024, 14: 20 << 20, 15: 1023, 40: 2000]
        let total = 40
        for n in 1...total {
            if let length = special[n] {
                let key = table.keys[rng.below(table.keys.count)]
                sink.append(key)
                sink.append(44)
                sink.append([UInt8](repeating: UInt8(ascii: "z"), count: length - key.count - 1))
            } else {
                maker.line(&rng, delimiter: 44, alwaysFields: true, into: sink)
            }
            if n < total { sink.append(10) }
        }
        let bytes = sink.bytes
        try writeFile(input + "/long.csv", bytes)
        let ref = referenceRun(bytes, table: table.map, maxLine: 1024)
        let expectedBad: Set<Int> = [5, 9, 14, 40]
        #expect(Set(ref.badLines) == expectedBad, "test data: reference bad lines \(ref.badLines)")

        let (r, s) = try run(table, [input, "--max-line", "1K"], out: out, work)
        expectExit(r, 0, "--max-line 1K")
        let path = input + "/long.csv"
        let reported = Set(reportedLines(r.stderr, path: path))
        #expect(reported == expectedBad, "reported lines \(reported.sorted()), expected \(expectedBad.sorted()); stderr: \(r.err)")
        #expect(s.map { ref.counts.matches($0.counts) } == true, "summary counts \(String(describing: s?.counts)), reference \(ref.counts)")
        #expect(s?.retries == 0 && s?.errors.isEmpty == true)
        expectFile(out + "/long.csv", equals: ref.join, "--max-line 1K join output")
    }

    @Test("an empty file gives an empty output file; exit 0")
    func emptyFile() throws {
        let table = try sharedTable.get()
        let work = try TempDir("empty")
        let input = work.file("in"), out = work.file("out")
        try writeFile(input + "/empty.csv", [])
        let one = try goodFile(input, "one.csv", lines: 100, seed: 7, table: table)
        for mode in OutputMode.allCases {
            let o = out + "-" + mode.rawValue
            let (r, s) = try run(table, [input, "--mode", mode.rawValue], out: o, work)
            expectExit(r, 0, "empty file --mode \(mode.rawValue)")
            #expect(s?.files == 2 && s?.errors.isEmpty == true, "summary: \(String(describing: s))")
            expectOutputs(o, [InputSpec(path: input + "/empty.csv", rel: "empty.csv", gz: false, ref: Reference()), one],
                          mode: mode, "empty file --mode \(mode.rawValue)")
        }
    }

    @Test("a symlink loop in an input directory is reported and counted; the rest is processed")
    func symlinkLoop() throws {
        let table = try sharedTable.get()
        let work = try TempDir("loop")
        let input = work.file("in"), out = work.file("out")
        let a = try goodFile(input, "a.csv", lines: 500, seed: 8, table: table)
        let b = try goodFile(input, "sub/b.csv", lines: 700, seed: 9, table: table)
        let up = input + "/sub/up", selfLoop = input + "/sub/self.csv"
        symlink("..", up)               // in/sub/up -> in: a directory that contains itself
        symlink("self.csv", selfLoop)   // a link to itself: ELOOP
        let (r, s) = try run(table, [input, "-j", "2"], out: out, work)
        expectNoCrash(r, "symlink loop")
        let finished = !r.signaled && (r.status == 0 || r.status == 1)
        #expect(finished, "symlink loop: \(r.summary)")
        let loopReported = r.says(up, "loop"), selfReported = r.says(selfLoop)
        #expect(loopReported, "stderr does not report the loop at \(up): \(r.err)")
        #expect(selfReported, "stderr does not name \(selfLoop): \(r.err)")
        #expect(s?.errors.contains { $0.contains(up) } == true && s?.errors.contains { $0.contains(selfLoop) } == true,
                "summary errors: \(s?.errors ?? [])")
        #expect(s?.files == 2, "summary: \(String(describing: s))")
        expectOutputs(out, [a, b], mode: .join, "symlink loop")
    }

    @Test("OUT inside an INPUT directory (or equal to it, or reached through a symlink) is refused with exit 2")
    func outputInsideInput() throws {
        let table = try sharedTable.get()
        let work = try TempDir("inside")
        let input = work.file("in")
        _ = try goodFile(input, "a.csv", lines: 100, seed: 10, table: table)
        symlink(input, work.file("link"))
        let before = listTree(input)
        for out in [input + "/out", input, work.file("link") + "/out", input + "/deeper/out"] {
            let (r, _) = try run(table, [input], out: out, work)
            expectExit(r, 2, "-o \(out)")
            let explained = r.says(out, "inside")
            #expect(explained, "-o \(out): message should name OUT and say it is inside the input: \(r.err)")
            let files = listFiles(input)
            #expect(files == ["a.csv"], "-o \(out): files were written into the input directory: \(files)")
        }
        // A refused run changes nothing: not even an empty OUT directory inside the input.
        let added = Set(listTree(input)).subtracting(before).sorted()
        #expect(added.isEmpty, "refused runs created \(added) inside the input directory")
    }

    @Test("OUT that cannot be created (a file in the way, a path under a file) is refused with exit 2, saying why")
    func outputCannotBeCreated() throws {
        let table = try sharedTable.get()
        let work = try TempDir("uncreatable")
        let input = work.file("in")
        _ = try goodFile(input, "a.csv", lines: 10, seed: 12, table: table)
        let blocker = work.file("blocker")
        try writeFile(blocker, "a file, not a directory\n")
        for (out, reason) in [(blocker + "/out", "in the way"), (blocker + "/deeper/out", "in the way")] {
            let (r, _) = try run(table, [input], out: out, work)
            expectExit(r, 2, "-o \(out)")
            #expect(r.stderr.split(separator: "\n").count == 1, "-o \(out): one line expected: \(r.stderr)")
            #expect(r.says(blocker, "cannot create directory", reason), "-o \(out): should name \(blocker) and say why: \(r.stderr)")
        }
    }

    @Test("OUT that already holds results is refused (exit 2) and left untouched unless --resume or --overwrite")
    func outputHoldsResults() throws {
        let table = try sharedTable.get()
        let work = try TempDir("holds")
        let input = work.file("in"), out = work.file("out")
        let a = try goodFile(input, "a.csv", lines: 300, seed: 11, table: table)
        let (r1, _) = try run(table, [input], out: out, work)
        expectExit(r1, 0, "first run")
        let stamp = inodeAndMTime(out + "/a.csv")
        let (r2, _) = try run(table, [input, "--mode", "anti"], out: out, work)
        expectExit(r2, 2, "second run into the same OUT")
        let explained = r2.says(out, "--resume", "--overwrite")
        #expect(explained, "message: \(r2.err)")
        #expect(inodeAndMTime(out + "/a.csv")?.inode == stamp?.inode && inodeAndMTime(out + "/a.csv")?.mtime == stamp?.mtime,
                "the refused run touched the existing output")
        expectFile(out + "/a.csv", equals: a.ref.join, "existing output after a refused run")
        let (r3, _) = try run(table, [input, "--mode", "anti", "--overwrite"], out: out, work)
        expectExit(r3, 0, "--overwrite")
        expectFile(out + "/a.csv", equals: a.ref.anti, "after --overwrite")
    }

    @Test("bad lines in a file split into byte ranges are numbered within the whole file")
    func badLineNumbersAcrossRanges() throws {
        let fx = try mixedFixture.get()
        let work = try TempDir("ranges")
        let bytes = try readFile(fx.big)
        let ref = referenceRun(bytes, table: fx.table.map, keyColumn: 2)
        #expect(ref.badLines == fx.bigNoDelimiterLines, "test data: reference bad lines \(ref.badLines)")
        let (r, s) = try run(fx.table, [fx.big, "-k", "2", "--mode", "count", "-j", "2"], out: work.file("out"), work)
        expectExit(r, 0, "-k 2 on big.csv")
        #expect((s?.tasks ?? 0) > 1, "big.csv was not split: \(String(describing: s))")
        let reported = reportedLines(r.stderr, path: fx.big)
        #expect(reported == ref.badLines, "reported lines \(reported), expected \(ref.badLines); stderr: \(r.err)")
        #expect(s.map { ref.counts.matches($0.counts) } == true, "summary counts \(String(describing: s?.counts)), reference \(ref.counts)")
    }
}

/// A reference that splits CSV fields (a field starting with a quote runs to its closing quote,
/// doubled quotes inside), for data whose fields before the key hold quoted delimiters.
func csvReference(_ input: [UInt8], table: [[UInt8]: [UInt8]], keyColumn: Int) -> Reference {
    var ref = Reference()
    let join = ByteSink()
    var lines = input.split(separator: 10, omittingEmptySubsequences: false).map { Array($0) }
    if input.last == 10 || input.isEmpty { lines.removeLast() }
    for (index, raw) in lines.enumerated() {
        var line = raw
        if line.last == 13 { line.removeLast() }
        ref.counts.lines += 1
        var fields: [[UInt8]] = []
        var field: [UInt8] = []
        var quoted = false, wasQuoted = false
        var i = 0
        while i < line.count {
            let c = line[i]
            if quoted {
                if c == 34 && i + 1 < line.count && line[i + 1] == 34 { field.append(34); i += 1 }
                else if c == 34 { quoted = false }
                else { field.append(c) }
            } else if c == 34 && field.isEmpty && !wasQuoted {
                quoted = true
                wasQuoted = true
            } else if c == 44 {
                fields.append(field)
                field = []
                wasQuoted = false
            } else {
                field.append(c)
            }
            i += 1
        }
        fields.append(field)
        guard fields.count >= keyColumn else { ref.counts.bad += 1; ref.badLines.append(index + 1); continue }
        if let value = table[fields[keyColumn - 1]] {
            ref.counts.hits += 1
            join.append(line); join.append(44); join.append(value); join.append(10)
        } else {
            ref.counts.misses += 1
        }
    }
    ref.join = join.bytes
    return ref
}
