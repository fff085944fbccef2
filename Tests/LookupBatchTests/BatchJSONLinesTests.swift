// JSON Lines inputs for run and map: the key from --key-field (dotted, integer, composite), the
// value added under --value-field (a string from a CSV table, the object from a JSON Lines
// table, an object of the chosen columns), left joins (null / --missing), and bad lines
// (invalid JSON, a missing key field, a float key) reported as file:line, counted, skipped.
import Foundation
import LookupTestSupport
import Testing

/// `object` as canonical JSON text (keys sorted), for comparing JSON values.
func canonicalJSON(_ object: Any) -> String? {
    (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])).map { String(decoding: $0, as: UTF8.self) }
}

/// Each line parsed as JSON and written canonically (nil for a line that is not JSON).
func canonicalLines(_ bytes: [UInt8]) -> [String?] {
    splitLines(bytes).map { line in (try? JSONSerialization.jsonObject(with: Data(line), options: [.fragmentsAllowed])).flatMap(canonicalJSON) }
}

/// Expects the output lines to be exactly the objects of `want` (as JSON values).
func expectObjects(_ got: [UInt8], _ want: [[String: Any]], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let lines = canonicalLines(got)
    #expect(lines.count == want.count, "\(what): \(lines.count) lines, expected \(want.count)", sourceLocation: sourceLocation)
    for (i, (g, w)) in zip(lines, want).enumerated() where g == nil || g != canonicalJSON(w) {
        Issue.record("\(what): line \(i + 1): got \(String(decoding: splitLines(got)[i], as: UTF8.self)), expected \(canonicalJSON(w) ?? "?")", sourceLocation: sourceLocation)
        return
    }
}

/// `object` as one line of JSON text.
func jsonLine(_ object: [String: Any]) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
}

@Suite("run and map on JSON Lines input")
struct BatchJSONLinesTests {
    @Test("a CSV table: the value added as a string, or an object of the chosen named columns; run and map agree",
          arguments: [nil, "city,name"] as [String?])
    func csvTable(columns: String?) throws {
        let dir = try TempDir("bjc")
        var rng = SeededRNG(seed: 1101)
        var rows: [String: [String]] = [:]
        var text = "id,name,city\n"
        for i in 0..<300 {
            let row = ["\(i * 2)", randomWordL(&rng), rng.percent(20) ? "\"x, \"\"y\"\"\"" : randomWordL(&rng)]
            rows[row[0]] = row
            text += row.joined(separator: ",") + "\n"
        }
        let lmdb = try buildTable(dir, "t.csv", text, ["--header"])
        var input = "", want: [[String: Any]] = []
        for i in 0..<1500 {
            let n = rng.below(700)
            // Keys as integers and as strings, nested under user.
            let id: Any = rng.percent(50) ? n : String(n)
            let object: [String: Any] = ["seq": i, "user": ["id": id, "tag": "é\"\\"], "note": ["a", 1, NSNull()]]
            input += jsonLine(object) + "\n"
            guard let row = rows[String(n)] else { continue }
            var out = object
            if columns == nil {
                out["v"] = row[1] + "," + row[2]
            } else {
                out["v"] = ["city": unquote(row[2]), "name": row[1]]
            }
            want.append(out)
        }
        let path = try dir.write("in/events.jsonl", input)
        var options = ["--key-field", "user.id", "--value-field", "v"]
        if let columns { options += ["--columns", columns] }
        let run = try runLookup(["run", lmdb, path, "-o", "-"] + options)
        expectExit(run, 0, "run \(options)")
        expectObjects(run.stdout, want, "run on JSON Lines, \(options)")
        // The input object is kept as written, the value appended at its end.
        if let first = splitLines(run.stdout).first, let line = input.split(separator: "\n").first(where: { l in first.starts(with: Array(l.utf8.dropLast())) }) {
            #expect(first.count > line.utf8.count)
        } else {
            Issue.record("the first output line does not start with an input line without its closing brace")
        }
        let map = try lookupWithInput(["map", lmdb, "--format", "jsonl"] + options, Array(input.utf8))
        expectExit(map, 0, "map --format jsonl")
        #expect(map.stdout == run.stdout, "map and run differ")
    }

