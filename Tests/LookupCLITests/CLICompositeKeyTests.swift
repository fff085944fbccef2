// End-to-end tests of composite keys (`build -k 2,5`): the key parts as stored, stats, get with
// tab-joined parts (arguments, stdin, -K), dump csv/tsv rebuilt with -k 1,2, the part order,
// and bad input (a part holding 0x1F, a -k count other than the table's).
import Foundation
import LookupTestSupport
import Testing

/// A generated CSV whose rows have six columns, keyed by columns 2 and 5.
struct CompositeCSV {
    /// The CSV text.
    var text: [UInt8]
    /// The rows' raw fields, as written (quotes kept).
    var rows: [[String]]
    /// Key parts (unquoted) of each row, columns 2 and 5.
    var keys: [[String]]
    /// Value of each key: columns 1, 3, 4, 6 as written, joined by commas.
    var expected: [[String]: String]
}

/// Removes RFC 4180 quotes from a field as written.
func unquoteCSV(_ raw: String) -> String {
    guard raw.count >= 2, raw.hasPrefix("\""), raw.hasSuffix("\"") else { return raw }
    return String(raw.dropFirst().dropLast()).replacingOccurrences(of: "\"\"", with: "\"")
}

/// `count` six-column rows with distinct (column 2, column 5) pairs; some key parts quoted
/// (holding a comma), some parts repeated across rows (only the pair is unique).
func generateCompositeCSV(count: Int, rng: inout SeededRNG) -> CompositeCSV {
    var out = CompositeCSV(text: [], rows: [], keys: [], expected: [:])
    let regions = (0..<7).map { _ in randomWord(&rng, 2...4) }
    while out.rows.count < count {
        let a = rng.percent(10) ? "\"\(randomWord(&rng, 2...6)),\(randomWord(&rng, 1...3))\"" : randomWord(&rng, 3...10)
        let b = rng.percent(70) ? regions[rng.below(regions.count)] : randomWord(&rng, 1...8)
        let key = [unquoteCSV(a), unquoteCSV(b)]
        if out.expected[key] != nil { continue }
        let row = [randomCSVField(&rng), a, randomCSVField(&rng), randomCSVField(&rng), b, randomCSVField(&rng)]
        out.rows.append(row)
        out.keys.append(key)
        out.expected[key] = [row[0], row[2], row[3], row[5]].joined(separator: ",")
        out.text += Array((row.joined(separator: ",") + "\n").utf8)
    }
    return out
}

@Suite("composite keys: build -k 2,5, get, stats, dump")
struct CLICompositeKeyTests {
    func built(_ dir: TempDir, count: Int, seed: UInt64) throws -> (table: String, csv: CompositeCSV) {
        var rng = SeededRNG(seed: seed)
        let csv = generateCompositeCSV(count: count, rng: &rng)
        let input = try dir.write("rows.csv", csv.text)
        let table = dir.file("rows.lmdb")
        let result = try lookup(["build", input, "-k", "2,5", "-o", table])
        expectSuccess(result, "build -k 2,5")
        #expect(result.err.contains("\(count) records"), "build report: \(result.err)")
        return (table, csv)
    }

    @Test("the stored keys are the parts joined by 0x1F, the values the other columns; stats names the key")
    func storedRecordsAndStats() throws {
        let dir = try TempDir("ck")
        let (table, csv) = try built(dir, count: 1500, seed: 501)
        var want: [[UInt8]: [UInt8]] = [:]
        for (key, value) in csv.expected { want[Array(key[0].utf8) + [0x1F] + Array(key[1].utf8)] = Array(value.utf8) }
        expectRecords(try lookupDump(table), equal: want, "dump of the composite table")

        let stats = try lookup(["stats", table])
        expectSuccess(stats, "stats")
        #expect(stats.outLines.contains { $0.hasPrefix("key columns:") && $0.hasSuffix(" 2,5") }, "stats: \(stats.out)")
        #expect(stats.outLines.contains { $0.hasPrefix("keys:") && $0.contains("2 columns joined by 0x1F") }, "stats: \(stats.out)")
        let check = try lookup(["check", table])
        expectSuccess(check, "check")
    }

    @Test("get: tab-joined parts as arguments and on stdin, -K prints the key as given, misses aligned")
    func getTabJoined() throws {
        let dir = try TempDir("ckg")
        let (table, csv) = try built(dir, count: 2000, seed: 502)
        var rng = SeededRNG(seed: 503)
        // Present keys, shuffled, with misses: a swapped pair, one part only, unknown parts.
        var asked: [[String]] = []
        for key in csv.keys.shuffled(using: &rng) {
            asked.append(key)
            if rng.percent(10) { asked.append([key[1], key[0]]) }
            if rng.percent(5) { asked.append([key[0]]) }
            if rng.percent(5) { asked.append([key[0], key[1] + "x"]) }
        }
        let typed = asked.map { $0.joined(separator: "\t") }
        let result = try lookup(["get", table, "--missing", "NA", "-K"], stdin: Array((typed.joined(separator: "\n") + "\n").utf8))
        #expect(!result.signaled && result.status == (asked.count > csv.keys.count ? 1 : 0), "get: \(result.summary)")
        let want = asked.map { key in key.joined(separator: "\t") + "\t" + (csv.expected[key] ?? "NA") }
        expectSameLines(result.outLines, want, "get -K --missing NA on stdin")

        // Arguments: the first ten keys, values only, in order.
        let some = Array(csv.keys.prefix(10))
        let args = try lookup(["get", table] + some.map { $0.joined(separator: "\t") })
        expectSuccess(args, "get with arguments")
        #expect(args.outLines == some.map { csv.expected[$0]! })
        // A key given with 0x1F instead of a tab is the stored key as well.
        let raw = try lookup(["get", table, some[0].joined(separator: "\u{1F}")])
        expectSuccess(raw, "get with the raw 0x1F key")
        #expect(raw.outLines == [csv.expected[some[0]]!])
        // A one-part key of a two-part table is simply missing: exit 1.
        let part = try lookup(["get", table, some[0][0]])
        #expect(!part.signaled && part.status == 1 && part.stdout.isEmpty, "one part only: \(part.summary)")
    }

