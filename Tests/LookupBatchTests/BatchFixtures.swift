// Generated data for the batch tests, made once per test process: a shared table and the mixed-shape input set.
import Foundation
import LookupTestSupport
import Testing

// MARK: - Random data

private let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
private let alnum = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.".utf8)

/// A word that starts with a letter, then letters, digits, '-', '_', '.'.
func randomKey(_ rng: inout SeededRNG, _ lengths: ClosedRange<Int>) -> [UInt8] {
    let n = lengths.lowerBound + rng.below(lengths.count)
    var out: [UInt8] = [letters[rng.below(letters.count)]]
    while out.count < n { out.append(alnum[rng.below(alnum.count)]) }
    return out
}

// MARK: - The shared table

/// A table built from generated CSV with `lookup build`, and its dictionary (the reference's).
final class TableFixture: Sendable {
    let csv: String
    let lmdb: String
    let map: [[UInt8]: [UInt8]]
    /// The keys, in file order.
    let keys: [[UInt8]]

    init(name: String, count: Int, seed: UInt64) throws {
        let dir = scratchRoot + "/" + name
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        csv = dir + "/table.csv"
        lmdb = dir + "/table.lmdb"
        var rng = SeededRNG(seed: seed)
        var seen = Set<[UInt8]>()
        var keys: [[UInt8]] = []
        let text = ByteSink(capacity: count * 40)
        while keys.count < count {
            let key = randomKey(&rng, 5...14)
            if !seen.insert(key).inserted { continue }
            keys.append(key)
            text.append(key)
            text.append(44)
            switch rng.below(100) {
            case 0: break  // empty value
            case 1..<40: text.append("v\(rng.below(1_000_000))")
            default: text.append("v\(rng.below(1_000_000)),\(String(decoding: randomKey(&rng, 2...9), as: UTF8.self)) x\(rng.below(100))")
            }
            text.append(10)
        }
        try writeFile(csv, text.bytes)
        // The reference reads the table the naive way: from its CSV text.
        map = loadTableCSV(try readFile(csv))
        self.keys = keys
        let started = Date()
        let r = try runLookup(["build", csv, "-o", lmdb])
        print(String(format: "table fixture %@: %d keys, built in %.1f s", name, count, Date().timeIntervalSince(started)))
        guard !r.signaled && r.status == 0 else { throw TestFailure("lookup build \(csv): \(r.summary)") }
    }
}

/// The table most tests use: 20,000 keys.
let sharedTable: Result<TableFixture, any Error> = Result { try TableFixture(name: "table", count: 20_000, seed: 0x5EED_0001) }

// MARK: - Lines

/// Text fragments for the fields after the key: quotes, commas, tabs, spaces, non-ASCII.
private let fragments: [[UInt8]] = {
    var rng = SeededRNG(seed: 77)
    var out: [[UInt8]] = []
    for i in 0..<500 {
        let w = String(decoding: randomKey(&rng, 1...10), as: UTF8.self)
        switch i % 8 {
        case 0: out.append(Array("\"\(w), quoted\"".utf8))
        case 1: out.append(Array("say \"\"\(w)\"\"".utf8))
        case 2: out.append(Array("\(w)\tand tab".utf8))
        case 3: out.append(Array("caf\u{e9} \(w) \u{65e5}\u{672c}".utf8))
        case 4: out.append(Array("".utf8))
        case 5: out.append(Array("\(w) \(w) \(w)".utf8))
        case 6: out.append(Array("\"\"".utf8))
        default: out.append(Array(w.utf8))
        }
    }
    return out
}()

/// Writes lines of generated input: keys from the table (hits), near misses (a key with a
/// letter added or its last byte dropped), random words, keys with a trailing space.
struct LineMaker {
    let keys: [[UInt8]]
    private var misses: [[UInt8]] = []

    init(keys: [[UInt8]], seed: UInt64) {
        self.keys = keys
        var rng = SeededRNG(seed: seed)
        for _ in 0..<5000 { misses.append(randomKey(&rng, 3...16)) }
    }

    /// One line's key.
    func key(_ rng: inout SeededRNG) -> [UInt8] {
        let r = rng.below(100)
        switch r {
        case 0..<55: return keys[rng.below(keys.count)]
        case 55..<60: return keys[rng.below(keys.count)] + [UInt8(ascii: "x")]
        case 60..<64: return Array(keys[rng.below(keys.count)].dropLast())
        case 64..<66: return keys[rng.below(keys.count)] + [32]
        default: return misses[rng.below(misses.count)]
        }
    }

