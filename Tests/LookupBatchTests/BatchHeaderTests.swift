// --header: each file's first line passes through to its output unchanged (once, also when the
// file is split into byte ranges), is neither looked up nor counted as a hit or miss, and the
// summary line says how many header lines there were.
import Foundation
import LookupTestSupport
import Testing

@Suite("lookup run: --header")
struct BatchHeaderTests {
    /// The expected output of `bytes` under `--header`: its first line (line end dropped, CR
    /// too) and "\n", then the reference output of the rest.
    func expectedWithHeader(_ bytes: [UInt8], table: TableFixture, mode: OutputMode) -> (output: [UInt8], rest: Reference) {
        let newline = bytes.firstIndex(of: 10) ?? bytes.count
        var header = Array(bytes[..<newline])
        if header.last == 13 { header.removeLast() }
        let rest = referenceRun(newline < bytes.count ? Array(bytes[(newline + 1)...]) : [], table: table.map)
        let body = rest.output(mode)
        return (bytes.isEmpty ? [] : header + [10] + body, rest)
    }

    @Test("the first line of each file, split into ranges or not, is passed through once", arguments: [OutputMode.join, .anti])
    func headerPassesThrough(_ mode: OutputMode) throws {
        let fx = try mixedFixture.get()
        let work = try TempDir("header")
        let out = work.file("out"), summaryPath = work.file("summary.json")
        let inputs = fx.files.filter { $0.rel == "big.csv" || $0.rel == "extra.csv" }
        #expect(inputs.count == 2)
        let r = try runLookup(["run", fx.table.lmdb] + inputs.map(\.path)
                              + ["-o", out, "--header", "-j", "2", "--mode", mode.rawValue, "--summary-json", summaryPath, "--no-progress"])
        expectExit(r, 0, "--header --mode \(mode.rawValue)")
        var lines = 0, hits = 0, misses = 0
        for input in inputs {
            let (want, rest) = expectedWithHeader(try readFile(input.path), table: fx.table, mode: mode)
            expectFile(out + "/" + input.rel, equals: want, "\(input.rel) with --header --mode \(mode.rawValue)")
            lines += rest.counts.lines + 1
            hits += rest.counts.hits
            misses += rest.counts.misses
        }
        let s = try readSummary(summaryPath)
        #expect(s.tasks > inputs.count, "big.csv should be split into ranges: \(s.tasks) tasks")
        #expect(s.counts.lines == lines && s.counts.hits == hits && s.counts.misses == misses,
                "summary counts \(s.counts); expected \(lines) lines, \(hits) hits, \(misses) misses")
        #expect(r.stderr.contains("lines (2 headers)"), "the summary line should count the headers: \(r.err)")
    }
}
