// `lookup run` and `lookup map` on tables with composite keys (-k A,B), folded and trimmed keys
// and one-to-many values, checked against Swift dictionaries built from the same rows: every
// mode, the counts, run and map agreeing byte for byte, and a -k count other than the table's.
import Foundation
import LookupTestSupport
import Testing

/// Runs `lookup ARGS` with `stdin`.
func lookupWithInput(_ arguments: [String], _ stdin: [UInt8]) throws -> LookupResult {
    LookupResult(try runProcess(try TestBinaries.requireLookup(), arguments, stdin: stdin))
}

/// Lines of `bytes` as strings (no line ends).
func textLines(_ bytes: [UInt8]) -> [String] {
    splitLines(bytes).map { String(decoding: $0, as: UTF8.self) }
}

/// Expects two lists of lines equal, naming the first difference.
func expectLines(_ got: [String], _ want: [String], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    if got == want { return }
    let i = (0..<min(got.count, want.count)).first { got[$0] != want[$0] } ?? min(got.count, want.count)
    Issue.record("\(what): \(got.count) lines, expected \(want.count); line \(i + 1): got \(i < got.count ? got[i] : "(none)"), expected \(i < want.count ? want[i] : "(none)")",
                 sourceLocation: sourceLocation)
}

/// Builds `table` from `text` (written to `name` in `dir`) with `options`; fails on error.
func buildTable(_ dir: TempDir, _ name: String, _ text: String, _ options: [String]) throws -> String {
    let input = try dir.write(name, text)
    let table = dir.file(name + ".lmdb")
    let r = try runLookup(["build", input, "-o", table, "-q"] + options)
    guard r.status == 0 && !r.signaled else { throw TestFailure("build \(options): \(r.summary)") }
    return table
}

@Suite("run and map on composite, normalized and one-to-many tables")
struct BatchKeyFormTests {
    @Test("composite key: run -k 4,2 on input lines, every mode, against a dictionary; map gives the same bytes",
          arguments: ["join", "filter", "anti", "count"])
    func compositeRun(mode: String) throws {
        let dir = try TempDir("bkc")
        var rng = SeededRNG(seed: 901)
        // Table rows: user,country,plan with key (user, country), columns 1,2.
        var table: [String: String] = [:]
        var text = ""
        var pairs: [(String, String)] = []
        while pairs.count < 700 {
            let user = "u\(rng.below(300))", country = ["de", "fr", "us", "jp"][rng.below(4)]
            if table[user + "\t" + country] != nil { continue }
            let plan = "plan\(rng.below(9)),\"x,\(pairs.count)\""
            table[user + "\t" + country] = plan
            pairs.append((user, country))
            text += "\(user),\(country),\(plan)\n"
        }
        let lmdb = try buildTable(dir, "t.csv", text, ["-k", "1,2"])
        // Input lines: id,country,qty,user (key = columns 4,2).
        var input = ""
        var want: [String] = []
        var hits = 0
        for i in 0..<3000 {
            let (user, country) = rng.percent(60) ? pairs[rng.below(pairs.count)] : ("u\(rng.below(400))", ["de", "es"][rng.below(2)])
            let line = "\(i),\(country),\(rng.below(50)),\(user)"
            input += line + (i % 9 == 0 ? "\r\n" : "\n")
            let value = table[user + "\t" + country]
            if value != nil { hits += 1 }
            switch mode {
            case "join": if let value { want.append(line + "," + value) }
            case "filter": if value != nil { want.append(line) }
            case "anti": if value == nil { want.append(line) }
            default: break
            }
        }
        let path = try dir.write("in/part.csv", input)
        let run = try runLookup(["run", lmdb, path, "-o", "-", "-k", "4,2", "--mode", mode, "-j", "2"])
        expectExit(run, 0, "run -k 4,2 --mode \(mode)")
        expectLines(textLines(run.stdout), want, "run --mode \(mode) (composite)")
        #expect(run.says("3000 lines", "\(hits) hits", "\(3000 - hits) misses"), "summary: \(run.stderr)")

        let map = try lookupWithInput(["map", lmdb, "-k", "4,2", "--mode", mode], Array(input.utf8))
        expectExit(map, 0, "map -k 4,2")
        if mode == "count" {
            #expect(textLines(map.stdout) == ["lines=3000 hits=\(hits) misses=\(3000 - hits) bad_lines=0 rows=\(hits)"], "map count: \(textLines(map.stdout))")
        } else {
            #expect(map.stdout == run.stdout, "map and run differ")
        }
    }

    @Test("a -k with another count than the table's key: one line naming the table, exit 2, nothing written")
    func keyCountMismatch() throws {
        let dir = try TempDir("bkm")
        let composite = try buildTable(dir, "c.csv", "a,b,1\n", ["-k", "1,2"])
        let single = try buildTable(dir, "s.csv", "a,1\n", [])
        let input = try dir.write("in/x.csv", "a,b,c\n")
        for (table, k) in [(composite, "1"), (composite, "1,2,3"), (single, "1,2")] {
            let out = dir.file("out-\(k)")
            let run = try runLookup(["run", table, input, "-o", out, "-k", k])
            expectExit(run, 2, "run -k \(k)")
            #expect(run.stderr.split(separator: "\n").count == 1 && run.says((table as NSString).lastPathComponent), "run -k \(k): \(run.stderr)")
            #expect(!fileExists(out + "/x.csv"), "run wrote an output")
            let map = try lookupWithInput(["map", table, "-k", k], Array("a,b,c\n".utf8))
            expectNoCrash(map, "map -k \(k)")
            #expect(map.status != 0 && map.stdout.isEmpty, "map -k \(k): \(map.summary)")
            #expect(map.stderr.split(separator: "\n").count == 1 && map.says((table as NSString).lastPathComponent), "map -k \(k): \(map.stderr)")
        }
    }