    @Test("a JSON Lines table: its object added (or the chosen members); composite key fields; .ndjson read as JSON Lines")
    func jsonlTable() throws {
        let dir = try TempDir("bjj")
        var rng = SeededRNG(seed: 1102)
        var objects: [String: [String: Any]] = [:]
        var text = ""
        for i in 0..<250 {
            let key = "sku\(i)"
            let object: [String: Any] = ["key": key, "price": i * 10, "tags": ["t\(i % 3)"], "meta": ["ok": i % 2 == 0]]
            objects[key] = object
            text += jsonLine(object) + "\n"
        }
        let lmdb = try buildTable(dir, "t.jsonl", text, [])
        var input = "", whole: [[String: Any]] = [], picked: [[String: Any]] = []
        for i in 0..<800 {
            let key = "sku\(rng.below(320))"
            let line: [String: Any] = ["order": ["sku": key], "n": i]
            input += jsonLine(line) + "\n"
            guard var value = objects[key] else { continue }
            value["key"] = nil
            whole.append(line.merging(["value": value]) { $1 })
            picked.append(line.merging(["value": ["price": value["price"]!, "meta": value["meta"]!]]) { $1 })
        }
        let path = try dir.write("in/o.ndjson", input)
        let run = try runLookup(["run", lmdb, path, "-o", "-", "--key-field", "order.sku"])
        expectExit(run, 0, "run")
        expectObjects(run.stdout, whole, "run, the table's objects")
        let cols = try runLookup(["run", lmdb, path, "-o", "-", "--key-field", "order.sku", "--columns", "price,meta"])
        expectExit(cols, 0, "run --columns price,meta")
        expectObjects(cols.stdout, picked, "run --columns price,meta")
        // --columns with a position on a JSON Lines table is refused.
        let bad = try runLookup(["run", lmdb, path, "-o", dir.file("x"), "--key-field", "order.sku", "--columns", "2"])
        expectExit(bad, 2, "run --columns 2 on a JSON Lines table")
        #expect(bad.stderr.split(separator: "\n").count == 1, "\(bad.stderr)")

        // Composite: a table keyed by columns 1,2; key fields a and b.c.
        let comp = try buildTable(dir, "c.csv", "x,1,one\ny,2,two\n", ["-k", "1,2"])
        let lines = "{\"a\":\"x\",\"b\":{\"c\":1}}\n{\"a\":\"y\",\"b\":{\"c\":\"2\"}}\n{\"a\":\"y\",\"b\":{\"c\":1}}\n"
        let m = try lookupWithInput(["map", comp, "--format", "jsonl", "--key-field", "a,b.c"], Array(lines.utf8))
        expectExit(m, 0, "map composite key fields")
        expectObjects(m.stdout, [["a": "x", "b": ["c": 1], "value": "one"], ["a": "y", "b": ["c": "2"], "value": "two"]], "composite key fields")
        // A key-field count other than the table's key: refused.
        let wrong = try lookupWithInput(["map", comp, "--format", "jsonl", "--key-field", "a"], Array(lines.utf8))
        #expect(wrong.status != 0 && wrong.stdout.isEmpty && wrong.stderr.split(separator: "\n").count == 1, "one key field for a two-part table: \(wrong.summary)")
    }

    @Test("run on .jsonl files (format from the name) with a composite table: --key-field a,b is checked, not -k")
    func compositeByExtension() throws {
        let dir = try TempDir("bje")
        let comp = try buildTable(dir, "c.csv", "x,1,one\ny,2,two\n", ["-k", "1,2"])
        let path = try dir.write("in/e.jsonl", "{\"a\":\"x\",\"b\":1}\n{\"a\":\"y\",\"b\":1}\n")
        let run = try runLookup(["run", comp, path, "-o", "-", "--key-field", "a,b"])
        expectExit(run, 0, "run on a .jsonl file with two key fields")
        expectObjects(run.stdout, [["a": "x", "b": 1, "value": "one"]], "composite key fields, format from the name")
        // One key field for a two-part key: refused before any output, naming the table.
        let one = try runLookup(["run", comp, path, "-o", dir.file("out"), "--key-field", "a"])
        expectExit(one, 2, "run with one key field")
        #expect(one.stderr.split(separator: "\n").count == 1 && one.says("c.csv.lmdb", "--key-field"), "\(one.stderr)")
        #expect(!fileExists(dir.file("out/e.jsonl")))
        // A CSV input beside it still needs -k with two columns.
        let csv = try dir.write("in/f.csv", "x,1\n")
        let mixed = try runLookup(["run", comp, path, csv, "-o", dir.file("out2"), "--key-field", "a,b"])
        expectExit(mixed, 2, "a CSV input with -k 1 for a two-part key")
        #expect(mixed.says("--key-column"), "\(mixed.stderr)")
        let both = try runLookup(["run", comp, path, csv, "-o", "-", "--key-field", "a,b", "-k", "1,2", "-q"])
        expectExit(both, 0, "-k 1,2 and --key-field a,b")
        #expect(textLines(both.stdout).count == 2, "\(textLines(both.stdout))")
    }

