// End-to-end tests of range tables through the `lookup` binary: `build --cidr`, `--ranges`
// (ip, int, text keys) and `--prefixes`, looked up with `get` (arguments and stdin, -K,
// --missing): block boundaries and just outside them, IPv4-mapped IPv6, 0.0.0.0/0 and ::/0,
// Int64 bounds, prefixes of 0xFF bytes; overlaps refused or narrowest-wins; bad rows as one
// line naming file:line; random nested tables against a brute-force reference; stats, check,
// and `dump --format csv` read back with --ranges.
import Foundation
import LookupTestSupport
import Testing

/// Builds a table; expects success.
private func buildTable(_ input: String, _ table: String, _ options: [String],
                        sourceLocation: SourceLocation = #_sourceLocation) throws {
    let r = try lookup(["build", input, "-o", table] + options)
    expectSuccess(r, "lookup build \(options.joined(separator: " "))", sourceLocation: sourceLocation)
}

/// `lookup get TABLE -K --missing NA` with `keys` on stdin: KEY -> value (NA when missing).
private func getAll(_ table: String, _ keys: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
    let r = try lookup(["get", table, "--missing", "NA"], stdin: Array((keys.joined(separator: "\n") + "\n").utf8))
    #expect(!r.signaled && (r.status == 0 || r.status == 1), "get: \(r.summary)", sourceLocation: sourceLocation)
    return r.outLines
}

/// Expects `get` (stdin and arguments) to answer `cases` (key -> value, nil: missing).
private func expectAnswers(_ table: String, _ cases: [(String, String?)], _ what: String,
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
    let keys = cases.map(\.0)
    let got = try getAll(table, keys, sourceLocation: sourceLocation)
    let want = cases.map { $0.1 ?? "NA" }
    for (i, key) in keys.enumerated() where i < got.count && got[i] != want[i] {
        Issue.record("\(what): get \(key) gave \(got[i]), expected \(want[i])", sourceLocation: sourceLocation)
    }
    #expect(got.count == want.count, "\(what): \(got.count) answers for \(want.count) keys", sourceLocation: sourceLocation)
    // Arguments (after "--": keys may start with "-") and -K: the same answers, each with its
    // key; exit 1 when one is missing.
    let args = try lookup(["get", table, "-K", "--missing", "NA", "--"] + keys)
    #expect(args.status == (cases.contains { $0.1 == nil } ? 1 : 0), "\(what): get -K args: \(args.summary)",
            sourceLocation: sourceLocation)
    expectSameLines(args.outLines, zip(keys, want).map { $0 + "\t" + $1 }, "\(what): get -K with arguments",
                    sourceLocation: sourceLocation)
}

@Suite("range tables: build --cidr, --ranges, --prefixes and get")
struct CLIRangeTableTests {
    @Test("IPv4 networks: first and last address of each block and just outside, nested blocks, 0.0.0.0/0, IPv4-mapped IPv6")
    func ipv4Boundaries() throws {
        let dir = try TempDir("rng4")
        // Unsorted, nested (narrowest wins), a /32 and a /31, adjacent blocks.
        let input = try dir.write("n.csv", """
            192.168.1.128/25,half
            10.0.0.0/8,ten
            0.0.0.0/0,all
            192.168.1.0/24,home
            10.1.2.3/32,host
            172.16.0.0/31,pair
            172.16.0.2/31,pair2
            255.255.255.255/32,top

            """)
        let table = dir.file("n.lmdb")
        try buildTable(input, table, ["--cidr", "--overlaps", "narrowest"])
        try expectAnswers(table, [
            ("0.0.0.0", "all"), ("9.255.255.255", "all"), ("10.0.0.0", "ten"), ("10.255.255.255", "ten"),
            ("11.0.0.0", "all"), ("10.1.2.2", "ten"), ("10.1.2.3", "host"), ("10.1.2.4", "ten"),
            ("192.168.0.255", "all"), ("192.168.1.0", "home"), ("192.168.1.127", "home"), ("192.168.1.128", "half"),
            ("192.168.1.255", "half"), ("192.168.2.0", "all"), ("172.15.255.255", "all"), ("172.16.0.0", "pair"),
            ("172.16.0.1", "pair"), ("172.16.0.2", "pair2"), ("172.16.0.3", "pair2"), ("172.16.0.4", "all"),
            ("255.255.255.254", "all"), ("255.255.255.255", "top"),
            // IPv4-mapped IPv6 is the same address; other IPv6 is outside every IPv4 block.
            ("::ffff:10.0.0.1", "ten"), ("::ffff:c0a8:180", "half"), ("0:0:0:0:0:ffff:255.255.255.255", "top"),
            ("::ffff:0.0.0.0", "all"), ("::fffe:ffff:ffff", nil), ("::1:0:0:0", nil), ("2001:db8::1", nil), ("::", nil),
            // Not addresses: simply not found.
            ("10.0.0", nil), ("10.0.0.256", nil), ("ten", nil), ("10.0.0.1/8", nil), (" 10.0.0.1", nil), ("010.0.0.1", nil),
        ], "IPv4 networks")
        let check = try lookup(["check", table])
        expectSuccess(check, "check")
        let stats = try lookup(["stats", table])
        #expect(stats.outLines.contains { $0.hasPrefix("match:") && $0.contains("cidr") }, "stats: \(stats.out)")
    }

