// Fault injection: a few hundred randomly damaged copies of a small table (meta pages, branch,
// leaf and overflow pages, the key index, anywhere in the file), each given to every command
// that reads a table. None may die of a signal or print a crash report; an error is one line
// naming the table; and none may exit 0 having silently read something else than the table
// holds: dump and stats never report other records, check never passes a table that answers
// differently, and with --verify get, map and run never answer from a damaged table.
import Foundation
import LookupTestSupport
import Testing

@Suite("Fault injection: damaged tables given to every command")
struct CLIFaultInjectionTests {
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
    static func output(of probe: Probe, _ result: ProcessOutput) throws -> [UInt8] {
        guard let dir = probe.outputDirectory else {
            // dump's header names the map size, which a damaged meta page may change harmlessly.
            if probe.name == "dump" { return splitLines(result.stdout).filter { !$0.starts(with: Array("mapsize=".utf8)) }.flatMap { $0 + [10] } }
            return result.stdout
        }
        return try listDirectory(dir).filter { !$0.hasPrefix(".") }.sorted().flatMap { Array($0.utf8) + [0] + (try readFile(dir + "/" + $0)) }
    }

    /// The lines of `stats` that count records.
    static func counts(_ stats: ProcessOutput) -> [String] {
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
        let pages = TablePages(original)
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
        var tally: [String: Int] = [:]
        for n in 0..<240 {
            var bytes = original
            let kind = TableCorruption.allCases[n % TableCorruption.allCases.count]
            kind.apply(to: &bytes, pages: pages, using: &rng)
            try writeFile(damaged, bytes)
            let what = "corruption \(n) (\(kind.rawValue), seed \(rng.seed))"

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
    static func expectNoCrash(_ result: ProcessOutput, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!result.signaled && result.status < 128, "\(what): died: \(result.summary)", sourceLocation: sourceLocation)
        for marker in crashMarkers {
            #expect(!result.err.contains(marker), "\(what): crash report: \(result.err.prefix(1500))", sourceLocation: sourceLocation)
        }
        #expect(result.errLines.count <= 1, "\(what): \(result.errLines.count) lines on stderr: \(result.err.prefix(1500))",
                sourceLocation: sourceLocation)
    }
}
