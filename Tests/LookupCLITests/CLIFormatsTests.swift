// Every input format and record option through the CLI (csv, tsv, jsonl, mdb-dump, cdb, .gz, stdin, CRLF) and duplicate policies.
import Foundation
import LookupTestSupport
import Testing

@Suite("lookup build: input formats")
struct CLIFormatsTests {
    /// Builds `input` into `dir/out.lmdb` with `options` and checks the table holds `expected`.
    private func buildAndCompare(_ dir: TempDir, input: String, options: [String] = [], stdin: [UInt8]? = nil,
                                 expected: [[UInt8]: [UInt8]], _ what: String,
                                 sourceLocation: SourceLocation = #_sourceLocation) throws {
        let table = dir.file("out-\(UUID().uuidString.prefix(6)).lmdb")
        let result = try lookup(["build", input, "-o", table] + options, stdin: stdin)
        expectSuccess(result, "build \(what)", sourceLocation: sourceLocation)
        guard result.status == 0 else { return }
        expectRecords(try lookupDump(table, sourceLocation: sourceLocation), equal: expected, what, sourceLocation: sourceLocation)
        let check = try lookup(["check", table])
        expectSuccess(check, "check \(what)", sourceLocation: sourceLocation)
    }

    @Test("csv: quoted fields, a quoted value spanning lines, -k 2, -d '|', --header")
    func csvOptions() throws {
        let dir = try TempDir("csv")
        var rng = SeededRNG()

        // -k 2: the key is the second column; the value is the other columns, quotes kept.
        var text = "", expected: [String: String] = [:]
        while expected.count < 500 {
            let key = randomWord(&rng, 5...15)
            if expected[key] != nil { continue }
            let before = randomCSVField(&rng), after = (0..<Int.random(in: 0...3, using: &rng)).map { _ in randomCSVField(&rng) }
            let quoteKey = Bool.random(using: &rng)
            text += before + "," + (quoteKey ? "\"\(key)\"" : key) + (after.isEmpty ? "" : "," + after.joined(separator: ",")) + "\n"
            expected[key] = ([before] + after).joined(separator: ",")
        }
        try writeFile(dir.file("k2.csv"), text)
        try buildAndCompare(dir, input: dir.file("k2.csv"), options: ["-k", "2"], expected: byteTable(expected), "csv -k 2 (seed \(rng.seed))")

        // -d '|': fields split on '|', a quoted field may hold '|' and commas.
        text = ""; expected = [:]
        while expected.count < 500 {
            let key = randomWord(&rng, 5...15)
            if expected[key] != nil { continue }
            let fields = ["\(randomWord(&rng, 1...5)),\(randomWord(&rng, 1...5))", "\"a|b \(randomWord(&rng, 1...5))\"", randomWord(&rng, 0...6)]
            text += key + "|" + fields.joined(separator: "|") + "\n"
            expected[key] = fields.joined(separator: "|")
        }
        try writeFile(dir.file("pipe.csv"), text)
        try buildAndCompare(dir, input: dir.file("pipe.csv"), options: ["-d", "|"], expected: byteTable(expected), "csv -d '|' (seed \(rng.seed))")

        // --header: the first line is not a record.
        let gen = generateCSV(count: 300, rng: &rng)
        try writeFile(dir.file("header.csv"), Array("key,value,other\n".utf8) + gen.text)
        try buildAndCompare(dir, input: dir.file("header.csv"), options: ["--header"], expected: byteTable(gen.expected), "csv --header")
        // Without --header the header line is a record like any other.
        var withHeader = byteTable(gen.expected)
        withHeader[Array("key".utf8)] = Array("value,other".utf8)
        try buildAndCompare(dir, input: dir.file("header.csv"), expected: withHeader, "csv without --header")

        // A quoted field holding a newline: the record spans two lines, the value keeps it.
        try writeFile(dir.file("multi.csv"), "a,\"line one\nline two\",x\nb,2\n")
        try buildAndCompare(dir, input: dir.file("multi.csv"),
                            expected: byteTable(["a": "\"line one\nline two\",x", "b": "2"]), "csv with a quoted newline")
    }