    /// Appends one line (its content, no line end). With `alwaysFields` the line always has at
    /// least two columns; otherwise some lines are the key alone, or the key and an empty field.
    func line(_ rng: inout SeededRNG, delimiter: UInt8, alwaysFields: Bool, into sink: ByteSink) {
        sink.append(key(&rng))
        let shape = alwaysFields ? 99 : rng.below(100)
        if shape < 8 { return }
        sink.append(delimiter)
        if shape < 14 { return }
        sink.append(String(rng.below(10_000_000)))
        sink.append(delimiter)
        sink.append(fragments[rng.below(fragments.count)])
    }
}

// MARK: - The mixed input set

/// One input file of a run, in the order the run plans them, with its reference outputs.
struct InputSpec: Sendable {
    /// Its path (as the run finds it).
    var path: String
    /// Its output's path relative to OUT.
    var rel: String
    var gz: Bool
    var ref: Reference
}

/// Many small files in nested directories (empty, .gz, CRLF, no final newline, TSV, empty
/// lines, hidden files that must be skipped), one ~70 MiB file that the planner splits, and a
/// small file after it: `lookup run TABLE in/ big.csv extra.csv`.
final class MixedFixture: Sendable {
    let root: String
    let inDir: String
    let big: String
    let extra: String
    let table: TableFixture
    /// Every input, in planned order: the walk of in/ (names sorted), then big.csv, extra.csv.
    let files: [InputSpec]
    /// Lines of big.csv without a delimiter (1-based).
    let bigNoDelimiterLines: [Int]
    /// Size of big.csv.
    let bigSize: Int

    var arguments: [String] { [inDir, big, extra] }
    /// The files under in/ only (a run over in/ alone).
    var dirFiles: [InputSpec] { files.filter { $0.path.hasPrefix(inDir + "/") } }
    func totals(_ files: [InputSpec]) -> RefCounts { files.reduce(into: RefCounts()) { $0.add($1.ref.counts) } }

