// ServeError: a request the service refuses or cannot answer, with its HTTP status and the
// one-line message sent to the client as `{"error": "..."}`.
import Hummingbird

/// An HTTP error answered with a JSON body `{"error": message}`.
public struct ServeError: Error, Sendable, CustomStringConvertible {
    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// What was wrong and, where useful, what to do.
    public var message: String
    /// Extra response headers (`Allow` for 405).
    var headers: HTTPFields = [:]

    /// Creates an error with `status` and `message`.
    public init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status.code) \(message)" }

    /// 400: the request is malformed.
    static func badRequest(_ message: String) -> ServeError { ServeError(.badRequest, message) }

    /// 413: the request is over a size limit.
    static func tooLarge(_ message: String) -> ServeError { ServeError(.contentTooLarge, message) }

    /// 405 with the `Allow` header listing `allowed`.
    static func methodNotAllowed(_ method: HTTPRequest.Method, path: String, allowed: String) -> ServeError {
        var error = ServeError(.methodNotAllowed, "\(method.rawValue) is not allowed on \(path); use \(allowed)")
        error.headers[.allow] = allowed
        return error
    }

    /// The response: status, headers and the JSON body.
    var response: Response {
        var headers = self.headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: JSONText.errorBody(message)))
    }
}
