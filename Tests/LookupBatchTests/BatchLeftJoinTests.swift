// `--mode left` in run and map: every input line; a hit as in a join (a line per value of a
// one-to-many table), a miss with an empty field (or --missing) per chosen or value column;
// checked against a dictionary. And `--missing` without `--mode left` refused.
import Foundation
import LookupTestSupport
import Testing

@Suite("run and map --mode left")
struct BatchLeftJoinTests {
    /// A table `id,name,city,zip` (header stored) of `count` ids, and its rows by id.
    func table(_ dir: TempDir, count: Int, rng: inout SeededRNG, extra: [String] = []) throws -> (String, [String: [String]]) {
        var rows: [String: [String]] = [:]
        var text = "id,name,city,zip\n"
        for i in 0..<count {
            let row = ["id\(i * 3)", randomWordL(&rng), rng.percent(10) ? "\"a,b\"" : randomWordL(&rng), String(rng.below(1000))]
            rows[row[0]] = row
            text += row.joined(separator: ",") + "\n"
        }
        return (try buildTable(dir, "t.csv", text, ["--header"] + extra), rows)
    }

    @Test("every line once; misses get an empty field per column, or --missing; with and without --columns",
          arguments: [(nil, nil), ("city", nil), ("zip,name", "NA"), (nil, "-")] as [(String?, String?)])
    func leftJoin(columns: String?, missing: String?) throws {
        let dir = try TempDir("blj")
        var rng = SeededRNG(seed: 1001)
        let (lmdb, rows) = try table(dir, count: 400, rng: &rng)
        let chosen: [Int] = columns.map { $0.split(separator: ",").map { ["id": 0, "name": 1, "city": 2, "zip": 3][String($0)]! } } ?? [1, 2, 3]
        var input = "", want: [String] = []
        var hits = 0
        for i in 0..<2000 {
            let key = "id\(rng.below(1500))"
            let line = "\(i),\(key),x"
            input += line + "\n"
            if let row = rows[key] {
                hits += 1
                want.append(line + "," + chosen.map { row[$0] }.joined(separator: ","))
            } else {
                want.append(line + String(repeating: "," + (missing ?? ""), count: chosen.count))
            }
        }
        let path = try dir.write("in/p.csv", input)
        var options = ["--mode", "left", "-k", "2"]
        if let columns { options += ["--columns", columns] }
        if let missing { options += ["--missing", missing] }
        let run = try runLookup(["run", lmdb, path, "-o", "-", "-j", "2"] + options)
        expectExit(run, 0, "run \(options)")
        expectLines(textLines(run.stdout), want, "run \(options)")
        #expect(run.says("2000 lines", "\(hits) hits", "\(2000 - hits) misses"), "summary: \(run.stderr)")
        let map = try lookupWithInput(["map", lmdb] + options, Array(input.utf8))
        expectExit(map, 0, "map \(options)")
        #expect(map.stdout == run.stdout, "map and run differ")
    }

    @Test("left join on a one-to-many table: a line per value for a hit, one line for a miss")
    func leftOneToMany() throws {
        let dir = try TempDir("blm")
        var rng = SeededRNG(seed: 1002)
        var values: [String: [String]] = [:]
        var text = ""
        for i in 0..<600 {
            let key = "k\(rng.below(100))"
            values[key, default: []].append("v\(i)")
            text += "\(key),v\(i)\n"
        }
        let lmdb = try buildTable(dir, "t.csv", text, ["--duplicates", "all"])
        var input = "", want: [String] = []
        for i in 0..<1000 {
            let key = "k\(rng.below(140))"
            input += "\(key),\(i)\n"
            want += (values[key] ?? ["?"]).map { "\(key),\(i),\($0)" }
        }
        let map = try lookupWithInput(["map", lmdb, "--mode", "left", "--missing", "?"], Array(input.utf8))
        expectExit(map, 0, "map --mode left")
        expectLines(textLines(map.stdout), want, "left join, one-to-many")
    }

    @Test("run --header --mode left writes the joined header; a table without --header: columnN")
    func leftHeader() throws {
        let dir = try TempDir("blh")
        var rng = SeededRNG(seed: 1003)
        let (lmdb, rows) = try table(dir, count: 10, rng: &rng)
        let key = rows.keys.sorted()[0]
        let path = try dir.write("in/h.csv", "ref,n\n\(key),1\nnone,2\n")
        let run = try runLookup(["run", lmdb, path, "-o", "-", "--header", "--mode", "left", "--columns", "zip,city"])
        expectExit(run, 0, "run --header --mode left")
        let row = rows[key]!
        #expect(textLines(run.stdout) == ["ref,n,zip,city", "\(key),1,\(row[3]),\(row[2])", "none,2,,"], "\(textLines(run.stdout))")
    }

    @Test("--missing without --mode left is refused (exit 64), for run and map", arguments: ["join", "filter", "anti", "count"])
    func missingWithoutLeft(mode: String) throws {
        let dir = try TempDir("blx")
        let lmdb = try buildTable(dir, "t.csv", "a,1\n", [])
        let path = try dir.write("in/p.csv", "a\n")
        let run = try runLookup(["run", lmdb, path, "-o", dir.file("out"), "--mode", mode, "--missing", "NA"])
        expectExit(run, 64, "run --mode \(mode) --missing")
        #expect(run.stderr.contains("--missing"), "\(run.stderr)")
        #expect(!fileExists(dir.file("out/p.csv")))
        let map = try lookupWithInput(["map", lmdb, "--missing", "NA", "--mode", mode], Array("a\n".utf8))
        expectExit(map, 64, "map --missing")
        #expect(map.stdout.isEmpty)
    }
}

/// A word of lowercase letters.
func randomWordL(_ rng: inout SeededRNG) -> String {
    let letters = Array("abcdefghijklmnopqrstuvwxyz")
    return String((0..<(2 + rng.below(7))).map { _ in letters[rng.below(letters.count)] })
}
