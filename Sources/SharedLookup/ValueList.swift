// ValueList: the stored form of a key's values in a table built with `--duplicates all`
// (one-to-many): every value of the key, in input order, each as a LEB128 length and its
// bytes, in one LMDB record. One record per key keeps the key index and one-probe lookups.

/// The values of one key of a one-to-many table, read from its stored record. Iterate it to
/// get each value (borrowed from the record) in input order.
public struct ValueList: Sequence {
    /// The stored record.
    public let stored: UnsafeRawBufferPointer

    /// The list in `stored` (a value read from a table whose `valuesPerKey` is `.many`).
    @inline(__always)
    public init(_ stored: UnsafeRawBufferPointer) {
        self.stored = stored
    }

    /// Steps through the values.
    public struct Iterator: IteratorProtocol {
        let stored: UnsafeRawBufferPointer
        var at = 0

        @inline(__always)
        public mutating func next() -> UnsafeRawBufferPointer? {
            guard at < stored.count else { return nil }
            var length = 0, shift = 0
            while at < stored.count {
                let byte = stored[at]
                at += 1
                length |= Int(byte & 0x7F) << shift
                if byte & 0x80 == 0 { break }
                shift += 7
                if shift > 35 { at = stored.count; return nil }
            }
            let start = at
            let end = Swift.min(stored.count, start + length)
            at = end
            return UnsafeRawBufferPointer(rebasing: stored[start..<end])
        }
    }

    public func makeIterator() -> Iterator { Iterator(stored: stored) }

    /// How many values the list holds.
    public var count: Int {
        var n = 0
        for _ in self { n += 1 }
        return n
    }

    /// Whether `stored` is a well-formed list (each length fits in what follows), for `check`.
    public static func isWellFormed(_ stored: UnsafeRawBufferPointer) -> Bool {
        var at = 0
        while at < stored.count {
            var length = 0, shift = 0, ended = false
            while at < stored.count {
                let byte = stored[at]
                at += 1
                length |= Int(byte & 0x7F) << shift
                if byte & 0x80 == 0 { ended = true; break }
                shift += 7
                if shift > 35 { return false }
            }
            if !ended || length > stored.count - at { return false }
            at += length
        }
        return true
    }

    /// Appends `value` as one element of a list to `list`.
    static func append(_ value: UnsafeRawBufferPointer, to list: ByteScratch) {
        var length = value.count
        while length >= 0x80 {
            list.append(UInt8(length & 0x7F) | 0x80)
            length >>= 7
        }
        list.append(UInt8(length))
        list.append(value)
    }
}

/// How many values a table holds per key.
public enum ValuesPerKey: String, Sendable, Codable {
    /// One value per key (duplicates refused, or one kept).
    case one
    /// Every value of a repeated key (`--duplicates all`), stored as a `ValueList`.
    case many
}

/// The values of one key as a reader sees them, whatever the table's kind: a single value, or
/// each value of a `ValueList`.
@inline(__always)
public func forEachValue(_ stored: UnsafeRawBufferPointer, _ kind: ValuesPerKey,
                         _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
    if kind == .one {
        try body(stored)
    } else {
        for value in ValueList(stored) { try body(value) }
    }
}
