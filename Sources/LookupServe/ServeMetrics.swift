// ServeMetrics: the service's counters and latency histograms, rendered as Prometheus text
// (exposition format 0.0.4) for `GET /metrics`.
import Foundation

/// The endpoints, as labelled in metrics.
public enum Endpoint: String, Sendable, CaseIterable {
    /// `GET /v1/keys/{key}`.
    case key
    /// `POST /v1/lookup`.
    case lookup
    /// `GET /v1/stats`.
    case stats
    /// `GET /healthz`.
    case healthz
    /// `GET /metrics`.
    case metrics
    /// Anything else (404, 405, requests cut short).
    case other
}

/// Counters of requests, keys, hits, misses and latency, safe to update from any thread.
public final class ServeMetrics: @unchecked Sendable {
    /// Upper bounds (seconds) of the latency histogram buckets; `+Inf` is implied.
    public static let latencyBuckets: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

    private struct Histogram {
        var buckets = [Int](repeating: 0, count: ServeMetrics.latencyBuckets.count)
        var count = 0
        var sum = 0.0
    }

    private struct RequestLabel: Hashable {
        var endpoint: Endpoint
        var status: Int
    }

    private let lock = NSLock()
    private var requests: [RequestLabel: Int] = [:]
    private var latency: [Endpoint: Histogram] = [:]
    private var keys = 0, hits = 0, misses = 0
    private var inFlight = 0
    private var timeouts = 0

    /// Creates zeroed metrics.
    public init() {}

    /// Records that a request started (for the in-flight gauge).
    public func requestStarted() {
        lock.lock(); defer { lock.unlock() }
        inFlight += 1
    }

    /// Records a finished request: its endpoint, status and duration.
    public func requestFinished(_ endpoint: Endpoint, status: Int, seconds: Double) {
        lock.lock(); defer { lock.unlock() }
        inFlight -= 1
        requests[RequestLabel(endpoint: endpoint, status: status), default: 0] += 1
        var h = latency[endpoint] ?? Histogram()
        if let i = Self.latencyBuckets.firstIndex(where: { seconds <= $0 }) { h.buckets[i] += 1 }
        h.count += 1
        h.sum += seconds
        latency[endpoint] = h
    }

    /// Records keys looked up: how many were found and how many missing.
    public func lookedUp(hits found: Int, misses missing: Int) {
        lock.lock(); defer { lock.unlock() }
        keys += found + missing
        hits += found
        misses += missing
    }

    /// Records a request answered 408 because the client was too slow.
    public func requestTimedOut() {
        lock.lock(); defer { lock.unlock() }
        timeouts += 1
    }

    /// The metrics as Prometheus text, with the served table's generation and entry count and
    /// what the table replacements so far came to.
    public func render(table: ServedTable, replacement: ReplacementStatus = ReplacementStatus()) -> String {
        lock.lock()
        let requests = self.requests, latency = self.latency
        let keys = self.keys, hits = self.hits, misses = self.misses, inFlight = self.inFlight, timeouts = self.timeouts
        lock.unlock()

        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        family("lookup_http_requests_total", "counter", "HTTP requests answered, by endpoint and status code.")
        for (label, count) in requests.sorted(by: { ($0.key.endpoint.rawValue, $0.key.status) < ($1.key.endpoint.rawValue, $1.key.status) }) {
            out += "lookup_http_requests_total{endpoint=\"\(label.endpoint.rawValue)\",code=\"\(label.status)\"} \(count)\n"
        }
        func single(_ name: String, _ type: String, _ help: String, _ value: Int) {
            family(name, type, help)
            out += "\(name) \(value)\n"
        }
        single("lookup_http_request_timeouts_total", "counter", "Requests answered 408 because the client sent them too slowly.", timeouts)
        single("lookup_http_requests_in_flight", "gauge", "Requests being answered now.", inFlight)
        single("lookup_keys_total", "counter", "Keys looked up (single and batch).", keys)
        single("lookup_hits_total", "counter", "Keys found.", hits)
        single("lookup_misses_total", "counter", "Keys not found.", misses)
        family("lookup_http_request_duration_seconds", "histogram", "Time to answer a request, by endpoint.")
        for endpoint in Endpoint.allCases {
            guard let h = latency[endpoint] else { continue }
            var cumulative = 0
            for (i, bound) in Self.latencyBuckets.enumerated() {
                cumulative += h.buckets[i]
                out += "lookup_http_request_duration_seconds_bucket{endpoint=\"\(endpoint.rawValue)\",le=\"\(bound)\"} \(cumulative)\n"
            }
            out += "lookup_http_request_duration_seconds_bucket{endpoint=\"\(endpoint.rawValue)\",le=\"+Inf\"} \(h.count)\n"
            out += "lookup_http_request_duration_seconds_sum{endpoint=\"\(endpoint.rawValue)\"} \(h.sum)\n"
            out += "lookup_http_request_duration_seconds_count{endpoint=\"\(endpoint.rawValue)\"} \(h.count)\n"
        }
        single("lookup_table_generation", "gauge", "Generation of the served table: 1 at start, one more per replacement.", table.generation)
        single("lookup_table_entries", "gauge", "Records in the served table.", (try? table.table.count()) ?? 0)
        single("lookup_table_replacements_total", "counter", "New tables verified and switched to.", replacement.replacements)
        single("lookup_table_rejected_total", "counter",
               "New tables refused (damaged, not a table, unreadable); the previous table stayed served.", replacement.rejected)
        single("lookup_table_verifying", "gauge", "1 while a new table is being verified.", replacement.verifying ? 1 : 0)
        return out
    }
}
