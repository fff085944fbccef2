// End-to-end tests of damaged tables and `lookup serve`: a damaged table at start is refused
// (exit 2, one line); damaged tables published over a served path are refused while the old
// table keeps answering, visibly in stats and metrics, and a good table after them is taken;
// two hundred and forty random corruptions (every kind of page) never kill the server, nor is a
// copy served that answers other than the table it was made from; quick successive
// publications end on the newest good table; requests are answered while a new table is
// being verified.
import Foundation
import LookupTestSupport
import Testing

/// Checks that `connection` gets version `version`'s values for `keys` and 404 for keys not in
/// the table.
func expectServes(version: Int, keys: [String], on connection: HTTPConnection, sourceLocation: SourceLocation = #_sourceLocation) throws {
    for key in keys {
        let reply = try connection.get("/v1/keys/" + key)
        #expect(reply.status == 200 && reply.text == versionedValue(key, version: version), "\(key): \(reply.summary)",
                sourceLocation: sourceLocation)
    }
    for key in ["missing", "k99999", "k0004", "zzz"] {
        let reply = try connection.get("/v1/keys/" + key)
        #expect(reply.status == 404, "\(key): \(reply.summary)", sourceLocation: sourceLocation)
    }
    let batch = try connection.lookup(jsonArray(keys + ["missing"]), contentType: "application/json")
    #expect(batchResults(batch).map(\.value) == keys.map { versionedValue($0, version: version) } + [nil], "\(batch.summary)",
            sourceLocation: sourceLocation)
}

@Suite(.serialized) struct ServeDamageTests {
    /// Keys of the test tables; k00042 is the one `TableDamage.valueBytes` damages.
    static let keys = testKeys(3000)
    /// Keys asked for after each replacement attempt.
    static let sample = ["k00000", "k00042", "k01500", "k02999"] + (0..<16).map { _ in keys[Int.random(in: 0..<3000)] }