    @Test("dump --format csv and tsv write the parts as columns; rebuilt with -k 1,2 they give the same table", arguments: ["csv", "tsv"])
    func dumpRebuilds(format: String) throws {
        let dir = try TempDir("ckd")
        let (table, csv) = try built(dir, count: 800, seed: 504)
        let dump = try lookup(["dump", table, "--format", format])
        expectSuccess(dump, "dump --format \(format)")
        #expect(dump.outLines.count == csv.keys.count, "one line per record")
        let again = try dir.write("again.\(format)", dump.stdout)
        let rebuilt = dir.file("again.lmdb")
        expectSuccess(try lookup(["build", again, "-k", "1,2", "-o", rebuilt]), "rebuild with -k 1,2")
        if format == "csv" {
            // Same keys and the same values, byte for byte.
            let a = try lookupDump(table), b = try lookupDump(rebuilt)
            #expect(a == b, "the rebuilt table differs: \(a.count) vs \(b.count) records")
        }
        // Either way every key finds its value's fields (TSV: the value's commas are fields of
        // the CSV value, kept as written).
        let keys = csv.keys.map { $0.joined(separator: "\t") }
        let got = try lookup(["get", rebuilt, "-K"], stdin: Array((keys.joined(separator: "\n") + "\n").utf8))
        expectSuccess(got, "get from the rebuilt table")
        let gotKeys = got.outLines.map { $0.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false).prefix(2).joined(separator: "\t") }
        #expect(gotKeys == keys, "the rebuilt \(format) table's keys differ")
    }

    @Test("-k 5,2 makes the parts in that order")
    func partOrder() throws {
        let dir = try TempDir("cko")
        var rng = SeededRNG(seed: 505)
        let csv = generateCompositeCSV(count: 300, rng: &rng)
        let input = try dir.write("rows.csv", csv.text)
        let table = dir.file("r.lmdb")
        expectSuccess(try lookup(["build", input, "-k", "5,2", "-o", table]), "build -k 5,2")
        let key = csv.keys[7]
        let reversed = try lookup(["get", table, key[1] + "\t" + key[0]])
        expectSuccess(reversed, "get in -k order")
        #expect(reversed.outLines == [csv.expected[key]!])
        let stats = try lookup(["stats", table])
        #expect(stats.outLines.contains { $0.hasPrefix("key columns:") && $0.hasSuffix(" 5,2") }, "stats: \(stats.out)")
    }

    @Test("bad input: a row without a key column, a part holding 0x1F, every part empty (file:line), -k 0 or repeated")
    func badInput() throws {
        let dir = try TempDir("ckb")
        let short = try dir.write("short.csv", "a,b,c,d,e,f\nx,y,z\n")
        let r1 = try lookup(["build", short, "-k", "2,5", "-o", dir.file("s.lmdb")])
        expectCleanError(r1, mentions: ["short.csv:2"], "a row with 3 columns for -k 2,5")
        #expect(!FileManager.default.fileExists(atPath: dir.file("s.lmdb")))

        let sep = try dir.write("sep.csv", "a,b,c,d,e,f\na,b\u{1F}c,d,e,f,g\n")
        let r2 = try lookup(["build", sep, "-k", "2,5", "-o", dir.file("sep.lmdb")])
        expectCleanError(r2, mentions: ["sep.csv:2"], "a key part holding 0x1F")

        // Every key column empty is an empty key, with or without --trim.
        let blank = try dir.write("blank.csv", "x,1,y\n,2,\n")
        let r3 = try lookup(["build", blank, "-k", "1,3", "-o", dir.file("b.lmdb")])
        expectCleanError(r3, mentions: ["blank.csv:2", "empty key"], "every key column empty")
        let spaces = try dir.write("spaces.csv", "x,1,y\n  ,2,\t\n")
        let r4 = try lookup(["build", spaces, "-k", "1,3", "--trim", "-o", dir.file("b.lmdb")])
        expectCleanError(r4, mentions: ["spaces.csv:2", "empty key"], "every key column blank after --trim")

        for bad in ["0,2", "2,2", "2,", "x"] {
            let r = try lookup(["build", short, "-k", bad, "-o", dir.file("k.lmdb")])
            #expect(!r.signaled && r.status == 64, "-k \(bad): \(r.summary)")
            for marker in crashMarkers { #expect(!r.err.contains(marker)) }
        }
    }

    @Test("get and dump on a composite table built from TSV with a header")
    func tsvHeader() throws {
        let dir = try TempDir("ckt")
        let input = try dir.write("t.tsv", "id\tname\tregion\tscore\n1\tann\teu\t5\n1\tbob\tus\t7\n2\tann\teu\t9\n")
        let table = dir.file("t.lmdb")
        expectSuccess(try lookup(["build", input, "-k", "1,3", "--header", "-o", table]), "build")
        let got = try lookup(["get", table, "1\teu", "1\tus", "2\teu", "2\tus", "--missing", "-"])
        #expect(got.outLines == ["ann\t5", "bob\t7", "ann\t9", "-"], "get: \(got.out)")
        let dump = try lookup(["dump", table, "--format", "tsv"])
        expectSuccess(dump, "dump tsv")
        #expect(dump.outLines == ["1\teu\tann\t5", "1\tus\tbob\t7", "2\teu\tann\t9"], "dump: \(dump.out)")
    }
}
