// End-to-end tests of `--columns` (get, run, map): positions in the table's row (a key column
// gives the key part) or names from the stored header, the joined header of `run --header`,
// and the errors: an unknown name (listing the table's columns), a position beyond the row, a
// table whose values have no columns.
import Foundation
import LookupTestSupport
import Testing

/// A table of rows `id,name,region,city,zip` (header stored), keyed by columns `key`, and the
/// raw fields of each row by key.
struct ColumnsFixture {
    static let header = ["id", "name", "region", "city", "zip"]
    var table: String
    var input: String
    var rows: [[String]]
    var byKey: [String: [String]]
}

func makeColumnsFixture(_ dir: TempDir, rows count: Int, keyColumns: [Int], header: Bool = true, seed: UInt64) throws -> ColumnsFixture {
    var rng = SeededRNG(seed: seed)
    var rows: [[String]] = []
    var byKey: [String: [String]] = [:]
    var text = header ? ColumnsFixture.header.joined(separator: ",") + "\n" : ""
    var i = 0
    while rows.count < count {
        i += 1
        let row = ["id\(i)", randomWord(&rng, 2...8), ["eu", "us", "apac"][rng.below(3)],
                   rng.percent(15) ? "\"\(randomWord(&rng, 2...5)), \(randomWord(&rng, 2...5))\"" : randomWord(&rng, 3...9),
                   String(rng.below(99999))]
        let key = keyColumns.map { unquoteCSV(row[$0 - 1]) }.joined(separator: "\t")
        if byKey[key] != nil { continue }
        byKey[key] = row
        rows.append(row)
        text += row.joined(separator: ",") + "\n"
    }
    let input = try dir.write("rows.csv", text)
    let table = dir.file("rows.lmdb")
    let build = try lookup(["build", input, "-k", keyColumns.map(String.init).joined(separator: ",")] + (header ? ["--header"] : []) + ["-o", table])
    expectSuccess(build, "build the columns fixture")
    return ColumnsFixture(table: table, input: input, rows: rows, byKey: byKey)
}

/// The chosen columns of `row` as --columns writes them: key columns unquoted (they come from
/// the key), the others as written.
func projected(_ row: [String], _ positions: [Int], keyColumns: [Int]) -> [String] {
    positions.map { keyColumns.contains($0) ? unquoteCSV(row[$0 - 1]) : row[$0 - 1] }
}

@Suite("--columns: get, run, map")
struct CLIColumnsTests {
    @Test("get --columns by name and by position, key columns included, one key or composite", arguments: [[1], [3, 1]])
    func getColumns(keyColumns: [Int]) throws {
        let dir = try TempDir("col")
        let f = try makeColumnsFixture(dir, rows: 600, keyColumns: keyColumns, seed: 801)
        let stats = try lookup(["stats", f.table])
        #expect(stats.outLines.contains { $0.hasPrefix("columns:") && $0.hasSuffix(" id, name, region, city, zip") }, "stats: \(stats.out)")
        let keys = f.rows.map { r in keyColumns.map { unquoteCSV(r[$0 - 1]) }.joined(separator: "\t") }
        let stdin = Array((keys.joined(separator: "\n") + "\n").utf8)
        for (list, positions) in [("city,name", [4, 2]), ("zip", [5]), ("5,1,3", [5, 1, 3]), ("region,id,2", [3, 1, 2])] {
            let got = try lookup(["get", f.table, "--columns", list], stdin: stdin)
            expectSuccess(got, "get --columns \(list)")
            let want = f.rows.map { projected($0, positions, keyColumns: keyColumns).joined(separator: ",") }
            expectSameLines(got.outLines, want, "get --columns \(list), key \(keyColumns)")
        }
        let one = try lookup(["get", f.table, "--columns", "name", "-K", keys[3]])
        #expect(one.outLines == [keys[3] + "\t" + f.rows[3][1]], "get -K --columns: \(one.out)")
    }

