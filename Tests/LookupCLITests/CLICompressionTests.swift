// `lookup build` over compressed inputs made by the real tools (zstd, xz, bzip2): each format
// builds the same table as the plain file, frames or streams in a row are one input, a
// compression suffix does not hide the record format, and a broken input stops the build with
// one line naming it.
import Foundation
import LookupTestSupport
import Testing

@Suite("lookup build: .zst, .xz and .bz2 inputs")
struct CLICompressionTests {
    /// The formats under test: suffix, the tool that makes them, its arguments (the input last).
    static let tools: [(suffix: String, tool: String, arguments: [String])] = [
        (".zst", "zstd", ["-q", "-f"]),
        (".xz", "xz", ["-k", "-f"]),
        (".bz2", "bzip2", ["-k", "-f"]),
    ]

    /// Compresses `plain` with `tool`, leaving `plain` in place; returns the compressed bytes.
    private func compress(_ plain: String, suffix: String, tool: String, arguments: [String]) throws -> [UInt8] {
        expectSuccess(try runProcess(try TestBinaries.tool(tool), arguments + [plain]), "\(tool) \(plain)")
        return try readFile(plain + suffix)
    }

    /// Builds `input` and expects the table to hold exactly `expected`.
    private func expectBuild(_ dir: TempDir, _ input: String, options: [String] = [], stdin: [UInt8]? = nil,
                             expected: [[UInt8]: [UInt8]], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let table = dir.file("out-\(UUID().uuidString.prefix(6)).lmdb")
        let result = try lookup(["build", input, "-o", table] + options, stdin: stdin)
        expectSuccess(result, "build \(what)", sourceLocation: sourceLocation)
        guard result.status == 0 else { return }
        expectRecords(try lookupDump(table, sourceLocation: sourceLocation), equal: expected, what, sourceLocation: sourceLocation)
    }

    /// Expects `lookup build` of `bytes` written to `name` to fail with one line naming it and
    /// `mentions`, exit 2, and publish no table.
    private func expectBuildFails(_ dir: TempDir, name: String, _ bytes: [UInt8], mentions: [String], _ what: String,
                                  sourceLocation: SourceLocation = #_sourceLocation) throws {
        let input = dir.file(name)
        try writeFile(input, bytes)
        let table = dir.file(name + ".lmdb")
        let result = try lookup(["build", input, "-o", table])
        expectCleanError(result, status: 2, mentions: [input] + mentions, what, sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: table), "\(what): a table was published", sourceLocation: sourceLocation)
    }

    @Test("each format builds the table the plain CSV does; frames or streams in a row are one input; stdin by magic bytes")
    func roundTrips() throws {
        let dir = try TempDir("compressed-build")
        var rng = SeededRNG()
        let gen = generateCSV(count: 3000, rng: &rng)
        let expected = byteTable(gen.expected)
        let lines = splitLines(gen.text)
        try writeFile(dir.file("records.csv"), gen.text)
        try writeFile(dir.file("part1.csv"), Array(lines[..<(lines.count / 3)].joined(separator: [10])) + [10])
        try writeFile(dir.file("part2.csv"), Array(lines[(lines.count / 3)...].joined(separator: [10])) + [10])
        // TSV whose lines hold no comma: read as CSV, each line would be one key.
        var tsvExpected: [[UInt8]: [UInt8]] = [:]
        var tsv: [UInt8] = []
        for (i, key) in gen.keys.prefix(500).enumerated() where !key.contains(",") && !key.contains("\t") && !key.contains("\"") {
            tsvExpected[Array(key.utf8)] = Array("value \(i)".utf8)
            tsv += Array("\(key)\tvalue \(i)\n".utf8)
        }
        try writeFile(dir.file("records.tsv"), tsv)
        for (suffix, tool, arguments) in Self.tools {
            let whole = try compress(dir.file("records.csv"), suffix: suffix, tool: tool, arguments: arguments)
            try expectBuild(dir, dir.file("records.csv" + suffix), expected: expected, "records.csv\(suffix) (seed \(rng.seed))")
            // Two frames (streams) one after the other, as `cat a b` makes.
            let first = try compress(dir.file("part1.csv"), suffix: suffix, tool: tool, arguments: arguments)
            let second = try compress(dir.file("part2.csv"), suffix: suffix, tool: tool, arguments: arguments)
            try writeFile(dir.file("joined.csv" + suffix), first + second)
            try expectBuild(dir, dir.file("joined.csv" + suffix), expected: expected, "two \(suffix) frames")
            // The compression suffix does not hide the format: records.tsv<suffix> is TSV.
            _ = try compress(dir.file("records.tsv"), suffix: suffix, tool: tool, arguments: arguments)
            try expectBuild(dir, dir.file("records.tsv" + suffix), expected: tsvExpected, "records.tsv\(suffix)")
            // Compressed bytes on standard input are recognized by their magic number.
            try expectBuild(dir, "-", options: ["--format", "csv"], stdin: whole, expected: expected, "stdin \(suffix)")
        }
    }

    @Test("broken .zst, .xz and .bz2 (truncated, garbage, garbage after the magic, a torn frame after a whole one): one line naming the file, exit 2, no table")
    func brokenInputs() throws {
        let dir = try TempDir("compressed-broken")
        var rng = SeededRNG()
        try writeFile(dir.file("records.csv"), generateCSV(count: 5000, rng: &rng).text)
        for (suffix, tool, arguments) in Self.tools {
            let good = try compress(dir.file("records.csv"), suffix: suffix, tool: tool, arguments: arguments)
            #expect(good.count > 10_000)
            let broken = "broken \(suffix)"
            try expectBuildFails(dir, name: "truncated.csv\(suffix)", Array(good.prefix(good.count / 2)), mentions: [broken],
                                 "truncated \(suffix)")
            try expectBuildFails(dir, name: "garbage.csv\(suffix)", randomBytes(&rng, 5000...5000), mentions: [broken],
                                 "garbage \(suffix)")
            try expectBuildFails(dir, name: "magic.csv\(suffix)", Array(good.prefix(10)) + randomBytes(&rng, 5000...5000),
                                 mentions: [broken], "\(suffix) magic then garbage")
            try expectBuildFails(dir, name: "torn.csv\(suffix)", good + Array(good.prefix(good.count / 3)), mentions: [broken],
                                 "a whole \(suffix) frame and a torn one")
            var flipped = good
            for i in stride(from: good.count / 3, to: good.count / 3 + 64, by: 1) { flipped[i] ^= 0x5a }
            try expectBuildFails(dir, name: "flipped.csv\(suffix)", flipped, mentions: [broken], "corrupted \(suffix)")
        }
    }
}
