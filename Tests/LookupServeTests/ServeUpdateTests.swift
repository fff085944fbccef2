// `lookup serve` over a table changed by `lookup update`, `rollback` and `compact`: the server
// switches to each new version as it does to a rebuilt table (X-Lookup-Generation and the
// JSON generation go up by one), and its GET and POST answers are the new contents: changed
// and new keys, deleted keys missing, unchanged keys as before; a rollback switches back.
import Foundation
import LookupTestSupport
import Testing

/// What the table must answer: key -> value (`nil`: missing).
private typealias Contents = [String: String?]

/// Expects GET and POST answers of `connection` to be `contents`, from `generation`.
private func expectAnswers(_ c: HTTPConnection, _ contents: Contents, generation: Int, _ what: String,
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
    let keys = contents.keys.sorted()
    var wrong: [String] = []
    for key in keys {
        let reply = try c.get("/v1/keys/" + key)
        if let want = contents[key]!, !(reply.status == 200 && reply.text == want) {
            wrong.append("GET \(key): \(reply.summary), expected \(want)")
        } else if contents[key]! == nil && reply.status != 404 {
            wrong.append("GET \(key): \(reply.summary), expected 404")
        }
        if reply.headers["x-lookup-generation"] != String(generation) {
            wrong.append("GET \(key): generation \(reply.headers["x-lookup-generation"] ?? "none"), expected \(generation)")
        }
        if wrong.count >= 5 { break }
    }
    #expect(wrong.isEmpty, "\(what): \(wrong.joined(separator: "; "))", sourceLocation: sourceLocation)

    let reply = try c.lookup(jsonArray(keys), contentType: "application/json")
    #expect(reply.status == 200 && reply.json["generation"] as? Int == generation, "\(what): POST \(reply.summary)",
            sourceLocation: sourceLocation)
    let results = batchResults(reply)
    #expect(results.map(\.key) == keys, "\(what): POST keys", sourceLocation: sourceLocation)
    let differing = zip(keys, results).filter { contents[$0.0]! != $0.1.value }.map(\.0)
    #expect(differing.isEmpty, "\(what): POST answers differ for \(differing.prefix(5))", sourceLocation: sourceLocation)
    #expect(reply.json["found"] as? Int == contents.values.filter { $0 != nil }.count, "\(what): POST found count",
            sourceLocation: sourceLocation)
}

/// Runs `lookup ARGS` expecting success.
private func lookupOK(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
    let r = try runLookup(arguments)
    #expect(r.status == 0 && !r.signaled, "lookup \(arguments.joined(separator: " ")): \(r.stderr)", sourceLocation: sourceLocation)
}

@Suite(.serialized) struct ServeUpdateTests {
    @Test("serve switches to each version an update, rollback or compaction publishes, and answers its contents")
    func serveFollowsVersions() throws {
        let dir = try TempDir("serveupd")
        let table = dir.file("t.lmdb")
        let keys = testKeys(3000)
        try publishWithCLI(table, keys: keys, version: 1, dir: dir)
        let server = try ServeProcess(table: table, ["--check-interval", "0.05"], in: dir)
        defer { server.stop() }
        let c = try server.connect()

        var v1: Contents = [:]
        for key in keys.prefix(40) + keys.suffix(10) { v1[key] = versionedValue(key, version: 1) }
        for i in 0..<5 { v1["n\(i)"] = .some(nil) }
        try expectAnswers(c, v1, generation: 1, "as built")

        // Update: the first 20 keys changed, 10 deleted, 5 new.
        var v2 = v1
        var upserts = ""
        for key in keys.prefix(20) { v2[key] = versionedValue(key, version: 2); upserts += "\(key),\(versionedValue(key, version: 2))\n" }
        for i in 0..<5 { v2["n\(i)"] = "new \(i)"; upserts += "n\(i),new \(i)\n" }
        let deleted = Array(keys[20..<30])
        for key in deleted { v2[key] = .some(nil) }
        try writeFile(dir.file("up.csv"), upserts)
        try writeFile(dir.file("del.txt"), deleted.joined(separator: "\n") + "\n")
        try lookupOK(["update", table, "--upsert", dir.file("up.csv"), "--delete", dir.file("del.txt"), "-q"])
        let switched = try waitFor(30) { try c.get("/healthz").json["generation"] as? Int == 2 }
        #expect(switched, "the service did not switch to the updated table: \(server.stderr.suffix(800))")
        try expectAnswers(c, v2, generation: 2, "after the update")
        let stats = try c.get("/v1/stats")
        #expect(stats.status == 200, "stats: \(stats.summary)")
        #expect(try replacementCounts(c) == (done: 1, rejected: 0))

        // Rollback: the built table again.
        try lookupOK(["rollback", table, "-q"])
        #expect(try waitFor(30) { try c.get("/healthz").json["generation"] as? Int == 3 }, "no switch after the rollback")
        try expectAnswers(c, v1, generation: 3, "after the rollback")

        // Forward again, then compacted: the same answers from a table without changes.
        try lookupOK(["rollback", table, "--to", "2", "-q"])
        #expect(try waitFor(30) { try c.get("/healthz").json["generation"] as? Int == 4 }, "no switch after rollback --to 2")
        try expectAnswers(c, v2, generation: 4, "after rollback --to 2")
        try lookupOK(["compact", table, "-q"])
        #expect(try waitFor(30) { try c.get("/healthz").json["generation"] as? Int == 5 }, "no switch after the compaction")
        try expectAnswers(c, v2, generation: 5, "after the compaction")

        // A second connection opened now sees the same; nothing was refused on the way.
        try expectAnswers(try server.connect(), v2, generation: 5, "a new connection")
        #expect(try replacementCounts(c) == (done: 4, rejected: 0), "replacements: \(server.stderr.suffix(800))")
        #expect(!server.stderr.contains("cannot be used"), "a version was refused: \(server.stderr.suffix(800))")
    }

    @Test("a batch request sent while updates are published is answered from one version")
    func batchesDuringUpdates() throws {
        let dir = try TempDir("serveupd2")
        let table = dir.file("t.lmdb")
        let keys = testKeys(2000)
        try publishWithCLI(table, keys: keys, version: 1, dir: dir)
        let server = try ServeProcess(table: table, ["--check-interval", "0.02"], in: dir)
        defer { server.stop() }
        let log = LoadLog()
        let clients = DispatchGroup()
        let port = server.port
        for _ in 0..<2 {
            DispatchQueue.global().async(group: clients) { hammer(port: port, keys: keys, log: log) }
        }
        let health = try server.connect()
        for version in 2...4 {
            #expect(waitFor(60) { log.answers(for: version - 1) >= 50 }, "no answers from version \(version - 1)")
            // Every value changed by an update: the generation a batch names is its values' version.
            let csv = dir.file("u\(version).csv")
            try writeFile(csv, keys.map { "\($0),\(versionedValue($0, version: version))\n" }.joined())
            try lookupOK(["update", table, "--upsert", csv, "-q"])
            let switched = try waitFor(30) { try health.get("/healthz").json["generation"] as? Int == version }
            #expect(switched, "the service did not switch to version \(version)")
        }
        #expect(waitFor(60) { log.answers(for: 4) >= 50 }, "no answers from the last version")
        log.stop()
        clients.wait()
        let seen = log.snapshot
        #expect(seen.problems.isEmpty, "problems: \(seen.problems.prefix(5))")
        #expect(Set(seen.versions.keys) == [1, 2, 3, 4], "versions answered: \(seen.versions)")
    }
}
