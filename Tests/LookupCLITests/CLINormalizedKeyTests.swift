// End-to-end tests of `build --ignore-case` and `--trim`: recorded in the table (stats), and
// applied to every key `get` is given (arguments and stdin), checked against Python's
// str.casefold() and str.strip() as the reference; a key empty after trimming is a bad record.
import Foundation
import LookupTestSupport
import Testing

/// Each of `keys` case folded and/or stripped by Python (the independent reference).
func pythonNormalized(_ keys: [String], fold: Bool, trim: Bool) throws -> [String] {
    let script = """
    import json, sys
    keys = json.load(sys.stdin)
    out = []
    for k in keys:
        if \(trim ? "True" : "False"): k = k.strip()
        if \(fold ? "True" : "False"): k = k.casefold()
        out.append(k)
    json.dump(out, sys.stdout)
    """
    let input = try JSONSerialization.data(withJSONObject: keys)
    let result = try python(script, stdin: [UInt8](input))
    guard result.status == 0, let list = try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String] else {
        throw TestFailure("python normalization failed: \(result.summary)")
    }
    return list
}

/// Letters whose case changes are not one-to-one in places (ß/SS, final sigma, accents).
private let letterPool: [String] = Array("abcdefghijklmnopqrstuvwxyz").map(String.init) + ["ß", "é", "ö", "σ", "ж", "ł", "ø"]
/// Whitespace put around keys: ASCII and Unicode (no-break space, em space, ideographic space).
let whitespacePool = [" ", "\t", "\u{00A0}", "\u{2003}", "\u{3000}"]

/// A word from `letterPool`.
private func letterWord(_ rng: inout SeededRNG, _ lengths: ClosedRange<Int>) -> String {
    (0..<Int.random(in: lengths, using: &rng)).map { _ in letterPool[rng.below(letterPool.count)] }.joined()
}

/// `word` with each character's case changed at random, and whitespace around it when `pad`.
func scrambled(_ word: String, pad: Bool, rng: inout SeededRNG) -> String {
    var out = ""
    for c in word { out += rng.percent(50) ? String(c).uppercased() : String(c) }
    guard pad else { return out }
    let before = (0..<rng.below(3)).map { _ in whitespacePool[rng.below(whitespacePool.count)] }.joined()
    let after = (0..<rng.below(3)).map { _ in whitespacePool[rng.below(whitespacePool.count)] }.joined()
    return before + out + after
}

@Suite("normalized keys: build --ignore-case, --trim")
struct CLINormalizedKeyTests {
    @Test("get finds every key in any case and with any surrounding whitespace, as Python's casefold and strip say")
    func getMatchesPythonReference() throws {
        let dir = try TempDir("nk")
        var rng = SeededRNG(seed: 601)
        // Distinct after folding (checked with the reference itself).
        var words: [String] = []
        var seen = Set<String>()
        while words.count < 800 {
            let w = letterWord(&rng, 3...9)
            words.append(w)
        }
        let folded = try pythonNormalized(words, fold: true, trim: true)
        var keys: [String] = [], values: [String: String] = [:]   // folded key -> value
        for (w, f) in zip(words, folded) where !seen.contains(f) {
            seen.insert(f)
            keys.append(w)
            values[f] = "v\(keys.count)"
        }
        // Written in a scrambled case with whitespace (tabs too) around, unquoted.
        var text = ""
        for (i, k) in keys.enumerated() { text += scrambled(k, pad: true, rng: &rng) + ",v\(i + 1)\n" }
        let input = try dir.write("keys.csv", text)
        let table = dir.file("keys.lmdb")
        let build = try lookup(["build", input, "--ignore-case", "--trim", "-o", table])
        expectSuccess(build, "build --ignore-case --trim")
        let stats = try lookup(["stats", table])
        #expect(stats.outLines.contains { $0.hasPrefix("keys:") && $0.contains("case folded") && $0.contains("trimmed") }, "stats: \(stats.out)")

        // Queries: every key scrambled again, and some keys no build key folds to.
        var queries = keys.map { scrambled($0, pad: true, rng: &rng) }
        queries += (0..<100).map { _ in scrambled(letterWord(&rng, 10...12), pad: rng.percent(50), rng: &rng) }
        queries.shuffle(using: &rng)
        let reference = try pythonNormalized(queries, fold: true, trim: true)
        let want = reference.map { values[$0] ?? "-" }
        // Tabs around a key would be cut by nothing else: stdin keys end at the line end only.
        let got = try lookup(["get", table, "--missing", "-"], stdin: Array((queries.joined(separator: "\n") + "\n").utf8))
        #expect(!got.signaled && got.status <= 1, "get: \(got.summary)")
        expectSameLines(got.outLines, want, "get on stdin (seed 601)")

        // Arguments: -K prints the key as given, not as folded.
        let few = Array(queries.prefix(20))
        let args = try lookup(["get", table, "-K", "--missing", "-"] + few)
        expectSameLines(args.outLines, zip(few, want.prefix(20)).map { $0 + "\t" + $1 }, "get -K with arguments")
    }

