// The Swift API on range tables: Table.value(for:), values(for:), allValues(for:), withValue,
// contains, TableReader.withValue and lookupBatch on tables built from files with --cidr,
// --ranges and --prefixes options, against a brute-force reference of random nested networks;
// and range tables built in code with TableBuilder.add(key:value:).
import Foundation
import LookupTestSupport
@testable import SharedLookup
import Testing

@Suite("Swift API: range tables")
struct RangeTableAPITests {
    /// Builds a table from `text` with `configure` applied to the options.
    func buildFromFile(_ dir: TempDir, _ text: String, _ configure: (inout BuildOptions) -> Void) throws -> Table {
        let input = dir.file("in.csv")
        try writeFile(input, text)
        var options = BuildOptions()
        configure(&options)
        let path = dir.file("t.lmdb")
        try TableBuilder.build(inputs: [input], to: path, options: options)
        return try Table(path: path)
    }

    @Test("random nested networks: every read door answers the longest prefix (brute-force reference)")
    func everyDoor() throws {
        let dir = try TempDir("rapi")
        let fixture = IPv4RangeFixture.networks(count: 1500, seed: 1701, probes: 2000)
        let table = try buildFromFile(dir, fixture.csv()) { $0.match = .cidr; $0.keyType = .ip; $0.narrowest = true }
        #expect(table.matchKind == .cidr)
        let want = fixture.expected()
        #expect(want.contains(nil) && want.contains { $0 != nil })
        func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

        var oneByOne: [String?] = [], borrowed: [String?] = [], all: [[String]] = [], contained: [Bool] = []
        for probe in fixture.probes {
            oneByOne.append(text(try table.value(for: probe)))
            borrowed.append(try table.withValue(for: probe) { $0.map { String(decoding: $0, as: UTF8.self) } })
            all.append(try table.allValues(for: probe).map { String(decoding: $0, as: UTF8.self) })
            contained.append(try table.contains(probe))
        }
        #expect(oneByOne == want, "value(for:)")
        #expect(borrowed == want, "withValue(for:)")
        #expect(all == want.map { $0.map { [$0] } ?? [] }, "allValues(for:)")
        #expect(contained == want.map { $0 != nil }, "contains")
        #expect(try table.values(for: fixture.probes).map(text) == want, "values(for:)")
        #expect(try table.allValues(for: fixture.probes).map { $0.first.map { String(decoding: $0, as: UTF8.self) } } == want,
                "allValues(for: [keys])")
        try table.read { reader in
            var got = [String?](repeating: nil, count: fixture.probes.count)
            try reader.lookupBatch(fixture.probes) { i, value in got[i] = value.map { String(decoding: $0, as: UTF8.self) } }
            #expect(got == want, "reader.lookupBatch")
            for (probe, value) in zip(fixture.probes, want).prefix(200) {
                let v = try reader.withValue(for: probe) { $0.map { String(decoding: $0, as: UTF8.self) } }
                #expect(v == value, "reader.withValue(for: \(probe))")
            }
        }
        // Keys that are not addresses: not found, through every door.
        for key in ["", "x", "10.0.0", "10.0.0.0/8", "::g"] {
            #expect(try table.value(for: key) == nil, "value(for: \(key))")
        }
        #expect(try table.values(for: ["nope", fixture.probes[0]]).map(text) == [nil, want[0]])
    }

    @Test("int and text ranges, prefixes: the metadata says the kind, lookups by value and by bytes")
    func kinds() throws {
        let dir = try TempDir("rapik")
        let ints = try buildFromFile(dir, "-100,100,wide\n-1,1,narrow\n\(Int64.min),\(Int64.min),min\n") {
            $0.match = .range; $0.keyType = .int; $0.narrowest = true; $0.record.keyColumns = [1, 2]
        }
        #expect(ints.matchKind == .range && ints.metadata?.keyType == .int)
        let intCases: [(String, String?)] = [("-101", nil), ("-100", "wide"), ("-2", "wide"), ("-1", "narrow"), ("1", "narrow"),
                                             ("2", "wide"), ("100", "wide"), ("101", nil), (String(Int64.min), "min"), ("a", nil)]
        #expect(try intCases.map { try ints.string(for: $0.0) } == intCases.map(\.1), "int ranges")
        let dir2 = try TempDir("rapip")
        let prefixes = try buildFromFile(dir2, "ab,two\na,one\n") { $0.match = .prefix }
        #expect(prefixes.matchKind == .prefix)
        #expect(try ["a", "ab", "abc", "aa", "b"].map { try prefixes.string(for: $0) } == ["one", "two", "two", "one", nil])
    }

    @Test("keys longer than 511 bytes find their prefix: Table.value(for:), values(for:), lookupBatch")
    func longKeys() throws {
        let dir = try TempDir("rapil")
        let table = try buildFromFile(dir, "ab,two\na,one\n") { $0.match = .prefix }
        let keys = ["ab" + String(repeating: "z", count: 800), "a" + String(repeating: "z", count: 511), "b" + String(repeating: "b", count: 600)]
        let want: [String?] = ["two", "one", nil]
        #expect(try keys.map { try table.string(for: $0) } == want, "one by one")
        #expect(try table.values(for: keys).map { $0.map { String(decoding: $0, as: UTF8.self) } } == want, "a batch")
        var batched = [String?](repeating: "unset", count: keys.count)
        try table.read { reader in
            try reader.lookupBatch(keys) { i, value in batched[i] = value.map { String(decoding: $0, as: UTF8.self) } }
        }
        #expect(batched == want, "TableReader.lookupBatch")
    }

    @Test("TableBuilder.add(key:value:) builds a network table in code: networks as keys")
    func networksInCode() throws {
        let dir = try TempDir("rapic")
        var options = BuildOptions()
        options.match = .cidr
        options.keyType = .ip
        options.narrowest = true
        let path = dir.file("c.lmdb")
        let builder = try TableBuilder(destination: path, options: options)
        try builder.add(key: "10.0.0.0/8", value: "ten")
        try builder.add(key: "0.0.0.0/0", value: "all")
        try builder.add(key: "10.1.0.0/16", value: "ten-one")
        try builder.publish()
        let table = try Table(path: path)
        let cases: [(String, String?)] = [("9.0.0.1", "all"), ("10.0.0.0", "ten"), ("10.1.2.3", "ten-one"), ("10.2.0.0", "ten"),
                                          ("2001:db8::1", nil)]
        #expect(try cases.map { try table.string(for: $0.0) } == cases.map(\.1), "lookups in a table built in code")
        #expect(try table.count() == 5, "segments")
    }

    @Test("TableBuilder.add(key:value:) refuses a malformed network in code as a bad record")
    func badNetworkInCode() throws {
        let dir = try TempDir("rapibad")
        var options = BuildOptions()
        options.match = .cidr
        options.keyType = .ip
        let builder = try TableBuilder(destination: dir.file("c.lmdb"), options: options)
        #expect(throws: LookupError.self) { try builder.add(key: "10.0.0.1/8", value: "x") }
    }
}
