// OutputBuffer: a large write buffer over a file descriptor, so output is written in big
// blocks with no allocation per line. Reports write errors (EPIPE, ENOSPC) as LookupError.

import CSupport

/// Buffers bytes and writes them to a file descriptor in large blocks.
public struct OutputBuffer: ~Copyable {
    /// The descriptor written to.
    public let fd: Int32
    /// The destination's name for messages ("<stdout>" or a path).
    public let name: String
    private var storage: UnsafeMutableRawBufferPointer
    private var count = 0
    /// Hand written pages of a file back to the kernel once on disk (writeback started every
    /// few MiB, and the step before it dropped from the page cache): for a job whose table does
    /// not fit in memory, where every cached page of output is a page less for the table.
    public var dropsWrittenPages = false
    private var written = 0, flushedUpTo = 0, droppedUpTo = 0

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
        written += count
        count = 0
        if dropsWrittenPages && written - flushedUpTo >= PageCacheRelease.step {
            // The step written before this one is (almost surely) on disk by now: wait for it
            // and drop it; start writing this one.
            let upTo = written & ~(PageCacheRelease.step - 1)
            PageCacheRelease.drop(fd, from: droppedUpTo, to: flushedUpTo, waitForWriteback: true)
            droppedUpTo = flushedUpTo
            PageCacheRelease.startWriteback(fd, from: flushedUpTo, to: upTo)
            flushedUpTo = upTo
        }
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(LookupError) {
        if !writeFully(fd, bytes) { throw LookupError.system("write failed", path: name) }
    }
}

/// Handing a file's pages in the page cache back to the kernel (see `InputReader.dropsReadPages`
/// and `OutputBuffer.dropsWrittenPages`). Errors are ignored: it is only advice (a pipe has no pages).
public enum PageCacheRelease {
    /// Pages are handed back in steps of this many bytes.
    public static let step = 8 << 20

    /// Drops bytes `from ..< to` of `fd` from the page cache; `waitForWriteback` first waits
    /// until those written are on disk (dirty pages cannot be dropped).
    public static func drop(_ fd: Int32, from: Int, to: Int, waitForWriteback: Bool = false) {
        guard to > from else { return }
        #if os(Linux)
        if waitForWriteback {
            _ = lookup_writeback(fd, Int64(from), Int64(to - from), 1)
        }
        _ = posix_fadvise(fd, off_t(from), off_t(to - from), POSIX_FADV_DONTNEED)
        #endif
    }

    /// Starts writing bytes `from ..< to` of `fd` to disk, without waiting.
    public static func startWriteback(_ fd: Int32, from: Int, to: Int) {
        guard to > from else { return }
        #if os(Linux)
        _ = lookup_writeback(fd, Int64(from), Int64(to - from), 0)
        #endif
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