    @Test("Straße matches STRASSE and strasse; a no-break space around a key is trimmed")
    func namedCases() throws {
        let dir = try TempDir("nkn")
        let input = try dir.write("s.csv", "Straße,street\n\u{00A0}Köln\u{3000},city\nΟΔΟΣ,road\n")
        let table = dir.file("s.lmdb")
        expectSuccess(try lookup(["build", input, "--ignore-case", "--trim", "-o", table]), "build")
        for (key, value) in [("STRASSE", "street"), ("strasse", "street"), ("Straße", "street"), ("  STRASSE\u{00A0}", "street"),
                             ("köln", "city"), ("KÖLN", "city"), ("\u{2003}Köln", "city"), ("οδος", "road"), ("οδοσ", "road")] {
            let r = try lookup(["get", table, key])
            #expect(r.status == 0 && r.outLines == [value], "get \(key): \(r.summary) \(r.out)")
        }
        // Without the flags, none of this: the keys are as written.
        let plain = dir.file("p.lmdb")
        expectSuccess(try lookup(["build", input, "-o", plain]), "build without flags")
        let r = try lookup(["get", plain, "STRASSE"])
        #expect(r.status == 1, "a table built without --ignore-case folds nothing: \(r.summary)")
        let stats = try lookup(["stats", plain])
        #expect(!stats.out.contains("case folded") && !stats.out.contains("trimmed"), "stats: \(stats.out)")
    }

    @Test("--ignore-case alone keeps whitespace; --trim alone keeps case")
    func eachFlagAlone() throws {
        let dir = try TempDir("nka")
        let input = try dir.write("s.tsv", " Key\tv\n")
        let folded = dir.file("f.lmdb"), trimmed = dir.file("t.lmdb")
        expectSuccess(try lookup(["build", input, "--ignore-case", "-o", folded]), "build --ignore-case")
        expectSuccess(try lookup(["build", input, "--trim", "-o", trimmed]), "build --trim")
        #expect(try lookup(["get", folded, " KEY"]).outLines == ["v"])
        #expect(try lookup(["get", folded, "KEY"]).status == 1)
        #expect(try lookup(["get", trimmed, "Key"]).outLines == ["v"])
        #expect(try lookup(["get", trimmed, "key"]).status == 1)
    }

    @Test("composite keys are trimmed part by part and folded")
    func compositeTrim() throws {
        let dir = try TempDir("nkc")
        let input = try dir.write("c.csv", " A ,x, Eu \nb,y,US\n")
        let table = dir.file("c.lmdb")
        expectSuccess(try lookup(["build", input, "-k", "1,3", "--trim", "--ignore-case", "-o", table]), "build")
        #expect(try lookup(["get", table, "a\teu"]).outLines == ["x"])
        #expect(try lookup(["get", table, "  a  \t\u{00A0}EU"]).outLines == ["x"])
        #expect(try lookup(["get", table, "B\tus"], stdin: nil).outLines == ["y"])
        let stdin = try lookup(["get", table, "-K"], stdin: Array(" a\tEU \nB \t us\nb\tus\t\n".utf8))
        #expect(stdin.outLines.prefix(2) == [" a\tEU \tx", "B \t us\ty"], "stdin: \(stdin.out) \(stdin.err)")
    }

    @Test("a key empty after --trim is a bad record naming file and line; --skip-bad-lines counts it", arguments: [" ", "\u{00A0}\u{3000}", "\t"])
    func emptyAfterTrim(blank: String) throws {
        let dir = try TempDir("nke")
        let input = try dir.write("e.csv", "a,1\n\(blank),2\nc,3\n")
        let table = dir.file("e.lmdb")
        let r = try lookup(["build", input, "--trim", "-o", table])
        expectCleanError(r, mentions: ["e.csv:2"], "a key of whitespace only, trimmed")
        #expect(!FileManager.default.fileExists(atPath: table), "no table written")
        let skip = try lookup(["build", input, "--trim", "--skip-bad-lines", "-o", table])
        expectSuccess(skip, "--skip-bad-lines")
        #expect(skip.err.contains("2 records") && skip.err.contains("1 bad record"), "report: \(skip.err)")
        #expect(try lookup(["get", table, "a", "c"]).outLines == ["1", "3"])
    }

    @Test("keys that fold to the same key are duplicates at build")
    func foldedDuplicates() throws {
        let dir = try TempDir("nkd")
        let input = try dir.write("d.csv", "Straße,1\nother,2\nSTRASSE,3\n")
        let r = try lookup(["build", input, "--ignore-case", "-o", dir.file("d.lmdb")])
        expectCleanError(r, mentions: ["d.csv:1", "d.csv:3"], "two keys folding to one")
        let last = dir.file("l.lmdb")
        expectSuccess(try lookup(["build", input, "--ignore-case", "--duplicates", "last", "-o", last]), "--duplicates last")
        #expect(try lookup(["get", last, "strasse"]).outLines == ["3"])
    }
}
