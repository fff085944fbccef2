// Tests of the key index: every lookup through it (single, batch, zero-copy) answers exactly as
// the B+tree does, for present and absent keys, short and long keys, small values and values in
// overflow pages; a table changed in place after its build, or built without the index, is
// read through the B+tree; `verify` checks the index.
import Foundation
import LMDB
import LookupTestSupport
import Testing
@testable import SharedLookup

@Suite("Key index")
struct KeyIndexTests {
    /// Records with keys of 1 to 511 bytes and values of 0 to 5000 bytes (some in overflow
    /// pages), in random order, plus keys that are absent (some sharing prefixes with present ones).
    func records(count: Int, seed: UInt64) -> (present: [([UInt8], [UInt8])], absent: [[UInt8]]) {
        var rng = SeededRNG(seed: seed)
        var seen = Set<[UInt8]>()
        var present: [([UInt8], [UInt8])] = []
        var absent: [[UInt8]] = []
        while present.count < count {
            let length: Int
            switch rng.next() % 10 {
            case 0: length = 1 + Int(rng.next() % 511)
            case 1: length = 1 + Int(rng.next() % 4)
            default: length = 8 + Int(rng.next() % 17)
            }
            let key = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            guard seen.insert(key).inserted else { continue }
            let valueLength = rng.next() % 50 == 0 ? 2500 + Int(rng.next() % 2500) : Int(rng.next() % 40)
            present.append((key, (0..<valueLength).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
            // An absent neighbour: the same key with one more byte, or one byte changed.
            var other = key
            if rng.next() % 2 == 0 && other.count < 511 { other.append(7) } else { other[other.count - 1] ^= 0x5A }
            absent.append(other)
        }
        absent.removeAll { seen.contains($0) }
        return (present, absent)
    }

    func build(_ scratch: TempDir, _ name: String, _ records: [([UInt8], [UInt8])], index: Bool = true) throws -> Table {
        var options = BuildOptions()
        options.keyIndex = index
        let builder = try TableBuilder(destination: scratch.file(name), options: options)
        for (k, v) in records { try builder.add(key: k, value: v) }
        try builder.publish()
        return try Table(path: scratch.file(name))
    }

    @Test("every lookup through the index answers as the B+tree does")
    func indexMatchesTree() throws {
        let scratch = try TempDir("shared-lookup")
        let (present, absent) = records(count: 20_000, seed: 7)
        let indexed = try build(scratch, "indexed.lmdb", present)
        let plain = try build(scratch, "plain.lmdb", present, index: false)
        let index = try #require(indexed.keyIndex)
        #expect(index.keys == present.count)
        #expect(plain.keyIndex == nil)
        #expect(try indexed.stats().keyIndexSize == index.size && index.size > 0)
        #expect(try plain.stats().keyIndexSize == 0)

        // The index itself answers every record with a value in the leaf page (overflow
        // values are left to the B+tree) and no absent key.
        var answered = 0, unknown = 0, claimed = 0
        for (k, v) in present {
            switch k.withUnsafeBytes({ index.find($0, hash: KeyIndex.hash($0)) }) {
            case .found(let value): if Array(value) == v { answered += 1 }
            case .unknown: unknown += 1
            case .missing: break
            }
        }
        for k in absent {
            if case .missing = k.withUnsafeBytes({ index.find($0, hash: KeyIndex.hash($0)) }) {} else { claimed += 1 }
        }
        let overflow = present.filter { $0.1.count > 2000 }.count
        #expect(overflow > 100 && answered == present.count - overflow && unknown == overflow && claimed == 0)

        // One at a time.
        var wrong = 0
        for (k, v) in present where try indexed.value(for: k) != v { wrong += 1 }
        for k in absent where try indexed.value(for: k) != nil { wrong += 1 }
        #expect(wrong == 0, "\(wrong) single lookups answered differently")
        #expect(try indexed.value(for: [UInt8]()) == nil)
        #expect(try indexed.value(for: [UInt8](repeating: 1, count: 512)) == nil)

        // Batches, present and absent keys mixed, against the table without an index.
        var rng = SeededRNG(seed: 3)
        let keys = (present.map(\.0) + absent).shuffled(using: &rng)
        let viaIndex = try indexed.values(for: keys)
        let viaTree = try plain.values(for: keys)
        #expect(viaIndex == viaTree)
        #expect(viaIndex.compactMap { $0 }.count == present.count)

        // Zero-copy: the bytes lent point into the map, where the B+tree has them.
        try indexed.read { reader in
            try indexed.environment.read { txn in
                for (k, _) in present.prefix(2000) {
                    try k.withUnsafeBytes { kb in
                        let tree = try txn.get(indexed.database, kb)
                        let mine = try reader.value(for: kb)
                        #expect(mine?.baseAddress == tree?.baseAddress && mine?.count == tree?.count)
                    }
                }
            }
        }
        #expect(try indexed.verify().ok)
    }

    @Test("a table written in place after its build is read without its index")
    func staleIndexIsIgnored() throws {
        let scratch = try TempDir("shared-lookup")
        let (present, _) = records(count: 500, seed: 11)
        let path = scratch.file("t.lmdb")
        _ = try build(scratch, "t.lmdb", present)
        #expect(try Table(path: path).keyIndex != nil)
        // Another program adds a record and changes one in place (LMDB itself allows it).
        do {
            let env = try Environment(path: path, options: EnvironmentOptions(
                flags: [.noSubdirectory, .noLock], mapSize: nil, maxReaders: 1, maxDatabases: 4))
            try env.write { txn in
                let data = try txn.openDatabase("data")
                try txn.put(data, "added-later", "new")
                try txn.put(data, present[0].0, Array("changed".utf8))
            }
        }
        let table = try Table(path: path)
        #expect(table.keyIndex == nil)
        #expect(try table.string(for: "added-later") == "new")
        #expect(try table.value(for: present[0].0) == Array("changed".utf8))
        #expect(try table.values(for: [Array("added-later".utf8), present[1].0]) == [Array("new".utf8), present[1].1])
    }

    @Test("an empty table, and tables with one record, have correct lookups")
    func tinyTables() throws {
        let scratch = try TempDir("shared-lookup")
        let empty = try build(scratch, "empty.lmdb", [])
        #expect(try empty.value(for: "a") == nil)
        #expect(try empty.values(for: ["a", "b"]) == [nil, nil])
        let one = try build(scratch, "one.lmdb", [(Array("k".utf8), Array("v".utf8))])
        #expect(one.keyIndex != nil)
        #expect(try one.string(for: "k") == "v")
        #expect(try one.value(for: "kk") == nil)
        #expect(try one.verify().ok)
    }

    @Test("without room in the memory budget the table is built without an index, and reads the same")
    func budgetTooSmallForIndex() throws {
        let scratch = try TempDir("shared-lookup")
        let (present, absent) = records(count: 3000, seed: 5)
        var options = BuildOptions()
        options.memoryBudget = 1024
        let builder = try TableBuilder(destination: scratch.file("t.lmdb"), options: options)
        for (k, v) in present { try builder.add(key: k, value: v) }
        try builder.publish()
        let table = try Table(path: scratch.file("t.lmdb"))
        #expect(table.keyIndex == nil)
        #expect(try table.values(for: present.map(\.0)) == present.map(\.1))
        #expect(try table.values(for: absent).allSatisfy { $0 == nil })
    }
}
