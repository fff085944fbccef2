// End-to-end tests of live table replacement: tables rebuilt with `lookup build` and published
// over the served path while clients hammer the service (no failed request, no batch mixing
// two tables), replacement at once on SIGHUP, and a broken new file that leaves the old served.
import Foundation
import LookupTestSupport
import Testing

/// What the client loops saw, shared between their threads.
final class LoadLog: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var requests = 0
    private(set) var problems: [String] = []
    private(set) var answersByVersion: [Int: Int] = [:]
    private var stopped = false

    func answered(version: Int) {
        lock.lock(); defer { lock.unlock() }
        requests += 1
        answersByVersion[version, default: 0] += 1
    }

    func problem(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        requests += 1
        if problems.count < 20 { problems.append(text) }
    }

    func answers(for version: Int) -> Int { lock.lock(); defer { lock.unlock() }; return answersByVersion[version] ?? 0 }
    func stop() { lock.lock(); stopped = true; lock.unlock() }
    var isStopped: Bool { lock.lock(); defer { lock.unlock() }; return stopped }
    var snapshot: (requests: Int, problems: [String], versions: [Int: Int]) {
        lock.lock(); defer { lock.unlock() }
        return (requests, problems, answersByVersion)
    }
}

/// One client loop: batches of random keys (some missing) and single GETs on one keep-alive
/// connection (a new one if the server closed it), checking every answer against the tables.
func hammer(port: Int, keys: [String], log: LoadLog) {
    var connection: HTTPConnection?
    var round = 0
    while !log.isStopped {
        round += 1
        do {
            let c = try connection ?? HTTPConnection(port: port)
            connection = c
            if round % 4 == 0 {
                let key = keys[Int.random(in: 0..<keys.count)]
                let reply = try c.get("/v1/keys/" + key)
                guard reply.status == 200, let v = version(of: reply.text), reply.text == versionedValue(key, version: v),
                      reply.headers["x-lookup-generation"] == String(v) else {
                    log.problem("GET \(key): \(reply.summary)")
                    continue
                }
                log.answered(version: v)
                continue
            }
            var batch = (0..<200).map { _ in keys[Int.random(in: 0..<keys.count)] }
            batch += (0..<20).map { _ in "missing-\(Int.random(in: 0..<1000))" }
            let reply = try c.lookup(jsonArray(batch), contentType: "application/json")
            let results = batchResults(reply)
            guard reply.status == 200, results.count == batch.count, let generation = reply.json["generation"] as? Int else {
                log.problem("POST: \(reply.summary)")
                continue
            }
            // Every value of one batch comes from one table: the one the answer names.
            var bad: String?
            for (i, result) in results.enumerated() {
                let key = batch[i]
                if key.hasPrefix("missing-") {
                    if result.value != nil { bad = "missing key \(key) found" }
                } else if result.value != versionedValue(key, version: generation) {
                    bad = "key \(key): \(result.value ?? "missing") in a generation \(generation) answer"
                }
                if bad != nil { break }
            }
            if let bad { log.problem("POST: " + bad) } else { log.answered(version: generation) }
        } catch {
            connection = nil
            log.problem("\(error)")
        }
    }
}

/// Writes version `version` of the test table as CSV and publishes it over `table` with
/// `lookup build` (write beside, sync, rename).
func publishWithCLI(_ table: String, keys: [String], version: Int, dir: TempDir) throws {
    let csv = dir.file("v\(version).csv")
    let text = keys.map { "\($0),\(versionedValue($0, version: version))\n" }.joined()
    try text.write(toFile: csv, atomically: false, encoding: .utf8)
    let result = try runLookup(["build", csv, "-o", table])
    guard result.status == 0 else { throw TestFailure("lookup build v\(version): exit \(result.status): \(result.stderr)") }
}

