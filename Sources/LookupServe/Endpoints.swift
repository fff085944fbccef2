// Endpoints: what each endpoint answers. Every lookup holds one served table for its whole
// request and does all its reads in one read transaction, so a batch never mixes two tables.
import Foundation
import Hummingbird
import SharedLookup

/// How a batch is answered.
enum BatchFormat {
    /// One JSON object: `{"generation":1,"count":2,"found":1,"missing":1,"results":[...]}`.
    case json
    /// One JSON object per key and line: `{"key":"a","found":true,"value":"..."}`.
    case ndjson
}

/// The header naming the table generation that answered a lookup.
let generationHeader = HTTPFields.Element.Name("X-Lookup-Generation")

extension ServeResponder {
    /// The `--columns` of the served table `table`.
    func columnChoice(_ table: Table) throws -> ColumnChoice {
        do { return try ColumnChoice(list: columns, metadata: table.metadata) } catch {
            throw ServeError(.internalServerError, "the served table \(table.path): \(error.message)")
        }
    }

    /// `GET /v1/keys/{key}`: 200 with the value's bytes (the chosen columns with `--columns`;
    /// for a one-to-many table, a JSON array of the values), 404 when the key is missing. A
    /// composite key's parts are given joined by a tab (%09).
    func getKey(encoded: Substring) throws -> Response {
        let served = live.current
        let key = try RequestKeys.decodePathKey(encoded, maxKeyBytes: ServeLimits.maxKeyBytes(for: served.table))
        let choice = try columnChoice(served.table)
        let many = served.table.valuesPerKey == .many
        let stored = served.table.storedKey(typed: key)
        let value: ByteBuffer? = try stored.withUnsafeBytes { k in
            try served.table.read { reader in
                try reader.value(for: k).map { value in
                    guard many else { return ByteBuffer(bytes: choice.projected(key: k, value: value)) }
                    var json = JSONText()
                    json.raw("[")
                    var first = true
                    for one in ValueList(value) {
                        if !first { json.raw(",") }
                        first = false
                        choice.projected(key: k, value: one).withUnsafeBytes { json.string(bytes: $0) }
                    }
                    json.raw("]")
                    return json.buffer
                }
            }
        }
        metrics.lookedUp(hits: value == nil ? 0 : 1, misses: value == nil ? 1 : 0)
        var headers = HTTPFields()
        if let generationHeader { headers[generationHeader] = String(served.generation) }
        guard let value else {
            headers[.contentType] = "application/json"
            let body = key.withUnsafeBytes { JSONText.errorBody("key not found", key: $0) }
            return Response(status: .notFound, headers: headers, body: ResponseBody(byteBuffer: body))
        }
        headers[.contentType] = many ? "application/json" : "application/octet-stream"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: value))
    }

    /// `POST /v1/lookup`: every key's value (or that it is missing), in the order given.
    func lookupBatch(body: ByteBuffer, contentType: String?, format: BatchFormat) throws -> Response {
        let served = live.current
        let keys = try RequestKeys.parseBatch(body, contentType: contentType, maxKeys: limits.maxKeysPerBatch,
                                              maxKeyBytes: ServeLimits.maxKeyBytes(for: served.table))
        let choice = try columnChoice(served.table)
        let many = served.table.valuesPerKey == .many
        let transforms = served.table.formsKeys
        var found = 0
        let output: ByteBuffer = try keys.withKeys { views in
            // Keys as the table stores them (a composite key's tab-joined parts, folded, trimmed).
            let storedKeys = transforms ? views.map { served.table.storedKey(typed: Array($0)) } : []
            return try served.table.read { reader in
                var values = [UnsafeRawBufferPointer?](repeating: nil, count: views.count)
                if transforms {
                    // Already in the stored form: looked up as they are.
                    var arena: [UInt8] = []
                    var spans: [Range<Int>] = []
                    for key in storedKeys {
                        spans.append(arena.count ..< arena.count + key.count)
                        arena += key
                    }
                    try arena.withUnsafeBytes { base in
                        try reader.lookupBatch(spans.map { UnsafeRawBufferPointer(rebasing: base[$0]) }) { index, value in values[index] = value }
                    }
                } else {
                    try reader.lookupBatch(views) { index, value in values[index] = value }
                }
                /// The `i`-th value's chosen columns (the key as stored gives key parts).
                func projected(_ i: Int, _ value: UnsafeRawBufferPointer) -> [UInt8] {
                    transforms ? storedKeys[i].withUnsafeBytes { choice.projected(key: $0, value: value) }
                        : choice.projected(key: views[i], value: value)
                }
                found = values.reduce(0) { $1 == nil ? $0 : $0 + 1 }
                var json = JSONText(capacity: 64 + views.count * 48)
                if format == .json {
                    json.raw("{\"generation\":")
                    json.int(served.generation)
                    json.raw(",\"count\":")
                    json.int(views.count)
                    json.raw(",\"found\":")
                    json.int(found)
                    json.raw(",\"missing\":")
                    json.int(views.count - found)
                    json.raw(",\"results\":[")
                }
                for (i, key) in views.enumerated() {
                    if format == .json && i > 0 { json.raw(",") }
                    json.raw("{\"key\":")
                    json.string(bytes: key)
                    if let value = values[i] {
                        if many {
                            json.raw(",\"found\":true,\"values\":[")
                            var first = true
                            for one in ValueList(value) {
                                if !first { json.raw(",") }
                                first = false
                                projected(i, one).withUnsafeBytes { json.string(bytes: $0) }
                            }
                            json.raw("]}")
                        } else {
                            json.raw(",\"found\":true,\"value\":")
                            if choice.isWholeValue {
                                json.string(bytes: value)
                            } else {
                                projected(i, value).withUnsafeBytes { json.string(bytes: $0) }
                            }
                            json.raw("}")
                        }
                    } else {
                        json.raw(",\"found\":false}")
                    }
                    if format == .ndjson { json.raw("\n") }
                }
                if format == .json { json.raw("]}\n") }
                return json.buffer
            }
        }
        metrics.lookedUp(hits: found, misses: keys.count - found)
        var headers = HTTPFields()
        headers[.contentType] = format == .json ? "application/json" : "application/x-ndjson"
        if let generationHeader { headers[generationHeader] = String(served.generation) }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: output))
    }

    /// What `GET /v1/stats` answers: the served file, the table's stats and metadata, and what
    /// the table replacements came to.
    struct StatsBody: Encodable {
        var generation: Int
        var loadedAt: String
        var device: UInt64
        var inode: UInt64
        var table: TableStats
        var replacements: Replacements
    }

    /// The `replacements` member of `GET /v1/stats`.
    struct Replacements: Encodable {
        /// New tables verified and switched to.
        var done: Int
        /// New files refused; the table served stayed.
        var rejected: Int
        /// The log line of the last refusal, and when it happened.
        var lastRejection: String?
        var lastRejectionAt: String?
        /// A new file is being verified now.
        var verifying: Bool
    }

    /// `GET /v1/stats`.
    func stats() throws -> Response {
        let served = live.current
        let status = live.status
        let dates = ISO8601DateFormatter()
        let replacements = Replacements(done: status.replacements, rejected: status.rejected, lastRejection: status.lastRejection,
                                        lastRejectionAt: status.lastRejectionAt.map { dates.string(from: $0) }, verifying: status.verifying)
        let body = StatsBody(generation: served.generation, loadedAt: dates.string(from: served.loadedAt),
                             device: served.identity.device, inode: served.identity.inode, table: try served.table.stats(),
                             replacements: replacements)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var bytes = ByteBuffer(bytes: try encoder.encode(body))
        bytes.writeString("\n")
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: bytes))
    }

    /// `GET /healthz`: 200 when the served table (verified before it was served) can be read.
    /// A refused replacement does not make the service unhealthy (it answers from the table it
    /// has), but shows: `rejected` counts refused files, `verifying` says a check is running.
    func health() throws -> Response {
        let served = live.current
        let status = live.status
        let entries = try served.table.count()
        var json = JSONText()
        json.raw("{\"status\":\"ok\",\"generation\":")
        json.int(served.generation)
        json.raw(",\"entries\":")
        json.int(entries)
        json.raw(",\"rejected\":")
        json.int(status.rejected)
        json.raw(status.verifying ? ",\"verifying\":true}\n" : ",\"verifying\":false}\n")
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: json.buffer))
    }

    /// `GET /metrics`: Prometheus text.
    func metricsText() -> Response {
        let text = metrics.render(table: live.current, replacement: live.status)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
