// The Swift API of tables that change (TableUpdater, TableVersions): upserts and deletes from
// code and from files, checked against a dictionary model through every read door (value,
// values, allValues, scan, count) after each of several updates; versions, rollback and
// compaction; and updates that must publish nothing (a bad change line, a range table).
import Foundation
import LookupTestSupport
@testable import SharedLookup
import Testing

@Suite("Swift API: updates, versions, rollback")
struct TableUpdateAPITests {
    /// Builds `path` from `rows` (key -> value) in code.
    func build(_ path: String, _ rows: [String: String], duplicates: DuplicatePolicy = .error) throws {
        let builder = try TableBuilder(destination: path, options: BuildOptions(duplicates: duplicates))
        for (k, v) in rows { try builder.add(key: k, value: v) }
        try builder.publish()
    }

    /// Expects `path` to hold exactly `model` through every read door, and to pass its check.
    func expectContents(_ path: String, _ model: [String: String], _ what: String,
                        sourceLocation: SourceLocation = #_sourceLocation) throws {
        let table = try Table(path: path)
        #expect(try table.count() == model.count, "\(what): count", sourceLocation: sourceLocation)
        var scanned: [String: String] = [:]
        var order: [String] = []
        try table.scan { key, value in
            let k = String(decoding: key, as: UTF8.self)
            scanned[k] = String(decoding: value, as: UTF8.self)
            order.append(k)
            return true
        }
        let differing = Set(scanned.keys).union(model.keys).filter { scanned[$0] != model[$0] }.sorted()
        #expect(differing.isEmpty, "\(what): scan differs at \(differing.prefix(5).map { "\($0): \(scanned[$0] ?? "-") vs \(model[$0] ?? "-")" })",
                sourceLocation: sourceLocation)
        #expect(order == order.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }, "\(what): scan in key order",
                sourceLocation: sourceLocation)
        // Point lookups and a batch, of present keys and of absent ones.
        let probes = Array(model.keys) + ["absent-1", "absent-2", "k0000", "k9999"]
        let want = probes.map { model[$0] }
        let single = try probes.map { try table.string(for: $0) }
        let batch = try table.values(for: probes).map { $0.map { String(decoding: $0, as: UTF8.self) } }
        #expect(single == want, "\(what): string(for:) differs for \(probes.indices.filter { single[$0] != want[$0] }.prefix(5).map { probes[$0] })",
                sourceLocation: sourceLocation)
        #expect(batch == want, "\(what): values(for:) differs for \(probes.indices.filter { batch[$0] != want[$0] }.prefix(5).map { probes[$0] })",
                sourceLocation: sourceLocation)
        // Read as a table larger than memory (values copied, pages requested ahead): the same.
        let tight = try Table(path: path, options: TableOptions(regime: .largerThanMemory))
        var tightBatch = KeyBatch()
        tightBatch.copiesValues = true
        // Every probe is a valid key, so each is kept at its own position; the keys' bytes stay
        // put in one arena during the lookup.
        let arena = probes.flatMap { Array($0.utf8) }
        let answers: [String?] = try arena.withUnsafeBytes { base in
            var offset = 0
            for probe in probes {
                let kept = tightBatch.add(UnsafeRawBufferPointer(rebasing: base[offset ..< offset + probe.utf8.count]))
                #expect(kept)
                offset += probe.utf8.count
            }
            return try tight.read { reader in
                try tightBatch.lookUp(in: reader)
                return probes.indices.map { i in tightBatch.value(at: i).map { String(decoding: $0, as: UTF8.self) } }
            }
        }
        #expect(answers == want, "\(what): a batch read larger than memory differs for \(probes.indices.filter { answers[$0] != want[$0] }.prefix(5).map { probes[$0] })",
                sourceLocation: sourceLocation)
        let report = try table.verify()
        #expect(report.ok, "\(what): check: \(report.problems)", sourceLocation: sourceLocation)
        #expect(report.records == model.count, "\(what): check counts", sourceLocation: sourceLocation)
    }

    @Test("upserts and deletes from code, several updates in a row, against a dictionary model; versions list them")
    func updatesFromCode() throws {
        let dir = try TempDir("upapi")
        let path = dir.file("t.lmdb")
        var model: [String: String] = [:]
        for i in 0..<500 { model[String(format: "k%04d", i)] = "v\(i)" }
        try build(path, model)
        var rng = SeededRNG(seed: 1201)
        for round in 1...4 {
            let updater = try TableUpdater(table: path, options: UpdateOptions(duplicates: .last))
            // Within one update, deletes apply first, then upserts (the last upsert of a key wins).
            var upserts: [String: String] = [:], deletes: Set<String> = []
            for _ in 0..<40 {
                let key = String(format: "k%04d", Int(rng.next() % 700))
                if rng.next() % 3 == 0 {
                    try updater.delete(key: key)
                    deletes.insert(key)
                } else {
                    let value = "r\(round)-\(rng.next() % 1000)"
                    try updater.upsert(key: key, value: value)
                    upserts[key] = value
                }
            }
            for key in deletes { model[key] = nil }
            for (key, value) in upserts { model[key] = value }
            let report = try updater.publish()
            #expect(report.records == model.count, "round \(round): records")
            try expectContents(path, model, "after update \(round)")
        }
        let versions = try TableVersions(table: path).list()
        // The current version, the two before it (--keep 2), and v1, the base of them all.
        #expect(versions.map(\.number) == [1, 3, 4, 5], "kept versions: \(versions.map(\.number))")
        #expect(versions.last?.isCurrent == true && versions.last?.records == model.count)
        #expect(versions.first?.base == nil && versions.dropFirst().allSatisfy { $0.base == 1 })
    }

    @Test("rollback republishes the previous version, and --to a given one; compact folds the changes with the same contents")
    func rollbackAndCompact() throws {
        let dir = try TempDir("uprb")
        let path = dir.file("t.lmdb")
        let first: [String: String] = ["a": "1", "b": "2", "c": "3"]
        try build(path, first)
        var second = first
        let u1 = try TableUpdater(table: path)
        try u1.upsert(key: "b", value: "20")
        try u1.upsert(key: "d", value: "4")
        try u1.delete(key: "a")
        try u1.publish()
        second["b"] = "20"; second["d"] = "4"; second["a"] = nil
        try expectContents(path, second, "updated")
        var third = second
        let u2 = try TableUpdater(table: path, options: UpdateOptions(keep: 5))
        try u2.delete(key: "c")
        try u2.delete(key: "not-there")
        try u2.publish()
        third["c"] = nil
        try expectContents(path, third, "updated twice")

        let back = try TableVersions.rollback(table: path)
        #expect(back.number == 2)
        try expectContents(path, second, "rolled back")
        try TableVersions.rollback(table: path, to: 1)
        try expectContents(path, first, "rolled back to the base")
        #expect(throws: LookupError.self) { try TableVersions.rollback(table: path, to: 42) }

        // Forward again, then compact: a base with the same records, no layer.
        try TableVersions.rollback(table: path, to: 3)
        let report = try TableUpdater.compact(table: path)
        #expect(report?.records == third.count)
        try expectContents(path, third, "compacted")
        let compacted = try Table(path: path)
        #expect(compacted.metadata?.layer == nil && compacted.metadata?.compactedFrom == 3)
        #expect(try TableUpdater.compact(table: path) == nil, "nothing left to fold")
    }

    @Test("a bad line in a change file, or a range table, publishes nothing: the current version stays")
    func failuresPublishNothing() throws {
        let dir = try TempDir("upbad")
        let path = dir.file("t.lmdb")
        try build(path, ["a": "1", "b": "2"])
        let before = try readFile(path)
        let bad = dir.file("bad.csv")
        try writeFile(bad, "c,3\n,4\n")
        let updater = try TableUpdater(table: path)
        #expect { try updater.addUpserts(from: bad) } throws: { ($0 as? LookupError)?.line == 2 }
        updater.discard()
        #expect(try readFile(path) == before, "the table file is unchanged")
        try expectContents(path, ["a": "1", "b": "2"], "after a failed update")
        let leftovers = dir.names().filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "no temp files beside the table: \(leftovers)")

        let ranges = dir.file("r.lmdb")
        let input = dir.file("r.csv")
        try writeFile(input, "10.0.0.0/8,ten\n")
        var options = BuildOptions()
        options.match = .cidr
        options.keyType = .ip
        try TableBuilder.build(inputs: [input], to: ranges, options: options)
        #expect { try TableUpdater(table: ranges) } throws: { ($0 as? LookupError)?.message.contains("not supported") == true }
    }

    @Test("a one-to-many table: an upsert replaces every value of its key; composite and folded keys are formed as the table's")
    func keyFormsAndLists() throws {
        let dir = try TempDir("upmany")
        let input = dir.file("m.csv")
        try writeFile(input, "A,x,1\nA,x,2\nb,y,3\n")
        let path = dir.file("m.lmdb")
        var options = BuildOptions(duplicates: .all)
        options.record.keyColumns = [1, 2]
        options.keyForm = KeyForm(parts: 2, ignoreCase: true)
        try TableBuilder.build(inputs: [input], to: path, options: options)
        let changes = dir.file("c.csv")
        try writeFile(changes, "a,X,7\na,X,8\nC,z,9\n")
        let updater = try TableUpdater(table: path)
        try updater.addUpserts(from: changes)
        try updater.delete(key: KeyForm.compositeKey(["B", "Y"]))
        try updater.publish()
        let table = try Table(path: path)
        func all(_ parts: [String]) throws -> [String] {
            try table.allValues(for: KeyForm.compositeKey(parts)).map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(try all(["a", "x"]) == ["7", "8"], "upsert replaced both values")
        #expect(try all(["c", "Z"]) == ["9"])
        #expect(try all(["b", "y"]) == [], "deleted through its folded form")
        #expect(try table.verify().ok)
    }
}
