// End-to-end tests of HTTP/1 connection handling in `lookup serve`: HTTP/1.0 requests are
// answered and the connection closed unless they ask for keep-alive; `Connection: close` in
// any case closes; a malformed chunked body gets 400, not 500; every error the HTTP parser or
// the framework answers has the service's JSON error body.
import Foundation
import LookupTestSupport
import Testing

/// Checks that `reply` is an error with status `status` and a JSON body whose message
/// contains each of `mentions`.
func expectJSONError(_ reply: HTTPReply, _ status: Int, mentions: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(reply.status == status, "\(reply.summary)", sourceLocation: sourceLocation)
    #expect(reply.headers["content-type"] == "application/json", "\(reply.headers)", sourceLocation: sourceLocation)
    #expect(!reply.errorMessage.isEmpty, "no JSON error body: \(reply.summary)", sourceLocation: sourceLocation)
    for text in mentions {
        #expect(reply.errorMessage.contains(text), "\"\(text)\" not in \(reply.summary)", sourceLocation: sourceLocation)
    }
}

@Suite(.serialized) struct ServeHTTPTests {
    @Test func http10ClosesUnlessKeepAlive() throws {
        let dir = try TempDir("http10")
        let server = try startServer(dir: dir)
        defer { server.stop() }

        // HTTP/1.0 without keep-alive: one response, then the server closes the connection.
        let plain = try server.connect()
        try plain.send("GET /v1/keys/k00001 HTTP/1.0\r\n\r\n")
        let reply = try plain.readReply()
        #expect(reply.status == 200 && reply.text == versionedValue("k00001", version: 1), "\(reply.summary)")
        #expect(reply.headers["connection"]?.lowercased() == "close", "\(reply.headers)")
        #expect(try plain.isClosedByPeer(), "the HTTP/1.0 connection was left open")

        // An HTTP/1.0 POST too.
        let post = try server.connect()
        let body = "k00002\nmissing\n"
        try post.send("POST /v1/lookup HTTP/1.0\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        let posted = try post.readReply()
        #expect(posted.status == 200 && batchResults(posted).map(\.value) == [versionedValue("k00002", version: 1), nil], "\(posted.summary)")
        #expect(try post.isClosedByPeer())

        // HTTP/1.0 with keep-alive: the connection serves another request.
        let kept = try server.connect()
        try kept.send("GET /v1/keys/k00003 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        let first = try kept.readReply()
        #expect(first.status == 200 && first.headers["connection"]?.lowercased() == "keep-alive", "\(first.summary) \(first.headers)")
        try kept.send("GET /v1/keys/k00004 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try kept.readReply().text == versionedValue("k00004", version: 1))
        // ...until a request without it.
        try kept.send("GET /v1/keys/k00005 HTTP/1.0\r\n\r\n")
        #expect(try kept.readReply().text == versionedValue("k00005", version: 1))
        #expect(try kept.isClosedByPeer())

        // HTTP/1.1 with "Connection: Close" (any case) closes as well; without it, stays open.
        let closing = try server.connect()
        let closed = try closing.request("GET", "/v1/keys/k00006", headers: ["Connection": "Close"])
        #expect(closed.status == 200 && closed.headers["connection"]?.lowercased() == "close", "\(closed.summary)")
        #expect(try closing.isClosedByPeer())
        let open = try server.connect()
        #expect(try open.get("/v1/keys/k00007").status == 200)
        #expect(try open.get("/v1/keys/k00008").status == 200)
    }

    @Test func malformedChunkedBodyIs400() throws {
        let dir = try TempDir("chunked")
        let server = try startServer(dir: dir)
        defer { server.stop() }
        for (method, target) in [("POST", "/v1/lookup"), ("GET", "/v1/keys/k00001")] {
            let c = try server.connect()
            try c.send("\(method) \(target) HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\nzz\r\n")
            let reply = try c.readReply()
            expectJSONError(reply, 400, mentions: ["not valid HTTP", "chunk size"])
            #expect(try c.isClosedByPeer(), "\(method): the connection stays open after a broken body")
        }
        // A good chunked body still works, and the server lives on.
        let good = try server.connect()
        try good.send("POST /v1/lookup HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n7\r\nk00009\n\r\n0\r\n\r\n")
        let reply = try good.readReply()
        #expect(reply.status == 200 && batchResults(reply).map(\.value) == [versionedValue("k00009", version: 1)], "\(reply.summary)")
        let metrics = try server.connect().get("/metrics").text
        #expect(!metrics.contains("code=\"500\""), "\(metrics)")
    }

    @Test func parserErrorsHaveABody() throws {
        let dir = try TempDir("parse")
        let server = try startServer(dir: dir)
        defer { server.stop() }
        let requests: [(String, String)] = [
            ("NOT AN HTTP REQUEST\r\n\r\n", "HTTP method"),
            ("GET /v1/keys/k00001 HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", "header"),
            ("GET /v1/keys/k00001 HTTP/7.3\r\nHost: x\r\n\r\n", "version"),
            ("GET /v1/keys/\u{01}x HTTP/1.1\r\nHost: x\r\n\r\n", "URL"),
            ("POST /v1/lookup HTTP/1.1\r\nHost: x\r\nContent-Length: 12x\r\n\r\n", "content-length"),
        ]
        for (request, mention) in requests {
            let c = try server.connect()
            try c.send(request)
            let reply = try c.readReply()
            expectJSONError(reply, 400, mentions: ["not valid HTTP", mention])
            #expect(try c.isClosedByPeer(), "\(request.debugDescription): the connection stays open")
        }
        // After a good request on the same connection, a broken one still gets its body.
        let c = try server.connect()
        try c.send("GET /v1/keys/k00001 HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\u{01} / HTTP/1.1\r\n\r\n")
        let good = try c.readReply()
        #expect(good.status == 200 && good.headers["connection"] == nil, "\(good.summary) \(good.headers)")
        expectJSONError(try c.readReply(), 400, mentions: ["not valid HTTP"])
        #expect(try c.isClosedByPeer())
        #expect(try server.connect().get("/healthz").status == 200)
    }
}