    @Test("dump --format csv of a CSV-built table gives its rows back: rebuilding them gives the same table")
    func csvDumpRoundTrip() throws {
        let dir = try TempDir("csvrt")
        var rng = SeededRNG()
        let gen = generateCSV(count: 1500, rng: &rng)
        try writeFile(dir.file("in.csv"), gen.text)
        expectSuccess(try lookup(["build", dir.file("in.csv"), "-o", dir.file("a.lmdb")]), "build")
        let rows = try lookup(["dump", dir.file("a.lmdb"), "--format", "csv"])
        expectSuccess(rows, "dump --format csv")
        #expect(rows.outLines.count == gen.keys.count)
        try writeFile(dir.file("rows.csv"), rows.stdout)
        try buildAndCompare(dir, input: dir.file("rows.csv"), expected: byteTable(gen.expected), "rebuilt from dump --format csv (seed \(rng.seed))")
    }

    @Test("tsv: default key column, -k 3, --header, and -d for another delimiter")
    func tsv() throws {
        let dir = try TempDir("tsv")
        var rng = SeededRNG()
        var rows: [[String]] = []
        var seen = Set<String>(), seen3 = Set<String>()
        while rows.count < 800 {
            // TSV has no quoting: quotes and commas are ordinary bytes.
            let row = [randomWord(&rng, 6...14), "\"\(randomWord(&rng, 0...5))", randomWord(&rng, 6...14) + ",x", randomWord(&rng, 0...8)]
            if seen.contains(row[0]) || seen3.contains(row[2]) { continue }
            seen.insert(row[0]); seen3.insert(row[2])
            rows.append(row)
        }
        let text = rows.map { $0.joined(separator: "\t") }.joined(separator: "\n") + "\n"
        try writeFile(dir.file("rows.tsv"), text)
        var byFirst: [String: String] = [:], byThird: [String: String] = [:]
        for r in rows {
            byFirst[r[0]] = r[1...].joined(separator: "\t")
            byThird[r[2]] = [r[0], r[1], r[3]].joined(separator: "\t")
        }
        try buildAndCompare(dir, input: dir.file("rows.tsv"), expected: byteTable(byFirst), "tsv (seed \(rng.seed))")
        try buildAndCompare(dir, input: dir.file("rows.tsv"), options: ["-k", "3"], expected: byteTable(byThird), "tsv -k 3")
        try writeFile(dir.file("header.tsv"), "id\tname\n" + text)
        try buildAndCompare(dir, input: dir.file("header.tsv"), options: ["--header"], expected: byteTable(byFirst), "tsv --header")
        // A .txt file with ';' as the delimiter, format given.
        try writeFile(dir.file("semi.txt"), rows.map { $0.joined(separator: ";") }.joined(separator: "\n") + "\n")
        try buildAndCompare(dir, input: dir.file("semi.txt"), options: ["--format", "tsv", "-d", ";"],
                            expected: byteTable(Dictionary(uniqueKeysWithValues: rows.map { ($0[0], $0[1...].joined(separator: ";")) })),
                            "tsv -d ';'")
    }