    @Test("left join on JSON Lines: null, or the --missing text as a string")
    func leftJSON() throws {
        let dir = try TempDir("bjl")
        let lmdb = try buildTable(dir, "t.csv", "a,1\nb,2\n", [])
        let input = "{\"key\":\"a\"}\n{\"key\":\"zz\",\"x\":[1]}\n{ \"key\" : \"b\" }\n"
        let null = try lookupWithInput(["map", lmdb, "--format", "jsonl", "--mode", "left"], Array(input.utf8))
        expectExit(null, 0, "left")
        expectObjects(null.stdout, [["key": "a", "value": "1"], ["key": "zz", "x": [1], "value": NSNull()], ["key": "b", "value": "2"]], "left, null")
        let text = try lookupWithInput(["map", lmdb, "--format", "jsonl", "--mode", "left", "--missing", "n/a"], Array(input.utf8))
        expectObjects(text.stdout, [["key": "a", "value": "1"], ["key": "zz", "x": [1], "value": "n/a"], ["key": "b", "value": "2"]], "left, --missing")
        // filter and anti write the lines as they are.
        let anti = try lookupWithInput(["map", lmdb, "--format", "jsonl", "--mode", "anti"], Array(input.utf8))
        #expect(textLines(anti.stdout) == ["{\"key\":\"zz\",\"x\":[1]}"])
    }

    @Test("bad lines: invalid JSON, no key field, a float, object or null key, not an object: file:line, counted, skipped")
    func badLines() throws {
        let dir = try TempDir("bjb")
        let lmdb = try buildTable(dir, "t.csv", "1,one\n2,two\nx,ex\n", [])
        let lines = [
            "{\"id\":1}",             // 1 ok
            "{\"id\":1.5}",           // 2 float
            "{\"id\":",               // 3 invalid
            "{\"other\":2}",          // 4 no key
            "{\"id\":2}",             // 5 ok
            "[1,2]",                  // 6 not an object
            "{\"id\":null}",          // 7 null
            "{\"id\":{\"a\":1}}",     // 8 object
            "{\"id\":\"x\"} trailing", // 9 garbage after
            "{\"id\":true}",          // 10 bool
            "{\"id\":1e3}",           // 11 exponent
            "{\"id\":\"x\"}",         // 12 ok
        ]
        let path = try dir.write("in/bad.jsonl", lines.joined(separator: "\n") + "\n")
        let run = try runLookup(["run", lmdb, path, "-o", "-", "--key-field", "id"])
        expectNoCrash(run, "run on bad JSON lines")
        #expect(run.status == 0, "bad lines are skipped, not fatal: \(run.summary)")
        expectObjects(run.stdout, [["id": 1, "value": "one"], ["id": 2, "value": "two"], ["id": "x", "value": "ex"]], "good lines joined")
        let reported = Set(reportedLines(run.stderr, path: path))
        #expect(reported == [2, 3, 4, 6, 7, 8, 9, 10, 11], "reported lines: \(reported.sorted()); stderr: \(run.stderr)")
        #expect(run.says("12 lines", "9 bad lines"), "summary: \(run.stderr)")

        let map = try lookupWithInput(["map", lmdb, "--format", "jsonl", "--key-field", "id"], Array((lines.joined(separator: "\n") + "\n").utf8))
        expectNoCrash(map, "map")
        #expect(map.stdout == run.stdout, "map and run differ on bad lines")
        #expect(map.stderr.split(separator: "\n").filter { $0.contains(":3:") }.count == 1, "map reports line 3: \(map.stderr)")
    }

    @Test("--key-field that is not a dotted path is refused (exit 64)", arguments: ["", "a..b", ".a", "a,", "a,,b"])
    func badKeyField(field: String) throws {
        let dir = try TempDir("bjk")
        let lmdb = try buildTable(dir, "t.csv", "1,one\n", [])
        let map = try lookupWithInput(["map", lmdb, "--format", "jsonl", "--key-field", field], Array("{\"a\":1}\n".utf8))
        expectExit(map, 64, "--key-field \"\(field)\"")
        #expect(map.stdout.isEmpty)
    }
}

/// A CSV field with its quotes taken off.
private func unquote(_ raw: String) -> String {
    guard raw.count >= 2, raw.hasPrefix("\""), raw.hasSuffix("\"") else { return raw }
    return String(raw.dropFirst().dropLast()).replacingOccurrences(of: "\"\"", with: "\"")
}
