// Unit tests of the service's pieces: key decoding and batch parsing, JSON text, metrics text,
// LiveTable's replacement rules, and the server run in-process on a loopback port.
import Foundation
import LookupTestSupport
import NIOCore
import SharedLookup
import Testing
@testable import LookupServe

/// How the tests in this process verify tables: the built `lookup` in a fresh process (a child
/// forked from the busy test runner could hang on a lock another thread held at the fork).
let testVerifier = TableVerifier.process(executable: TestBinaries.lookup, arguments: ["serve", "--verify-only"])

@Suite struct RequestKeysTests {
    @Test func percentDecoding() throws {
        #expect(try RequestKeys.decodePathKey("plain") == Array("plain".utf8))
        #expect(try RequestKeys.decodePathKey("a%20b%2Fc%2fd+e") == Array("a b/c/d+e".utf8))
        #expect(try RequestKeys.decodePathKey("%C3%A9%00%FF") == [0xC3, 0xA9, 0x00, 0xFF])
        for bad in ["%", "%2", "a%zz", "%G0", "abc%"] {
            #expect(throws: ServeError.self, "\(bad)") { try RequestKeys.decodePathKey(Substring(bad)) }
        }
        do {
            _ = try RequestKeys.decodePathKey("ab%2")
            Issue.record("no error for ab%2")
        } catch {
            #expect(error.status == .badRequest)
            #expect(error.message.contains("invalid percent-encoding") && error.message.contains("%2"), "\(error.message)")
        }
    }

    @Test func keyLengthLimits() throws {
        #expect(try RequestKeys.decodePathKey(Substring(String(repeating: "a", count: 511))).count == 511)
        // 171 encoded bytes decode to 513 bytes: the decoded length counts.
        let long = Substring(String(repeating: "%41", count: 512))
        do {
            _ = try RequestKeys.decodePathKey(long)
            Issue.record("no error for a 512-byte key")
        } catch {
            #expect(error.status == .badRequest)
            #expect(error.message == "the key is 512 bytes; keys are at most 511 bytes")
        }
    }

    @Test func batchBodies() throws {
        let json = try RequestKeys.parseBatch(ByteBuffer(string: #" ["a", "b c", "é\n"] "#), contentType: nil, maxKeys: 10)
        #expect(json.withKeys { $0.map { Array($0) } } == [Array("a".utf8), Array("b c".utf8), Array("é\n".utf8)])
        let lines = try RequestKeys.parseBatch(ByteBuffer(string: "a\r\nb\nc\n"), contentType: "text/plain", maxKeys: 10)
        #expect(lines.withKeys { $0.map { String(decoding: $0, as: UTF8.self) } } == ["a", "b", "c"])
        // A line body that starts with [ is still lines when the content type says text.
        let bracket = try RequestKeys.parseBatch(ByteBuffer(string: "[x\n"), contentType: "text/plain", maxKeys: 10)
        #expect(bracket.count == 1)
        #expect(try RequestKeys.parseBatch(ByteBuffer(), contentType: nil, maxKeys: 10).count == 0)
        #expect(try RequestKeys.parseBatch(ByteBuffer(string: "[]"), contentType: "application/json", maxKeys: 10).count == 0)
    }

    @Test func badBatchBodies() {
        func message(_ body: String, _ type: String?, maxKeys: Int = 10) -> (Int, String) {
            do {
                _ = try RequestKeys.parseBatch(ByteBuffer(string: body), contentType: type, maxKeys: maxKeys)
                return (0, "")
            } catch {
                return (error.status.code, error.message)
            }
        }
        #expect(message("[\"a\",", "application/json").1.contains("not valid JSON"))
        #expect(message("{\"a\":1}", "application/json").1.contains("JSON array of key strings"))
        #expect(message("[1,2]", nil).1.contains("JSON array of key strings"))
        #expect(message("[\"\"]", nil) == (400, "key #1 is empty; keys are 1 to 511 bytes"))
        #expect(message("a\n\nb\n", "text/plain") == (400, "line 2 is empty; keys are 1 to 511 bytes"))
        #expect(message("a\n" + String(repeating: "z", count: 600) + "\n", "text/plain") == (400, "line 2 is 600 bytes; keys are at most 511 bytes"))
        #expect(message(jsonArray(testKeys(11)), nil).0 == 413)
        #expect(message(testKeys(11).joined(separator: "\n"), "text/plain").0 == 413)
        #expect(message(testKeys(10).joined(separator: "\n"), "text/plain").0 == 0)
    }
}

@Suite struct JSONTextTests {
    @Test func escapesAndRepairs() throws {
        var json = JSONText()
        json.raw("[")
        json.string("quote\" back\\ nl\n tab\t ctl\u{01} é")
        json.raw(",")
        [UInt8]([0x61, 0xFF, 0x62]).withUnsafeBytes { json.string(bytes: $0) }
        json.raw("]")
        let data = Data(json.buffer.readableBytesView)
        let parsed = try JSONSerialization.jsonObject(with: data) as? [String]
        #expect(parsed == ["quote\" back\\ nl\n tab\t ctl\u{01} é", "a\u{FFFD}b"])
    }

    @Test func errorBody() throws {
        let body = "k\"1".withCString { JSONText.errorBody("key not found", key: UnsafeRawBufferPointer(start: $0, count: 3)) }
        let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: String]
        #expect(object == ["error": "key not found", "key": "k\"1"])
    }
}

@Suite struct ServeMetricsTests {
    @Test func prometheusText() throws {
        let dir = try TempDir()
        try buildTable(dir.file("t.lmdb"), [("a", "1"), ("b", "2")])
        let live = try LiveTable(path: dir.file("t.lmdb"), verifier: testVerifier)
        let metrics = ServeMetrics()
        metrics.requestStarted()
        metrics.requestFinished(.key, status: 200, seconds: 0.0003)
        metrics.requestStarted()
        metrics.requestFinished(.lookup, status: 400, seconds: 2)
        metrics.lookedUp(hits: 3, misses: 2)
        let text = metrics.render(table: live.current)
        for line in ["lookup_http_requests_total{endpoint=\"key\",code=\"200\"} 1",
                     "lookup_http_requests_total{endpoint=\"lookup\",code=\"400\"} 1",
                     "lookup_keys_total 5", "lookup_hits_total 3", "lookup_misses_total 2",
                     "lookup_http_requests_in_flight 0",
                     "lookup_http_request_duration_seconds_bucket{endpoint=\"key\",le=\"0.00025\"} 0",
                     "lookup_http_request_duration_seconds_bucket{endpoint=\"key\",le=\"0.0005\"} 1",
                     "lookup_http_request_duration_seconds_bucket{endpoint=\"lookup\",le=\"1.0\"} 0",
                     "lookup_http_request_duration_seconds_bucket{endpoint=\"lookup\",le=\"+Inf\"} 1",
                     "lookup_http_request_duration_seconds_count{endpoint=\"lookup\"} 1",
                     "lookup_table_generation 1", "lookup_table_entries 2"] {
            #expect(text.split(separator: "\n").contains(Substring(line)), "missing line: \(line)\n\(text)")
        }
        // Every sample line belongs to a family declared with # TYPE.
        let declared = Set(text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] })
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let name = line.prefix { $0 != "{" && $0 != " " }
            let family = ["_bucket", "_sum", "_count"].reduce(name) { n, suffix in
                n.hasSuffix(suffix) && declared.contains(n.dropLast(suffix.count)) ? n.dropLast(suffix.count) : n
            }
            #expect(declared.contains(family), "undeclared metric \(name)")
        }
    }
}

