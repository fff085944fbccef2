// SlowClientGuard: bounds slow clients. A byte-level handler at the front of each connection's
// pipeline starts a clock at the first byte of a request; when no response has started by the
// request timeout (headers or body still trickling in), it answers 408 with a JSON body and
// closes the connection. GuardedHTTP1Channel puts it in front of Hummingbird's HTTP/1 channel
// (and HTTP1Policy behind NIO's request decoder).
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Answers 408 and closes the connection when a request is not received in time.
final class SlowClientGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let timeout: TimeAmount
    private let metrics: ServeMetrics
    private var timer: Scheduled<Void>?
    /// Bytes of a request have arrived and no response has started yet.
    private var awaitingResponse = false

    init(timeout: TimeAmount, metrics: ServeMetrics) {
        self.timeout = timeout
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !awaitingResponse {
            awaitingResponse = true
            let loop = context.eventLoop.assumeIsolated()
            timer = loop.scheduleTask(in: timeout) { [self] in self.expire(context: context) }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if awaitingResponse {
            awaitingResponse = false
            timer?.cancel()
            timer = nil
        }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    private func expire(context: ChannelHandlerContext) {
        timer = nil
        guard awaitingResponse, context.channel.isActive else { return }
        metrics.requestTimedOut()
        let seconds = Double(timeout.nanoseconds) / 1e9
        let body = JSONText.errorBody("request not received within \(seconds) s; send the headers and body without pauses")
        var response = ByteBuffer(string: "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nContent-Length: \(body.readableBytes)\r\nConnection: close\r\n\r\n")
        response.writeImmutableBuffer(body)
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(response))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

/// Hummingbird's HTTP/1 channel with a `SlowClientGuard` in front of it and an `HTTP1Policy`
/// right after NIO's HTTP/1 request decoder.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let base: HTTP1Channel
    let requestTimeout: TimeAmount
    let metrics: ServeMetrics

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let guarded = channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(SlowClientGuard(timeout: requestTimeout, metrics: metrics))
        }
        return guarded.flatMap { base.setup(channel: channel, logger: logger) }.flatMapThrowing { value in
            // Hummingbird's setup put the decoder in; the policy goes right after it, where
            // requests still carry their HTTP version.
            let pipeline = channel.pipeline.syncOperations
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try pipeline.addHandler(HTTP1Policy(), position: .after(decoder))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
