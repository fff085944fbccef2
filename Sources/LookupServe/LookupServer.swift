// LookupServer: the read-only HTTP service in front of one table file. Assembles Hummingbird's
// HTTP/1 server with the slow-client guard, the responder and the table watcher, and runs it
// until SIGINT/SIGTERM (finishing requests in flight) or until its task is cancelled.
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import SharedLookup
import UnixSignals

/// The lookup service: `GET /v1/keys/{key}`, `POST /v1/lookup`, `GET /v1/stats`, `GET /healthz`
/// and `GET /metrics` over one table, which is replaced live when a new one is published over
/// its path. It never writes to the table.
public struct LookupServer: Sendable {
    /// How the server runs.
    public let options: ServeOptions
    /// The served table.
    public let live: LiveTable
    /// The counters behind `GET /metrics`.
    public let metrics = ServeMetrics()

    /// Verifies the table in a child process (a full walk) and opens it: a missing, broken or
    /// damaged table fails here, before anything listens (`LookupError.damaged` for damage).
    /// `log` receives one line for each table replacement or problem.
    public init(options: ServeOptions, log: @escaping @Sendable (String) -> Void = { _ in }) throws(LookupError) {
        self.options = options
        self.live = try LiveTable(path: options.tablePath, verifier: options.verifier, log: log)
    }

    /// Listens and answers requests. `onListening` is called with the bound host and port
    /// (the real port when `options.port` is 0) once connections are accepted. Returns after a
    /// graceful shutdown (SIGINT or SIGTERM when `options.handleSignals`, or cancellation of the
    /// calling task): no new connections, requests in flight answered. Throws when the address
    /// cannot be bound.
    public func run(onListening: @escaping @Sendable (_ host: String, _ port: Int) async -> Void = { _, _ in }) async throws {
        // Trap SIGHUP before listening, so a SIGHUP sent once the address is announced is never lost.
        let hangups = options.handleSignals ? await UnixSignalsSequence(trapping: .sighup) : nil
        let limits = options.limits
        let metrics = self.metrics
        let http = HTTP1Channel.Configuration(idleTimeout: TimeAmount(limits.idleTimeout))
        let server = HTTPServerBuilder { responder in
            GuardedHTTP1Channel(base: HTTP1Channel(responder: responder, configuration: http),
                                requestTimeout: TimeAmount(limits.requestTimeout), metrics: metrics)
        }
        var logger = Logger(label: "lookup-serve")
        logger.logLevel = .critical
        let host = options.host, port = options.port
        let app = Application(
            responder: ServeResponder(live: live, metrics: metrics, limits: limits, columns: options.columns),
            server: server,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil),
            services: [TableWatcher(live: live, interval: options.checkInterval, hangups: hangups)],
            onServerRunning: { channel in await onListening(host, channel.localAddress?.port ?? port) },
            logger: logger)
        try await app.runService(gracefulShutdownSignals: options.handleSignals ? [.sigterm, .sigint] : [])
    }
}
