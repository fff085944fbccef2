// Tests of `lookup map`, the stdin-to-stdout form of the job: the same bytes as `lookup run`,
// streaming on an open pipe, Hadoop counters, keyed output, bad lines, SIGPIPE, broken tables.
import CSupport
import Foundation
import LookupTestSupport
import Testing

/// `lookup map ...` with pipes on stdin and stdout (stderr to a file), default signals.
/// Its descriptors are only read and written, one thread each, so it crosses threads safely.
/// `lookup map arguments`, talked to through pipes.
func pipedLookup(_ arguments: [String]) throws -> LiveChild {
    try LiveChild(TestBinaries.lookup, ["map"] + arguments)
}

/// Runs `lookup map arguments` on `input`; returns stdout, exit status and stderr.
func mapAll(_ arguments: [String], _ input: [UInt8]) throws -> (out: [UInt8], status: Int32, signaled: Bool, stderr: String) {
    let p = try pipedLookup(arguments)
    // Feed and drain at once (a big input would fill both pipes otherwise).
    let writer = Thread { try? p.write(input); p.closeInput() }
    writer.start()
    let out = p.readAll()
    let end = try p.wait()
    return (out, end.status, end.signaled, end.err)
}

@Suite("lookup map: streaming form of the job")
struct StreamMapTests {
    /// Lines of hits and misses (some CRLF, a few without a final newline at the end).
    func sampleInput(_ fixture: TableFixture, lines: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededRNG(seed: seed)
        var text: [UInt8] = []
        for i in 0..<lines {
            let key = rng.percent(50) ? fixture.keys[rng.below(fixture.keys.count)] : Array("missing-\(rng.below(1_000_000))".utf8)
            text += key + Array(",\(i),payload".utf8) + (i % 7 == 0 ? [13, 10] : [10])
        }
        text.removeLast()  // no final newline
        return text
    }

    @Test("the same output bytes as lookup run, for join, filter and anti", arguments: ["join", "filter", "anti"])
    func sameBytesAsRun(mode: String) throws {
        let fixture = try sharedTable.get()
        let work = try TempDir("map-\(mode)")
        let input = sampleInput(fixture, lines: 50_000, seed: 41)
        try FileManager.default.createDirectory(atPath: work.file("in"), withIntermediateDirectories: true)
        try writeFile(work.file("in/part.csv"), input)
        let run = try runLookup(["run", fixture.lmdb, work.file("in"), "-o", work.file("out"), "--mode", mode, "-j", "2"])
        expectExit(run, 0, "lookup run")
        let expected = try readFile(work.file("out/part.csv"))
        let mapped = try mapAll([fixture.lmdb, "--mode", mode], input)
        #expect(mapped.status == 0 && !mapped.signaled, "\(mapped.stderr)")
        #expect(mapped.out == expected, "map output differs from run output (\(mapped.out.count) vs \(expected.count) bytes)")
        #expect(!expected.isEmpty)
    }

    @Test("streams: each line's result comes out while stdin is still open")
    func streamsOnAnOpenPipe() throws {
        let fixture = try sharedTable.get()
        let p = try pipedLookup([fixture.lmdb, "--mode", "filter"])
        for round in 0..<3 {
            let key = String(decoding: fixture.keys[round * 10], as: UTF8.self)
            try? p.write(Array("\(key),\(round)\n".utf8))
            // Blocks until the mapper wrote the line: it must not wait for more input.
            #expect(p.readLines(1) == ["\(key),\(round)"])
        }
        p.closeInput()
        #expect(p.readAll().isEmpty)
        let end = try p.wait()
        #expect(end.status == 0 && !end.signaled, "\(end.err)")
    }

