// ServeOptions: where `lookup serve` listens, how it watches the table file, and the limits it
// puts on every request (body size, keys per batch, slow clients).
import LMDB
import SharedLookup

/// The limits the service enforces on each request. Each one exceeded gets its own HTTP error
/// with a JSON body saying which limit and what to do.
public struct ServeLimits: Sendable, Hashable {
    /// Largest request body accepted, in bytes (413 above it).
    public var maxBodyBytes: Int
    /// Most keys in one `POST /v1/lookup` (413 above it).
    public var maxKeysPerBatch: Int
    /// Time from the first byte of a request until its response starts (408 after it): bounds
    /// clients that send their headers or body slowly.
    public var requestTimeout: Duration
    /// An open connection with no request in progress is closed after this long.
    public var idleTimeout: Duration

    /// LMDB's longest key: a longer key gets 400 from an exact table.
    public static let maxKeyBytes = lmdbMaxKeySize

    /// The longest key a request may ask `table` for: LMDB's limit for an exact table; none for
    /// a range or prefix table, whose segments hold longer keys too (a long URL's prefix).
    public static func maxKeyBytes(for table: Table) -> Int {
        table.matchKind == .exact ? maxKeyBytes : Int.max
    }

    /// Creates limits; see each property for what it bounds.
    public init(maxBodyBytes: Int = 16 << 20, maxKeysPerBatch: Int = 100_000,
                requestTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(60)) {
        self.maxBodyBytes = maxBodyBytes
        self.maxKeysPerBatch = maxKeysPerBatch
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
    }
}

/// How `LookupServer` runs.
public struct ServeOptions: Sendable, Hashable {
    /// The table file served.
    public var tablePath: String
    /// Address to bind: loopback unless told otherwise.
    public var host: String
    /// Port to bind; 0 lets the system pick one (the listening callback tells which).
    public var port: Int
    /// How often the table path is checked for a newly published table; `nil` checks only on
    /// SIGHUP (and when `checkTable()` is called).
    public var checkInterval: Duration?
    /// Handle signals: SIGHUP checks the table now, SIGINT and SIGTERM shut down gracefully.
    /// Turn off when embedding the server in a process that handles signals itself.
    public var handleSignals: Bool
    /// Per-request limits.
    public var limits: ServeLimits
    /// How a table is verified before it is served. `.forkedChild` can hang a check when other
    /// threads are busy (see `TableVerifier`); a server answering requests wants `.process`
    /// (`lookup serve` runs itself with `--verify-only`).
    public var verifier: TableVerifier
    /// The columns of the table's rows that lookups answer (`--columns`: positions or header
    /// names, comma separated); `nil`: whole values.
    public var columns: String?

    /// Creates options; see each property.
    public init(tablePath: String, host: String = "127.0.0.1", port: Int = 8080,
                checkInterval: Duration? = .milliseconds(250), handleSignals: Bool = true,
                limits: ServeLimits = ServeLimits(), verifier: TableVerifier = .forkedChild) {
        self.tablePath = tablePath
        self.host = host
        self.port = port
        self.checkInterval = checkInterval
        self.handleSignals = handleSignals
        self.limits = limits
        self.verifier = verifier
    }
}