    @Test("jsonl: key from --key-field (string or number), value the other members")
    func jsonLines() throws {
        let dir = try TempDir("jsonl")
        var rng = SeededRNG()
        var lines: [String] = [], expected: [String: String] = [:]
        while lines.count < 600 {
            let numeric = Int.random(in: 0..<5, using: &rng) == 0
            let key = numeric ? String(Int.random(in: 1...1_000_000_000, using: &rng)) : randomWord(&rng, 4...16) + "/é"
            if expected[key] != nil { continue }
            var members = [
                "\"name\":\"\(randomWord(&rng, 1...10)), \\\"quoted\\\"\"",
                "\"n\":\(Int.random(in: -1000...1000, using: &rng))",
                "\"tags\":[\"\(randomWord(&rng, 1...4))\",{\"x\":null}]",
                "\"ok\":\(Bool.random(using: &rng))",
            ].shuffled(using: &rng)
            members = Array(members.prefix(Int.random(in: 0...4, using: &rng)))
            let idMember = "\"id\":" + (numeric ? key : "\"\(key)\"")
            var all = members
            all.insert(idMember, at: Int.random(in: 0...members.count, using: &rng))
            lines.append("{" + all.joined(separator: ",") + "}")
            expected[key] = "{" + members.joined(separator: ",") + "}"
        }
        try writeFile(dir.file("records.jsonl"), lines.joined(separator: "\n") + "\n")
        try buildAndCompare(dir, input: dir.file("records.jsonl"), options: ["--key-field", "id"],
                            expected: byteTable(expected), "jsonl --key-field id (seed \(rng.seed))")
        // The key field is looked up by name: with the default ("key") every line lacks it.
        let noKey = try lookup(["build", dir.file("records.jsonl"), "-o", dir.file("nokey.lmdb")])
        expectCleanError(noKey, status: 2, mentions: [dir.file("records.jsonl") + ":1"], "jsonl without its key field")
    }

    @Test("mdb-dump input: bytevalue and print, binary keys and values")
    func mdbDumpInput() throws {
        let dir = try TempDir("dump")
        var rng = SeededRNG()
        var table: [[UInt8]: [UInt8]] = [:]
        while table.count < 700 {
            let key = randomBytes(&rng, 1...48)
            table[key] = randomBytes(&rng, 0...(Int.random(in: 0..<20, using: &rng) == 0 ? 6000 : 120))
        }
        // As mdb_dump writes it: in key order.
        let records = table.keys.sorted { $0.lexicographicallyPrecedes($1) }.map { Record(key: $0, value: table[$0]!) }
        try writeFile(dir.file("plain.dump"), makeDump(records, printable: false))
        try writeFile(dir.file("print.dump"), makeDump(records, printable: true))
        try buildAndCompare(dir, input: dir.file("plain.dump"), expected: table, "mdb-dump bytevalue (seed \(rng.seed))")
        try buildAndCompare(dir, input: dir.file("print.dump"), expected: table, "mdb-dump print (seed \(rng.seed))")
        // --format overrides the extension.
        try writeFile(dir.file("records.txt"), makeDump(records, printable: true))
        try buildAndCompare(dir, input: dir.file("records.txt"), options: ["--format", "mdb-dump"], expected: table, "mdb-dump --format")
    }

    @Test("cdb input: +klen,dlen:key->data with binary bytes, in any order")
    func cdbInput() throws {
        let dir = try TempDir("cdb")
        var rng = SeededRNG()
        var table: [[UInt8]: [UInt8]] = [:]
        var text: [UInt8] = []
        while table.count < 700 {
            let key = randomBytes(&rng, 1...40)
            if table[key] != nil { continue }
            let value = randomBytes(&rng, 0...300)   // newlines, '->' and NULs included
            table[key] = value
            text += Array("+\(key.count),\(value.count):".utf8) + key + Array("->".utf8) + value + [10]
        }
        text.append(10)
        try writeFile(dir.file("records.cdb"), text)
        try buildAndCompare(dir, input: dir.file("records.cdb"), expected: table, "cdb (seed \(rng.seed))")
    }

