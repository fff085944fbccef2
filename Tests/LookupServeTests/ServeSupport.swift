// Test support for the lookup service: tables built in temp directories, a small HTTP/1.1
// client over POSIX sockets (so tests can send malformed and slow requests), and the built
// `lookup serve` binary run as a process on an ephemeral loopback port.
import Foundation
import LookupTestSupport
import SharedLookup
import Testing

// MARK: - Tables

/// The value key `key` has in version `version` of the test tables: the version is readable
/// back from any value, so a test can tell which table answered.
func versionedValue(_ key: String, version: Int) -> String { "v\(version)|\(key)|" + String(repeating: "x", count: key.count % 7) }

/// The version a value of `versionedValue` came from.
func version(of value: String) -> Int? {
    guard value.hasPrefix("v"), let bar = value.firstIndex(of: "|") else { return nil }
    return Int(value[value.index(after: value.startIndex)..<bar])
}

/// Keys `k00000`... used by the test tables.
func testKeys(_ count: Int) -> [String] { (0..<count).map { String(format: "k%05d", $0) } }

/// Builds (and atomically publishes) a table at `path` holding `records`.
func buildTable(_ path: String, _ records: [(String, String)]) throws {
    let builder = try TableBuilder(destination: path, options: BuildOptions(duplicates: .last))
    for (k, v) in records { try builder.add(key: k, value: v) }
    try builder.publish()
}

/// Builds version `version` of the test table: `keys` with versioned values.
func buildVersionedTable(_ path: String, keys: [String], version: Int) throws {
    try buildTable(path, keys.map { ($0, versionedValue($0, version: version)) })
}

// MARK: - HTTP client

/// A response read off a connection.
struct HTTPReply: Sendable {
    var status: Int
    /// Header names lowercased.
    var headers: [String: String]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as a JSON object (`[:]` when it is not one).
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
    }

    /// The `error` member of a JSON error body.
    var errorMessage: String { json["error"] as? String ?? "" }

    var summary: String { "\(status) \(text.prefix(300))" }
}

/// One HTTP/1.1 connection to 127.0.0.1, with a receive timeout so no test can hang on it.
final class HTTPConnection {
    let fd: Int32
    private var pending: [UInt8] = []

    init(port: Int, timeout seconds: Int = 30) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(String(cString: strerror(errno)))") }
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            let message = String(cString: strerror(errno))
            Glibc.close(fd)
            throw TestFailure("connect to 127.0.0.1:\(port): \(message)")
        }
    }

    deinit { Glibc.close(fd) }

    /// Sends raw bytes.
    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw TestFailure("send: \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Reads more bytes into `pending`; false at end of stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 { throw TestFailure("recv: \(String(cString: strerror(errno)))") }
        if n == 0 { return false }
        pending += chunk[0..<n]
        return true
    }

    /// Reads one response (a body by Content-Length, else to the end of the stream).
    func readReply() throws -> HTTPReply {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            if pending.count >= 4 {
                headEnd = (0...(pending.count - 4)).first { pending[$0..<$0 + 4].elementsEqual(separator) }
            }
            if headEnd == nil, try !fill() { throw TestFailure("connection closed before a response head (got \(pending.count) bytes)") }
        }
        guard let headEnd else { throw TestFailure("no response head") }
        let head = String(decoding: pending[0..<headEnd], as: UTF8.self).components(separatedBy: "\r\n")
        pending.removeFirst(headEnd + 4)
        let statusParts = head[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw TestFailure("bad status line \(head[0])") }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        if let length = headers["content-length"].flatMap({ Int($0) }) {
            while pending.count < length {
                if try !fill() { throw TestFailure("connection closed inside a body of \(length) bytes") }
            }
            let body = Array(pending[0..<length])
            pending.removeFirst(length)
            return HTTPReply(status: status, headers: headers, body: body)
        }
        while try fill() {}
        defer { pending = [] }
        return HTTPReply(status: status, headers: headers, body: pending)
    }

    /// Whether the server closed the connection (reads end of stream, after any pending bytes).
    func isClosedByPeer() throws -> Bool {
        pending.isEmpty ? try !fill() : false
    }

    /// Sends one request and reads its response.
    func request(_ method: String, _ target: String, headers: [String: String] = [:], body: [UInt8]? = nil) throws -> HTTPReply {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let body { text += "Content-Length: \(body.count)\r\n" }
        text += "\r\n"
        try send(Array(text.utf8) + (body ?? []))
        return try readReply()
    }

    /// `GET target`.
    func get(_ target: String) throws -> HTTPReply { try request("GET", target) }

    /// `POST /v1/lookup` with `body`.
    func lookup(_ body: String, contentType: String? = nil, query: String = "") throws -> HTTPReply {
        try request("POST", "/v1/lookup" + query, headers: contentType.map { ["Content-Type": $0] } ?? [:], body: Array(body.utf8))
    }
}

