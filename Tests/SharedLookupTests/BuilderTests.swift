// Tests of building tables: sorting (in memory and spilled to disk), sorted-input detection,
// duplicate policies, bad records, metadata, the builder API, and atomic publishing.
import Foundation
import LMDB
import LookupTestSupport
import Testing
@testable import SharedLookup

@Suite("Building tables")
struct BuilderTests {
    @Test func unsortedInputIsSortedAndSortedInputIsDetected() throws {
        let scratch = try TempDir("shared-lookup")
        let unsorted = try scratch.write("u.csv", "c,3\na,1\nb,2\n")
        let r1 = try TableBuilder.build(inputs: [unsorted], to: scratch.file("u.lmdb"))
        #expect(!r1.inputWasSorted)
        #expect(try allRecords(Table(path: scratch.file("u.lmdb"))).map(\.0) == ["a", "b", "c"])
        let sorted = try scratch.write("s.csv", "a,1\nb,2\nc,3\n")
        let r2 = try TableBuilder.build(inputs: [sorted], to: scratch.file("s.lmdb"))
        #expect(r2.inputWasSorted)
        #expect(r2.records == 3)
        // Same records, same content hash.
        #expect(r1.metadata.contentHash == r2.metadata.contentHash)
    }

    @Test func duplicatePolicies() throws {
        let scratch = try TempDir("shared-lookup")
        let input = try scratch.write("d.csv", "k,first\nz,1\nk,second\nk,third\n")
        let error = #expect(throws: LookupError.self) {
            try TableBuilder.build(inputs: [input], to: scratch.file("e.lmdb"))
        }
        #expect(error?.kind == .duplicateKey)
        #expect(error?.path == input)
        #expect(error?.line == 3)
        #expect(error?.description.contains("\(input):1") == true)
        #expect(!FileManager.default.fileExists(atPath: scratch.file("e.lmdb")))

