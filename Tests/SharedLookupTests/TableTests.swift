// Tests of the read side: lookups (owned, zero-copy, batch), scans, stats, metadata, plain
// LMDB files, the fork guard, and clear errors for files that are not whole tables.
import Foundation
import LMDB
import LookupTestSupport
import Testing
@testable import SharedLookup

#if canImport(Glibc)
import Glibc
#endif

@Suite("Table reading")
struct TableTests {
    /// Builds a table of `count` keys `k000000`... with values `v<i>`, from unsorted CSV.
    func sampleTable(_ scratch: TempDir, count: Int = 1000) throws -> (Table, [String: String]) {
        var rng = SeededRNG(seed: 42)
        var expected: [String: String] = [:]
        var lines: [String] = []
        for i in (0..<count).shuffled(using: &rng) {
            let key = String(format: "k%06d", i)
            expected[key] = "v\(i),x"
            lines.append("\(key),v\(i),x")
        }
        let input = try scratch.write("in.csv", lines.joined(separator: "\n") + "\n")
        try TableBuilder.build(inputs: [input], to: scratch.file("t.lmdb"))
        return (try Table(path: scratch.file("t.lmdb")), expected)
    }

    @Test func pointLookups() throws {
        let scratch = try TempDir("shared-lookup")
        let (table, expected) = try sampleTable(scratch)
        for (k, v) in expected {
            #expect(try table.string(for: k) == v)
        }
        #expect(try table.value(for: "k000007") == Array("v7,x".utf8))
        #expect(try table.value(for: "nope") == nil)
        #expect(try table.contains("k000999"))
        #expect(try !table.contains("k001000"))
        #expect(try !table.contains(""))
        #expect(try !table.contains(String(repeating: "k", count: 600)))
        let length = try table.withValue(for: "k000010") { $0?.count }
        #expect(length == 5)
    }

    @Test func batchLookupKeepsCallerOrder() throws {
        let scratch = try TempDir("shared-lookup")
        let (table, expected) = try sampleTable(scratch)
        var rng = SeededRNG(seed: 7)
        let keys = (0..<3000).map { _ in String(format: "k%06d", Int.random(in: 0..<1500, using: &rng)) }
        let values = try table.values(for: keys)
        #expect(values.count == keys.count)
        for (k, v) in zip(keys, values) {
            #expect(v.map { String(decoding: $0, as: UTF8.self) } == expected[k])
        }
        // Byte-array keys take the same path.
        let byteKeys = keys.prefix(10).map { Array($0.utf8) }
        #expect(try table.values(for: byteKeys) == Array(values.prefix(10)))
    }

    @Test func readerGivesZeroCopyValuesInOneTransaction() throws {
        let scratch = try TempDir("shared-lookup")
        let (table, expected) = try sampleTable(scratch)
        let found = try table.read { reader in
            var found = 0
            for k in expected.keys {
                try k.withLMDBBytes { kb in
                    if let v = try reader.value(for: kb), String(decoding: v, as: UTF8.self) == expected[k] { found += 1 }
                }
            }
            return found
        }
        #expect(found == expected.count)
    }

    @Test func prefixAndRangeScans() throws {
        let scratch = try TempDir("shared-lookup")
        let (table, _) = try sampleTable(scratch)
        var keys: [String] = []
        let n = try table.scan(prefix: "k00012") { k, _ in keys.append(String(decoding: k, as: UTF8.self)); return true }
        #expect(n == 10)
        #expect(keys == (120..<130).map { String(format: "k%06d", $0) })
        keys = []
        try table.scan(from: Array("k000990".utf8), to: Array("k000995".utf8)) { k, _ in
            keys.append(String(decoding: k, as: UTF8.self)); return true
        }
        #expect(keys == (990..<995).map { String(format: "k%06d", $0) })
        var visited = 0
        try table.scan { _, _ in visited += 1; return visited < 5 }
        #expect(visited == 5)
        #expect(try table.count() == 1000)
    }

