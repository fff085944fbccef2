// Samples: every bad line or record counted, the first few kept to be described: the one
// rule of every report of bad input (build's skipped records, a task's bad lines, map's).

/// Counts what it is given and keeps the first `limit` of it.
public struct Samples<Element> {
    /// How many are kept.
    public let limit: Int
    /// How many were given.
    public private(set) var count = 0
    /// The first `limit` given.
    public private(set) var kept: [Element] = []

    /// Empty samples keeping at most `limit`.
    public init(limit: Int) {
        self.limit = limit
    }

    /// Counts `element`, and keeps it while fewer than `limit` are kept.
    public mutating func add(_ element: Element) {
        count += 1
        if kept.count < limit { kept.append(element) }
    }

    /// How many were counted but not kept.
    public var notKept: Int { count - kept.count }

    /// Starts again from none.
    public mutating func removeAll() {
        count = 0
        kept.removeAll(keepingCapacity: true)
    }
}
