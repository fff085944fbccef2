// RangeSegments: a range table's records. Each record is a segment: its key is where the
// segment starts, its value says where it ends (exclusive, or not at all) and then holds the
// row's value. Segments never overlap, so a lookup is one seek: the greatest start <= x, then
// x < end. RangeFlattener turns ranges that may nest (CIDR blocks, prefixes, or ranges with
// `--overlaps narrowest`) into such segments, where the narrowest range holding a point wins.

/// The stored value of a segment: `[flags][end length, u16 LE][end][value]`; flags bit 0: the
/// segment has no end.
public enum RangeRecord {
    /// Writes a segment's stored value into `out` (cleared first).
    static func encode(end: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer, into out: ByteScratch) {
        out.removeAll()
        let length = end?.count ?? 0
        out.append(end == nil ? 1 : 0)
        out.append(UInt8(length & 0xFF))
        out.append(UInt8(length >> 8))
        if let end { out.append(end) }
        out.append(value)
    }

    /// The end (`nil`: none) and the row's value of a stored segment, or `nil` when the bytes
    /// are not one.
    @inline(__always)
    public static func decode(_ stored: UnsafeRawBufferPointer) -> (end: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer)? {
        guard stored.count >= 3 else { return nil }
        let length = Int(stored[1]) | Int(stored[2]) << 8
        guard 3 + length <= stored.count else { return nil }
        let value = stored.slice(3 + length, stored.count)
        return (stored[0] & 1 != 0 ? nil : stored.slice(3, 3 + length), value)
    }

    /// The row's value of `stored` if the segment starting at `start` holds `key` (`start <=
    /// key` is known from the seek), else `nil`.
    @inline(__always)
    static func value(of stored: UnsafeRawBufferPointer, holding key: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard let segment = decode(stored) else { return nil }
        if let end = segment.end, compareKeys(key, end) >= 0 { return nil }
        return segment.value
    }
}

/// Compares exclusive ends: `nil` (no end) after every bound.
@inline(__always)
func compareEnds(_ a: UnsafeRawBufferPointer?, _ b: UnsafeRawBufferPointer?) -> Int {
    switch (a, b) {
    case (nil, nil): return 0
    case (nil, _): return 1
    case (_, nil): return -1
    case let (a?, b?): return Int(compareKeys(a, b))
    }
}

/// Turns ranges, given in order of their starts, into disjoint segments, the narrowest range
/// winning where ranges nest. Ranges that overlap without one holding the other are refused,
/// and with `nesting` off, any overlap is.
struct RangeFlattener {
    /// A range: start, exclusive end (`nil`: none), the row's value, and where it came from.
    struct Range {
        var start: [UInt8]
        var end: [UInt8]?
        var value: [UInt8]
        var sequence: UInt64
    }

    /// Two ranges that cannot both be in the table.
    struct Conflict: Error {
        var first: Range
        var second: Range
        /// They overlap without one holding the other.
        var crossing: Bool
        /// They are the same range.
        var same: Bool
    }

    let nesting: Bool
    /// The ranges that hold the current point, outermost first.
    private var open: [Range] = []
    /// Where the next segment starts.
    private var position: [UInt8] = []
    /// Ranges with the same start, waiting to be ordered widest first.
    private var group: [Range] = []
    /// A segment reaching the top (no end) was emitted: ranges holding it that reach the top
    /// too have nothing left after it.
    private var reachedTop = false

    init(nesting: Bool) { self.nesting = nesting }

    /// Adds the next range (starts never decrease); `emit(start, end, value)` gets each
    /// finished segment in order.
    mutating func add(_ range: Range, emit: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?, UnsafeRawBufferPointer) throws -> Void) throws {
        if let first = group.first, first.start != range.start { try flushGroup(emit) }
        group.append(range)
    }

    /// Ends the input: emits the segments still open.
    mutating func finish(emit: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?, UnsafeRawBufferPointer) throws -> Void) throws {
        try flushGroup(emit)
        while !open.isEmpty { try close(emit) }
    }

    /// Places the ranges of one start, widest first (so each holds the next).
    private mutating func flushGroup(_ emit: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?, UnsafeRawBufferPointer) throws -> Void) throws {
        let ranges = group.sorted { a, b in
            let c = a.end.withOptionalBytes { ea in b.end.withOptionalBytes { eb in compareEnds(ea, eb) } }
            return c != 0 ? c > 0 : a.sequence < b.sequence
        }
        group.removeAll()
        for range in ranges { try place(range, emit) }
    }

    /// Places one range: closes the open ranges that end at or before its start, checks it
    /// against the innermost one still open, and opens it.
    private mutating func place(_ range: Range, _ emit: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?, UnsafeRawBufferPointer) throws -> Void) throws {
        while let top = open.last, let end = top.end, compareBytes(end, range.start) <= 0 { try close(emit) }
        if let top = open.last {
            let c = top.end.withOptionalBytes { a in range.end.withOptionalBytes { b in compareEnds(a, b) } }
            let same = top.start == range.start && c == 0
            if c < 0 || same || !nesting { throw Conflict(first: top, second: range, crossing: c < 0, same: same) }
            // The enclosing range's segment up to here.
            if compareBytes(position, range.start) < 0 { try segment(position, range.start, top.value, emit) }
        }
        open.append(range)
        position = range.start
    }

    /// Closes the innermost open range: its last segment, then its parent goes on after it.
    private mutating func close(_ emit: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?, UnsafeRawBufferPointer) throws -> Void) throws {
        let top = open.removeLast()
        if let end = top.end {
            if compareBytes(position, end) < 0 { try segment(position, end, top.value, emit) }
            position = end
        } else if !reachedTop {
            reachedTop = true
            try top.value.withUnsafeBytes { value in
                try position.withUnsafeBytes { start in try emit(start, nil, value) }
            }
        }
    }

    private func segment(_ start: [UInt8], _ end: [UInt8], _ value: [UInt8],
                         _ emit: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?, UnsafeRawBufferPointer) throws -> Void) throws {
        try start.withUnsafeBytes { s in try end.withUnsafeBytes { e in try value.withUnsafeBytes { v in try emit(s, e, v) } } }
    }
}

/// Byte order of two arrays, as `compareKeys`.
@inline(__always)
private func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
    a.withUnsafeBytes { x in b.withUnsafeBytes { y in Int(compareKeys(x, y)) } }
}

extension Optional where Wrapped == [UInt8] {
    /// Calls `body` with the bytes, or `nil`.
    @inline(__always)
    func withOptionalBytes<R>(_ body: (UnsafeRawBufferPointer?) throws -> R) rethrows -> R {
        switch self {
        case .none: return try body(nil)
        case .some(let bytes): return try bytes.withUnsafeBytes { try body($0) }
        }
    }
}