    @Test func statsAndMetadata() throws {
        let scratch = try TempDir("shared-lookup")
        let (table, _) = try sampleTable(scratch, count: 20000)
        let stats = try table.stats()
        #expect(stats.entries == 20000)
        #expect(stats.depth >= 2)
        #expect(stats.fileSize == (try FileManager.default.attributesOfItem(atPath: table.path)[.size] as? Int))
        #expect(stats.mapSize >= stats.fileSize)
        #expect(stats.readersInUse == nil)
        let m = try #require(table.metadata)
        #expect(m.records == 20000)
        #expect(m.format == "csv")
        #expect(m.keyColumn == 1)
        #expect(m.sources == [scratch.file("in.csv")])
        #expect(m.duplicates == "error")
        let check = try table.verify()
        #expect(check.ok)
        #expect(check.records == 20000)
        #expect(check.contentHash == m.contentHash)
    }

    @Test func plainLMDBFileIsReadFromItsMainDatabase() throws {
        let scratch = try TempDir("shared-lookup")
        let path = scratch.file("plain.lmdb")
        do {
            let env = try Environment(path: path, options: EnvironmentOptions(flags: [.noSubdirectory], mapSize: 8 << 20))
            let db = try env.openDatabase()
            try env.write { txn in
                try txn.put(db, "x", "1")
                try txn.put(db, "y", "2")
            }
        }
        let table = try Table(path: path)
        #expect(table.metadata == nil)
        #expect(try table.string(for: "y") == "2")
        #expect(try table.count() == 2)
        #expect(try table.verify().ok)
    }

    @Test func notATableGivesClearErrors() throws {
        let scratch = try TempDir("shared-lookup")
        func openError(_ path: String) -> LookupError? {
            #expect(throws: LookupError.self) { _ = try Table(path: path) }
            do { _ = try Table(path: path) } catch let e as LookupError { return e } catch {}
            return nil
        }
        let missing = openError(scratch.file("missing.lmdb"))
        #expect(missing?.kind == .io)
        #expect(missing?.description.contains("missing.lmdb") == true)

        let text = openError(try scratch.write("text.lmdb", String(repeating: "not lmdb at all\n", count: 1000)))
        #expect(text?.kind == .notATable)
        let empty = openError(try scratch.write("empty.lmdb", ""))
        #expect(empty?.kind == .notATable)
        let directory = openError(scratch.path)
        #expect(directory?.kind == .notATable)
    }

    @Test func truncatedTableFailsWithoutSIGBUS() throws {
        let scratch = try TempDir("shared-lookup")
        let (table, _) = try sampleTable(scratch, count: 50000)
        let copy = scratch.file("cut.lmdb")
        try FileManager.default.copyItem(atPath: table.path, toPath: copy)
        #expect(truncate(copy, off_t(table.fileSize / 2)) == 0)
        let error = #expect(throws: LookupError.self) { _ = try Table(path: copy) }
        #expect(error?.kind == .truncated)
        #expect(error?.description.contains("cut.lmdb") == true)
        // Shorter than the two meta pages.
        #expect(truncate(copy, 5000) == 0)
        let short = #expect(throws: LookupError.self) { _ = try Table(path: copy) }
        #expect(short?.kind == .truncated)
    }

    @Test func handleUsedAfterForkThrows() throws {
        let scratch = try TempDir("shared-lookup")
        let (table, _) = try sampleTable(scratch, count: 10)
        let pid = fork()
        if pid == 0 {
            var status: Int32 = 3
            do {
                _ = try table.contains("k000001")
                status = 1
            } catch let error as LookupError {
                status = error.kind == .usedAfterFork ? 0 : 2
            } catch {
                status = 4
            }
            _exit(status)
        }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        #expect((status >> 8) & 0xff == 0, "child exit status \((status >> 8) & 0xff)")
        #expect(try table.contains("k000001"))
    }

    @Test func oldHandleKeepsReadingAfterRepublish() throws {
        let scratch = try TempDir("shared-lookup")
        let path = scratch.file("t.lmdb")
        try TableBuilder.build(inputs: [try scratch.write("a.csv", "k,old\n")], to: path)
        let old = try Table(path: path)
        try TableBuilder.build(inputs: [try scratch.write("b.csv", "k,new\nk2,x\n")], to: path)
        #expect(try old.string(for: "k") == "old")
        #expect(try old.count() == 1)
        #expect(try Table(path: path).string(for: "k") == "new")
    }
}