    @Test("run and map --columns append the chosen columns; run --header writes the joined header")
    func runAndMapColumns() throws {
        let dir = try TempDir("colr")
        let f = try makeColumnsFixture(dir, rows: 500, keyColumns: [1], seed: 802)
        var rng = SeededRNG(seed: 803)
        var input = "ref,qty\n"
        var want: [String] = ["ref,qty,city,id"]
        var wantNoHeader: [String] = []
        for n in 0..<1500 {
            let row = f.rows[rng.below(f.rows.count)]
            let key = rng.percent(80) ? row[0] : "nope\(n)"
            input += "\(key),\(n)\n"
            if let hit = f.byKey[key] {
                want.append("\(key),\(n),\(hit[3]),\(hit[0])")
                wantNoHeader.append(want.last!)
            }
        }
        let path = try dir.write("in/orders.csv", input)
        let run = try lookup(["run", f.table, path, "-o", "-", "--header", "--columns", "city,1", "-q"])
        expectSuccess(run, "run --columns city,1 --header")
        expectSameLines(run.outLines, want, "run --header --columns")

        let map = try lookup(["map", f.table, "--header", "--columns", "4,id"], stdin: Array(input.utf8))
        expectSuccess(map, "map --columns")
        expectSameLines(map.outLines, want, "map --header --columns 4,id")

        // run --header without --columns: the value's column names.
        let whole = try lookup(["run", f.table, path, "-o", "-", "--header", "-q"])
        expectSuccess(whole, "run --header")
        #expect(whole.outLines.first == "ref,qty,name,region,city,zip", "header: \(whole.outLines.first ?? "")")
    }

    @Test("run --header on a table built without --header names the columns columnN")
    func columnNNames() throws {
        let dir = try TempDir("coln")
        let f = try makeColumnsFixture(dir, rows: 50, keyColumns: [1], header: false, seed: 804)
        let path = try dir.write("in.csv", "ref\n\(f.rows[0][0])\n")
        let run = try lookup(["run", f.table, path, "-o", "-", "--header", "--columns", "4,2", "-q"])
        expectSuccess(run, "run")
        #expect(run.outLines == ["ref,column4,column2", "\(f.rows[0][0]),\(f.rows[0][3]),\(f.rows[0][1])"], "run: \(run.out)")
        let byName = try lookup(["get", f.table, "--columns", "city", f.rows[0][0]])
        expectCleanError(byName, mentions: ["city"], "a name on a table without a header")
    }

    @Test("an unknown name, a position beyond the row, position 0: one line, nothing written, for get, run, map")
    func badColumns() throws {
        let dir = try TempDir("colb")
        let f = try makeColumnsFixture(dir, rows: 20, keyColumns: [1], seed: 805)
        let key = f.rows[0][0]
        let input = try dir.write("in/a.csv", "\(key),1\n")
        for (list, mention) in [("town", "id, name, region, city, zip"), ("6", "6"), ("0", "0"), ("name,,zip", "--columns")] {
            let get = try lookup(["get", f.table, "--columns", list, key])
            expectCleanError(get, mentions: [mention], "get --columns \(list)")
            #expect(get.stdout.isEmpty)
            let out = dir.file("out-\(list)")
            let run = try lookup(["run", f.table, input, "-o", out, "--columns", list])
            expectCleanError(run, status: 2, mentions: [mention], "run --columns \(list)")
            #expect(!FileManager.default.fileExists(atPath: out + "/a.csv"), "run wrote an output")
            let map = try lookup(["map", f.table, "--columns", list], stdin: Array("\(key),1\n".utf8))
            expectCleanError(map, mentions: [mention], "map --columns \(list)")
            #expect(map.stdout.isEmpty, "map wrote \(map.out)")
        }
    }

    @Test("--columns on a table built from mdb-dump or cdb text (values without columns) is refused")
    func columnlessTables() throws {
        let dir = try TempDir("colm")
        let dump = try dir.write("t.dump", makeDump([Record(key: Array("k".utf8), value: Array("a,b".utf8))], printable: true))
        let table = dir.file("t.lmdb")
        expectSuccess(try lookup(["build", dump, "-o", table]), "build from mdb-dump")
        let get = try lookup(["get", table, "--columns", "1", "k"])
        expectCleanError(get, mentions: ["mdb-dump"], "get --columns on an mdb-dump table")
        let map = try lookup(["map", table, "--columns", "2"], stdin: Array("k,1\n".utf8))
        expectCleanError(map, mentions: ["mdb-dump"], "map --columns on an mdb-dump table")
        // Without --columns the table still answers.
        #expect(try lookup(["get", table, "k"]).outLines == ["a,b"])
    }
}