        var options = BuildOptions(duplicates: .first)
        let first = try TableBuilder.build(inputs: [input], to: scratch.file("f.lmdb"), options: options)
        #expect(first.duplicatesDropped == 2)
        #expect(try Table(path: scratch.file("f.lmdb")).string(for: "k") == "first")
        options.duplicates = .last
        try TableBuilder.build(inputs: [input], to: scratch.file("l.lmdb"), options: options)
        #expect(try Table(path: scratch.file("l.lmdb")).string(for: "k") == "third")
        #expect(try Table(path: scratch.file("l.lmdb")).metadata?.duplicatesDropped == 2)
    }

    @Test func duplicatesAcrossInputsFollowInputOrder() throws {
        let scratch = try TempDir("shared-lookup")
        let a = try scratch.write("a.csv", "k,from-a\n")
        let b = try scratch.write("b.csv", "k,from-b\n")
        try TableBuilder.build(inputs: [a, b], to: scratch.file("t.lmdb"), options: BuildOptions(duplicates: .last))
        #expect(try Table(path: scratch.file("t.lmdb")).string(for: "k") == "from-b")
        let error = #expect(throws: LookupError.self) {
            try TableBuilder.build(inputs: [a, b], to: scratch.file("t2.lmdb"))
        }
        #expect(error?.path == b)
        #expect(error?.description.contains("\(a):1") == true)
    }

    /// Writes `count` records with random keys (some duplicated) and returns the expected
    /// table under `last`.
    func randomInput(_ scratch: TempDir, count: Int) throws -> (String, [String: String]) {
        var rng = SeededRNG(seed: 99)
        var expected: [String: String] = [:]
        var text = ""
        text.reserveCapacity(count * 60)
        for i in 0..<count {
            let key = String(UInt64.random(in: 0..<UInt64(count), using: &rng), radix: 16)
            let value = "\(i)," + String(repeating: "p", count: Int.random(in: 10..<40, using: &rng))
            expected[key] = value
            text += "\(key),\(value)\n"
        }
        return (try scratch.write("big.csv", text), expected)
    }

    @Test func spilledSortGivesTheSameTableAsInMemory() throws {
        let scratch = try TempDir("shared-lookup")
        let (input, expected) = try randomInput(scratch, count: 400_000)
        let small = BuildOptions(duplicates: .last, memoryBudget: 16 << 20)
        let spilled = try TableBuilder.build(inputs: [input], to: scratch.file("spilled.lmdb"), options: small)
        #expect(spilled.runsSpilled > 1)
        let inMemory = try TableBuilder.build(inputs: [input], to: scratch.file("memory.lmdb"),
                                              options: BuildOptions(duplicates: .last))
        #expect(inMemory.runsSpilled == 0)
        #expect(spilled.records == expected.count)
        #expect(spilled.metadata.contentHash == inMemory.metadata.contentHash)
        let table = try Table(path: scratch.file("spilled.lmdb"))
        var checked = 0
        for (k, v) in expected where checked < 2000 {
            #expect(try table.string(for: k) == v)
            checked += 1
        }
        #expect(try table.verify().ok)
        // Sort runs are removed once the table is published.
        #expect(!scratch.names().contains { $0.hasPrefix(".lookup-sort-") })
    }

    @Test func badRecordsStopTheBuildOrAreSkipped() throws {
        let scratch = try TempDir("shared-lookup")
        let input = try scratch.write("bad.csv", "a,1\n\"bro\"ken,2\nb,2\n,empty\nc\n" + String(repeating: "x", count: 600) + ",long\n")
        let error = #expect(throws: LookupError.self) {
            try TableBuilder.build(inputs: [input], to: scratch.file("t.lmdb"))
        }
        #expect(error?.kind == .badRecord)
        #expect(error?.path == input)
        #expect(error?.line == 2)
        #expect(!FileManager.default.fileExists(atPath: scratch.file("t.lmdb")))

        let report = try TableBuilder.build(inputs: [input], to: scratch.file("t.lmdb"),
                                            options: BuildOptions(skipBadRecords: true))
        #expect(report.badRecords == 3)
        #expect(report.badRecordSamples.map(\.line) == [2, 4, 6])
        #expect(try allRecords(Table(path: scratch.file("t.lmdb"))).map(\.0) == ["a", "b", "c"])
        #expect(try Table(path: scratch.file("t.lmdb")).metadata?.badRecordsSkipped == 3)
    }

    @Test func builderAPIAcceptsRecordsFromCode() throws {
        let scratch = try TempDir("shared-lookup")
        let builder = try TableBuilder(destination: scratch.file("api.lmdb"))
        for i in (0..<500).reversed() {
            try builder.add(key: "key\(i)", value: [UInt8(i & 0xff), 0, 255])
        }
        #expect(throws: LookupError.self) { try builder.add(key: "", value: "x") }
        let report = try builder.publish()
        #expect(report.records == 500)
        #expect(report.metadata.format == "api")
        let table = try Table(path: scratch.file("api.lmdb"))
        #expect(try table.value(for: "key300") == [UInt8(300 & 0xff), 0, 255])
    }

    @Test func failedBuildLeavesOldTableAndNoTempFiles() throws {
        let scratch = try TempDir("shared-lookup")
        let path = scratch.file("t.lmdb")
        try TableBuilder.build(inputs: [try scratch.write("good.csv", "k,good\n")], to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let bad = try scratch.write("dup.csv", "k,1\nk,2\n")
        #expect(throws: LookupError.self) { try TableBuilder.build(inputs: [bad], to: path) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(scratch.names() == ["dup.csv", "good.csv", "t.lmdb"])
        // A builder dropped without publishing removes its temp file too.
        do {
            let builder = try TableBuilder(destination: path)
            try builder.add(key: "x", value: "y")
        }
        #expect(scratch.names() == ["dup.csv", "good.csv", "t.lmdb"])
    }

    @Test func staleTempFilesOfDeadBuildsAreRemoved() throws {
        let scratch = try TempDir("shared-lookup")
        // A pid that cannot be alive (above pid_max).
        try scratch.write(".t.lmdb.tmp-99999999-1234", "leftover")
        try scratch.write(".lookup-sort-99999999-0-1.run", "leftover")
        try TableBuilder.build(inputs: [try scratch.write("a.csv", "k,v\n")], to: scratch.file("t.lmdb"))
        #expect(scratch.names() == ["a.csv", "t.lmdb"])
    }

    @Test func destinationProblemsAreReportedBeforeReading() throws {
        let scratch = try TempDir("shared-lookup")
        let input = try scratch.write("a.csv", "k,v\n")
        let noDir = #expect(throws: LookupError.self) {
            try TableBuilder.build(inputs: [input], to: scratch.file("missing/t.lmdb"))
        }
        #expect(noDir?.description.contains("does not exist") == true)
        let isDir = #expect(throws: LookupError.self) {
            try TableBuilder.build(inputs: [input], to: scratch.path)
        }
        #expect(isDir?.kind == .io)
        let missingInput = #expect(throws: LookupError.self) {
            try TableBuilder.build(inputs: [scratch.file("none.csv")], to: scratch.file("t.lmdb"))
        }
        #expect(missingInput?.path == scratch.file("none.csv"))
    }

    @Test func formatIsInferredFromTheFileName() {
        #expect(RecordFormat.infer(fromPath: "a/b.csv") == .csv)
        #expect(RecordFormat.infer(fromPath: "b.TSV.gz") == .tsv)
        #expect(RecordFormat.infer(fromPath: "x.ndjson") == .jsonl)
        #expect(RecordFormat.infer(fromPath: "x.dump") == .mdbDump)
        #expect(RecordFormat.infer(fromPath: "x.cdb") == .cdb)
        #expect(RecordFormat.infer(fromPath: "noext") == nil)
        #expect(RecordFormat.infer(fromPath: "dir.csv/file") == nil)
    }
}