    @Test(arguments: TableDamage.allCases)
    func damagedTableAtStartIsRefused(damage: TableDamage) throws {
        let dir = try TempDir("damaged-start")
        let good = dir.file("good.lmdb")
        try buildVersionedTable(good, keys: Self.keys, version: 1)
        let table = dir.file("t.lmdb")
        try publish(try damage.apply(to: Data(contentsOf: URL(fileURLWithPath: good))), over: table)
        let result = try runServeToExit(table, in: dir)
        #expect(result.status == 2 && !result.signaled, "\(damage): exit \(result.status): \(result.stderr)")
        #expect(result.errLines.count == 1, "\(damage): \(result.stderr)")
        #expect(result.errLines.first?.hasPrefix("lookup: \(table): ") == true, "\(damage): \(result.stderr)")
        for crash in ["Backtrac", "Fatal error", "Program crashed", "runtime failure"] {
            #expect(!result.stderr.contains(crash), "\(damage): \(result.stderr)")
        }
        if damage == .valueBytes || damage == .mainDatabaseFlags {
            // Found only by the full check (or the layout check): the wording of a damaged table.
            #expect(result.stderr.contains("the table is damaged (") && result.stderr.contains("`lookup check \(table)` tells more"),
                    "\(damage): \(result.stderr)")
        }
        // The undamaged table serves (the refusals above are about the damage).
        let server = try ServeProcess(table: good, in: dir)
        server.stop()
    }

    /// A server over version 1 of the test table `t.lmdb` checking for new tables every
    /// `checkInterval` seconds, and the bytes of version 2 (to damage and publish over it).
    static func serveVersionOne(in dir: TempDir, checkInterval: String) throws -> (table: String, v2: Data, server: ServeProcess) {
        let table = dir.file("t.lmdb")
        try buildVersionedTable(table, keys: keys, version: 1)
        let v2 = dir.file("v2.lmdb")
        try buildVersionedTable(v2, keys: keys, version: 2)
        return (table, try Data(contentsOf: URL(fileURLWithPath: v2)),
                try ServeProcess(table: table, ["--check-interval", checkInterval], in: dir))
    }

    @Test func damagedReplacementsLeaveTheOldServed() throws {
        let dir = try TempDir("damaged-replace")
        let (table, v2Bytes, server) = try Self.serveVersionOne(in: dir, checkInterval: "0.05")
        defer { server.stop() }
        let c = try server.connect()

        for (i, damage) in TableDamage.allCases.enumerated() {
            try publish(try damage.apply(to: v2Bytes), over: table)
            let refused = try waitFor(30) { try replacementCounts(c).rejected == i + 1 }
            #expect(refused, "\(damage): not refused: \(server.stderr)")
            #expect(server.process.isRunning, "\(damage): the server died: \(server.stderr)")
            try expectServes(version: 1, keys: Self.sample, on: c)
            #expect(try c.get("/healthz").json["generation"] as? Int == 1)
        }
        let counts = try replacementCounts(c)
        #expect(counts.done == 0 && counts.rejected == TableDamage.allCases.count)
        let stats = try c.get("/v1/stats").json["replacements"] as? [String: Any] ?? [:]
        #expect((stats["lastRejection"] as? String)?.contains("still serving generation 1") == true, "\(stats)")
        let metrics = try c.get("/metrics").text
        #expect(metrics.contains("lookup_table_rejected_total \(TableDamage.allCases.count)\n"), "\(metrics)")
        #expect(metrics.contains("lookup_table_generation 1\n"))
        let health = try c.get("/healthz")
        #expect(health.status == 200 && health.json["rejected"] as? Int == TableDamage.allCases.count, "\(health.summary)")
        // One log line per refused file, each naming the table.
        let refusals = server.stderr.split(separator: "\n").filter { $0.contains("cannot be used, still serving generation 1") }
        #expect(refusals.count == TableDamage.allCases.count, "\(server.stderr)")
        #expect(refusals.allSatisfy { $0.contains(table) })
        #expect(!server.stderr.contains("Backtrac") && !server.stderr.contains("Fatal error"), "\(server.stderr)")

        // A good table published afterwards is taken.
        try buildVersionedTable(table, keys: Self.keys, version: 3)
        let switched = try waitFor(30) { try c.get("/healthz").json["generation"] as? Int == 2 }
        #expect(switched, "the good table was not taken: \(server.stderr)")
        try expectServes(version: 3, keys: Self.sample, on: c)
        #expect(try replacementCounts(c).done == 1)
    }

    /// The table of `randomCorruptionsWhileServing`: versioned values, some longer than a page
    /// (overflow pages), and a key index.
    static func corruptibleRecords(version: Int) -> [(String, String)] {
        keys.enumerated().map { i, key in
            (key, versionedValue(key, version: version) + (i % 250 == 7 ? String(repeating: "long-\(i)-", count: 400) : ""))
        }
    }

    @Test func randomCorruptionsWhileServing() throws {
        let dir = try TempDir("damaged-random")
        let table = dir.file("t.lmdb")
        let old = Self.corruptibleRecords(version: 1), pristine = Self.corruptibleRecords(version: 2)
        try buildTable(table, old)
        let v2 = dir.file("v2.lmdb")
        try buildTable(v2, pristine)
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: v2)))
        let pages = TablePages(original)
        #expect(!pages.branch.isEmpty && pages.leaf.count > 10 && pages.overflow.count > 5 && !pages.index.isEmpty,
                "the table has every kind of page: \(pages.branch.count) branch, \(pages.leaf.count) leaf, \(pages.overflow.count) overflow, index \(pages.index)")
        let server = try ServeProcess(table: table, ["--check-interval", "0.01"], in: dir)
        defer { server.stop() }
        let c = try server.connect()
        var rng = SeededRNG()
        let oldValues = Dictionary(uniqueKeysWithValues: old), newValues = Dictionary(uniqueKeysWithValues: pristine)
        var tally: [String: Int] = [:]
        var last = (done: 0, rejected: 0)
        for round in 0..<240 {
            var bytes = original
            let kind = TableCorruption.allCases[round % TableCorruption.allCases.count]
            kind.apply(to: &bytes, pages: pages, using: &rng)
            try publish(Data(bytes), over: table)
            let what = "corruption \(round) (\(kind.rawValue), seed \(rng.seed))"
            var counts = last
            let checked = try waitFor(30) {
                counts = try replacementCounts(c)
                return counts.done + counts.rejected == round + 1
            }
            #expect(checked, "\(what): the new file was never checked: \(server.stderr.suffix(1000))")
            #expect(server.process.isRunning, "\(what): the server died: \(server.stderr.suffix(1000))")
            guard checked && server.process.isRunning else { return }
            let accepted = counts.done > last.done
            last = counts
            tally[accepted ? "accepted" : "refused", default: 0] += 1
            // Served now: the table before (version 1, or an accepted copy of version 2), or this
            // copy, accepted only when every answer sampled is the pristine table's.
            let generation = try c.get("/healthz").json["generation"] as? Int ?? 0
            let expected = generation == 1 ? oldValues : newValues
            let sample = accepted ? Self.keys : Array(Self.sample.prefix(4))
            let batch = try c.lookup(jsonArray(sample + ["missing"]), contentType: "application/json")
            #expect(batchResults(batch).map(\.value) == sample.map { expected[$0] } + [nil], "\(what): \(batch.summary)")
            for key in Self.sample.prefix(accepted ? 20 : 4) {
                let reply = try c.get("/v1/keys/" + key)
                #expect(reply.status == 200 && reply.text == expected[key], "\(what): \(key): \(reply.summary)")
            }
        }
        #expect((tally["refused"] ?? 0) > 100 && (tally["accepted"] ?? 0) > 0, "too few corruptions were caught: \(tally)")
        #expect(!server.stderr.contains("Backtrac") && !server.stderr.contains("Fatal error"), "\(server.stderr.suffix(2000))")
    }

    @Test func randomDamageAtStart() throws {
        let dir = try TempDir("damaged-random-start")
        let good = dir.file("good.lmdb")
        try buildVersionedTable(good, keys: Self.keys, version: 1)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        var refused = 0
        for seed in 100..<112 {
            let table = dir.file("t\(seed).lmdb")
            try publish(randomlyDamaged(bytes, seed: UInt64(seed), count: 2), over: table)
            // Either refused in one line, or served with every answer right.
            let server: ServeProcess
            do {
                server = try ServeProcess(table: table, in: dir)
            } catch {
                let result = try runServeToExit(table, in: dir)
                #expect(result.status == 2 && !result.signaled && result.errLines.count == 1, "seed \(seed): \(result.stderr)")
                #expect(!result.stderr.contains("Backtrac"), "seed \(seed): \(result.stderr)")
                refused += 1
                continue
            }
            try expectServes(version: 1, keys: Self.sample, on: try server.connect())
            server.stop()
        }
        #expect(refused > 0, "no random damage was caught")
    }

    @Test func quickSuccessionEndsOnTheNewestGoodTable() throws {
        let dir = try TempDir("succession")
        let table = dir.file("t.lmdb")
        let keys = testKeys(60000)
        try buildVersionedTable(table, keys: keys, version: 1)
        var versions: [Int: Data] = [:]
        for version in 2...4 {
            let path = dir.file("v\(version).lmdb")
            try buildVersionedTable(path, keys: keys, version: version)
            versions[version] = try Data(contentsOf: URL(fileURLWithPath: path))
        }
        let server = try ServeProcess(table: table, ["--check-interval", "0"], in: dir)
        defer { server.stop() }
        let c = try server.connect()
        let sample = Array(keys.prefix(5))

        // Two good tables in quick succession, each announced (the second may come while the
        // first is being verified): the newest is served in the end.
        try publish(versions[2]!, over: table)
        server.send(SIGHUP)
        try publish(versions[3]!, over: table)
        server.send(SIGHUP)
        let onThree = try waitFor(60) { try c.get("/v1/keys/k00001").text == versionedValue("k00001", version: 3) }
        #expect(onThree, "not serving the newest table: \(server.stderr)")
        try expectServes(version: 3, keys: sample, on: c)

        // A damaged table, then a good one over it: the good one is served in the end.
        try publish(try TableDamage.valueBytes.apply(to: versions[2]!), over: table)
        server.send(SIGHUP)
        try publish(versions[4]!, over: table)
        server.send(SIGHUP)
        let onFour = try waitFor(60) { try c.get("/v1/keys/k00001").text == versionedValue("k00001", version: 4) }
        #expect(onFour, "not serving the newest good table: \(server.stderr)")
        let idle = try waitFor(60) { try c.get("/healthz").json["verifying"] as? Bool == false }
        #expect(idle)
        try expectServes(version: 4, keys: sample, on: c)
        #expect(!server.stderr.contains("switched to the new table at \(table) (generation 5"), "\(server.stderr)")
    }

    @Test func requestsAreAnsweredDuringVerification() throws {
        let dir = try TempDir("verifying")
        let table = dir.file("t.lmdb")
        let keys = testKeys(99999)
        try buildVersionedTable(table, keys: keys, version: 1)
        let next = dir.file("v2.lmdb")
        try buildTable(next, (0..<300_000).map { (String(format: "k%06d", $0), "a value of some length, \($0)") }
                       + [("k00007", versionedValue("k00007", version: 2))])
        let server = try ServeProcess(table: table, ["--check-interval", "0"], in: dir)
        defer { server.stop() }
        let c = try server.connect()
        #expect(rename(next, table) == 0)
        server.send(SIGHUP)
        // While the new table is verified (a full walk), lookups are answered: the answer that
        // says "verifying" is itself one.
        var sawVerifying = false
        let done = try waitFor(60) {
            let health = try c.get("/healthz").json
            if health["verifying"] as? Bool == true {
                sawVerifying = true
                // Either table may answer: the switch can come between the two requests.
                let value = try c.get("/v1/keys/k00007").text
                #expect(value == versionedValue("k00007", version: 1) || value == versionedValue("k00007", version: 2), "\(value)")
            }
            return health["generation"] as? Int == 2
        }
        #expect(done, "the new table was not taken: \(server.stderr)")
        #expect(sawVerifying, "no request was answered while the new table was verified")
    }
}
