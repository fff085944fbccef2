// End-to-end tests of one-to-many tables (`build --duplicates all`): every value of a repeated
// key kept in input order (across files too), get printing each value, stats, check and dump,
// against a Swift dictionary of lists built from the same rows.
import Foundation
import LookupTestSupport
import Testing

/// Rows `KEY,VALUE` over few keys (so most repeat), in random order, and the reference: each
/// key's values in input order.
struct ManyRows {
    var files: [[UInt8]]
    var order: [String]
    var values: [String: [String]]
    var total: Int
}

func generateManyRows(keys: Int, rows: Int, files: Int, rng: inout SeededRNG) -> ManyRows {
    let names = (0..<keys).map { "k\($0)-" + randomWord(&rng, 2...6) }
    var out = ManyRows(files: Array(repeating: [], count: files), order: [], values: [:], total: rows)
    for i in 0..<rows {
        let key = names[rng.below(names.count)]
        let value = "v\(i)," + (rng.percent(20) ? "\"q,\(i)\"" : randomWord(&rng, 0...5))
        if out.values[key] == nil { out.order.append(key) }
        out.values[key, default: []].append(value)
        out.files[i * files / rows] += Array("\(key),\(value)\n".utf8)
    }
    return out
}

@Suite("one-to-many tables: build --duplicates all")
struct CLIOneToManyTests {
    @Test("get prints every value of a key in input order (arguments, stdin, -K), across input files")
    func getEveryValue() throws {
        let dir = try TempDir("om")
        var rng = SeededRNG(seed: 701)
        let data = generateManyRows(keys: 150, rows: 2500, files: 3, rng: &rng)
        let inputs = try data.files.enumerated().map { try dir.write("part\($0.offset).csv", $0.element) }
        let table = dir.file("many.lmdb")
        let build = try lookup(["build"] + inputs + ["--duplicates", "all", "-o", table])
        expectSuccess(build, "build --duplicates all")
        #expect(build.err.contains("\(data.values.count) records") && build.err.contains("\(data.total) values"), "report: \(build.err)")

        var asked = data.order.shuffled(using: &rng)
        asked.insert("nope", at: asked.count / 2)
        let got = try lookup(["get", table, "-K", "--missing", "NA"], stdin: Array((asked.joined(separator: "\n") + "\n").utf8))
        #expect(got.status == 1, "get with one missing key: \(got.summary)")
        let want = asked.flatMap { key in (data.values[key] ?? ["NA"]).map { key + "\t" + $0 } }
        expectSameLines(got.outLines, want, "get -K on stdin (seed 701)")

        let few = Array(asked.prefix(5).filter { $0 != "nope" })
        let args = try lookup(["get", table] + few)
        expectSuccess(args, "get with arguments")
        expectSameLines(args.outLines, few.flatMap { data.values[$0]! }, "get with arguments")
    }

    @Test("stats shows the values, check verifies the lists, dump writes a line per value")
    func statsCheckDump() throws {
        let dir = try TempDir("oms")
        var rng = SeededRNG(seed: 702)
        let data = generateManyRows(keys: 60, rows: 900, files: 1, rng: &rng)
        let input = try dir.write("rows.csv", data.files[0])
        let table = dir.file("many.lmdb")
        expectSuccess(try lookup(["build", input, "--duplicates", "all", "-o", table]), "build")

        let stats = try lookup(["stats", table])
        expectSuccess(stats, "stats")
        #expect(stats.outLines.contains { $0.hasPrefix("values:") && $0.contains(" \(data.total) ") }, "stats: \(stats.out)")
        #expect(stats.outLines.contains { $0.hasPrefix("entries:") && $0.hasSuffix(" \(data.values.count)") }, "stats: \(stats.out)")
        expectSuccess(try lookup(["check", table]), "check")

        for format in ["csv", "tsv"] {
            let dump = try lookup(["dump", table, "--format", format])
            expectSuccess(dump, "dump --format \(format)")
            let sep = format == "csv" ? "," : "\t"
            let want = data.values.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
                .flatMap { key in data.values[key]!.map { key + sep + $0 } }
            expectSameLines(dump.outLines, want, "dump --format \(format)")
        }
        // The csv dump rebuilds the same table.
        let dump = try lookup(["dump", table, "--format", "csv"])
        let again = try dir.write("again.csv", dump.stdout)
        let rebuilt = dir.file("again.lmdb")
        expectSuccess(try lookup(["build", again, "--duplicates", "all", "-o", rebuilt]), "rebuild")
        #expect(try lookupDump(table) == lookupDump(rebuilt), "the rebuilt table differs")
    }

    @Test("values keep input order when the build sorts in runs spilled to disk")
    func orderAcrossSpilledRuns() throws {
        let dir = try TempDir("omr")
        var rng = SeededRNG(seed: 703)
        // Big values so that 16M of sort memory spills several runs.
        var text: [UInt8] = []
        var values: [String: [String]] = [:]
        let filler = String(repeating: "x", count: 2000)
        for i in 0..<20_000 {
            let key = "key\(rng.below(400))"
            let value = "\(i)-\(filler)"
            values[key, default: []].append(value)
            text += Array("\(key),\(value)\n".utf8)
        }
        let input = try dir.write("big.csv", text)
        let table = dir.file("big.lmdb")
        let build = try lookup(["build", input, "--duplicates", "all", "--memory", "16M", "-o", table])
        expectSuccess(build, "build")
        #expect(build.err.contains("runs on disk"), "expected a spilled sort: \(build.err)")
        let keys = values.keys.sorted()
        let got = try lookup(["get", table, "-K"], stdin: Array((keys.joined(separator: "\n") + "\n").utf8))
        expectSuccess(got, "get")
        expectSameLines(got.outLines, keys.flatMap { k in values[k]!.map { k + "\t" + $0 } }, "values in input order", render: { String($0.prefix(40)) })
        expectSuccess(try lookup(["check", table]), "check")
    }

    @Test("with --ignore-case and --trim, the values of keys that fold together are one list")
    func normalizedMany() throws {
        let dir = try TempDir("omn")
        let input = try dir.write("n.csv", "Ab,1\n ab ,2\nx,3\nAB,4\n")
        let table = dir.file("n.lmdb")
        expectSuccess(try lookup(["build", input, "--duplicates", "all", "--ignore-case", "--trim", "-o", table]), "build")
        #expect(try lookup(["get", table, "aB"]).outLines == ["1", "2", "4"])
        #expect(try lookup(["get", table, "X"]).outLines == ["3"])
    }
}
