// `lookup run` with compressed inputs (.zst, .xz, .bz2, made by the real tools) and compressed
// outputs (--compress gz|zst, decoded by gzip and zstd): outputs equal to the plain run's,
// frames or streams in a row read as one input, a broken input failing only its own file,
// and --resume knowing the compressed names.
import Foundation
import LookupTestSupport
import Testing

/// Compresses `bytes` into `path` (by its suffix: .gz, .zst, .xz, .bz2) with the system's tool.
func writeCompressed(_ path: String, _ bytes: [UInt8]) throws {
    let tools = [".gz": ["gzip", "-n", "-f"], ".zst": ["zstd", "-q", "-f", "--rm"], ".xz": ["xz", "-f"], ".bz2": ["bzip2", "-f"]]
    guard let suffix = tools.keys.first(where: { path.hasSuffix($0) }), let command = tools[suffix] else {
        throw TestFailure("no tool for \(path)")
    }
    let plain = String(path.dropLast(suffix.count))
    try writeFile(plain, bytes)
    try runTool("/usr/bin/env", command + [plain])
    guard fileExists(path), !fileExists(plain) else { throw TestFailure("\(command[0]) did not write \(path)") }
}

/// The bytes `tool -dc path` prints (gzip, zstd); fails when the tool fails.
func decompressed(_ path: String, tool: String) throws -> [UInt8] {
    let r = try runProcess("/usr/bin/env", [tool, "-dc", path])
    if r.status != 0 || r.signaled { throw TestFailure("\(tool) -dc \(path) failed: \(r.summary)") }
    return r.stdout
}

/// Runs `lookup run TABLE args -o OUT --no-progress --summary-json` and returns the result and summary.
func runWithSummary(_ table: TableFixture, _ args: [String], out: String, _ work: TempDir) throws -> (LookupResult, Summary?) {
    let summaryPath = work.file("summary-\(UUID().uuidString.prefix(6)).json")
    let r = try runLookup(["run", table.lmdb] + args + ["-o", out, "--summary-json", summaryPath, "--no-progress"])
    return (r, try? readSummary(summaryPath))
}

/// A generated input of `lines` lines with `delimiter`, and its reference outputs.
func generatedInput(lines: Int, seed: UInt64, delimiter: UInt8 = 44, table: TableFixture) -> (bytes: [UInt8], ref: Reference) {
    let maker = LineMaker(keys: table.keys, seed: seed)
    var rng = SeededRNG(seed: seed &+ 9)
    let sink = ByteSink()
    for _ in 0..<lines { maker.line(&rng, delimiter: delimiter, alwaysFields: false, into: sink); sink.append(10) }
    return (sink.bytes, referenceRun(sink.bytes, table: table.map, delimiter: delimiter))
}

@Suite("lookup run: compressed inputs and outputs")
struct BatchCompressionTests {
    @Test("inputs in every format (.tsv.xz read as TSV; frames and streams in a row) give the plain run's outputs; broken .zst, .xz, .bz2 fail only their file, naming it; exit 1")
    func compressedInputs() throws {
        let table = try sharedTable.get()
        let work = try TempDir("run-compressed")
        let input = work.file("in"), out = work.file("out")
        var specs: [InputSpec] = []
        var seed: UInt64 = 100
        for (name, delimiter) in [("a.csv.zst", UInt8(44)), ("b.tsv.xz", 9), ("c.csv.bz2", 44), ("d.csv.gz", 44)] {
            seed += 1
            let (bytes, ref) = generatedInput(lines: 2000, seed: seed, delimiter: delimiter, table: table)
            try writeCompressed(input + "/" + name, bytes)
            specs.append(InputSpec(path: input + "/" + name, rel: String(name.prefix { $0 != "." }) + (delimiter == 9 ? ".tsv" : ".csv"),
                                   gz: true, ref: ref))
        }
        // Two frames (streams) in a row of each new format.
        for suffix in [".zst", ".xz", ".bz2"] {
            seed += 1
            let (first, _) = generatedInput(lines: 700, seed: seed, table: table)
            let (second, _) = generatedInput(lines: 900, seed: seed + 50, table: table)
            try writeCompressed(work.file("one.csv" + suffix), first)
            try writeCompressed(work.file("two.csv" + suffix), second)
            let name = "joined\(suffix.dropFirst()).csv"
            try writeFile(input + "/" + name + suffix, try readFile(work.file("one.csv" + suffix)) + readFile(work.file("two.csv" + suffix)))
            specs.append(InputSpec(path: input + "/" + name + suffix, rel: name, gz: true,
                                   ref: referenceRun(first + second, table: table.map)))
        }
        // Broken ones: a truncated .zst, garbage named .xz, a .bz2 torn after its magic.
        let (source, _) = generatedInput(lines: 20_000, seed: 7, table: table)
        var broken: [String] = []
        for suffix in [".zst", ".xz", ".bz2"] {
            try writeCompressed(work.file("full.csv" + suffix), source)
            let whole = try readFile(work.file("full.csv" + suffix))
            let path = input + "/broken-\(suffix.dropFirst()).csv" + suffix
            switch suffix {
            case ".zst": try writeFile(path, Array(whole.prefix(whole.count / 2)))
            case ".xz": try writeFile(path, "not,xz\nat,all\n")
            default: try writeFile(path, Array(whole.prefix(12)))
            }
            broken.append(path)
        }

        let (r, s) = try runWithSummary(table, [input, "-j", "2"], out: out, work)
        expectExit(r, 1, "compressed inputs")
        expectNoCrash(r, "compressed inputs")
        for path in broken {
            let suffix = "." + (path.split(separator: ".").last ?? "")
            let reported = r.says(path, "broken \(suffix)")
            #expect(reported, "stderr does not report \(path) as a broken \(suffix): \(r.err)")
            #expect(s?.errors.contains { $0.contains(path) } == true, "summary errors do not name \(path)")
        }
        #expect(s?.filesFailed == broken.count && s?.files == specs.count && s?.retries == 0, "summary: \(String(describing: s))")
        expectOutputs(out, specs, mode: .join, "compressed inputs")
    }

