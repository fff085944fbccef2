// `lookup run` and `lookup map` on range tables (build --cidr, --ranges, --prefixes): every
// mode (join, left, filter, anti, count) against a brute-force reference of random nested
// networks, run and map agreeing byte for byte, --columns by name with --header (the range's
// bounds refused in one line), and keys not of the table's type as bad lines naming file:line.
import Foundation
import LookupTestSupport
import Testing

/// The lines each mode writes for `lines` whose keys have the reference values `values`
/// (a key not of the type is nil in `values` and listed in `bad`: skipped by every mode).
private func expectedOutput(mode: String, lines: [String], values: [String?], bad: Set<Int> = []) -> [String] {
    var out: [String] = []
    for (i, (line, value)) in zip(lines, values).enumerated() where !bad.contains(i) {
        switch mode {
        case "join": if let value { out.append(line + "," + value) }
        case "left": out.append(line + "," + (value ?? ""))
        case "filter": if value != nil { out.append(line) }
        case "anti": if value == nil { out.append(line) }
        default: break
        }
    }
    return out
}

@Suite("run and map on range tables")
struct BatchRangeTests {
    @Test("random nested networks: every mode of run matches the longest-prefix reference; map gives the same bytes",
          arguments: ["join", "left", "filter", "anti", "count"])
    func randomNetworks(mode: String) throws {
        let dir = try TempDir("brn-\(mode)")
        let fixture = IPv4RangeFixture.networks(count: 1200, seed: 1501, probes: 2500)
        let table = try buildTable(dir, "n.csv", fixture.csv(), ["--cidr", "--overlaps", "narrowest"])
        let values = fixture.expected()
        let lines = fixture.probes.enumerated().map { "\($0.element),\($0.offset)" }
        let input = try dir.write("in/probes.csv", lines.joined(separator: "\n") + "\n")
        let run = try runLookup(["run", table, input, "-o", "-", "--mode", mode, "-j", "2"])
        expectExit(run, 0, "run --mode \(mode)")
        expectLines(textLines(run.stdout), expectedOutput(mode: mode, lines: lines, values: values), "run --mode \(mode) (seed 1501)")
        let hits = values.filter { $0 != nil }.count
        #expect(hits > 500 && hits < lines.count, "probes both hit and miss: \(hits)")
        #expect(run.says("\(lines.count) lines", "\(hits) hits", "\(lines.count - hits) misses"), "summary: \(run.stderr)")

        let map = try lookupWithInput(["map", table, "--mode", mode], Array(lines.joined(separator: "\n").utf8))
        expectExit(map, 0, "map --mode \(mode)")
        if mode == "count" {
            #expect(textLines(map.stdout) == ["lines=\(lines.count) hits=\(hits) misses=\(lines.count - hits) bad_lines=0 rows=\(hits)"],
                    "map count: \(textLines(map.stdout))")
        } else {
            #expect(map.stdout == run.stdout, "map and run differ")
        }
    }

    @Test("random nested int-like ranges over IPv4 with --overlaps narrowest: run join matches the narrowest-range reference")
    func randomRanges() throws {
        let dir = try TempDir("brr")
        let fixture = IPv4RangeFixture.nestedRanges(count: 1500, seed: 1502, probes: 2500)
        let table = try buildTable(dir, "r.csv", fixture.csv(), ["--ranges", "--key-type", "ip", "--overlaps", "narrowest"])
        let values = fixture.expected()
        // The key in column 2 this time, the lines in TSV.
        let lines = fixture.probes.enumerated().map { "\($0.offset)\t\($0.element)" }
        let input = try dir.write("in/p.tsv", lines.joined(separator: "\n") + "\n")
        let run = try runLookup(["run", table, input, "-o", "-", "-k", "2", "-j", "2"])
        expectExit(run, 0, "run -k 2")
        var want: [String] = []
        for (line, value) in zip(lines, values) { if let value { want.append(line + "\t" + value) } }
        expectLines(textLines(run.stdout), want, "run on nested ranges (seed 1502)")
    }

    @Test("--header and --columns by name: chosen value columns; a bound column is refused in one line")
    func columnsByName() throws {
        let dir = try TempDir("brc")
        let table = try buildTable(dir, "r.csv", """
            from,to,name,country
            10.0.0.0,10.0.0.255,lan,"FR, x"
            10.0.1.0,10.0.1.255,wan,DE
            0.0.0.0,255.255.255.255,internet,ZZ

            """, ["--ranges", "--key-type", "ip", "--header", "--overlaps", "narrowest"])
        let text = "ip,n\n10.0.0.0,1\n9.255.255.255,2\n10.0.1.255,3\n::ffff:10.0.0.255,4\n2001:db8::1,5\n"
        let input = try dir.write("in/a.csv", text)
        let run = try runLookup(["run", table, input, "-o", "-", "--header", "--columns", "country,name", "--mode", "left"])
        expectExit(run, 0, "run --columns country,name")
        expectLines(textLines(run.stdout), ["ip,n,country,name", "10.0.0.0,1,\"FR, x\",lan", "9.255.255.255,2,ZZ,internet",
                                            "10.0.1.255,3,DE,wan", "::ffff:10.0.0.255,4,\"FR, x\",lan", "2001:db8::1,5,,"],
                    "left join with --columns")
        let map = try lookupWithInput(["map", table, "--header", "--columns", "country,name", "--mode", "left"], Array(text.utf8))
        #expect(map.stdout == run.stdout, "map differs: \(textLines(map.stdout))")

        for column in ["from", "to", "country,to"] {
            let out = dir.file("out-\(column)")
            let r = try runLookup(["run", table, input, "-o", out, "--header", "--columns", column])
            expectExit(r, 2, "run --columns \(column)")
            #expect(r.stderr.split(separator: "\n").count == 1 && r.says("--columns", "bounds"), "run --columns \(column): \(r.stderr)")
            #expect(!fileExists(out + "/a.csv"), "run wrote an output")
            let m = try lookupWithInput(["map", table, "--header", "--columns", column], Array(text.utf8))
            expectExit(m, 2, "map --columns \(column)")
            #expect(m.stdout.isEmpty && m.stderr.split(separator: "\n").count == 1 && m.says("--columns"), "map --columns \(column): \(m.stderr)")
        }
    }

    @Test("keys not of the table's type are bad lines naming file:line, counted and skipped; the rest is joined",
          arguments: [("ip", ["10.0.0.0", "10.0.0.9"], ["10.0.0.300", "bogus", "10.0.0", "1.2.3.4/8"], "is not an IP address"),
                      ("int", ["-5", "5"], ["1.5", "x", "99999999999999999999", "--1"], "is not an integer")])
    func badKeys(type: String, bounds: [String], badKeys: [String], says: String) throws {
        let dir = try TempDir("brb-\(type)")
        let table = try buildTable(dir, "r.csv", "\(bounds[0]),\(bounds[1]),hit\n", ["--ranges", "--key-type", type])
        var lines: [String] = [], values: [String?] = [], bad = Set<Int>()
        for i in 0..<40 {
            if i % 4 == 1 {
                lines.append("\(badKeys[(i / 4) % badKeys.count]),\(i)")
                values.append(nil)
                bad.insert(i)
            } else {
                lines.append("\(i % 3 == 0 ? bounds[1] : bounds[0]),\(i)")
                values.append("hit")
            }
        }
        let input = try dir.write("in/k.csv", lines.joined(separator: "\n") + "\n")
        let run = try runLookup(["run", table, input, "-o", "-", "--mode", "join"])
        expectExit(run, 0, "run with bad keys")
        expectLines(textLines(run.stdout), expectedOutput(mode: "join", lines: lines, values: values, bad: bad), "run with bad keys")
        let reported = Set(reportedLines(run.stderr, path: input))
        #expect(reported == Set(bad.map { $0 + 1 }),
                "lines reported: \(reported.sorted()), bad: \(bad.map { $0 + 1 }.sorted())\n\(run.stderr)")
        #expect(run.stderr.contains(says), "message: \(run.stderr)")
        #expect(!run.stderr.contains("Fatal"), "\(run.stderr)")
        #expect(run.says("\(bad.count) bad lines"), "summary: \(run.stderr)")

        let map = try lookupWithInput(["map", table, "--mode", "anti"], Array(lines.joined(separator: "\n").utf8))
        expectExit(map, 0, "map --mode anti with bad keys")
        #expect(map.stdout.isEmpty, "anti writes no line: every good key hits and bad lines are skipped: \(textLines(map.stdout))")
        #expect(map.stderr.contains("<stdin>:2:") && map.stderr.contains(says), "map names the line: \(map.stderr)")
    }

    @Test("prefix table: run joins each line with its longest prefix")
    func prefixes() throws {
        let dir = try TempDir("brp")
        let table = try buildTable(dir, "p.csv", "+33,france\n+331,paris\n+1,nanp\n+1212,nyc\n+44,uk\n", ["--prefixes"])
        let lines = ["+33123456789,a", "+33612345678,b", "+12125550100,c", "+13105550100,d", "+4420,e", "+49301,f", "+3,g", "+331,h"]
        let input = try dir.write("in/calls.csv", lines.joined(separator: "\n") + "\n")
        let run = try runLookup(["run", table, input, "-o", "-", "--mode", "left"])
        expectExit(run, 0, "run on prefixes")
        expectLines(textLines(run.stdout), ["+33123456789,a,paris", "+33612345678,b,france", "+12125550100,c,nyc", "+13105550100,d,nanp",
                                            "+4420,e,uk", "+49301,f,", "+3,g,", "+331,h,paris"], "longest prefix")
    }
}