@Suite struct LiveTableTests {
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func add(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
    }

    @Test func replacementOnRename() async throws {
        let dir = try TempDir()
        let path = dir.file("t.lmdb")
        try buildVersionedTable(path, keys: ["a", "b"], version: 1)
        let log = Lines()
        let live = try LiveTable(path: path, verifier: testVerifier, log: { log.add($0) })
        let first = live.current
        #expect(first.generation == 1)
        #expect(await live.check() == .unchanged)
        #expect(live.current === first, "an unchanged path must not reopen the file")

        try buildVersionedTable(path, keys: ["a", "b"], version: 2)
        #expect(await live.check() == .replaced(generation: 2))
        let second = live.current
        #expect(second.identity != first.identity)
        // The old table is still readable by whoever holds it (a request in flight).
        #expect(try first.table.string(for: "a") == versionedValue("a", version: 1))
        #expect(try second.table.string(for: "a") == versionedValue("a", version: 2))
        #expect(log.all.contains { $0.contains("switched to the new table") && $0.contains("generation 2") }, "\(log.all)")
        #expect(await live.check() == .unchanged)
    }

    @Test func brokenNewTableKeepsTheOld() async throws {
        let dir = try TempDir()
        let path = dir.file("t.lmdb")
        try buildVersionedTable(path, keys: ["a"], version: 1)
        let log = Lines()
        let live = try LiveTable(path: path, verifier: testVerifier, log: { log.add($0) })
        // A foreign file renamed over the table.
        let junk = dir.file("junk")
        try Data(repeating: 0x41, count: 10000).write(to: URL(fileURLWithPath: junk))
        #expect(rename(junk, path) == 0)
        guard case .failed(let message) = await live.check() else { Issue.record("a broken table was not reported"); return }
        #expect(message.contains("cannot be used") && message.contains("still serving generation 1"), "\(message)")
        #expect(live.current.generation == 1)
        #expect(try live.current.table.string(for: "a") == versionedValue("a", version: 1))
        // Reported once, not on every check.
        #expect(await live.check() == .unchanged)
        #expect(log.all.count == 1, "\(log.all)")
        // A good table published afterwards is taken.
        try buildVersionedTable(path, keys: ["a"], version: 2)
        #expect(await live.check() == .replaced(generation: 2))
        // A missing path keeps the table too.
        #expect(unlink(path) == 0)
        guard case .failed(let missing) = await live.check() else { Issue.record("a missing table was not reported"); return }
        #expect(missing.contains("cannot stat"), "\(missing)")
        #expect(try live.current.table.string(for: "a") == versionedValue("a", version: 2))
    }

