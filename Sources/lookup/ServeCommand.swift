// `lookup serve`: the table as a small read-only HTTP service (LookupServe), replaced live when
// a new table is published over its path. This file only maps options and prints status lines.
import ArgumentParser
import Foundation
import LookupServe
import SharedLookup

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Answer lookups over HTTP (read-only).",
        discussion: """
        Endpoints: GET /v1/keys/{key} (key percent-encoded; 200 with the value, 404 when \
        missing), POST /v1/lookup (a JSON array of keys, or one key per line; answered as JSON, \
        or NDJSON with ?format=ndjson), GET /v1/stats, GET /healthz, GET /metrics (Prometheus).

        The table is verified (every record walked, in a child process) before it is served: \
        a damaged table is refused with exit status 2. When a new table is published over \
        TABLE (as `lookup build` does, by rename), the service verifies it and switches to it \
        within --check-interval, or on SIGHUP (which also retries a file refused before); \
        requests in flight finish on the old table. A new table that fails is logged and \
        counted (GET /v1/stats, /metrics), and the old one keeps answering. HTTP/1.0 \
        connections are closed after each response unless the client asks for keep-alive. \
        SIGINT or SIGTERM: stop accepting, finish the requests \
        in flight, exit 0. Once listening, prints `lookup serve: listening on http://HOST:PORT` \
        on standard error (--port 0 picks a free port).
        """)

    @Argument(help: "The table file.")
    var table: String

    @Option(help: "Answer only these columns of the table's rows: 1-based positions or header names, comma separated (joined by the table's delimiter).")
    var columns: String?

    @Option(help: "Address to bind (loopback by default; 0.0.0.0 for every interface).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port = 8080

    @Option(help: "Seconds between checks for a newly published table; 0: only on SIGHUP.")
    var checkInterval = 0.25

    @Option(help: "Largest request body, e.g. 16M.")
    var maxBody = "16M"

    @Option(help: "Most keys in one POST /v1/lookup.")
    var maxKeys = 100_000

    @Option(help: "Seconds a client has to send a whole request (408 after).")
    var requestTimeout = 10.0

    @Option(help: "Seconds an idle keep-alive connection stays open.")
    var idleTimeout = 60.0

    @Flag(help: .hidden)
    var verifyOnly = false

    func validate() throws {
        if !(0...65535).contains(port) { throw ValidationError("--port must be 0 to 65535") }
        // Upper bounds keep the conversions to whole milliseconds and nanoseconds in range.
        if !(checkInterval >= 0 && checkInterval <= 86_400) { throw ValidationError("--check-interval must be 0 to 86400 seconds") }
        if (parseSize(maxBody) ?? 0) < 1 { throw ValidationError("--max-body must be a size like 16M") }
        if maxKeys < 1 { throw ValidationError("--max-keys must be 1 or more") }
        if !(requestTimeout > 0 && requestTimeout <= 1_000_000) || !(idleTimeout > 0 && idleTimeout <= 1_000_000) {
            throw ValidationError("timeouts must be more than 0 and at most 1000000 seconds")
        }
    }

    func run() async throws {
        if verifyOnly {
            // The verifier process a server starts: verify TABLE (open as descriptor 3), report
            // as JSON on standard output, exit.
            let status = Table.runVerifierProcess(path: table)
            if status != 0 { throw ExitCode(status) }
            return
        }
        let limits = ServeLimits(maxBodyBytes: parseSize(maxBody) ?? 16 << 20, maxKeysPerBatch: maxKeys,
                                 requestTimeout: .milliseconds(Int64(requestTimeout * 1000)),
                                 idleTimeout: .milliseconds(Int64(idleTimeout * 1000)))
        var options = ServeOptions(tablePath: table, host: host, port: port,
                                   checkInterval: checkInterval > 0 ? .milliseconds(Int64(checkInterval * 1000)) : nil,
                                   limits: limits, verifier: Self.verifier)
        options.columns = columns
        try await reportingErrors {
            let server = try LookupServer(options: options, log: { printStatus($0) })
            _ = try ColumnChoice(list: columns, metadata: server.live.current.table.metadata)
            let entries = (try? server.live.current.table.count()).map { "\($0) entries" } ?? "entries unknown"
            do {
                try await server.run { host, port in
                    let shownHost = host.contains(":") ? "[\(host)]" : host
                    printStatus("serving \(table) (\(entries))")
                    printStatus("listening on http://\(shownHost):\(port)")
                }
            } catch {
                throw LookupError(.io, "cannot listen on \(host):\(port): \(error)")
            }
            printStatus("stopped")
        }
    }
}

extension ServeCommand {
    /// Tables are verified by this program run again (`lookup serve --verify-only TABLE`): a
    /// fresh process, where a forked child of the running server could hang (see `TableVerifier`).
    static var verifier: TableVerifier {
        guard let executable = Bundle.main.executablePath ?? CommandLine.arguments.first else { return .forkedChild }
        return .process(executable: executable, arguments: ["serve", "--verify-only"])
    }
}

/// Prints `lookup serve: MESSAGE` as one line on standard error.
private func printStatus(_ message: String) {
    var line = "lookup serve: " + message + "\n"
    line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
