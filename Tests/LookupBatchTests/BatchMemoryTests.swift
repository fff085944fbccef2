// Memory: with 4 workers on a table over 100 MB, the process tree's summed PSS stays below 1.3x that of a 1-worker run.
import Foundation
import LookupTestSupport
import Testing

/// The peak summed PSS of a run's process tree, sampled while it runs.
struct PSSMeasurement {
    var peakKB = 0
    /// The processes (coordinator + workers) at the peak, and their PSS in kB.
    var atPeak: [(pid: pid_t, kB: Int)] = []
    var maxWorkers = 0
    var samples = 0

    /// One sample: the coordinator's PSS plus each child's (read from smaps_rollup).
    mutating func sample(_ coordinator: pid_t) {
        let children = childPIDs(of: coordinator)
        var parts: [(pid: pid_t, kB: Int)] = []
        if let c = pssKB(coordinator) { parts.append((coordinator, c)) }
        for child in children { if let k = pssKB(child) { parts.append((child, k)) } }
        // A process that exits during a sample hands its share of the shared table pages to
        // those read after it, so that sample counts them twice: keep only samples whose
        // processes all still hold their memory once all were read (as Benchmarks/measure.py).
        if parts.contains(where: { $0.kB > 0 && (pssKB($0.pid) ?? 0) == 0 }) { return }
        let sum = parts.reduce(0) { $0 + $1.kB }
        samples += 1
        maxWorkers = max(maxWorkers, children.count)
        if sum > peakKB { peakKB = sum; atPeak = parts }
    }

    var breakdown: String { atPeak.map { "\($0.pid): \($0.kB) kB" }.joined(separator: ", ") }
}

@Suite("lookup run: memory of the process tree", .serialized)
struct BatchMemoryTests {
    private static func hex16(_ v: UInt64, _ p: UnsafeMutablePointer<UInt8>) {
        let digits: StaticString = "0123456789abcdef"
        let d = digits.utf8Start
        for i in 0..<16 { p[i] = d[Int((v >> UInt64(60 - 4 * i)) & 15)] }
    }

    @Test("4 workers: summed PSS < 1.3 x the 1-worker run, on a 4M-key table (about 190 MB)")
    func pssWithFourWorkersStaysNearOneCopy() throws {
        let work = try TempDir("memory")
        // Well over 100 MB, so the fixed memory of each process (and the noise of other
        // processes sharing library pages) weighs little against the one shared table.
        let keyCount = 4_000_000
        let seed: UInt64 = 0x3E30_0001
        var line = [UInt8](repeating: 0, count: 80)

        // The table: 16-hex-digit keys, 20-byte values.
        let csv = ByteSink(capacity: keyCount * 38)
        line.withUnsafeMutableBufferPointer { b in
            let p = b.baseAddress!
            p[16] = 44
            for (i, c) in "val-".utf8.enumerated() { p[17 + i] = c }
            p[37] = 10
            for i in 0..<keyCount {
                let k = mix(UInt64(i) ^ seed)
                Self.hex16(k, p)
                Self.hex16(mix(k), p + 21)
                csv.append(UnsafeRawBufferPointer(start: p, count: 38))
            }
        }
        try writeFile(work.file("table.csv"), csv.bytes)
        let table = work.file("table.lmdb")
        let build = try runLookup(["build", work.file("table.csv"), "-o", table])
        expectExit(build, 0, "lookup build")
        let tableSize = (try FileManager.default.attributesOfItem(atPath: table)[.size] as? Int) ?? 0
        #expect(tableSize >= 100_000_000, "the table is only \(tableSize) bytes")

        // Inputs: 8 files x 400k lines shaped like the benchmark's (`key,int,filler`, ~48
        // bytes), keys drawn at random from the table, so every worker touches most of its pages.
        var rng = SeededRNG(seed: seed + 1)
        let inputDir = work.file("in")
        for f in 0..<8 {
            let sink = ByteSink(capacity: 400_000 * 50)
            line.withUnsafeMutableBufferPointer { b in
                let p = b.baseAddress!
                p[16] = 44
                for _ in 0..<400_000 {
                    Self.hex16(mix(UInt64(rng.below(keyCount)) ^ seed), p)
                    var n = 17
                    var number = rng.below(1_000_000)
                    var digits = 1
                    while number >= 10 * digits && digits < 100_000 { digits *= 10 }
                    while digits > 0 { p[n] = UInt8(48 + number / digits); number %= digits; digits /= 10; n += 1 }
                    p[n] = 44; n += 1
                    for _ in 0..<(8 + rng.below(32)) { p[n] = 120; n += 1 }
                    p[n] = 10; n += 1
                    sink.append(UnsafeRawBufferPointer(start: p, count: n))
                }
            }
            try writeFile("\(inputDir)/f\(f).csv", sink.bytes)
        }

        func measure(workers: Int) throws -> PSSMeasurement {
            let out = work.file("out\(workers)"), summaryPath = work.file("summary\(workers).json")
            let process = try LookupProcess(["run", table, inputDir, "-o", out, "-j", "\(workers)", "--no-progress",
                                             "--summary-json", summaryPath])
            var m = PSSMeasurement()
            let r = try process.wait(sampleEvery: 0.01) { m.sample($0) }
            expectExit(r, 0, "-j \(workers)")
            let s = try readSummary(summaryPath)
            #expect(s.counts.hits == 8 * 400_000 && s.workers == workers, "-j \(workers): \(s)")
            try? FileManager.default.removeItem(atPath: out)
            return m
        }
        let one = try measure(workers: 1)
        let four = try measure(workers: 4)
        let ratio = Double(four.peakKB) / Double(max(one.peakKB, 1))
        print(String(format: "memory: table %.1f MB; peak summed PSS -j 1: %.1f MB (%d samples) [%@]; -j 4: %.1f MB (%d samples) [%@]; ratio %.3f (limit 1.3)",
                     Double(tableSize) / 1e6, Double(one.peakKB) / 1e3, one.samples, one.breakdown,
                     Double(four.peakKB) / 1e3, four.samples, four.breakdown, ratio))
        // The measurement saw what it should: the table's pages in the 1-worker run, 4 workers at once.
        #expect(Double(one.peakKB) * 1024 >= 0.8 * Double(tableSize),
                "1-worker peak PSS \(one.peakKB) kB does not cover the table (\(tableSize) bytes): the run did not touch it")
        #expect(four.maxWorkers == 4, "saw at most \(four.maxWorkers) workers at once in the -j 4 run")
        #expect(ratio < 1.3, "summed PSS with 4 workers is \(four.peakKB) kB, \(String(format: "%.2f", ratio))x the \(one.peakKB) kB of 1 worker (limit 1.3x); at the peak: \(four.breakdown)")
    }
}