    init(table: TableFixture) throws {
        let started = Date()
        self.table = table
        root = scratchRoot + "/mixed"
        inDir = root + "/in"
        big = root + "/big.csv"
        extra = root + "/extra.csv"
        try FileManager.default.createDirectory(atPath: inDir + "/empty-dir", withIntermediateDirectories: true)
        let maker = LineMaker(keys: table.keys, seed: 0x5EED_0002)
        var rng = SeededRNG(seed: 0x5EED_0003)
        var specs: [String: InputSpec] = [:]

        func add(_ path: String, rel: String, content: [UInt8], delimiter: UInt8) throws {
            let gz = path.hasSuffix(".gz")
            if gz { try writeGzip(path, content) } else { try writeFile(path, content) }
            specs[path] = InputSpec(path: path, rel: rel, gz: gz,
                                    ref: referenceRun(content, table: table.map, delimiter: delimiter))
        }

        // 60 small files of many shapes.
        let dirs = ["", "a", "b/c", "b/d/e", "m"]
        for i in 0..<60 {
            let dir = dirs[i % 5]
            let tsv = i == 8 || i == 26
            let gz = i % 10 == 5 || i == 50
            let empty = [3, 18, 33, 48, 50].contains(i)
            let crlf = i % 7 == 1
            let mixedCRLF = i % 7 == 4
            let noFinalNewline = i % 6 == 2 || i == 11
            let emptyLines = i % 9 == 0
            let name = String(format: "f%02d", i) + (tsv ? ".tsv" : ".csv")
            let delimiter: UInt8 = tsv ? 9 : 44
            let sink = ByteSink()
            if !empty {
                let count = i == 7 || i == 11 ? 1 : 1 + rng.below(2500)
                for _ in 0..<count {
                    if emptyLines && rng.percent(5) {
                        if rng.percent(50) { sink.append(13) }
                    } else {
                        maker.line(&rng, delimiter: delimiter, alwaysFields: false, into: sink)
                    }
                    if crlf || (mixedCRLF && rng.percent(50)) { sink.append(13) }
                    sink.append(10)
                }
                if noFinalNewline { sink.dropLast(1) }  // a CRLF file then ends in "\r"

            }
            let rel = dir.isEmpty ? name : dir + "/" + name
            try add(inDir + "/" + rel + (gz ? ".gz" : ""), rel: rel, content: sink.bytes, delimiter: delimiter)
        }
        // Hidden entries are skipped by the run.
        try writeFile(inDir + "/a/.hidden.csv", "\(String(decoding: table.keys[0], as: UTF8.self)),hidden\n")
        try writeFile(inDir + "/.git/x.csv", "\(String(decoding: table.keys[1], as: UTF8.self)),hidden\n")

        // One big file, split into byte ranges: mixed CRLF, no final newline, and six lines
        // without a delimiter spread over its ranges.
        let target = 70 << 20
        let sink = ByteSink(capacity: target + (1 << 20))
        var marks = [0.1, 0.3, 0.4, 0.6, 0.75, 0.95].map { Int(Double(target) * $0) }
        var noDelimiter: [Int] = []
        var line = 0
        while sink.count < target {
            line += 1
            if let m = marks.first, sink.count >= m {
                marks.removeFirst()
                noDelimiter.append(line)
                sink.append(rng.percent(50) ? table.keys[rng.below(table.keys.count)] : randomKey(&rng, 4...12))
            } else {
                maker.line(&rng, delimiter: 44, alwaysFields: true, into: sink)
            }
            if rng.percent(10) { sink.append(13) }
            sink.append(10)
        }
        sink.dropLast(1)
        let bigBytes = sink.bytes
        bigSize = bigBytes.count
        bigNoDelimiterLines = noDelimiter
        try add(big, rel: "big.csv", content: bigBytes, delimiter: 44)

        let small = ByteSink()
        for _ in 0..<400 {
            maker.line(&rng, delimiter: 44, alwaysFields: false, into: small)
            if rng.percent(30) { small.append(13) }
            small.append(10)
        }
        try add(extra, rel: "extra.csv", content: small.bytes, delimiter: 44)

        // The planned order, found the naive way: walk in/ with names sorted, hidden skipped.
        var order: [String] = []
        func walk(_ dir: String) {
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() where !name.hasPrefix(".") {
                var isDir: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: dir + "/" + name, isDirectory: &isDir)
                if isDir.boolValue { walk(dir + "/" + name) } else { order.append(dir + "/" + name) }
            }
        }
        walk(inDir)
        order += [big, extra]
        files = try order.map { path in
            guard let spec = specs[path] else { throw TestFailure("unexpected input \(path)") }
            return spec
        }
        guard files.count == specs.count else { throw TestFailure("walk found \(files.count) of \(specs.count) inputs") }
        print(String(format: "mixed fixture: %d files, big.csv %d bytes, made in %.1f s", files.count, bigSize, Date().timeIntervalSince(started)))
    }
}

let mixedFixture: Result<MixedFixture, any Error> = Result { try MixedFixture(table: try sharedTable.get()) }

// MARK: - Smaller input sets

/// Writes `count` files of generated lines into `dir` (sizes differ: file i has
/// `baseLines * (i + 1)` lines) and returns their specs in planned (name) order.
func makeInputDirectory(_ dir: String, table: TableFixture, count: Int, baseLines: Int, seed: UInt64) throws -> [InputSpec] {
    let maker = LineMaker(keys: table.keys, seed: seed)
    var rng = SeededRNG(seed: seed &+ 1)
    var specs: [InputSpec] = []
    for i in 0..<count {
        let sink = ByteSink()
        for _ in 0..<(baseLines * (i + 1)) {
            maker.line(&rng, delimiter: 44, alwaysFields: false, into: sink)
            if rng.percent(5) { sink.append(13) }
            sink.append(10)
        }
        let name = String(format: "part-%02d.csv", i)
        let bytes = sink.bytes
        try writeFile(dir + "/" + name, bytes)
        specs.append(InputSpec(path: dir + "/" + name, rel: name, gz: false, ref: referenceRun(bytes, table: table.map)))
    }
    return specs
}

/// Checks a directory-output run: exactly the expected outputs (plus the job log), each equal
/// to the reference for `mode`, no work directories left.
func expectOutputs(_ out: String, _ files: [InputSpec], mode: OutputMode, _ what: String,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    let expected = Set(files.map(\.rel) + [".lookup-joblog.jsonl"])
    let got = Set(listFiles(out))
    #expect(got == expected, "\(what): unexpected outputs \(got.subtracting(expected).sorted()), missing \(expected.subtracting(got).sorted())",
            sourceLocation: sourceLocation)
    for f in files { expectFile(out + "/" + f.rel, equals: f.ref.output(mode), "\(what) \(f.rel)", sourceLocation: sourceLocation) }
    expectNoLeftovers(out, what, sourceLocation: sourceLocation)
}