/// `keys` as a JSON array.
func jsonArray(_ keys: [String]) -> String {
    String(decoding: (try? JSONSerialization.data(withJSONObject: keys)) ?? Data(), as: UTF8.self)
}

/// The results of a JSON batch answer: key -> value (`nil` for a missing key), in order.
func batchResults(_ reply: HTTPReply) -> [(key: String, value: String?)] {
    guard let results = reply.json["results"] as? [[String: Any]] else { return [] }
    return results.map { ($0["key"] as? String ?? "", ($0["found"] as? Bool ?? false) ? $0["value"] as? String : nil) }
}

// MARK: - The lookup binary

/// Starts `lookup ARGS...` with standard error to the file `stderr` (LiveChild: no signals
/// blocked, so SIGTERM reaches the server).
func launchLookup(_ arguments: [String], stderr: String) throws -> LiveChild {
    try LiveChild(TestBinaries.lookup, arguments, pipeStdout: false, errorPath: stderr)
}

/// Polls `condition` until it holds or `seconds` pass.
func waitFor(_ seconds: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(10_000)
    }
    return try condition()
}

/// What a finished `lookup` process did.
struct ProcessResult {
    var status: Int32
    var signaled: Bool
    var stderr: String
    var errLines: [String] { stderr.split(separator: "\n").map(String.init) }
}

/// `lookup serve TABLE --port 0 ARGS...` running as a process; stderr goes to a file, read for
/// the listening line and for log lines.
final class ServeProcess {
    let process: LiveChild
    let errPath: String
    private(set) var port = 0

    /// Starts the server and waits (up to 30 s) for its listening line.
    init(table: String, _ arguments: [String] = [], in dir: TempDir) throws {
        errPath = dir.file("serve-\(UUID().uuidString.prefix(6)).err")
        process = try launchLookup(["serve", table, "--port", "0"] + arguments, stderr: errPath)
        let marker = "lookup serve: listening on http://127.0.0.1:"
        let found = waitFor(30) {
            guard let line = stderr.split(separator: "\n").first(where: { $0.hasPrefix(marker) }) else { return !process.isRunning }
            port = Int(line.dropFirst(marker.count)) ?? 0
            return true
        }
        guard found, port > 0 else {
            throw TestFailure("lookup serve did not start listening: \(stderr.prefix(1500))")
        }
    }

    deinit {
        if process.isRunning { process.send(SIGKILL) }
        _ = try? process.wait()
    }

    /// What the server wrote on stderr so far.
    var stderr: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

    /// A new connection to the server.
    func connect() throws -> HTTPConnection { try HTTPConnection(port: port) }

    /// Sends `signal`.
    func send(_ signal: Int32) { process.send(signal) }

    /// Waits up to `seconds` for the process to end (killing it after that).
    func wait(seconds: Double = 30) -> ProcessResult {
        let ended = waitFor(seconds) { !process.isRunning }
        if !ended { process.send(SIGKILL) }
        let end = try? process.wait()
        return ProcessResult(status: ended ? end?.status ?? -1 : -1, signaled: end?.signaled ?? false, stderr: stderr)
    }

    /// Stops the server with SIGTERM and expects a clean exit.
    func stop(sourceLocation: SourceLocation = #_sourceLocation) {
        send(SIGTERM)
        let result = wait()
        #expect(result.status == 0 && !result.signaled, "lookup serve after SIGTERM: exit \(result.status); \(result.stderr.suffix(800))",
                sourceLocation: sourceLocation)
    }
}

/// Runs `lookup build -q ARGS`; fails on error.
func buildWithCLI(_ arguments: [String]) throws {
    let r = try runProcess(TestBinaries.lookup, ["build", "-q"] + arguments)
    guard r.status == 0 else { throw TestFailure("lookup build \(arguments): \(r.summary)") }
}

/// Runs `lookup ARGS...` to completion (stdout discarded).
func runLookup(_ arguments: [String]) throws -> ProcessResult {
    let result = try runProcess(TestBinaries.lookup, arguments)
    return ProcessResult(status: result.status, signaled: result.signaled, stderr: result.err)
}

// MARK: - Damaged tables

/// Ways to damage a table file, each one that has killed or fooled a server before.
enum TableDamage: CustomStringConvertible, CaseIterable {
    /// The newest meta page's last page number set far beyond the file.
    case lastPageHuge
    /// The newest meta page's page size set to 64 KiB.
    case pageSizeBad
    /// The flags of the main database in the newest meta page changed (named databases lost).
    case mainDatabaseFlags
    /// Four bytes inside a record's value changed.
    case valueBytes
    /// The file cut to half its size.
    case truncated

