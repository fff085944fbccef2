// HTTP1Policy: what Hummingbird's HTTP/1 channel leaves out, done at the HTTP/1 level where the
// request's version and the parser's errors are still visible (between NIO's HTTP/1 codec and
// Hummingbird's conversion to HTTP types):
// - persistence: a request that is not keep-alive (HTTP/1.0 without `Connection: keep-alive`,
//   or `Connection: close` in any case) gets its response with `Connection: close`, and the
//   server closes the connection after it. Hummingbird itself only stops after a request whose
//   header reads exactly "close", and never for HTTP/1.0.
// - error bodies: an error response written without a body (Hummingbird answers a parse error
//   with an empty 400) gets the service's JSON error body, naming the parse error.
// - after a parse error the connection is closed once the response it calls for is out: the
//   stream cannot be followed any further. An error inside a request (its body) ends that
//   request's response; one between requests calls for one more response (Hummingbird's 400).
import Hummingbird
import NIOCore
import NIOHTTP1

/// Keep-alive and error bodies for HTTP/1; see the file comment.
final class HTTP1Policy: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// What a response needs from its request.
    private struct Exchange {
        var keepAlive: Bool
        var version: HTTPVersion
    }

    /// Requests read and not yet answered, oldest first (requests may be pipelined).
    private var unanswered = CircularBuffer<Exchange>()
    /// The error the HTTP parser met, if it did.
    private var parseError: (any Error)?
    /// A request's head has been read and its end not yet.
    private var readingRequest = false
    /// The response being written ends the connection.
    private var closeAfterResponse = false
    /// The JSON body given to the error response being written.
    private var addedBody: ByteBuffer?
    /// The connection's last response is out: anything written after it is dropped.
    private var finished = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            if case .end = unwrapInboundIn(data) { readingRequest = false }
            context.fireChannelRead(data)
            return
        }
        readingRequest = true
        unanswered.append(Exchange(keepAlive: head.isKeepAlive, version: head.version))
        // Hummingbird reads no further request after one whose Connection header is "close".
        if !head.isKeepAlive { head.headers.replaceOrAdd(name: "connection", value: "close") }
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if parseError == nil && error is HTTPParserError {
            parseError = error
            if readingRequest && !unanswered.isEmpty {
                // The request being read is broken: its response is the last.
                unanswered[unanswered.index(before: unanswered.endIndex)].keepAlive = false
            } else {
                // Garbage after the requests: it is answered (400), and that answer is the last.
                unanswered.append(Exchange(keepAlive: false, version: .http1_1))
            }
        }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if finished {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status.code >= 200:
            let exchange = unanswered.popFirst()
            closeAfterResponse = !(exchange?.keepAlive ?? false)
            if closeAfterResponse {
                head.headers.replaceOrAdd(name: "connection", value: "close")
            } else if exchange?.version == .http1_0 {
                head.headers.replaceOrAdd(name: "connection", value: "keep-alive")
            }
            if head.status.code >= 400 && head.headers["content-length"].first == "0" {
                let body = JSONText.errorBody(Self.message(for: head.status, parseError: parseError))
                head.headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes))
                head.headers.replaceOrAdd(name: "content-type", value: "application/json")
                addedBody = body
            }
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end:
            if let body = addedBody {
                addedBody = nil
                context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            }
            guard closeAfterResponse else {
                context.write(data, promise: promise)
                return
            }
            finished = true
            let written = context.eventLoop.makePromise(of: Void.self)
            if let promise { written.futureResult.cascade(to: promise) }
            context.writeAndFlush(data, promise: written)
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        default:
            context.write(data, promise: promise)
        }
    }

    /// The error message of a bodiless error response with `status`.
    static func message(for status: HTTPResponseStatus, parseError: (any Error)?) -> String {
        if status == .badRequest, let parseError {
            return "the request is not valid HTTP/1.1 (\(describe(parseError))); the connection is closed"
        }
        return status.reasonPhrase.isEmpty ? "HTTP status \(status.code)" : status.reasonPhrase.lowercased()
    }

    /// An HTTP parser error in words ("invalid character in chunk size header").
    static func describe(_ error: any Error) -> String {
        (error as? HTTPParserError)?.debugDescription ?? "\(error)"
    }
}