    @Test("keys folded and trimmed at build are folded and trimmed in run and map lines, composite parts too")
    func normalizedRun() throws {
        let dir = try TempDir("bkn")
        var rng = SeededRNG(seed: 902)
        var values: [String: String] = [:]   // lowercased, trimmed key parts joined by a tab -> value
        var text = ""
        while values.count < 500 {
            let a = randomWordB(&rng), b = ["North", "south", "EAST"][rng.below(3)]
            let norm = a.lowercased() + "\t" + b.lowercased()
            if values[norm] != nil { continue }
            values[norm] = "v\(values.count)"
            text += "  \(a)\t\(b) \tv\(values.count - 1)\n"
        }
        let lmdb = try buildTable(dir, "t.tsv", text, ["-k", "1,2", "--ignore-case", "--trim"])
        let keys = Array(values.keys)
        var input = ""
        var want: [String] = []
        for i in 0..<2000 {
            let parts = rng.percent(70) ? keys[rng.below(keys.count)].split(separator: "\t").map(String.init) : ["zz\(i)", "north"]
            let a = randomCase(parts[0], &rng), b = randomCase(parts[1], &rng)
            let line = "\(i)\t\u{00A0}\(b) \t \(a)"
            input += line + "\n"
            if let v = values[parts[0] + "\t" + parts[1]] { want.append(line + "\t" + v) }
        }
        let path = try dir.write("in/p.tsv", input)
        let run = try runLookup(["run", lmdb, path, "-o", "-", "-k", "3,2"])
        expectExit(run, 0, "run")
        expectLines(textLines(run.stdout), want, "run on folded, trimmed composite keys")
        let map = try lookupWithInput(["map", lmdb, "-k", "3,2", "--format", "tsv"], Array(input.utf8))
        expectExit(map, 0, "map")
        #expect(map.stdout == run.stdout, "map and run differ")
    }

    @Test("one-to-many: join writes a line per value, filter and anti a line per input line, count reports rows")
    func oneToMany() throws {
        let dir = try TempDir("bko")
        var rng = SeededRNG(seed: 903)
        var values: [String: [String]] = [:]
        var text = ""
        for i in 0..<1200 {
            let key = "k\(rng.below(200))"
            values[key, default: []].append("v\(i)")
            text += "\(key),v\(i)\n"
        }
        let lmdb = try buildTable(dir, "t.csv", text, ["--duplicates", "all"])
        var input = ""
        var join: [String] = [], filter: [String] = [], anti: [String] = []
        var hits = 0, rows = 0
        for i in 0..<2500 {
            let key = "k\(rng.below(260))"
            let line = "\(key),\(i)"
            input += line + "\n"
            if let list = values[key] {
                hits += 1
                rows += list.count
                join += list.map { line + "," + $0 }
                filter.append(line)
            } else {
                anti.append(line)
            }
        }
        let path = try dir.write("in/p.csv", input)
        for (mode, want) in [("join", join), ("filter", filter), ("anti", anti)] {
            let run = try runLookup(["run", lmdb, path, "-o", "-", "--mode", mode, "-j", "2"])
            expectExit(run, 0, "run --mode \(mode)")
            expectLines(textLines(run.stdout), want, "one-to-many run --mode \(mode)")
            let map = try lookupWithInput(["map", lmdb, "--mode", mode], Array(input.utf8))
            #expect(map.stdout == run.stdout, "map --mode \(mode) differs from run")
        }
        let count = try runLookup(["run", lmdb, path, "-o", "-", "--mode", "count"])
        expectExit(count, 0, "run --mode count")
        #expect(count.says("2500 lines", "\(hits) hits", "\(2500 - hits) misses", "\(rows) output rows"), "summary: \(count.stderr)")
        let join1 = try runLookup(["run", lmdb, path, "-o", "-"])
        #expect(join1.says("\(hits) hits", "\(rows) output rows"), "join summary: \(join1.stderr)")
        let map = try lookupWithInput(["map", lmdb, "--mode", "count"], Array(input.utf8))
        #expect(textLines(map.stdout) == ["lines=2500 hits=\(hits) misses=\(2500 - hits) bad_lines=0 rows=\(rows)"], "map count: \(textLines(map.stdout))")
        // --summary-json has the rows too.
        let summaryPath = dir.file("summary.json")
        _ = try runLookup(["run", lmdb, path, "-o", dir.file("out"), "--summary-json", summaryPath])
        let summary = try JSONSerialization.jsonObject(with: Data(try readFile(summaryPath))) as? [String: Any]
        let counts = summary?["counts"] as? [String: Any]
        #expect(counts?["hits"] as? Int == hits && counts?["rows"] as? Int == rows, "summary json: \(String(describing: counts))")
    }
}

/// A word of ASCII letters.
private func randomWordB(_ rng: inout SeededRNG) -> String {
    let letters = Array("abcdefghijklmnopqrstuvwxyz")
    return String((0..<(3 + rng.below(6))).map { _ in letters[rng.below(letters.count)] })
}

/// `word` with each letter's case chosen at random.
private func randomCase(_ word: String, _ rng: inout SeededRNG) -> String {
    String(word.map { rng.percent(50) ? Character($0.uppercased()) : $0 })
}
