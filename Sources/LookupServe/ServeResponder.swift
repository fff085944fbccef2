// ServeResponder: routes each request to its endpoint, turns refusals into JSON errors, and
// records every request in the metrics. The endpoints themselves live in Endpoints.swift.
import Hummingbird
import NIOHTTP1

/// Answers the service's HTTP requests.
struct ServeResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    let live: LiveTable
    let metrics: ServeMetrics
    let limits: ServeLimits
    /// `--columns`, resolved against each served table.
    let columns: String?

    /// Where single-key lookups live: `GET /v1/keys/{key}`.
    static let keyPrefix = "/v1/keys/"

    func respond(to request: Request, context: Context) async throws -> Response {
        let started = ContinuousClock.now
        metrics.requestStarted()
        let target = request.head.path ?? "/"
        let queryStart = target.firstIndex(of: "?")
        let path = target[..<(queryStart ?? target.endIndex)]
        let query = queryStart.map { target[target.index(after: $0)...] } ?? ""
        let endpoint = Self.endpoint(for: path)
        var response: Response
        do {
            response = try await answer(endpoint, path: path, query: query, request: request)
        } catch let error as ServeError {
            response = error.response
        } catch let error as HTTPParserError {
            // The body could not be parsed (a malformed chunk size...): the client's fault.
            response = ServeError.badRequest("the request is not valid HTTP/1.1 (\(HTTP1Policy.describe(error))); the connection is closed").response
        } catch {
            response = ServeError(.internalServerError, "\(error)").response
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        metrics.requestFinished(endpoint, status: response.status.code, seconds: seconds)
        return response
    }

    /// The endpoint a path belongs to.
    static func endpoint(for path: Substring) -> Endpoint {
        if path.hasPrefix(keyPrefix) || path == "/v1/keys" { return .key }
        switch path {
        case "/v1/lookup": return .lookup
        case "/v1/stats": return .stats
        case "/healthz": return .healthz
        case "/metrics": return .metrics
        default: return .other
        }
    }

    private func answer(_ endpoint: Endpoint, path: Substring, query: Substring, request: Request) async throws -> Response {
        let method = request.method
        func require(_ allowed: HTTPRequest.Method) async throws {
            if method != allowed { throw ServeError.methodNotAllowed(method, path: String(path), allowed: allowed.rawValue) }
            // A GET seldom has a body; when it has one, read it first, so a malformed one is
            // answered 400 rather than the request it came with.
            if allowed == .get && Self.hasBody(request) { _ = try await collectBody(request) }
        }
        switch endpoint {
        case .key:
            try await require(.get)
            guard path.count > Self.keyPrefix.count else {
                throw ServeError.badRequest("no key in the path; use GET /v1/keys/{key} with the key percent-encoded")
            }
            return try getKey(encoded: path.dropFirst(Self.keyPrefix.count))
        case .lookup:
            try await require(.post)
            let body = try await collectBody(request)
            let format: BatchFormat = Self.wantsNDJSON(query: query, accept: request.headers[.accept]) ? .ndjson : .json
            return try lookupBatch(body: body, contentType: request.headers[.contentType], format: format)
        case .stats:
            try await require(.get)
            return try stats()
        case .healthz:
            try await require(.get)
            return try health()
        case .metrics:
            try await require(.get)
            return metricsText()
        case .other:
            throw ServeError(.notFound, "no endpoint \(path); the endpoints are GET /v1/keys/{key}, POST /v1/lookup, GET /v1/stats, GET /healthz and GET /metrics")
        }
    }

    /// Whether `request` says it has a body (a `Transfer-Encoding`, or a `Content-Length` other than 0).
    static func hasBody(_ request: Request) -> Bool {
        request.headers[.transferEncoding] != nil || (request.headers[.contentLength].map { $0 != "0" } ?? false)
    }

    /// Whether the client asked for NDJSON (`?format=ndjson` or `Accept: application/x-ndjson`).
    static func wantsNDJSON(query: Substring, accept: String?) -> Bool {
        if query.split(separator: "&").contains(where: { $0 == "format=ndjson" }) { return true }
        return accept?.lowercased().contains("ndjson") ?? false
    }

    /// Reads the whole request body, refusing (413) one over the body limit as early as the
    /// `Content-Length` header tells.
    private func collectBody(_ request: Request) async throws -> ByteBuffer {
        let limit = limits.maxBodyBytes
        let refusal = ServeError.tooLarge("the request body is over \(limit) bytes; send fewer keys per request")
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit { throw refusal }
        var body = ByteBuffer()
        for try await chunk in request.body {
            if body.readableBytes + chunk.readableBytes > limit { throw refusal }
            body.writeImmutableBuffer(chunk)
        }
        return body
    }
}
