// End-to-end tests of `lookup serve` over loopback: every endpoint, every error response, and
// every limit (body size, keys per batch, key length, slow clients), against the built binary.
import Foundation
import LookupTestSupport
import Testing

/// Keys with bytes that need percent-encoding, and their values.
let awkwardRecords: [(String, String)] = [
    ("plain", "value one"),
    ("with space", "v2"),
    ("slash/in/key", "v3"),
    ("percent%sign", "v4"),
    ("plus+sign", "v5"),
    ("café", "unicode value ✓"),
    ("quote\"key", "line1\nline2\ttab"),
]

/// A server over a table of the awkward records plus versioned test keys.
func startServer(_ arguments: [String] = [], dir: TempDir) throws -> ServeProcess {
    let path = dir.file("t.lmdb")
    try buildTable(path, awkwardRecords + testKeys(1000).map { ($0, versionedValue($0, version: 1)) })
    return try ServeProcess(table: path, arguments, in: dir)
}

/// Percent-encodes every byte outside unreserved characters.
func percentEncoded(_ key: String) -> String {
    var out = ""
    for b in key.utf8 {
        if (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x2E || b == 0x5F || b == 0x7E {
            out.unicodeScalars.append(Unicode.Scalar(b))
        } else {
            out += String(format: "%%%02X", b)
        }
    }
    return out
}

@Suite(.serialized) struct ServeEndpointTests {
    @Test func getKey() throws {
        let dir = try TempDir()
        let server = try startServer(dir: dir)
        defer { server.stop() }
        let c = try server.connect()
        for (key, value) in awkwardRecords {
            let reply = try c.get("/v1/keys/" + percentEncoded(key))
            #expect(reply.status == 200 && reply.text == value, "\(key): \(reply.summary)")
            #expect(reply.headers["content-type"] == "application/octet-stream")
        }
        // Unreserved characters need no encoding; one connection serves many requests.
        let plain = try c.get("/v1/keys/k00007")
        #expect(plain.status == 200 && plain.text == versionedValue("k00007", version: 1))
        #expect(plain.headers["x-lookup-generation"] == "1")
        let missing = try c.get("/v1/keys/no%20such")
        #expect(missing.status == 404, "\(missing.summary)")
        #expect(missing.errorMessage == "key not found" && missing.json["key"] as? String == "no such", "\(missing.summary)")
        #expect(missing.headers["content-type"] == "application/json")
        // A query string is not part of the key.
        #expect(try c.get("/v1/keys/plain?x=1").text == "value one")
    }

    @Test func batchLookup() throws {
        let dir = try TempDir()
        let server = try startServer(dir: dir)
        defer { server.stop() }
        let c = try server.connect()
        let keys = ["k00001", "missing-1", "café", "slash/in/key", "k00999", "missing-2", "k00001"]
        let expected: [String?] = [versionedValue("k00001", version: 1), nil, "unicode value ✓", "v3",
                                   versionedValue("k00999", version: 1), nil, versionedValue("k00001", version: 1)]

        let json = try c.lookup(jsonArray(keys), contentType: "application/json")
        #expect(json.status == 200, "\(json.summary)")
        #expect(json.headers["content-type"] == "application/json")
        let results = batchResults(json)
        #expect(results.map(\.key) == keys)
        #expect(results.map(\.value) == expected)
        #expect(json.json["count"] as? Int == 7 && json.json["found"] as? Int == 5 && json.json["missing"] as? Int == 2)
        #expect(json.json["generation"] as? Int == 1)

        // The same as text lines (CRLF too), with no content type: sniffed.
        let text = try c.lookup(keys.filter { $0 != "café" }.joined(separator: "\r\n") + "\r\n")
        #expect(batchResults(text).map(\.value) == expected.enumerated().filter { keys[$0.offset] != "café" }.map(\.element))

        // NDJSON, asked for by query or by Accept.
        for reply in [try c.lookup(jsonArray(keys), query: "?format=ndjson"),
                      try c.request("POST", "/v1/lookup", headers: ["Accept": "application/x-ndjson"], body: Array(jsonArray(keys).utf8))] {
            #expect(reply.status == 200 && reply.headers["content-type"] == "application/x-ndjson", "\(reply.summary)")
            let lines = reply.text.split(separator: "\n").map { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] ?? [:] }
            #expect(lines.count == keys.count)
            #expect(lines.map { $0["key"] as? String ?? "" } == keys)
            #expect(lines.map { ($0["found"] as? Bool ?? false) ? $0["value"] as? String : nil } == expected)
        }

        // An empty batch is answered, empty.
        let empty = try c.lookup("[]", contentType: "application/json")
        #expect(empty.status == 200 && batchResults(empty).isEmpty && empty.json["count"] as? Int == 0)
    }

    @Test func statsHealthAndMetrics() throws {
        let dir = try TempDir()
        let server = try startServer(dir: dir)
        defer { server.stop() }
        let c = try server.connect()
        let stats = try c.get("/v1/stats")
        #expect(stats.status == 200, "\(stats.summary)")
        let table = stats.json["table"] as? [String: Any] ?? [:]
        #expect(table["entries"] as? Int == 1000 + awkwardRecords.count)
        #expect((table["metadata"] as? [String: Any])?["records"] as? Int == 1000 + awkwardRecords.count)
        #expect(stats.json["generation"] as? Int == 1)
        #expect((stats.json["inode"] as? Int ?? 0) > 0)

        let health = try c.get("/healthz")
        #expect(health.status == 200 && health.json["status"] as? String == "ok", "\(health.summary)")

        _ = try c.get("/v1/keys/k00001")
        _ = try c.get("/v1/keys/nope")
        _ = try c.lookup(jsonArray(["k00002", "k00003", "nope"]))
        _ = try c.get("/v1/keys/%zz")
        let metrics = try c.get("/metrics")
        #expect(metrics.status == 200 && metrics.headers["content-type"]?.hasPrefix("text/plain") == true)
        let lines = Set(metrics.text.split(separator: "\n").map(String.init))
        for line in ["lookup_http_requests_total{endpoint=\"key\",code=\"200\"} 1",
                     "lookup_http_requests_total{endpoint=\"key\",code=\"404\"} 1",
                     "lookup_http_requests_total{endpoint=\"key\",code=\"400\"} 1",
                     "lookup_http_requests_total{endpoint=\"lookup\",code=\"200\"} 1",
                     "lookup_http_requests_total{endpoint=\"stats\",code=\"200\"} 1",
                     "lookup_http_requests_total{endpoint=\"healthz\",code=\"200\"} 1",
                     "lookup_keys_total 5", "lookup_hits_total 3", "lookup_misses_total 2",
                     "lookup_http_request_duration_seconds_count{endpoint=\"key\"} 3"] {
            #expect(lines.contains(line), "missing \(line) in\n\(metrics.text)")
        }
    }

    @Test func errorResponses() throws {
        let dir = try TempDir()
        let server = try startServer(dir: dir)
        defer { server.stop() }
        let c = try server.connect()
        func expectError(_ reply: HTTPReply, _ status: Int, mentions: [String], sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(reply.status == status, "\(reply.summary)", sourceLocation: sourceLocation)
            #expect(reply.headers["content-type"] == "application/json", sourceLocation: sourceLocation)
            for text in mentions {
                #expect(reply.errorMessage.contains(text), "\"\(text)\" not in \(reply.summary)", sourceLocation: sourceLocation)
            }
        }
        expectError(try c.get("/v1/keys/a%2"), 400, mentions: ["invalid percent-encoding", "%2"])
        expectError(try c.get("/v1/keys/a%GGb"), 400, mentions: ["invalid percent-encoding"])
        expectError(try c.get("/v1/keys/"), 400, mentions: ["no key"])
        expectError(try c.get("/v1/keys/" + String(repeating: "k", count: 512)), 400, mentions: ["512 bytes", "at most 511"])
        expectError(try c.get("/v1/keys/" + String(repeating: "%6B", count: 600)), 400, mentions: ["600 bytes"])
        #expect(try c.get("/v1/keys/" + String(repeating: "k", count: 511)).status == 404)
        expectError(try c.lookup("[\"a\", ", contentType: "application/json"), 400, mentions: ["not valid JSON"])
        expectError(try c.lookup("{\"keys\": []}", contentType: "application/json"), 400, mentions: ["JSON array of key strings"])
        expectError(try c.lookup("[null]"), 400, mentions: ["JSON array of key strings"])
        expectError(try c.lookup(jsonArray(["ok", String(repeating: "x", count: 600)])), 400, mentions: ["key #2 is 600 bytes"])
        expectError(try c.lookup("a\n\nb", contentType: "text/plain"), 400, mentions: ["line 2 is empty"])
        expectError(try c.get("/nowhere"), 404, mentions: ["no endpoint /nowhere"])
        let wrongMethod = try c.request("POST", "/v1/stats", body: [])
        expectError(wrongMethod, 405, mentions: ["POST is not allowed on /v1/stats"])
        #expect(wrongMethod.headers["allow"] == "GET")
        expectError(try c.get("/v1/lookup"), 405, mentions: ["use POST"])
        // The connection still works after every error.
        #expect(try c.get("/healthz").status == 200)
        // A request line HTTP cannot parse gets 400, and the server lives on.
        let broken = try server.connect()
        try broken.send("NOT AN HTTP REQUEST\r\n\r\n")
        #expect(try broken.readReply().status == 400)
        #expect(try server.connect().get("/healthz").status == 200)
    }

    @Test func sizeLimits() throws {
        let dir = try TempDir()
        let server = try startServer(["--max-body", "2K", "--max-keys", "50"], dir: dir)
        defer { server.stop() }
        let c = try server.connect()
        let fifty = try c.lookup(jsonArray(testKeys(50)))
        #expect(fifty.status == 200 && batchResults(fifty).count == 50, "\(fifty.summary)")
        let tooMany = try c.lookup(jsonArray(testKeys(51)))
        #expect(tooMany.status == 413 && tooMany.errorMessage.contains("51 keys") && tooMany.errorMessage.contains("at most 50"),
                "\(tooMany.summary)")
        let tooManyLines = try c.lookup(testKeys(51).joined(separator: "\n"), contentType: "text/plain")
        #expect(tooManyLines.status == 413 && tooManyLines.errorMessage.contains("at most 50"), "\(tooManyLines.summary)")
        // Over the body limit by Content-Length: refused before the body is read.
        let big = Array(repeating: UInt8(ascii: "a"), count: 4096)
        let tooBig = try server.connect().request("POST", "/v1/lookup", headers: ["Content-Type": "text/plain"], body: big)
        #expect(tooBig.status == 413 && tooBig.errorMessage.contains("over 2048 bytes"), "\(tooBig.summary)")
        // Over the limit in a chunked body (no Content-Length).
        let chunked = try server.connect()
        let chunk = String(repeating: "k\n", count: 800)
        try chunked.send("POST /v1/lookup HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
                         + String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n"
                         + String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n0\r\n\r\n")
        let chunkedReply = try chunked.readReply()
        #expect(chunkedReply.status == 413, "\(chunkedReply.summary)")
        #expect(try server.connect().get("/healthz").status == 200)
    }

    @Test func slowClientsGet408() throws {
        let dir = try TempDir()
        let server = try startServer(["--request-timeout", "1"], dir: dir)
        defer { server.stop() }
        // Headers that never finish.
        let slowHead = try server.connect()
        let started = Date()
        try slowHead.send("GET /v1/keys/k00001 HTTP/1.1\r\nHost: x\r\n")
        let head408 = try slowHead.readReply()
        let waited = Date().timeIntervalSince(started)
        #expect(head408.status == 408 && head408.errorMessage.contains("not received within"), "\(head408.summary)")
        #expect(waited >= 0.9 && waited < 10, "408 after \(waited) s with a 1 s limit")
        #expect(try slowHead.isClosedByPeer())
        // A body that stops halfway.
        let slowBody = try server.connect()
        try slowBody.send("POST /v1/lookup HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nk00001\n")
        let body408 = try slowBody.readReply()
        #expect(body408.status == 408, "\(body408.summary)")
        #expect(try slowBody.isClosedByPeer())
        // An idle keep-alive connection after a complete request is not answered 408.
        let idle = try server.connect()
        #expect(try idle.get("/healthz").status == 200)
        let metrics = try server.connect().get("/metrics")
        #expect(metrics.text.contains("lookup_http_request_timeouts_total 2"), "\(metrics.text)")
        usleep(1_500_000)   // idle for longer than the request timeout (a duration under test, not a wait for an event)
        #expect(try idle.get("/healthz").status == 200)
    }
}