    @Test("--hadoop counters add up to the counts; --output-key prefixes the key")
    func hadoopCountersAndKeyedOutput() throws {
        let fixture = try sharedTable.get()
        let input = sampleInput(fixture, lines: 20_000, seed: 43)
        // The reference: hits among the input lines.
        var hits = 0
        var expectedKeys: [String] = []
        for line in input.split(separator: 10) {
            let key = Array(line.prefix { $0 != 44 })
            if fixture.map[key] != nil { hits += 1; expectedKeys.append(String(decoding: key, as: UTF8.self)) }
        }
        let mapped = try mapAll([fixture.lmdb, "--hadoop", "--output-key"], input)
        #expect(mapped.status == 0, "\(mapped.stderr)")
        var sums: [String: Int] = [:]
        for line in mapped.stderr.split(separator: "\n") where line.hasPrefix("reporter:counter:lookup,") {
            let parts = line.dropFirst("reporter:counter:lookup,".count).split(separator: ",")
            sums[String(parts[0]), default: 0] += Int(parts[1]) ?? -1_000_000
        }
        #expect(sums["lines"] == 20_000)
        #expect(sums["hits"] == hits)
        #expect(sums["misses"] == 20_000 - hits)
        #expect(mapped.stderr.contains("reporter:status:lookup: 20000 lines"))
        let outLines = String(decoding: mapped.out, as: UTF8.self).split(separator: "\n")
        #expect(outLines.count == hits)
        #expect(outLines.map { String($0.prefix { $0 != "\t" }) } == expectedKeys)
        #expect(outLines.allSatisfy { line in
            let key = line.prefix { $0 != "\t" }
            return line.dropFirst(key.count + 1).hasPrefix(key + ",")
        })
    }

    @Test("bad and binary lines: reported with their line number, counted, skipped; exit 0")
    func badLines() throws {
        let fixture = try sharedTable.get()
        let key = String(decoding: fixture.keys[3], as: UTF8.self)
        var input = Array("x,\(key),1\nonly-one-field\n".utf8)
        input += [0, 1, 2, 255, 44, 0, 10]  // binary junk: NUL bytes, so not a text line
        input += Array("y,\(key),2\n".utf8)
        let mapped = try mapAll([fixture.lmdb, "-k", "2", "--mode", "count"], input)
        #expect(mapped.status == 0 && !mapped.signaled, "\(mapped.stderr)")
        #expect(mapped.stderr.contains("<stdin>:2:"), "\(mapped.stderr)")
        #expect(mapped.stderr.contains("<stdin>:3:") && mapped.stderr.contains("NUL byte"), "\(mapped.stderr)")
        #expect(!mapped.stderr.contains("Fatal") && !mapped.stderr.contains("Stack dump"))
        #expect(String(decoding: mapped.out, as: UTF8.self) == "lines=4 hits=2 misses=0 bad_lines=2 rows=2\n")
    }

    @Test("a closed stdout (map | head) ends it quietly: exit 0, no signal, nothing on stderr")
    func closedStdout() throws {
        let fixture = try sharedTable.get()
        let p = try pipedLookup([fixture.lmdb, "--mode", "anti"])
        let line = Array("never-a-key,1,some payload to make the output larger\n".utf8)
        try? p.write(line)
        #expect(p.readLines(1).count == 1)
        p.closeOutput()
        // Keep feeding until the mapper notices the closed pipe and ends.
        let writer = Thread {
            let block = Array(repeating: line, count: 20_000).flatMap { $0 }
            for _ in 0..<200 { try? p.write(block) }
            p.closeInput()
        }
        writer.start()
        let end = try p.wait()
        #expect(end.status == 0 && !end.signaled, "exit \(end.status), signaled \(end.signaled)")
        #expect(end.err.isEmpty, "\(end.err)")
    }

    @Test("an interrupted stdin: cut mid-line, the partial line counts as a last line (exit 0); SIGTERM mid-stream ends it quietly")
    func interruptedStdin() throws {
        let fixture = try sharedTable.get()
        let key = String(decoding: fixture.keys[5], as: UTF8.self)
        // The writer stops in the middle of a line (it died, or the split ended there).
        let cut = try mapAll([fixture.lmdb, "--mode", "count"], Array("\(key),1\nnever-a-key,2\n\(key),3\n\(key.prefix(3))".utf8))
        #expect(cut.status == 0 && !cut.signaled, "\(cut.stderr)")
        #expect(String(decoding: cut.out, as: UTF8.self) == "lines=4 hits=2 misses=2 bad_lines=0 rows=2\n")

        // The engine kills the task while stdin is still open.
        let p = try pipedLookup([fixture.lmdb])
        try? p.write(Array("\(key),1\n".utf8))
        #expect(p.readLines(1) == ["\(key),1,\(String(decoding: fixture.map[fixture.keys[5]] ?? [], as: UTF8.self))"])
        kill(p.pid, SIGTERM)
        let end = try p.wait()
        #expect(end.signaled && end.status == SIGTERM, "status \(end.status)")
        #expect(!end.err.contains("Fatal") && !end.err.contains("crashed") && !end.err.contains("Backtrac"), "\(end.err)")
        p.closeInput()
    }

    @Test("a missing or foreign table: exit 2 with one line naming it")
    func brokenTables() throws {
        let work = try TempDir("map-broken")
        try writeFile(work.file("text.lmdb"), String(repeating: "not a table\n", count: 500))
        for table in [work.file("missing.lmdb"), work.file("text.lmdb")] {
            let mapped = try mapAll([table], Array("a,1\n".utf8))
            #expect(mapped.status == 2 && !mapped.signaled)
            let lines = mapped.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains(table), "\(mapped.stderr)")
        }
    }
}
