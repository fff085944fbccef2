// The Swift API on tables built with folded and trimmed keys, composite keys and every value
// of a repeated key: Table.value(for:), values(for:), allValues(for:), withValue, and
// TableReader.withValue / lookupBatch, checked against a dictionary of the same records.
import Foundation
import LookupTestSupport
@testable import SharedLookup
import Testing

@Suite("Swift API: key forms and one-to-many tables")
struct KeyFormAPITests {
    /// ASCII letters in random case, with spaces, tabs or no-break spaces around.
    func variant(_ key: String, _ rng: inout SeededRNG) -> String {
        let pads = [" ", "\t", "\u{00A0}", ""]
        let body = String(key.map { rng.percent(50) ? Character($0.uppercased()) : $0 })
        return pads[rng.below(pads.count)] + body + pads[rng.below(pads.count)]
    }

    @Test("folded, trimmed, one-to-many: every read door applies the key form and sees every value")
    func everyDoor() throws {
        let dir = try TempDir("api")
        var rng = SeededRNG(seed: 1201)
        var want: [String: [String]] = [:]   // lowercase key -> values in order
        var options = BuildOptions(duplicates: .all)
        options.keyForm = KeyForm(ignoreCase: true, trim: true)
        let path = dir.file("t.lmdb")
        let builder = try TableBuilder(destination: path, options: options)
        let letters = Array("abcdefghij")
        for i in 0..<3000 {
            let key = String((0..<3).map { _ in letters[rng.below(letters.count)] })
            let value = "v\(i)"
            want[key, default: []].append(value)
            try builder.add(key: variant(key, &rng), value: value)
        }
        try builder.publish()

        let table = try Table(path: path)
        #expect(table.keyForm.ignoreCase && table.keyForm.trim)
        #expect(table.valuesPerKey == .many)
        #expect(try table.count() == want.count)
        let keys = want.keys.sorted()
        let asked = keys.map { variant($0, &rng) } + ["zzz", " ", ""]
        let expected: [[String]] = keys.map { want[$0]! } + [[], [], []]

        // One key at a time.
        for (key, values) in zip(asked, expected) {
            let all = try table.allValues(for: key).map { String(decoding: $0, as: UTF8.self) }
            #expect(all == values, "allValues(for: \(key))")
            #expect(try table.value(for: key).map { String(decoding: $0, as: UTF8.self) } == values.first, "value(for: \(key))")
            #expect(try table.string(for: key) == values.first)
            #expect(try table.contains(key) == !values.isEmpty)
            let borrowed = try table.withValue(for: key) { $0.map { String(decoding: $0, as: UTF8.self) } }
            #expect(borrowed == values.first, "withValue(for: \(key))")
        }
        // Batches.
        let firsts = try table.values(for: asked).map { $0.map { String(decoding: $0, as: UTF8.self) } }
        #expect(firsts == expected.map(\.first), "values(for:)")
        let lists = try table.allValues(for: asked).map { $0.map { String(decoding: $0, as: UTF8.self) } }
        #expect(lists == expected, "allValues(for: [keys])")
        // A reader: withValue and lookupBatch give the stored list.
        try table.read { reader in
            var got = [[String]](repeating: [], count: asked.count)
            try reader.lookupBatch(asked) { i, stored in
                if let stored { got[i] = ValueList(stored).map { String(decoding: $0, as: UTF8.self) } }
            }
            #expect(got == expected, "reader.lookupBatch")
            for (key, values) in zip(asked.prefix(50), expected) {
                let list = try reader.withValue(for: key) { $0.map { ValueList($0).map { String(decoding: $0, as: UTF8.self) } } ?? [] }
                #expect(list == values, "reader.withValue(for: \(key))")
            }
        }
        // The metadata says what the table is.
        let metadata = try #require(table.metadata)
        #expect(metadata.values == 3000)
        #expect(metadata.keyForm == KeyForm(ignoreCase: true, trim: true))
    }

    @Test("composite keys built from CSV: storedKey(typed:) joins tab-separated parts; value(for:) takes 0x1F-joined keys")
    func compositeFromFile() throws {
        let dir = try TempDir("apic")
        let input = dir.file("c.csv")
        try writeFile(input, "1,Eu ,a\n1,us,b\n2, EU,c\n")
        var options = BuildOptions()
        options.record.keyColumns = [1, 2]
        options.keyForm = KeyForm(parts: 2, ignoreCase: true, trim: true)
        let path = dir.file("c.lmdb")
        try TableBuilder.build(inputs: [input], to: path, options: options)
        let table = try Table(path: path)
        #expect(table.keyForm.parts == 2)
        #expect(try table.string(for: "1\u{1F}eu") == "a")
        #expect(try table.string(for: " 2 \u{1F}Eu") == "c")
        #expect(table.storedKey(typed: Array("1\tUS ".utf8)) == Array("1\u{1F}us".utf8))
        #expect(try table.value(for: table.storedKey(typed: Array("1\tUS".utf8))) == Array("b".utf8))
        #expect(try table.string(for: "1\teu") == nil, "the API takes stored-form keys: a tab is not a part separator")
        #expect(try table.metadata?.keyColumns == [1, 2])
    }

    @Test("TableBuilder.add refuses a key empty after trimming")
    func emptyAfterTrim() throws {
        let dir = try TempDir("apie")
        var options = BuildOptions()
        options.keyForm = KeyForm(trim: true)
        let builder = try TableBuilder(destination: dir.file("e.lmdb"), options: options)
        try builder.add(key: "a", value: "1")
        #expect(throws: LookupError.self) { try builder.add(key: " \u{00A0} ", value: "2") }
    }
}
