// `lookup serve` on range tables (build --cidr, --ranges, --prefixes): GET /v1/keys/{key} and
// POST /v1/lookup answer the narrowest range holding the key, checked against a brute-force
// reference of random nested networks and against `lookup get` on the same table; a key that
// is not of the table's type is simply not found; --columns picks value columns.
import Foundation
import LookupTestSupport
import Testing

@Suite("serve: range, network and prefix tables")
struct ServeRangeTests {
    @Test("random nested networks: GET and POST answer the longest prefix (brute-force reference), as get does")
    func randomNetworks() throws {
        let dir = try TempDir("srn")
        let fixture = IPv4RangeFixture.networks(count: 1000, seed: 1601, probes: 1200)
        let input = dir.file("n.csv")
        try writeFile(input, fixture.csv())
        let table = dir.file("n.lmdb")
        try buildWithCLI([input, "--cidr", "--overlaps", "narrowest", "-o", table])
        let want = fixture.expected()
        #expect(want.contains(nil) && want.contains { $0 != nil }, "probes both hit and miss")

        let server = try ServeProcess(table: table, in: dir)
        let connection = try server.connect()
        // GET: the first few hundred probes one by one.
        for (probe, value) in zip(fixture.probes, want).prefix(300) {
            let reply = try connection.get("/v1/keys/" + percentEncoded(probe))
            if let value {
                #expect(reply.status == 200 && reply.text == value, "GET \(probe): \(reply.summary), expected \(value)")
            } else {
                #expect(reply.status == 404, "GET \(probe): \(reply.summary), expected 404")
            }
        }
        // POST: all of them in one JSON batch, and as text.
        let batch = try connection.lookup(jsonArray(fixture.probes), contentType: "application/json")
        #expect(batch.status == 200, "\(batch.summary)")
        let results = batchResults(batch)
        #expect(results.map(\.key) == fixture.probes, "keys echoed in order")
        let mismatches = zip(results, want).enumerated().filter { $0.element.0.value != $0.element.1 }
        #expect(mismatches.isEmpty, "POST: \(mismatches.count) answers differ, first: \(mismatches.first.map { "\($0.element.0) expected \(String(describing: $0.element.1))" } ?? "")")
        #expect(batch.json["found"] as? Int == want.filter { $0 != nil }.count, "found count")
        let text = try connection.lookup(fixture.probes.joined(separator: "\n") + "\n", contentType: "text/plain")
        #expect(batchResults(text).map(\.value) == want, "text body")
        server.stop()

        // The same answers as lookup get.
        let get = try runProcess(TestBinaries.lookup, ["get", table, "--missing", "\u{1}"],
                                 stdin: Array((fixture.probes.joined(separator: "\n") + "\n").utf8))
        #expect(get.outLines == want.map { $0 ?? "\u{1}" }, "lookup get agrees")
    }