    @Test("IPv6 networks: ::/0, a block reaching ffff:..., 2001:db8::/32 and a /128 inside it, boundaries")
    func ipv6Boundaries() throws {
        let dir = try TempDir("rng6")
        let input = try dir.write("n6.csv", """
            2001:db8::/32,doc
            ::/0,any
            2001:db8:0:1::/64,sub
            2001:db8::1/128,one
            ff00::/8,multicast
            ::ffff:0:0/96,v4mapped

            """)
        let table = dir.file("n6.lmdb")
        try buildTable(input, table, ["--cidr", "--overlaps", "narrowest"])
        try expectAnswers(table, [
            ("::", "any"), ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "any"), ("2001:db8::", "doc"),
            ("2001:db8::1", "one"), ("2001:db8::2", "doc"), ("2001:db8:0:1::", "sub"),
            ("2001:db8:0:1:ffff:ffff:ffff:ffff", "sub"), ("2001:db8:0:2::", "doc"),
            ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "doc"), ("2001:db9::", "any"),
            ("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "any"), ("ff00::", "multicast"),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast"),
            ("10.0.0.1", "v4mapped"), ("::ffff:0.0.0.0", "v4mapped"), ("::fffe:ffff:ffff", "any"), ("::1:0:0:0", "any"),
            ("2001:DB8::1", "one"), ("2001:db8::g", nil), ("2001:db8:::1", nil),
        ], "IPv6 networks")
        expectSuccess(try lookup(["check", table]), "check")
    }

    @Test("nested blocks that both reach the top of the address space (::/0 and ff00::/8)")
    func nestedAtTheTop() throws {
        let dir = try TempDir("rngtop")
        let input = try dir.write("top.csv", "::/0,any\nff00::/8,multicast\nffff::/16,last\n")
        let table = dir.file("top.lmdb")
        try buildTable(input, table, ["--cidr", "--overlaps", "narrowest"])
        try expectAnswers(table, [
            ("::", "any"), ("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "any"), ("ff00::", "multicast"),
            ("fffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast"), ("ffff::", "last"),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "last"),
        ], "blocks reaching the top")
        expectSuccess(try lookup(["check", table]), "check")
    }

    @Test("overlapping networks are refused by default naming both lines; nothing is written")
    func overlapRefused() throws {
        let dir = try TempDir("rngov")
        let input = try dir.write("n.csv", "0.0.0.0/0,all\n10.0.0.0/8,ten\n")
        let table = dir.file("n.lmdb")
        let r = try lookup(["build", input, "--cidr", "-o", table])
        expectCleanError(r, status: 2, mentions: ["n.csv:2:", "n.csv:1", "overlap", "10.0.0.0-10.255.255.255", "--overlaps narrowest"],
                         "overlapping networks")
        #expect(!FileManager.default.fileExists(atPath: table), "a table was written")
        #expect(dir.names() == ["n.csv"], "files left: \(dir.names())")

        // Order of the lines does not matter: the wider one second.
        let swapped = try dir.write("s.csv", "10.0.0.0/8,ten\n0.0.0.0/0,all\n")
        let s = try lookup(["build", swapped, "--cidr", "-o", table])
        expectCleanError(s, status: 2, mentions: ["s.csv:1", "s.csv:2", "overlap"], "overlapping networks, wide one last")

        // The same network twice is refused even with --overlaps narrowest.
        let twice = try dir.write("t.csv", "10.0.0.0/8,a\n192.168.0.0/16,b\n10.0.0.0/8,c\n")
        let t = try lookup(["build", twice, "--cidr", "--overlaps", "narrowest", "-o", table])
        expectCleanError(t, status: 2, mentions: ["t.csv:1", "t.csv:3", "same"], "the same network twice")
        #expect(!FileManager.default.fileExists(atPath: table))
    }

    @Test("ranges: crossing ranges refused even with narrowest; nesting refused without it; adjacent ranges are fine")
    func rangeOverlaps() throws {
        let dir = try TempDir("rngx")
        let table = dir.file("r.lmdb")
        let crossing = try dir.write("c.csv", "1,10,a\n20,30,b\n5,15,c\n")
        for policy in [[], ["--overlaps", "narrowest"]] {
            let r = try lookup(["build", crossing, "--ranges", "--key-type", "int", "-o", table] + policy)
            expectCleanError(r, status: 2, mentions: ["c.csv:1", "c.csv:3", "overlap"], "crossing ranges \(policy)")
        }
        let narrowest = try lookup(["build", crossing, "--ranges", "--key-type", "int", "--overlaps", "narrowest", "-o", table])
        #expect(narrowest.err.contains("without one holding the other"), "\(narrowest.err)")
        // Touching at one point is overlapping (bounds are inclusive).
        let touching = try dir.write("t.csv", "1,10,a\n10,20,b\n")
        let t = try lookup(["build", touching, "--ranges", "--key-type", "int", "--overlaps", "narrowest", "-o", table])
        expectCleanError(t, status: 2, mentions: ["t.csv:1", "t.csv:2"], "ranges sharing one point")
        #expect(!FileManager.default.fileExists(atPath: table))

        let nested = try dir.write("n.csv", "1,100,outer\n40,60,inner\n")
        let n = try lookup(["build", nested, "--ranges", "--key-type", "int", "-o", table])
        expectCleanError(n, status: 2, mentions: ["n.csv:2", "n.csv:1", "--overlaps narrowest"], "nested ranges without narrowest")

        // Adjacent: end + 1 == next start, unsorted.
        let adjacent = try dir.write("a.csv", "11,20,b\n1,10,a\n21,21,c\n")
        try buildTable(adjacent, table, ["--ranges", "--key-type", "int"])
        try expectAnswers(table, [("0", nil), ("1", "a"), ("10", "a"), ("11", "b"), ("20", "b"), ("21", "c"), ("22", nil)],
                          "adjacent int ranges")
    }

    @Test("int ranges: negative numbers, Int64.min and Int64.max, nested with narrowest, non-numbers not found")
    func intRanges() throws {
        let dir = try TempDir("rngi")
        let min = String(Int64.min), max = String(Int64.max)
        let input = try dir.write("i.csv", """
            \(min),\(max),everything
            -100,-1,negative
            -50,-50,minus-fifty
            0,0,zero
            \(max),\(max),maximum
            \(min),-9223372036854775000,bottom
            1000,+2000,thousands

            """)
        let table = dir.file("i.lmdb")
        try buildTable(input, table, ["--ranges", "--key-type", "int", "--overlaps", "narrowest"])
        try expectAnswers(table, [
            (min, "bottom"), ("-9223372036854775000", "bottom"), ("-9223372036854774999", "everything"),
            ("-101", "everything"), ("-100", "negative"), ("-51", "negative"), ("-50", "minus-fifty"), ("-49", "negative"),
            ("-1", "negative"), ("0", "zero"), ("-0", "zero"), ("+0", "zero"), ("1", "everything"), ("999", "everything"),
            ("1000", "thousands"), ("2000", "thousands"), ("2001", "everything"),
            ("9223372036854775806", "everything"), (max, "maximum"),
            ("9223372036854775808", nil), ("-9223372036854775809", nil), ("1.5", nil), ("1e3", nil), ("0x10", nil),
            ("12a", nil), ("-", nil),
        ], "int ranges")
        expectSuccess(try lookup(["check", table]), "check")

        // Int ranges compare by value, not as text: "9" < "10".
        let byValue = try dir.write("v.csv", "9,9,nine\n10,99,tens\n-10,-2,neg\n")
        try buildTable(byValue, table, ["--ranges", "--key-type", "int"])
        try expectAnswers(table, [("9", "nine"), ("10", "tens"), ("50", "tens"), ("100", nil), ("-5", "neg"), ("-1", nil), ("-11", nil)],
                          "int order")
    }

    @Test("int ranges reaching Int64.max, nested: each keeps its own part")
    func intRangesNestedAtTheTop() throws {
        let dir = try TempDir("rngimax")
        let max = String(Int64.max)
        let input = try dir.write("i.csv", "0,\(max),outer\n100,\(max),inner\n")
        let table = dir.file("i.lmdb")
        try buildTable(input, table, ["--ranges", "--key-type", "int", "--overlaps", "narrowest"])
        try expectAnswers(table, [("-1", nil), ("0", "outer"), ("99", "outer"), ("100", "inner"), (max, "inner")],
                          "nested ranges reaching Int64.max")
    }

    @Test("text ranges (the default key type): byte order, inclusive last key, longer keys after it")
    func textRanges() throws {
        let dir = try TempDir("rngt")
        let input = try dir.write("t.csv", "m,p,middle\na,c,first\nx,zz,last\nd,d,just-d\n")
        let table = dir.file("t.lmdb")
        try buildTable(input, table, ["--ranges"])
        try expectAnswers(table, [
            ("a", "first"), ("abc", "first"), ("b", "first"), ("c", "first"), ("ca", nil), ("d", "just-d"), ("da", nil),
            ("l", nil), ("lzzz", nil), ("m", "middle"), ("p", "middle"), ("pa", nil), ("x", "last"), ("zz", "last"),
            ("zza", nil), ("A", nil), ("0", nil),
        ], "text ranges")
        let stats = try lookup(["stats", table])
        #expect(stats.outLines.contains { $0.hasPrefix("match:") && $0.contains("range") && $0.contains("text") }, "stats: \(stats.out)")
    }

    @Test("prefixes: the longest stored prefix wins; a key equal to a prefix; prefixes of 0xFF bytes")
    func prefixes() throws {
        let dir = try TempDir("rngp")
        var text: [UInt8] = Array("ab,two\na,one\nabcd,four\nb,bee\nabc,three\n".utf8)
        text += [0xFF] + Array(",ff\n".utf8)
        text += [0xFF, 0xFF] + Array(",ffff\n".utf8)
        text += [0x61, 0xFF] + Array(",a-ff\n".utf8)
        let input = try dir.write("p.csv", text)
        let table = dir.file("p.lmdb")
        try buildTable(input, table, ["--prefixes"])
        let cases: [([UInt8], String?)] = [
            (Array("a".utf8), "one"), (Array("aa".utf8), "one"), (Array("ab".utf8), "two"), (Array("abz".utf8), "two"),
            (Array("abc".utf8), "three"), (Array("abcd".utf8), "four"), (Array("abcde".utf8), "four"),
            (Array("abce".utf8), "three"), (Array("ac".utf8), "one"), (Array("b".utf8), "bee"), (Array("bz".utf8), "bee"),
            (Array("c".utf8), nil), (Array("A".utf8), nil), (Array("".utf8) + [0x60], nil),
            ([0x61, 0xFF], "a-ff"), ([0x61, 0xFF, 0xFF], "a-ff"), ([0x61, 0xFE], "one"),
            ([0xFF], "ff"), ([0xFF, 0x00], "ff"), ([0xFF, 0xFE], "ff"), ([0xFF, 0xFF], "ffff"), ([0xFF, 0xFF, 0xFF, 0x41], "ffff"),
            ([0xFE], nil),
        ]
        var stdin: [UInt8] = []
        for (key, _) in cases { stdin += key + [10] }
        let r = try lookup(["get", table, "--missing", "NA"], stdin: stdin)
        #expect(r.status == 1, "get: \(r.summary)")
        expectSameLines(r.outLines, cases.map { $0.1 ?? "NA" }, "prefix lookups")
        expectSuccess(try lookup(["check", table]), "check")
        let stats = try lookup(["stats", table])
        #expect(stats.outLines.contains { $0.hasPrefix("match:") && $0.contains("prefix") }, "stats: \(stats.out)")
    }

    @Test("prefix and text-range keys longer than LMDB's 511-byte key limit match: get, map, run")
    func longKeys() throws {
        let dir = try TempDir("rnglong")
        let long = "http://example.com/a/" + String(repeating: "x", count: 1000)
        let prefixes = try dir.write("p.csv", "http://example.com/,site\nhttp://example.com/a/,section\nzz,zee\n")
        let prefixTable = dir.file("p.lmdb")
        try buildTable(prefixes, prefixTable, ["--prefixes"])
        let prefixCases: [(String, String?)] = [
            (long, "section"), ("http://example.com/b/" + String(repeating: "y", count: 600), "site"),
            ("zz" + String(repeating: "z", count: 511), "zee"), ("q" + String(repeating: "q", count: 700), nil),
            (String(repeating: "h", count: 511), nil), ("http://example.com/", "site"),
        ]
        try expectAnswers(prefixTable, prefixCases, "long keys, prefixes")
        // Text ranges: a long key inside and just past a range whose last key is a prefix of it.
        let ranges = try dir.write("r.csv", "a,b,ab\nc,d,cd\n")
        let rangeTable = dir.file("r.lmdb")
        try buildTable(ranges, rangeTable, ["--ranges"])
        let rangeCases: [(String, String?)] = [
            ("a" + String(repeating: "m", count: 900), "ab"), ("b" + String(repeating: "m", count: 900), nil),
            ("c" + String(repeating: "\u{7F}", count: 600), "cd"), ("e" + String(repeating: "a", count: 600), nil),
        ]
        try expectAnswers(rangeTable, rangeCases, "long keys, text ranges")
        // run and map: the same answers for the same keys as lines of an input file.
        let inputs = dir.file("in")
        try FileManager.default.createDirectory(atPath: inputs, withIntermediateDirectories: true)
        let lines = prefixCases.enumerated().map { "\($0.element.0),\($0.offset)" }
        try writeFile(inputs + "/a.csv", lines.joined(separator: "\n") + "\n")
        let want = prefixCases.enumerated().map { "\($0.element.0),\($0.offset)," + ($0.element.1 ?? "NA") }
        let run = try lookup(["run", prefixTable, inputs, "-o", dir.file("out"), "--mode", "left", "--missing", "NA", "-q"])
        expectSuccess(run, "run")
        expectSameLines(String(decoding: try readFile(dir.file("out") + "/a.csv"), as: UTF8.self).split(separator: "\n").map(String.init),
                        want, "run --mode left with long keys")
        let map = try lookup(["map", prefixTable, "--mode", "left", "--missing", "NA"], stdin: try readFile(inputs + "/a.csv"))
        expectSameLines(map.outLines, want, "map --mode left with long keys")
    }

    @Test("malformed networks are bad records naming file:line; --skip-bad-lines counts and skips them",
          arguments: [("10.0.0.1/8", "host bits"), ("10.0.0.0/33", "0 to 32"), ("2001:db8::/129", "0 to 128"),
                      ("10.0.0/8", "not an IP address"), ("10.0.0.0", "address/length"), ("10.0.0.0/", "0 to 32"),
                      ("10.0.0.0/-1", "0 to 32"), ("10.0.0.0/8x", "0 to 32"), ("2001:db8::1/32", "host bits"),
                      ("host/8", "not an IP address"), ("10.0.0.0/+8", "0 to 32")])
    func malformedNetworks(network: String, says: String) throws {
        let dir = try TempDir("rngbad")
        let input = try dir.write("n.csv", "192.168.0.0/16,ok\n172.16.0.0/12,ok2\n\(network),bad\n11.0.0.0/8,ok3\n")
        let table = dir.file("n.lmdb")
        let r = try lookup(["build", input, "--cidr", "-o", table])
        expectCleanError(r, status: 2, mentions: ["n.csv:3:", says], "network \(network)")
        #expect(!FileManager.default.fileExists(atPath: table), "a table was written for \(network)")

        let skipped = try lookup(["build", input, "--cidr", "--skip-bad-lines", "-o", table])
        expectSuccess(skipped, "--skip-bad-lines with \(network)")
        #expect(skipped.err.contains("n.csv:3"), "the bad line is reported: \(skipped.err)")
        try expectAnswers(table, [("192.168.3.4", "ok"), ("11.1.1.1", "ok3"), ("10.0.0.1", nil)], "after skipping \(network)")
    }

    @Test("malformed ranges are bad records naming file:line",
          arguments: [("ip", "10.0.0.9,10.0.0.1", "starts after it ends"), ("ip", "10.0.0.1,10.0.0.300", "not an IP address"),
                      ("ip", "2001:db8::,2001:db8::zz", "not an IP address"), ("int", "5,4", "starts after it ends"),
                      ("int", "1,9223372036854775808", "not an integer"), ("int", "1.5,2", "not an integer"),
                      ("int", ",7", "not an integer"), ("text", "b,a", "starts after it ends"), ("ip", "10.0.0.1", "key columns are 1,2")])
    func malformedRanges(type: String, row: String, says: String) throws {
        let dir = try TempDir("rngbadr")
        let input = try dir.write("r.csv", "a,b,c\n\(row)\(row.contains(",") ? ",bad" : "")\n")
        let table = dir.file("r.lmdb")
        let r = try lookup(["build", input, "--ranges", "--key-type", type, "--header", "-o", table])
        expectCleanError(r, status: 2, mentions: ["r.csv:2:", says], "range \(row) as \(type)")
        #expect(!FileManager.default.fileExists(atPath: table))
    }

    @Test("-k names the start and end columns; a value column may come first")
    func keyColumns() throws {
        let dir = try TempDir("rngk")
        let input = try dir.write("r.csv", "name,from,to,note\nlan,10.0.0.0,10.0.0.255,\"a, b\"\nwan,10.0.1.0,10.0.1.255,x\n")
        let table = dir.file("r.lmdb")
        try buildTable(input, table, ["--ranges", "--key-type", "ip", "-k", "2,3", "--header"])
        try expectAnswers(table, [("10.0.0.0", "lan,\"a, b\""), ("10.0.1.255", "wan,x"), ("10.0.2.0", nil)], "-k 2,3")
    }

    @Test("random IPv4 networks, nested: get answers the longest prefix (brute-force reference); dump csv reads back the same")
    func randomNetworks() throws {
        let dir = try TempDir("rngrand")
        let sparse = IPv4RangeFixture.networks(count: 800, seed: 1403)
        let sparseInput = try dir.write("sparse.csv", sparse.csv())
        let sparseTable = dir.file("sparse.lmdb")
        try buildTable(sparseInput, sparseTable, ["--cidr", "--overlaps", "narrowest"])
        let sparseWant = sparse.expected().map { $0 ?? "NA" }
        #expect(sparseWant.contains("NA"), "some probes miss without 0.0.0.0/0")
        expectSameLines(try getAll(sparseTable, sparse.probes), sparseWant, "random networks without 0.0.0.0/0 (seed 1403)")

        let fixture = IPv4RangeFixture.networks(count: 2500, seed: 1401, everything: true)
        let input = try dir.write("n.csv", fixture.csv())
        let table = dir.file("n.lmdb")
        try buildTable(input, table, ["--cidr", "--overlaps", "narrowest"])
        let want = fixture.expected().map { $0 ?? "NA" }
        expectSameLines(try getAll(table, fixture.probes), want, "random networks (seed 1401)")
        expectSuccess(try lookup(["check", table]), "check")

        // The segments written as first,last,value read back as ip ranges give the same answers.
        let dump = try lookup(["dump", table, "--format", "csv"])
        expectSuccess(dump, "dump --format csv")
        let segments = try dir.write("segments.csv", dump.stdout)
        let again = dir.file("again.lmdb")
        try buildTable(segments, again, ["--ranges", "--key-type", "ip"])
        expectSameLines(try getAll(again, fixture.probes), want, "segments read back")
        expectSuccess(try lookup(["check", again]), "check of the table read back")
    }

    @Test("random nested IPv4 ranges with --overlaps narrowest: the narrowest holding range wins (brute-force reference)")
    func randomRanges() throws {
        let dir = try TempDir("rngrr")
        let fixture = IPv4RangeFixture.nestedRanges(count: 2500, seed: 1402)
        #expect(fixture.ranges.count > 1000, "the generator made \(fixture.ranges.count) ranges")
        let input = try dir.write("r.csv", fixture.csv(header: "first,last,name"))
        let table = dir.file("r.lmdb")
        try buildTable(input, table, ["--ranges", "--key-type", "ip", "--overlaps", "narrowest", "--header"])
        let want = fixture.expected().map { $0 ?? "NA" }
        #expect(want.contains("NA") && Set(want).count > 300, "probes hit and miss")
        expectSameLines(try getAll(table, fixture.probes), want, "random ranges (seed 1402)")
        expectSuccess(try lookup(["check", table]), "check")

        let dump = try lookup(["dump", table, "--format", "csv"])
        let segments = try dir.write("segments.csv", dump.stdout)
        let again = dir.file("again.lmdb")
        try buildTable(segments, again, ["--ranges", "--key-type", "ip"])
        expectSameLines(try getAll(again, fixture.probes), want, "segments read back")
    }

    @Test("dump --format csv of int ranges reads back with --ranges --key-type int; a dumped segment is first,last,value")
    func dumpIntReadBack() throws {
        let dir = try TempDir("rngdi")
        let input = try dir.write("i.csv", "-10,10,outer\n-3,3,\"in, ner\"\n20,\(Int64.max),top\n")
        let table = dir.file("i.lmdb")
        try buildTable(input, table, ["--ranges", "--key-type", "int", "--overlaps", "narrowest"])
        let dump = try lookup(["dump", table, "--format", "csv"])
        expectSuccess(dump, "dump")
        #expect(dump.outLines == ["-10,-4,outer", "-3,3,\"in, ner\"", "4,10,outer", "20,\(Int64.max),top"], "dump: \(dump.out)")
        let segments = try dir.write("s.csv", dump.stdout)
        let again = dir.file("again.lmdb")
        try buildTable(segments, again, ["--ranges", "--key-type", "int"])
        let keys = ["-11", "-10", "-4", "-3", "3", "4", "10", "11", "19", "20", String(Int64.max)]
        #expect(try getAll(again, keys) == (try getAll(table, keys)), "read back answers")
    }

    @Test("option misuse is refused with the usage status")
    func optionMisuse() throws {
        let dir = try TempDir("rngopt")
        let input = try dir.write("n.csv", "10.0.0.0/8,x\n")
        let table = dir.file("n.lmdb")
        for options in [["--cidr", "--prefixes"], ["--cidr", "--key-type", "int"], ["--overlaps", "narrowest"],
                        ["--ranges", "-k", "1,2,3"], ["--cidr", "-k", "1,2"], ["--ranges", "--duplicates", "all"]] {
            let r = try lookup(["build", input, "-o", table] + options)
            #expect(r.status == 64 && !r.signaled, "\(options): \(r.summary)")
            #expect(!FileManager.default.fileExists(atPath: table))
        }
    }
}
