// Fault injection: a few hundred randomly damaged copies of a small table (meta pages, branch,
// leaf and overflow pages, the key index, anywhere in the file), each given to every command
// that reads a table. None may die of a signal or print a crash report; an error is one line
// naming the table; and none may exit 0 having silently read something else than the table
// holds: dump and stats never report other records, check never passes a table that answers
// differently, and with --verify get, map and run never answer from a damaged table.
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Fault injection: damaged tables given to every command")
struct CLIFaultInjectionTests {
    /// LMDB page flags (page header offset 10).
    static let branchPage: UInt16 = 0x01, leafPage: UInt16 = 0x02, overflowPage: UInt16 = 0x04
    static let pageSize = 4096

    /// Where the kinds of pages of a table file are.
    struct PageMap {
        var branch: [Int] = [], leaf: [Int] = [], overflow: [Int] = []
        /// Byte offset of the key index's stored value ("LKHASH01"), and its length.
        var index: Range<Int> = 0..<0

        init(_ bytes: [UInt8]) {
            let pages = bytes.count / CLIFaultInjectionTests.pageSize
            var page = 2
            while page < pages {
                let base = page * CLIFaultInjectionTests.pageSize
                let flags = UInt16(bytes[base + 10]) | UInt16(bytes[base + 11]) << 8
                if flags & CLIFaultInjectionTests.overflowPage != 0 {
                    // An overflow run: its page count at 12, the value 16 bytes in.
                    let count = Int(bytes[base + 12]) | Int(bytes[base + 13]) << 8 | Int(bytes[base + 14]) << 16 | Int(bytes[base + 15]) << 24
                    overflow.append(page)
                    if Array(bytes[base + 16 ..< base + 24]) == Array("LKHASH01".utf8) {
                        index = base + 16 ..< min(bytes.count, (page + max(count, 1)) * CLIFaultInjectionTests.pageSize)
                    }
                    page += max(count, 1)
                    continue
                }
                if flags & CLIFaultInjectionTests.branchPage != 0 { branch.append(page) }
                if flags & CLIFaultInjectionTests.leafPage != 0 { leaf.append(page) }
                page += 1
            }
        }
    }

    /// One command run against the table, with what it needs.
    struct Probe {
        var name: String
        var arguments: (String) -> [String]
        var stdin: [UInt8]? = nil
        /// Output directory of a `run`, compared instead of stdout.
        var outputDirectory: String? = nil
        /// Reads through --verify: must never exit 0 with another answer.
        var verified = false
    }

    /// The output a probe produced: stdout, or the files of its output directory.
    static func output(of probe: Probe, _ result: RunResult) throws -> [UInt8] {
        guard let dir = probe.outputDirectory else {
            // dump's header names the map size, which a damaged meta page may change harmlessly.
            if probe.name == "dump" { return splitLines(result.stdout).filter { !$0.starts(with: Array("mapsize=".utf8)) }.flatMap { $0 + [10] } }
            return result.stdout
        }
        return try listDirectory(dir).filter { !$0.hasPrefix(".") }.sorted().flatMap { Array($0.utf8) + [0] + (try readFile(dir + "/" + $0)) }
    }

    /// The lines of `stats` that count records.
    static func counts(_ stats: RunResult) -> [String] {
        stats.outLines.filter { $0.hasPrefix("entries:") || $0.hasPrefix("records (metadata):") }
    }