@Suite(.serialized) struct ServeReplacementTests {
    @Test func replacementUnderLoad() throws {
        let dir = try TempDir("replace")
        let table = dir.file("t.lmdb")
        let keys = testKeys(5000)
        try publishWithCLI(table, keys: keys, version: 1, dir: dir)
        let server = try ServeProcess(table: table, ["--check-interval", "0.05"], in: dir)
        defer { server.stop() }
        let log = LoadLog()
        let clients = DispatchGroup()
        let port = server.port
        for _ in 0..<3 {
            DispatchQueue.global().async(group: clients) { hammer(port: port, keys: keys, log: log) }
        }
        let health = try server.connect()
        let finalVersion = 8
        for version in 2...finalVersion {
            // Let the clients get answers from the table served now, then replace it.
            #expect(waitFor(60) { log.answers(for: version - 1) >= 100 }, "no answers from version \(version - 1)")
            try publishWithCLI(table, keys: keys, version: version, dir: dir)
            let switched = try waitFor(30) { try health.get("/healthz").json["generation"] as? Int == version }
            #expect(switched, "the service did not switch to version \(version)")
        }
        #expect(waitFor(60) { log.answers(for: finalVersion) >= 100 }, "no answers from the last version")
        log.stop()
        clients.wait()

        let seen = log.snapshot
        #expect(seen.problems.isEmpty, "\(seen.problems.count) failed or inconsistent answers of \(seen.requests): \(seen.problems)")
        #expect(Set(seen.versions.keys) == Set(1...finalVersion), "versions answered: \(seen.versions)")
        #expect(seen.requests >= 800, "only \(seen.requests) requests")
        let switches = server.stderr.split(separator: "\n").filter { $0.contains("switched to the new table") }
        #expect(switches.count == finalVersion - 1, "\(server.stderr)")
    }

    @Test func sighupSwitchesAtOnce() throws {
        let dir = try TempDir("hup")
        let table = dir.file("t.lmdb")
        try buildVersionedTable(table, keys: ["a", "b"], version: 1)
        let server = try ServeProcess(table: table, ["--check-interval", "0"], in: dir)
        defer { server.stop() }
        let c = try server.connect()
        #expect(try c.get("/v1/keys/a").text == versionedValue("a", version: 1))
        try buildVersionedTable(table, keys: ["a", "b"], version: 2)
        // Without a timer the old table stays until told.
        #expect(try c.get("/v1/keys/a").text == versionedValue("a", version: 1))
        server.send(SIGHUP)
        let switched = try waitFor(10) { try c.get("/v1/keys/a").text == versionedValue("a", version: 2) }
        #expect(switched, "SIGHUP did not switch tables: \(server.stderr)")
        #expect(try c.get("/v1/keys/b").headers["x-lookup-generation"] == "2")
        #expect(server.process.isRunning)
    }

    @Test func brokenNewTableKeepsServingTheOld() throws {
        let dir = try TempDir("broken")
        let table = dir.file("t.lmdb")
        try buildVersionedTable(table, keys: ["a"], version: 1)
        let server = try ServeProcess(table: table, ["--check-interval", "0.05"], in: dir)
        defer { server.stop() }
        let junk = dir.file("junk")
        try Data(repeating: 0x5A, count: 20000).write(to: URL(fileURLWithPath: junk))
        #expect(rename(junk, table) == 0)
        let reported = waitFor(10) { server.stderr.contains("cannot be used, still serving generation 1") }
        #expect(reported, "no log line for the broken table: \(server.stderr)")
        let c = try server.connect()
        let reply = try c.get("/v1/keys/a")
        #expect(reply.status == 200 && reply.text == versionedValue("a", version: 1), "\(reply.summary)")
        #expect(try c.get("/healthz").status == 200)
        // Reported once, then a good table is taken.
        try buildVersionedTable(table, keys: ["a"], version: 2)
        #expect(try waitFor(10) { try c.get("/v1/keys/a").text == versionedValue("a", version: 2) })
        #expect(server.stderr.components(separatedBy: "cannot be used").count == 2, "\(server.stderr)")
    }
}