    @Test("--compress gz and zst: outputs named .gz/.zst that gzip -dc / zstd -dc decode to the plain run's; --resume skips them, and refuses another --compress")
    func compressedOutputs() throws {
        let table = try sharedTable.get()
        let work = try TempDir("run-compress")
        let input = work.file("in")
        var specs: [InputSpec] = []
        for (i, name) in ["a.csv", "sub/b.csv.gz", "empty.csv"].enumerated() {
            let (bytes, ref) = generatedInput(lines: name == "empty.csv" ? 0 : 3000, seed: UInt64(200 + i), table: table)
            if name.hasSuffix(".gz") { try writeCompressed(input + "/" + name, bytes) } else { try writeFile(input + "/" + name, bytes) }
            specs.append(InputSpec(path: input + "/" + name, rel: name.replacingOccurrences(of: ".gz", with: ""), gz: false, ref: ref))
        }
        for (format, tool) in [("gz", "gzip"), ("zst", "zstd")] {
            let out = work.file("out-\(format)")
            let (r, s) = try runWithSummary(table, [input, "-j", "2", "--compress", format], out: out, work)
            expectExit(r, 0, "--compress \(format)")
            #expect(s?.files == specs.count, "summary: \(String(describing: s))")
            let expected = Set(specs.map { $0.rel + "." + format } + [".lookup-joblog.jsonl"])
            #expect(Set(listFiles(out)) == expected, "--compress \(format): outputs \(listFiles(out))")
            for spec in specs {
                let path = out + "/" + spec.rel + "." + format
                let got = try decompressed(path, tool: tool)
                #expect(sameBytes(got, spec.ref.output(.join)), "\(path): \(describeDifference(got, spec.ref.output(.join)))")
            }
            #expect(Set(readJobLog(out).compactMap(\.output)) == Set(specs.map { $0.rel + "." + format }))

            // --resume finds the compressed outputs done; another --compress is refused.
            let (again, s2) = try runWithSummary(table, [input, "--compress", format, "--resume"], out: out, work)
            expectExit(again, 0, "--resume --compress \(format)")
            #expect(s2?.filesSkipped == specs.count && s2?.files == 0, "resume summary: \(String(describing: s2))")
            let other = format == "gz" ? "zst" : "gz"
            let (refused, _) = try runWithSummary(table, [input, "--compress", other, "--resume"], out: out, work)
            expectExit(refused, 2, "--resume with --compress \(other)")
            let says = refused.says("--compress \(format)", "--compress \(other)")
            #expect(says, "the refusal does not name both settings: \(refused.err)")
        }
    }

    @Test("a file split into byte ranges with --compress zst --pipe cat: one frame per range, zstd -dc gives the plain run's output")
    func splitFileCompressedAndPiped() throws {
        let fx = try mixedFixture.get()
        let work = try TempDir("run-split-compress")
        let out = work.file("out")
        guard let big = fx.files.first(where: { $0.path == fx.big }) else { throw TestFailure("no big.csv spec") }
        let (r, s) = try runWithSummary(fx.table, [fx.big, "-j", "2", "--compress", "zst", "--pipe", "cat"], out: out, work)
        expectExit(r, 0, "big.csv --compress zst --pipe cat")
        #expect((s?.tasks ?? 0) > 1, "big.csv was not split: \(String(describing: s))")
        let got = try decompressed(out + "/big.csv.zst", tool: "zstd")
        #expect(sameBytes(got, big.ref.output(.join)), "big.csv.zst: \(describeDifference(got, big.ref.output(.join)))")
    }
}
