// End-to-end tests of the service's life: SIGTERM and SIGINT stop accepting, finish the
// request in flight and exit 0; CLI errors (missing table, port in use, bad options) are one
// line and exit 2; the table file is never written.
import Foundation
import LookupTestSupport
import Testing

@Suite(.serialized) struct ServeLifecycleTests {
    @Test(arguments: [SIGTERM, SIGINT])
    func shutdownFinishesInFlightRequests(signal: Int32) throws {
        let dir = try TempDir("stop")
        let table = dir.file("t.lmdb")
        try buildVersionedTable(table, keys: testKeys(100), version: 1)
        let server = try ServeProcess(table: table, in: dir)
        // An idle keep-alive connection must not hold the shutdown up.
        let idle = try server.connect()
        #expect(try idle.get("/healthz").status == 200)
        // A request in flight: its head is in, half its body still to come.
        let body = Array(testKeys(10).joined(separator: "\n").utf8)
        let inFlight = try server.connect()
        try inFlight.send(Array("POST /v1/lookup HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
                          + body[0..<20])
        let started = try waitFor(10) {
            try server.connect().get("/metrics").text.contains("lookup_http_requests_in_flight 2")
        }
        #expect(started, "the request never started")

        server.send(signal)
        // New connections are refused once the listener is closed...
        let refusing = waitFor(10) { (try? HTTPConnection(port: server.port, timeout: 2)) == nil }
        #expect(refusing, "still accepting connections after the signal")
        #expect(server.process.isRunning, "exited before the request in flight was answered")
        // ...and the request in flight is answered in full.
        try inFlight.send(Array(body[20...]))
        let reply = try inFlight.readReply()
        #expect(reply.status == 200, "\(reply.summary)")
        #expect(batchResults(reply).map(\.value) == testKeys(10).map { versionedValue($0, version: 1) })
        let result = server.wait()
        #expect(result.status == 0 && !result.signaled, "exit \(result.status): \(result.stderr)")
        #expect(result.stderr.contains("lookup serve: stopped"), "\(result.stderr)")
    }

    @Test func neverWritesTheTable() throws {
        let dir = try TempDir("readonly")
        let table = dir.file("t.lmdb")
        try buildVersionedTable(table, keys: testKeys(300), version: 1)
        let before = try Data(contentsOf: URL(fileURLWithPath: table))
        let modified = try FileManager.default.attributesOfItem(atPath: table)[.modificationDate] as? Date
        let server = try ServeProcess(table: table, in: dir)
        let c = try server.connect()
        for key in testKeys(300) { #expect(try c.get("/v1/keys/" + key).status == 200) }
        _ = try c.lookup(jsonArray(testKeys(300)))
        _ = try c.get("/v1/stats")
        server.stop()
        #expect(try Data(contentsOf: URL(fileURLWithPath: table)) == before)
        #expect(try FileManager.default.attributesOfItem(atPath: table)[.modificationDate] as? Date == modified)
        #expect(!FileManager.default.fileExists(atPath: table + "-lock"), "a lock file was created")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("t.lmdb") } == ["t.lmdb"])
    }

    @Test func cliErrors() throws {
        let dir = try TempDir("cli")
        // A missing table: one line, exit 2, before anything listens.
        let missing = try runLookup(["serve", dir.file("none.lmdb"), "--port", "0"])
        #expect(missing.status == 2 && !missing.signaled, "exit \(missing.status): \(missing.stderr)")
        #expect(missing.errLines.count == 1 && missing.stderr.contains("none.lmdb"), "\(missing.stderr)")

        // A port in use.
        let table = dir.file("t.lmdb")
        try buildVersionedTable(table, keys: ["a"], version: 1)
        let first = try ServeProcess(table: table, in: dir)
        defer { first.stop() }
        let taken = try runLookup(["serve", table, "--port", String(first.port)])
        #expect(taken.status == 2 && !taken.signaled, "exit \(taken.status): \(taken.stderr)")
        let errors = taken.errLines.filter { $0.hasPrefix("lookup:") }
        #expect(errors.count == 1 && errors[0].contains("cannot listen on 127.0.0.1:\(first.port)"), "\(taken.stderr)")
        #expect(!taken.stderr.contains("Fatal error"))

        // Bad options are refused before anything starts.
        let badPort = try runLookup(["serve", table, "--port", "70000"])
        #expect(badPort.status != 0 && badPort.stderr.contains("--port must be 0 to 65535"), "\(badPort.stderr)")
        let badBody = try runLookup(["serve", table, "--max-body", "lots"])
        #expect(badBody.status != 0 && badBody.stderr.contains("--max-body"), "\(badBody.stderr)")
    }
}