    var description: String {
        switch self {
        case .lastPageHuge: "last page number huge"
        case .pageSizeBad: "bad page size"
        case .mainDatabaseFlags: "main database flags changed"
        case .valueBytes: "bytes of a value changed"
        case .truncated: "truncated"
        }
    }

    /// `table`'s bytes with this damage.
    func apply(to table: Data) throws -> Data {
        var bytes = [UInt8](table)
        let meta = try newestMetaPage(bytes)
        switch self {
        case .lastPageHuge: store(UInt64(1) << 62, in: &bytes, at: meta + 136)
        case .pageSizeBad: store(UInt32(65536), in: &bytes, at: meta + 40)
        case .mainDatabaseFlags: bytes[meta + 92] = 0x08
        case .valueBytes:
            // A value of the versioned test tables: "v<version>|<key>|..."; change its key part.
            // Every occurrence: the free space of a page can hold a stale copy of a record
            // (LMDB reuses page buffers), and damaging only that one would damage nothing read.
            let marker = Array("|k00042|".utf8)
            let found = (0...(bytes.count - marker.count)).filter { bytes[$0..<$0 + marker.count].elementsEqual(marker) }
            guard !found.isEmpty else { throw TestFailure("no value of k00042 in the table") }
            for at in found { for i in 2..<6 { bytes[at + i] ^= 0x55 } }
        case .truncated: bytes.removeLast(bytes.count / 2)
        }
        return Data(bytes)
    }

    /// Offset of the meta page with the higher transaction id (the one LMDB reads).
    private func newestMetaPage(_ bytes: [UInt8]) throws -> Int {
        func load(_ offset: Int, _ size: Int) -> UInt64 {
            (0..<size).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
        }
        guard bytes.count >= 160 else { throw TestFailure("not a table") }
        let pageSize = Int(load(40, 4))
        guard bytes.count >= pageSize + 160 else { throw TestFailure("not a table") }
        return load(pageSize + 144, 8) > load(144, 8) ? pageSize : 0
    }

    private func store<T: FixedWidthInteger>(_ value: T, in bytes: inout [UInt8], at offset: Int) {
        for i in 0..<(T.bitWidth / 8) { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
    }
}

/// `table`'s bytes with `count` runs of 4 random bytes written at random places after the two
/// meta pages (the same places and bytes for the same `seed`).
func randomlyDamaged(_ table: Data, seed: UInt64, count: Int = 1) -> Data {
    var bytes = [UInt8](table)
    // Knuth's MMIX linear congruential generator: reproducible, and good enough to pick places.
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    func next(_ bound: Int) -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int((state >> 33) % UInt64(bound))
    }
    let pageSize = Int(bytes[40]) | Int(bytes[41]) << 8 | Int(bytes[42]) << 16
    for _ in 0..<count {
        let at = 2 * pageSize + next(bytes.count - 4 - 2 * pageSize)
        for i in 0..<4 { bytes[at + i] = UInt8(next(256)) }
    }
    return Data(bytes)
}

/// Publishes `bytes` over `path` as a build does: written beside it, then renamed over it.
func publish(_ bytes: Data, over path: String) throws {
    let temp = path + ".tmp-\(UUID().uuidString.prefix(6))"
    try bytes.write(to: URL(fileURLWithPath: temp))
    guard rename(temp, path) == 0 else { throw TestFailure("rename over \(path): \(String(cString: strerror(errno)))") }
}

/// Runs `lookup serve TABLE --port 0` expecting it to exit on its own within `seconds`; kills
/// it (and reports status -1) if it is still running then.
func runServeToExit(_ table: String, in dir: TempDir, seconds: Double = 60) throws -> ProcessResult {
    let errPath = dir.file("exit-\(UUID().uuidString.prefix(6)).err")
    let process = try launchLookup(["serve", table, "--port", "0"], stderr: errPath)
    let ended = waitFor(seconds) { !process.isRunning }
    if !ended { process.send(SIGKILL) }
    let end = try process.wait()
    return ProcessResult(status: ended ? end.status : -1, signaled: end.signaled, stderr: end.err)
}

/// What `GET /v1/stats` says about replacements: (done, rejected).
func replacementCounts(_ connection: HTTPConnection) throws -> (done: Int, rejected: Int) {
    let replacements = try connection.get("/v1/stats").json["replacements"] as? [String: Any] ?? [:]
    return (replacements["done"] as? Int ?? -1, replacements["rejected"] as? Int ?? -1)
}