    @Test("boundaries, IPv4-mapped IPv6, ::/0, keys that are not addresses; --columns by name")
    func boundariesAndColumns() throws {
        let dir = try TempDir("srb")
        let input = dir.file("r.csv")
        try writeFile(input, """
            from,to,name,country
            ::,ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff,anywhere,ZZ
            10.0.0.0,10.0.0.255,lan,"FR, x"
            2001:db8::,2001:db8::ffff,doc,US

            """)
        let table = dir.file("r.lmdb")
        try buildWithCLI([input, "--ranges", "--key-type", "ip", "--header", "--overlaps", "narrowest", "-o", table])
        let server = try ServeProcess(table: table, ["--columns", "country,name"], in: dir)
        let connection = try server.connect()
        let cases: [(String, String?)] = [
            ("10.0.0.0", "\"FR, x\",lan"), ("10.0.0.255", "\"FR, x\",lan"), ("::ffff:10.0.0.7", "\"FR, x\",lan"),
            ("9.255.255.255", "ZZ,anywhere"), ("10.0.1.0", "ZZ,anywhere"), ("::", "ZZ,anywhere"),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ZZ,anywhere"), ("2001:db8::", "US,doc"), ("2001:db8::ffff", "US,doc"),
            ("2001:db8::1:0", "ZZ,anywhere"), ("not-an-ip", nil), ("10.0.0.256", nil), ("10.0.0.0/24", nil),
        ]
        for (key, value) in cases {
            let reply = try connection.get("/v1/keys/" + percentEncoded(key))
            #expect(reply.status == (value == nil ? 404 : 200), "GET \(key): \(reply.summary)")
            if let value { #expect(reply.text == value, "GET \(key): \(reply.summary)") }
        }
        let batch = try connection.lookup(jsonArray(cases.map(\.0)), contentType: "application/json")
        #expect(batch.status == 200, "\(batch.summary)")
        #expect(batchResults(batch).map(\.value) == cases.map(\.1), "POST: \(batch.text)")
        server.stop()

        // A bound column cannot be served.
        let errPath = dir.file("refused.err")
        let process = try launchLookup(["serve", table, "--port", "0", "--columns", "to"], stderr: errPath)
        let ended = waitFor(60) { !process.isRunning }
        if !ended { process.send(SIGKILL) }
        let end = try process.wait()
        let refused = ProcessResult(status: ended ? end.status : -1, signaled: end.signaled, stderr: end.err)
        #expect(refused.status != 0 && !refused.signaled, "serve --columns to: exit \(refused.status)")
        #expect(refused.errLines.contains { $0.contains("--columns") }, "serve --columns to: \(refused.stderr)")
    }

    @Test("int ranges and prefixes over HTTP: negative numbers, Int64 bounds, the longest prefix")
    func intAndPrefix() throws {
        let dir = try TempDir("srip")
        let ints = dir.file("i.csv"), prefixes = dir.file("p.csv")
        try writeFile(ints, "\(Int64.min),-1,negative\n0,\(Int64.max),non-negative\n-10,-10,ten-below\n")
        try writeFile(prefixes, "ab,two\na,one\nabc,three\n")
        let intTable = dir.file("i.lmdb"), prefixTable = dir.file("p.lmdb")
        try buildWithCLI([ints, "--ranges", "--key-type", "int", "--overlaps", "narrowest", "-o", intTable])
        try buildWithCLI([prefixes, "--prefixes", "-o", prefixTable])

        let server = try ServeProcess(table: intTable, in: dir)
        let connection = try server.connect()
        let intCases: [(String, String?)] = [(String(Int64.min), "negative"), ("-11", "negative"), ("-10", "ten-below"),
                                             ("-9", "negative"), ("-1", "negative"), ("0", "non-negative"),
                                             (String(Int64.max), "non-negative"), ("9223372036854775808", nil), ("1.0", nil)]
        let batch = try connection.lookup(jsonArray(intCases.map(\.0)), contentType: "application/json")
        #expect(batchResults(batch).map(\.value) == intCases.map(\.1), "int POST: \(batch.text)")
        let minus = try connection.get("/v1/keys/-10")
        #expect(minus.status == 200 && minus.text == "ten-below", "GET -10: \(minus.summary)")
        server.stop()

        let prefixServer = try ServeProcess(table: prefixTable, in: dir)
        let pc = try prefixServer.connect()
        let prefixCases: [(String, String?)] = [("a", "one"), ("ab", "two"), ("abc", "three"), ("abcz", "three"), ("abd", "two"),
                                                ("b", nil), ("", nil)]
        for (key, value) in prefixCases where !key.isEmpty {
            let reply = try pc.get("/v1/keys/" + percentEncoded(key))
            #expect(reply.status == (value == nil ? 404 : 200) && (value == nil || reply.text == value), "GET \(key): \(reply.summary)")
        }
        let pb = try pc.lookup(jsonArray(prefixCases.dropLast().map(\.0)), contentType: "application/json")
        #expect(batchResults(pb).map(\.value) == prefixCases.dropLast().map(\.1), "prefix POST: \(pb.text)")
        prefixServer.stop()
    }

    @Test("a prefix table answers keys longer than 511 bytes (GET and POST); an exact table still refuses them with 400")
    func longKeys() throws {
        let dir = try TempDir("srl")
        let input = dir.file("p.csv")
        try writeFile(input, "http://example.com/,site\nhttp://example.com/a/,section\n")
        let table = dir.file("p.lmdb")
        try buildWithCLI([input, "--prefixes", "-o", table])
        let long = "http://example.com/a/" + String(repeating: "x", count: 1000)
        let server = try ServeProcess(table: table, in: dir)
        let connection = try server.connect()
        let reply = try connection.get("/v1/keys/" + percentEncoded(long))
        #expect(reply.status == 200 && reply.text == "section", "GET a long key: \(reply.summary)")
        let batch = try connection.lookup(jsonArray([long, "http://example.com/" + String(repeating: "y", count: 700), "nope"]),
                                          contentType: "application/json")
        #expect(batchResults(batch).map(\.value) == ["section", "site", nil], "POST: \(batch.text)")
        server.stop()

        let exact = dir.file("e.lmdb")
        try buildWithCLI([input, "-o", exact])
        let exactServer = try ServeProcess(table: exact, in: dir)
        let exactReply = try exactServer.connect().get("/v1/keys/" + percentEncoded(long))
        #expect(exactReply.status == 400 && exactReply.text.contains("keys are at most 511 bytes"), "exact table: \(exactReply.summary)")
        exactServer.stop()
    }
}