    @Test("a few hundred random corruptions, every command: no signal, no crash report, one line, no silent wrong answer")
    func corruptionsGivenToEveryCommand() throws {
        let dir = try TempDir("faults")
        var rng = SeededRNG(seed: ProcessInfo.processInfo.environment["LOOKUP_TEST_SEED"].flatMap { UInt64($0) } ?? 0xFA17)
        // A table with small values, values in overflow pages (over 2 KiB) and a key index.
        var csv = "", keys = ""
        for i in 0..<6000 {
            let value = i % 500 == 7 ? String(repeating: "v\(i)-", count: 900) : "value-\(i),\(i * 7)"
            csv += "k\(String(format: "%06d", i)),\(value)\n"
            if i % 5 == 0 { keys += "k\(String(format: "%06d", i))\n" }
        }
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: true)
        try writeFile(dir.file("in/a.csv"), String(csv.prefix(csv.count / 2)))
        try writeFile(dir.file("in/b.csv"), String(csv.suffix(csv.count - csv.count / 2)))
        try writeFile(dir.file("table.csv"), csv)
        let pristine = dir.file("pristine.lmdb")
        expectSuccess(try lookup(["build", dir.file("table.csv"), "-o", pristine]), "build")
        let original = try readFile(pristine)
        let pages = PageMap(original)
        #expect(!pages.branch.isEmpty && pages.leaf.count > 10 && pages.overflow.count > 5 && !pages.index.isEmpty,
                "the table has every kind of page: \(pages.branch.count) branch, \(pages.leaf.count) leaf, \(pages.overflow.count) overflow, index \(pages.index)")

        let csvBytes = Array(csv.utf8), keyBytes = Array(keys.utf8)
        let probes: [Probe] = [
            Probe(name: "get", arguments: { ["get", $0, "k000000", "k000007", "k005999", "--missing", "NA"] }),
            Probe(name: "get stdin", arguments: { ["get", $0, "--missing", "NA"] }, stdin: keyBytes),
            Probe(name: "get --verify", arguments: { ["get", $0, "--missing", "NA", "--verify"] }, stdin: keyBytes, verified: true),
            Probe(name: "map count", arguments: { ["map", $0, "--mode", "count"] }, stdin: csvBytes),
            Probe(name: "map --verify", arguments: { ["map", $0, "--verify"] }, stdin: csvBytes, verified: true),
            Probe(name: "dump", arguments: { ["dump", $0] }),
            Probe(name: "stats", arguments: { ["stats", $0] }),
            Probe(name: "run", arguments: { ["run", $0, dir.file("in"), "-o", dir.file("out"), "-j", "2", "--overwrite", "-q"] },
                  outputDirectory: dir.file("out")),
            Probe(name: "run --verify", arguments: { ["run", $0, dir.file("in"), "-o", dir.file("out"), "-j", "2", "--overwrite", "-q", "--verify"] },
                  outputDirectory: dir.file("out"), verified: true),
        ]
        var expected: [String: [UInt8]] = [:]
        for probe in probes {
            let result = try lookup(probe.arguments(pristine), stdin: probe.stdin)
            expectSuccess(result, "\(probe.name) on the pristine table")
            expected[probe.name] = try Self.output(of: probe, result)
        }
        let pristineStats = Self.counts(try lookup(["stats", pristine]))

        let damaged = dir.file("damaged.lmdb")
        let kinds = ["meta byte", "meta field", "branch", "leaf", "overflow", "key index", "anywhere", "zeroed page"]
        var tally: [String: Int] = [:]
        for n in 0..<240 {
            var bytes = original
            let kind = kinds[n % kinds.count]
            func damage(in range: Range<Int>, count: Int) {
                for _ in 0..<count { bytes[Int.random(in: range, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            }
            func page(_ list: [Int]) -> Range<Int> {
                let p = list.randomElement(using: &rng)!
                return p * Self.pageSize ..< (p + 1) * Self.pageSize
            }
            switch kind {
            case "meta byte":
                let meta = Int.random(in: 0...1, using: &rng) * Self.pageSize
                damage(in: meta ..< meta + 152, count: 1)
            case "meta field":
                // A whole 8-byte field of a meta page (roots, counts, last page, txnid) set to an extreme.
                let meta = Int.random(in: 0...1, using: &rng) * Self.pageSize
                let field = meta + 16 + 8 * Int.random(in: 2...17, using: &rng)
                let value = [UInt64.max, 0, 1, UInt64(Int.max), 0x7FFF_FFFF, UInt64.random(in: 0...UInt64.max, using: &rng)].randomElement(using: &rng)!
                for b in 0..<8 { bytes[field + b] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(b))) }
            case "branch": damage(in: page(pages.branch), count: Int.random(in: 1...4, using: &rng))
            case "leaf": damage(in: page(pages.leaf), count: Int.random(in: 1...4, using: &rng))
            case "overflow": damage(in: page(pages.overflow), count: Int.random(in: 1...4, using: &rng))
            case "key index": damage(in: pages.index, count: Int.random(in: 1...8, using: &rng))
            case "anywhere": damage(in: 0 ..< bytes.count, count: Int.random(in: 1...8, using: &rng))
            default:
                let range = page(pages.branch + pages.leaf + pages.overflow)
                for i in range { bytes[i] = 0 }
            }
            try writeFile(damaged, bytes)
            let what = "corruption \(n) (\(kind), seed \(rng.seed))"

            let check = try lookup(["check", damaged])
            Self.expectNoCrash(check, what + ": check")
            #expect([0, 1].contains(check.status), "\(what): check: \(check.summary)")
            let passes = check.status == 0
            if passes { expectSuccess(check, "\(what): check") } else { expectCleanError(check, mentions: [damaged], "\(what): check") }
            tally[passes ? "check passes" : "check fails", default: 0] += 1

            for probe in probes {
                let result = try lookup(probe.arguments(damaged), stdin: probe.stdin)
                Self.expectNoCrash(result, "\(what): \(probe.name)")
                if result.status == 2 {
                    expectCleanError(result, status: 2, mentions: [damaged], "\(what): \(probe.name)")
                    tally["\(probe.name) refused", default: 0] += 1
                    continue
                }
                // get exits 1 when a key is missing: an answer too (with --missing NA, aligned).
                #expect(result.status == 0 || (probe.name.hasPrefix("get") && result.status == 1),
                        "\(what): \(probe.name): \(result.summary)")
                if let keep = ProcessInfo.processInfo.environment["LOOKUP_KEEP_DAMAGED"], try result.status != 0 || Self.output(of: probe, result) != expected[probe.name] {
                    _ = try? FileManager.default.copyItem(atPath: damaged, toPath: keep + "/c\(n)-\(probe.name.replacingOccurrences(of: " ", with: "_")).lmdb")
                }
                let same = try Self.output(of: probe, result) == expected[probe.name]
                if probe.name == "stats" {
                    #expect(Self.counts(result) == pristineStats, "\(what): stats reports other counts: \(Self.counts(result))")
                    continue
                }
                // dump and every --verify read check the whole table: exit 0 means its records.
                if probe.name == "dump" || probe.verified {
                    #expect(same, "\(what): \(probe.name) exited 0 with other output than the table's")
                }
                // An unverified lookup may read a damaged record; check must then find the damage.
                if !same {
                    #expect(!passes, "\(what): \(probe.name) answered differently, but check passes the table")
                    tally["\(probe.name) read damage", default: 0] += 1
                }
            }
        }
        // The corruptions reached every outcome: refused, caught by check, and harmless.
        #expect((tally["check fails"] ?? 0) > 60 && (tally["check passes"] ?? 0) > 0, "\(tally)")
        #expect((tally["dump refused"] ?? 0) > 30, "\(tally)")
    }

    /// Expects no death by signal and no crash report, whatever the exit status.
    static func expectNoCrash(_ result: RunResult, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!result.signaled && result.status < 128, "\(what): died: \(result.summary)", sourceLocation: sourceLocation)
        for marker in crashMarkers {
            #expect(!result.err.contains(marker), "\(what): crash report: \(result.err.prefix(1500))", sourceLocation: sourceLocation)
        }
        #expect(result.errLines.count <= 1, "\(what): \(result.errLines.count) lines on stderr: \(result.err.prefix(1500))",
                sourceLocation: sourceLocation)
    }
}