    @Test(".gz input made by gzip, and stdin (-) with --format")
    func gzipAndStdin() throws {
        let dir = try TempDir("gz")
        var rng = SeededRNG()
        let gen = generateCSV(count: 2000, rng: &rng)
        try writeFile(dir.file("records.csv"), gen.text)
        let gzip = try runProcess(try TestBinaries.tool("gzip"), ["-k", dir.file("records.csv")])
        expectSuccess(gzip, "gzip")
        #expect(fileSize(dir.file("records.csv.gz")) > 0)
        try buildAndCompare(dir, input: dir.file("records.csv.gz"), expected: byteTable(gen.expected), ".csv.gz (seed \(rng.seed))")

        // Two gzip members one after the other (as `cat a.gz b.gz` makes): both are read.
        let lines = splitLines(gen.text)
        try writeFile(dir.file("part1.csv"), Array(lines[..<(lines.count / 2)].joined(separator: [10])) + [10])
        try writeFile(dir.file("part2.csv"), Array(lines[(lines.count / 2)...].joined(separator: [10])) + [10])
        expectSuccess(try runProcess(try TestBinaries.tool("gzip"), [dir.file("part1.csv"), dir.file("part2.csv")]), "gzip parts")
        try writeFile(dir.file("members.csv.gz"), try readFile(dir.file("part1.csv.gz")) + readFile(dir.file("part2.csv.gz")))
        try buildAndCompare(dir, input: dir.file("members.csv.gz"), expected: byteTable(gen.expected), "two gzip members")

        // Standard input, format given.
        try buildAndCompare(dir, input: "-", options: ["--format", "csv"], stdin: gen.text, expected: byteTable(gen.expected), "stdin csv")
        // Gzip bytes on standard input are recognized by their magic number.
        try buildAndCompare(dir, input: "-", options: ["--format", "csv"], stdin: try readFile(dir.file("records.csv.gz")),
                            expected: byteTable(gen.expected), "stdin gzip csv")
        // Without --format, stdin's format cannot be told: a clear error.
        expectCleanError(try lookup(["build", "-", "-o", dir.file("x.lmdb")], stdin: gen.text), mentions: ["stdin", "--format"],
                         "stdin without --format")
        // Two inputs, a file and stdin: both land.
        var extra: [String: String] = [:]
        for i in 0..<50 { extra["extra-\(i)"] = "\"\(randomWord(&rng, 1...5)),x\",\(i)" }
        try writeFile(dir.file("more.csv"), extra.map { "\($0.key),\($0.value)\n" }.joined())
        try buildAndCompare(dir, input: dir.file("more.csv"), options: ["-", "--format", "csv"], stdin: gen.text,
                            expected: byteTable(gen.expected.merging(extra) { a, _ in a }), "file + stdin")
    }

    @Test("CRLF line ends and a missing final newline", arguments: ["csv", "tsv", "jsonl", "mdb-dump"])
    func crlfAndNoFinalNewline(format: String) throws {
        let dir = try TempDir("crlf")
        var rng = SeededRNG()
        var expected: [String: String] = [:]
        var lines: [String] = []
        while lines.count < 200 {
            let key = randomWord(&rng, 3...12), value = randomWord(&rng, 0...12)
            if expected[key] != nil { continue }
            expected[key] = value
            switch format {
            case "csv": lines.append("\(key),\"\(value), q\""); expected[key] = "\"\(value), q\""
            case "tsv": lines.append("\(key)\t\(value)")
            case "jsonl": lines.append("{\"key\":\"\(key)\",\"v\":\"\(value)\"}"); expected[key] = "{\"v\":\"\(value)\"}"
            default: lines.append(" " + hex(Array(key.utf8))); lines.append(" " + hex(Array(value.utf8)))
            }
        }
        var text = lines.joined(separator: "\r\n")
        if format == "mdb-dump" {
            text = "VERSION=3\r\nformat=bytevalue\r\ntype=btree\r\nHEADER=END\r\n" + text + "\r\nDATA=END"
        }
        let input = dir.file("crlf.\(format == "mdb-dump" ? "dump" : format)")
        try writeFile(input, text)   // no final newline
        #expect(!text.hasSuffix("\n"))
        if format == "mdb-dump" {
            // mdb-dump sorts its own way: the records must come in key order like mdb_dump's.
            let sorted = expected.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            let records = sorted.map { Record(key: Array($0.utf8), value: Array(expected[$0]!.utf8)) }
            var dump: [UInt8] = []
            for byte in makeDump(records, printable: false) {
                if byte == 10 { dump.append(13) }
                dump.append(byte)
            }
            dump.removeLast(2)   // the final CR LF
            #expect(dump.suffix(8) == Array("DATA=END".utf8))
            try writeFile(input, dump)
        }
        try buildAndCompare(dir, input: input, expected: byteTable(expected), "\(format) with CRLF, no final newline")
    }

