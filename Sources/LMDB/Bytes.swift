// Byte views: the types whose bytes can be handed to LMDB as keys and values without copying.

/// A value whose contiguous bytes can be lent to LMDB as a key or a value.
public protocol LMDBBytes {
    /// Calls `body` with the bytes; the pointer is valid only during the call.
    func withLMDBBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension UnsafeRawBufferPointer: LMDBBytes {
    @inline(__always)
    public func withLMDBBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try body(self) }
}

extension Array: LMDBBytes where Element == UInt8 {
    @inline(__always)
    public func withLMDBBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }
}

extension ArraySlice: LMDBBytes where Element == UInt8 {
    @inline(__always)
    public func withLMDBBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }
}

extension String: LMDBBytes {
    @inline(__always)
    public func withLMDBBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var copy = self
        return try copy.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
    }
}

extension Substring: LMDBBytes {
    @inline(__always)
    public func withLMDBBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var copy = self
        return try copy.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
    }
}

import CLMDB

extension MDB_val {
    /// The bytes this value points at (inside the map for values read from LMDB).
    @inline(__always)
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: mv_data, count: mv_size) }

    /// A value that points at `buffer` (which must outlive its use).
    @inline(__always)
    init(_ buffer: UnsafeRawBufferPointer) {
        self.init(mv_size: buffer.count, mv_data: UnsafeMutableRawPointer(mutating: buffer.baseAddress))
    }
}

/// The largest key LMDB accepts, in bytes (`mdb_env_get_maxkeysize` of the default build:
/// 511). A table cannot hold an empty key or a longer one.
public let lmdbMaxKeySize = 511
