// OutputBuffer: a large write buffer over a file descriptor, so output is written in big
// blocks with no allocation per line. Reports write errors (EPIPE, ENOSPC) as LookupError.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Buffers bytes and writes them to a file descriptor in large blocks.
public struct OutputBuffer: ~Copyable {
    /// The descriptor written to.
    public let fd: Int32
    /// The destination's name for messages ("<stdout>" or a path).
    public let name: String
    private var storage: UnsafeMutableRawBufferPointer
    private var count = 0

    /// Creates a buffer over `fd` of `capacity` bytes.
    public init(fd: Int32, name: String, capacity: Int = 1 << 20) {
        self.fd = fd
        self.name = name
        storage = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit { storage.deallocate() }

    /// Appends `bytes`, flushing first when they do not fit.
    @inline(__always)
    public mutating func append(_ bytes: UnsafeRawBufferPointer) throws(LookupError) {
        if _slowPath(count + bytes.count > storage.count) {
            try flush()
            if bytes.count > storage.count { try writeAll(bytes); return }
        }
        if bytes.count > 0 {
            (storage.baseAddress! + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            count += bytes.count
        }
    }

    /// Appends one byte.
    @inline(__always)
    public mutating func append(_ byte: UInt8) throws(LookupError) {
        if _slowPath(count == storage.count) { try flush() }
        storage[count] = byte
        count += 1
    }

    /// Appends the UTF-8 bytes of `text`.
    public mutating func append(_ text: String) throws(LookupError) {
        var copy = text
        let result: Result<Void, LookupError> = copy.withUTF8 { utf8 in
            Result { () throws(LookupError) in try append(UnsafeRawBufferPointer(utf8)) }
        }
        try result.get()
    }

    /// Writes out everything buffered.
    public mutating func flush() throws(LookupError) {
        if count == 0 { return }
        try writeAll(UnsafeRawBufferPointer(rebasing: storage[..<count]))
        count = 0
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(LookupError) {
        if !writeFully(fd, bytes) { throw LookupError.system("write failed", path: name) }
    }
}

/// Writes all of `bytes` to `fd`, retrying short writes and EINTR; `false` (with `errno` set)
/// when a write fails. The one write loop of the package.
public func writeFully(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if n < 0 {
            if errno == EINTR { continue }
            return false
        }
        offset += n
    }
    return true
}