    @Test func damagedNewTableIsRefusedUntilForced() async throws {
        let dir = try TempDir()
        let path = dir.file("t.lmdb")
        let keys = testKeys(200)
        try buildVersionedTable(path, keys: keys, version: 1)
        let log = Lines()
        let live = try LiveTable(path: path, verifier: testVerifier, log: { log.add($0) })
        let v2 = dir.file("v2.lmdb")
        try buildVersionedTable(v2, keys: keys, version: 2)
        try publish(try TableDamage.valueBytes.apply(to: Data(contentsOf: URL(fileURLWithPath: v2))), over: path)
        let first = await live.check()
        guard case .failed(let message) = first else { Issue.record("a damaged table was not refused: \(first), \(live.status)"); return }
        #expect(message.contains("the table is damaged (content hash") && message.contains("still serving generation 1"), "\(message)")
        #expect(live.current.generation == 1)
        #expect(try live.current.table.string(for: "k00042") == versionedValue("k00042", version: 1))
        #expect(live.status.rejected == 1 && live.status.replacements == 0 && live.status.lastRejection == message)
        // Not retried until it changes, unless forced.
        #expect(await live.check() == .unchanged)
        #expect(log.all.count == 1, "\(log.all)")
        guard case .failed = await live.check(force: true) else { Issue.record("a forced check took the damaged table"); return }
        #expect(live.status.rejected == 2 && log.all.count == 2)
        // Served tables name the served path in their stats, not the descriptor they were opened through.
        #expect(try live.current.table.stats().path == path)
    }

    @Test func damagedTableAtStartIsAnError() throws {
        let dir = try TempDir()
        let path = dir.file("t.lmdb")
        try buildVersionedTable(path, keys: testKeys(100), version: 1)
        try publish(try TableDamage.valueBytes.apply(to: Data(contentsOf: URL(fileURLWithPath: path))), over: path)
        #expect(throws: LookupError.self) { try LiveTable(path: path, verifier: testVerifier) }
        do throws(LookupError) {
            _ = try LiveTable(path: path, verifier: testVerifier)
        } catch {
            #expect(error.kind == .damaged && error.path == path, "\(error)")
            #expect(error.description.hasPrefix("\(path): the table is damaged ("), "\(error)")
        }
    }

    @Test func missingTableAtStartIsAnError() throws {
        let dir = try TempDir()
        #expect(throws: LookupError.self) { try LiveTable(path: dir.file("none.lmdb"), verifier: testVerifier) }
    }
}

/// The server run in this process (no signal handling), stopped by cancelling its task.
@Suite struct InProcessServerTests {
    @Test func answersAndStopsOnCancellation() async throws {
        let dir = try TempDir()
        let path = dir.file("t.lmdb")
        try buildVersionedTable(path, keys: testKeys(100), version: 1)
        // Its handlers run on the cooperative pool, which other tests may hold for minutes (see
        // below): the request timeout must not count that wait as a slow client's.
        let server = try LookupServer(options: ServeOptions(tablePath: path, port: 0, checkInterval: .milliseconds(20), handleSignals: false,
                                                                 limits: ServeLimits(requestTimeout: .seconds(600), idleTimeout: .seconds(600)),
                                                                 verifier: testVerifier))
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let task = Task { try await server.run { _, port in continuation.yield(port) } }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())

        // The client blocks: on a thread of its own, not one of the cooperative pool that the
        // server's handlers run on. Other tests may hold the rest of that pool for minutes
        // (synchronous tests run on it; on 2 cores it has 2 threads): the server answers once
        // they let go, so the client waits that long.
        let patience = 600
        let reply = try await onOwnThread { try HTTPConnection(port: port, timeout: patience).get("/v1/keys/k00042") }
        #expect(reply.status == 200 && reply.text == versionedValue("k00042", version: 1), "\(reply.summary)")
        #expect(reply.headers["x-lookup-generation"] == "1")
        // The timer notices a new table.
        try buildVersionedTable(path, keys: testKeys(100), version: 2)
        let switched = try await onOwnThread {
            let connection = try HTTPConnection(port: port, timeout: patience)
            return try waitFor(Double(patience)) { try connection.get("/v1/keys/k00042").text == versionedValue("k00042", version: 2) }
        }
        #expect(switched)
        #expect(server.live.current.generation == 2)

        task.cancel()
        _ = try? await task.value
        #expect(throws: (any Error).self, "still accepting connections after the server stopped") {
            let after = try HTTPConnection(port: port, timeout: 5)
            _ = try after.get("/healthz")
        }
    }
}

/// Runs the blocking `body` on a thread of its own and returns (or throws) what it did.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
