// OutputEncoder: compressing a stream of output bytes into a file descriptor, in gzip (zlib
// `deflate`, one member) or Zstandard (one frame), at each tool's default level. Outputs
// compressed in parts can be concatenated: gzip members and zstd frames in a row decode as one.
import CZlib
import CZstd

/// Compresses bytes into a file descriptor.
public protocol OutputEncoder: AnyObject {
    /// Compresses `bytes`, writing the compressed bytes that are ready.
    func write(_ bytes: UnsafeRawBufferPointer) throws(LookupError)
    /// Ends the compressed stream: writes what is left and the trailer.
    func finish() throws(LookupError)
}

extension Compression {
    /// An encoder of this format writing to `fd` (named `name` in messages); `nil` for a
    /// format that is only read (`xz`, `bz2`).
    public func encoder(fd: Int32, name: String) throws(LookupError) -> OutputEncoder? {
        switch self {
        case .gz: return try GzipEncoder(fd: fd, name: name)
        case .zst: return try ZstdEncoder(fd: fd, name: name)
        case .xz, .bz2: return nil
        }
    }
}

/// The compressed bytes an encoder has ready, and their way to the descriptor.
private struct EncodedBuffer {
    let fd: Int32
    let name: String
    let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)

    func deallocate() { storage.deallocate() }

    /// Writes the first `count` bytes of the storage.
    func write(_ count: Int) throws(LookupError) {
        if count > 0 && !writeFully(fd, UnsafeRawBufferPointer(rebasing: storage[..<count])) {
            throw LookupError.system("write failed", path: name)
        }
    }
}

/// Writes one gzip member.
final class GzipEncoder: OutputEncoder {
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private let out: EncodedBuffer

    init(fd: Int32, name: String) throws(LookupError) {
        out = EncodedBuffer(fd: fd, name: name)
        stream.initialize(to: z_stream())
        // 15 + 16: a gzip wrapper; level 6 and memory level 8 are gzip's defaults.
        let rc = deflateInit2_(stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                               Int32(MemoryLayout<z_stream>.size))
        if rc != Z_OK {
            stream.deallocate()
            out.deallocate()
            throw LookupError(.io, path: name, "cannot start the gzip encoder (zlib error \(rc))")
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
        out.deallocate()
    }

    private func run(_ bytes: UnsafeRawBufferPointer, flush: Int32) throws(LookupError) {
        stream.pointee.next_in = UnsafeMutablePointer(mutating: bytes.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = UInt32(bytes.count)
        while true {
            stream.pointee.next_out = out.storage.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = UInt32(out.storage.count)
            let rc = deflate(stream, flush)
            if rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR {
                throw LookupError(.io, path: out.name, "gzip encoder failed (zlib error \(rc))")
            }
            try out.write(out.storage.count - Int(stream.pointee.avail_out))
            if flush == Z_FINISH ? rc == Z_STREAM_END : (stream.pointee.avail_in == 0 && stream.pointee.avail_out != 0) {
                return
            }
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(LookupError) {
        // At most 1 GiB per call: avail_in is 32 bits.
        var offset = 0
        while offset < bytes.count {
            let n = min(bytes.count - offset, 1 << 30)
            try run(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]), flush: Z_NO_FLUSH)
            offset += n
        }
    }

    func finish() throws(LookupError) {
        try run(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_FINISH)
    }
}

/// Writes one Zstandard frame.
final class ZstdEncoder: OutputEncoder {
    private let context: OpaquePointer
    private let out: EncodedBuffer

    init(fd: Int32, name: String) throws(LookupError) {
        guard let context = ZSTD_createCCtx() else {
            throw LookupError(.io, path: name, "cannot start the zstd encoder: out of memory")
        }
        self.context = context
        out = EncodedBuffer(fd: fd, name: name)
    }

    deinit {
        ZSTD_freeCCtx(context)
        out.deallocate()
    }

    /// Compresses `bytes` with `directive`; with `ZSTD_e_end`, until the frame is written.
    private func run(_ bytes: UnsafeRawBufferPointer, _ directive: ZSTD_EndDirective) throws(LookupError) {
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while true {
            var output = ZSTD_outBuffer(dst: out.storage.baseAddress, size: out.storage.count, pos: 0)
            let rc = ZSTD_compressStream2(context, &output, &input, directive)
            if ZSTD_isError(rc) != 0 {
                throw LookupError(.io, path: out.name, "zstd encoder failed: \(String(cString: ZSTD_getErrorName(rc)))")
            }
            try out.write(output.pos)
            if directive == ZSTD_e_end ? rc == 0 : input.pos == input.size { return }
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(LookupError) {
        try run(bytes, ZSTD_e_continue)
    }

    func finish() throws(LookupError) {
        try run(UnsafeRawBufferPointer(start: nil, count: 0), ZSTD_e_end)
    }
}
