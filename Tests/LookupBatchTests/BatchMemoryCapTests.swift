// Tables larger than memory: a run in a memory cgroup whose limit is smaller than the table
// (as in a container) detects the limit, reads the table in the larger-than-memory regime,
// and writes exactly what an uncapped run writes. Needs root (memory cgroups), as CI has.
import Foundation
import LookupTestSupport
import Testing

@Suite("lookup run: tables larger than the memory limit", .serialized)
struct BatchMemoryCapTests {
    /// A table of `keys` records (16 hex digits, 40-byte values) and `files` inputs of
    /// `lines` lines, about half of whose keys are in the table; returns the table's path.
    private static func workload(in work: TempDir, keys: Int, files: Int, lines: Int) throws -> String {
        var csv = ""
        csv.reserveCapacity(keys * 60)
        func key(_ i: Int) -> String {
            let s = String(UInt64(truncatingIfNeeded: i) &* 0x9E37_79B9_7F4A_7C15 >> 4 | 1 << 59, radix: 16)
            return String(repeating: "0", count: max(0, 16 - s.count)) + s
        }
        for i in 0..<keys { csv += "\(key(2 * i)),value-\(i)-\(String(repeating: "v", count: 30))\n" }
        try writeFile(work.file("table.csv"), csv)
        try FileManager.default.createDirectory(atPath: work.file("input"), withIntermediateDirectories: true)
        for f in 0..<files {
            var text = ""
            for l in 0..<lines {
                let n = (f * lines + l) &* 7919 % (2 * keys)  // even: in the table, odd: not
                text += "\(key(n)),\(l),payload-\(f)\n"
            }
            try writeFile(work.file("input/part-\(f).csv"), text)
        }
        let table = work.file("table.lmdb")
        let built = try runLookup(["build", work.file("table.csv"), "-o", table])
        expectExit(built, 0, "build")
        return table
    }

    /// Writes the first column of the CSV file `input` to `keys`, one key per line (for `get`).
    private static func writeKeys(of input: String, to keys: String) throws {
        let lines = String(decoding: try readFile(input), as: UTF8.self).split(separator: "\n")
        try writeFile(keys, lines.map { $0.split(separator: ",")[0] }.joined(separator: "\n") + "\n")
    }

    @Test("a run capped below the table's size (cgroup) writes what an uncapped run writes, and says it read larger than memory")
    func cappedRunMatchesUncapped() throws {
        guard getuid() == 0 else {
            Issue.record("this test makes a memory cgroup and must run as root (scripts/test and CI do)")
            return
        }
        let work = try TempDir("memcap")
        // About 45 MB of table under a 96 MiB cap: the cap leaves less than the table plus
        // the reserve for the processes, so the run must choose the larger-than-memory regime.
        let table = try Self.workload(in: work, keys: 600_000, files: 3, lines: 60_000)
        let size = (try FileManager.default.attributesOfItem(atPath: table)[.size] as? Int) ?? 0
        let cap = 96 << 20
        #expect(size > 40 << 20, "the table should be about 45 MB, is \(size) bytes")

        let free = try runLookup(["run", table, work.file("input"), "-o", work.file("free"), "-j", "2"])
        expectExit(free, 0, "uncapped run")
        #expect(free.says("table read in-memory"), "\(free.err)")

        let script = TestBinaries.packageRoot + "/Benchmarks/cgroup-run.sh"
        let capped = LookupResult(try runProcess("/bin/bash",
                                                 [script, String(cap), TestBinaries.lookup, "run", table, work.file("input"),
                                                  "-o", work.file("capped"), "-j", "2"]))
        expectExit(capped, 0, "capped run")
        #expect(capped.says("table read larger-than-memory", "exceeds 96.0 MiB (cgroup"), "\(capped.err)")
        #expect(capped.says("key index", "kept resident"), "\(capped.err)")
        for f in 0..<3 {
            let a = try readFile(work.file("free/part-\(f).csv")), b = try readFile(work.file("capped/part-\(f).csv"))
            #expect(!a.isEmpty && sameBytes(a, b), "part-\(f).csv differs: \(describeDifference(b, a))")
        }

        // The other read paths in the same cap: `get` with keys on stdin and `map`.
        try Self.writeKeys(of: work.file("input/part-0.csv"), to: work.file("keys.txt"))
        // get exits 1: some keys are missing.
        for (name, command, status) in [("get", "get \(table) -K --missing NA < \(work.file("keys.txt"))", Int32(1)),
                                        ("map", "map \(table) < \(work.file("input/part-0.csv"))", 0)] {
            let shell = "exec \(TestBinaries.lookup) \(command)"
            let direct = LookupResult(try runProcess("/bin/sh", ["-c", shell]))
            let inCap = LookupResult(try runProcess("/bin/bash", [script, String(cap), "/bin/sh", "-c", shell]))
            expectExit(direct, status, "\(name) uncapped")
            expectExit(inCap, status, "\(name) capped")
            #expect(!direct.stdout.isEmpty && sameBytes(direct.stdout, inCap.stdout), "\(name): \(describeDifference(inCap.stdout, direct.stdout))")
        }

        let stats = LookupResult(try runProcess("/bin/bash", [script, String(cap), TestBinaries.lookup, "stats", table]))
        expectExit(stats, 0, "stats in the cap")
        #expect(String(decoding: stats.stdout, as: UTF8.self).contains("read as:            larger-than-memory (table"),
                "\(String(decoding: stats.stdout, as: UTF8.self))")
    }

    @Test("LOOKUP_REGIME=larger-than-memory: run, get and map write what the in-memory regime writes")
    func forcedRegimeMatches() throws {
        let work = try TempDir("regime")
        let table = try Self.workload(in: work, keys: 50_000, files: 2, lines: 30_000)
        let large = ["LOOKUP_REGIME": "larger-than-memory"], small = ["LOOKUP_REGIME": "in-memory"]
        let a = try runLookup(["run", table, work.file("input"), "-o", work.file("a"), "-j", "2"], environment: small)
        let b = try runLookup(["run", table, work.file("input"), "-o", work.file("b"), "-j", "2"], environment: large)
        expectExit(a, 0, "in-memory run")
        expectExit(b, 0, "larger-than-memory run")
        #expect(a.says("table read in-memory (set by LOOKUP_REGIME)"), "\(a.err)")
        #expect(b.says("table read larger-than-memory (set by LOOKUP_REGIME)"), "\(b.err)")
        for f in 0..<2 {
            let x = try readFile(work.file("a/part-\(f).csv")), y = try readFile(work.file("b/part-\(f).csv"))
            #expect(!x.isEmpty && sameBytes(x, y), "part-\(f).csv: \(describeDifference(y, x))")
        }
        let input = work.file("input/part-1.csv")
        try Self.writeKeys(of: input, to: work.file("keys.txt"))
        for (command, status) in [("map \(table) < \(input)", Int32(0)), ("get \(table) -K --missing NA < \(work.file("keys.txt"))", 1)] {
            let shell = "exec \(TestBinaries.lookup) \(command)"
            let x = LookupResult(try runProcess("/bin/sh", ["-c", shell], environment: small))
            let y = LookupResult(try runProcess("/bin/sh", ["-c", shell], environment: large))
            expectExit(x, status, command)
            expectExit(y, status, command)
            #expect(!x.stdout.isEmpty && sameBytes(x.stdout, y.stdout), "\(command): \(describeDifference(y.stdout, x.stdout))")
        }
    }
}