    @Test("duplicates: error names the file and both lines; first and last keep the right one")
    func duplicates() throws {
        let dir = try TempDir("dup")
        var rng = SeededRNG()

        // One key twice, at lines computed here.
        let gen = generateCSV(count: 400, rng: &rng)
        var lines = splitLines(gen.text).map { String(decoding: $0, as: UTF8.self) }
        let firstLine = Int.random(in: 1...150, using: &rng), secondLine = Int.random(in: 250...400, using: &rng)
        let dupKey = "dup-" + randomWord(&rng, 6...6)
        lines[firstLine - 1] = dupKey + ",first"
        lines[secondLine - 1] = dupKey + ",second"
        let input = dir.file("dups.csv")
        try writeFile(input, lines.joined(separator: "\n") + "\n")
        let failed = try lookup(["build", input, "-o", dir.file("dups.lmdb")])
        expectCleanError(failed, status: 2, mentions: [input, dupKey], "--duplicates error")
        #expect(mentionedLines(failed.err, path: input) == [firstLine, secondLine],
                "should name lines \(firstLine) and \(secondLine): \(failed.err)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("dups.lmdb")))
        #expect(dir.names() == ["dups.csv"], "left over: \(dir.names())")

        // Across two files.
        try writeFile(dir.file("a.csv"), "x,1\ny,2\nshared,from-a\n")
        try writeFile(dir.file("b.csv"), "z,3\nw,4\nv,5\nshared,from-b\n")
        let across = try lookup(["build", dir.file("a.csv"), dir.file("b.csv"), "-o", dir.file("ab.lmdb")])
        expectCleanError(across, status: 2, mentions: ["shared"], "duplicate across files")
        #expect(mentionedLines(across.err, path: dir.file("a.csv")) == [3] && mentionedLines(across.err, path: dir.file("b.csv")) == [4],
                "should name a.csv:3 and b.csv:4: \(across.err)")

        // Many duplicates: first and last, against expectations computed from the input order.
        var text = "", first: [String: String] = [:], last: [String: String] = [:]
        let pool = (0..<300).map { _ in randomWord(&rng, 4...10) }
        var total = 0
        for i in 0..<3000 {
            let key = pool[Int.random(in: 0..<pool.count, using: &rng)]
            let value = "v\(i),\(randomWord(&rng, 0...5))"
            text += key + "," + value + "\n"
            if first[key] == nil { first[key] = value }
            last[key] = value
            total += 1
        }
        try writeFile(dir.file("many.csv"), text)
        for (policy, expected) in [("first", first), ("last", last)] {
            let table = dir.file("\(policy).lmdb")
            let result = try lookup(["build", dir.file("many.csv"), "-o", table, "--duplicates", policy])
            expectSuccess(result, "--duplicates \(policy)")
            #expect(result.err.contains("\(total - expected.count) duplicates dropped"), "report: \(result.err)")
            expectRecords(try lookupDump(table), equal: byteTable(expected), "--duplicates \(policy) (seed \(rng.seed))")
            let stats = try lookup(["stats", table, "--json"])
            let json = try JSONSerialization.jsonObject(with: Data(stats.stdout)) as? [String: Any]
            let meta = json?["metadata"] as? [String: Any]
            #expect(meta?["duplicatesDropped"] as? Int == total - expected.count)
            #expect(meta?["duplicates"] as? String == policy)
        }
    }
}
