// GzipInflater: the gzip decoder of compressed inputs (zlib `inflate`), reading the file
// descriptor itself: several members in a row are one input, and trailing garbage after a
// whole member is ignored, as `gzip -d` does.
import CZlib

/// A gzip decoder over a file descriptor (zlib `inflate`), accepting concatenated members.
final class Inflater: InputDecoder {
    private var stream = z_stream()
    private let input: UnsafeMutableRawBufferPointer
    private var inputEOF = false
    private var finishedMember = false
    private let name: String

    init(name: String) {
        self.name = name
        input = .allocate(byteCount: InputReader.blockSize, alignment: 16)
        // 15 + 16: a gzip wrapper is required.
        inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
    }

    deinit {
        inflateEnd(&stream)
        input.deallocate()
    }

    /// Gives the decoder bytes already read from the descriptor.
    func prime(_ bytes: UnsafeRawBufferPointer) {
        input.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        stream.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.avail_in = UInt32(bytes.count)
    }

    /// Reads until at least `count` input bytes wait (or the file ends), moving the ones left
    /// to the front of the input buffer.
    private func fill(atLeast count: Int, from fd: Int32) throws(LookupError) {
        while Int(stream.avail_in) < count && !inputEOF {
            let kept = Int(stream.avail_in)
            if kept > 0 { input.baseAddress!.copyMemory(from: UnsafeRawPointer(stream.next_in!), byteCount: kept) }
            var n: Int
            repeat { n = Glibc.read(fd, input.baseAddress! + kept, input.count - kept) } while n < 0 && errno == EINTR
            if n < 0 { throw LookupError.system("read failed", path: name) }
            if n == 0 { inputEOF = true }
            stream.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_in = UInt32(kept + n)
        }
    }

    /// Decompresses into `out`; returns the number of bytes written, 0 at the end of input.
    func read(from fd: Int32, into out: UnsafeMutableRawBufferPointer) throws(LookupError) -> Int {
        stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = UInt32(min(out.count, Int(UInt32.max)))
        while stream.avail_out == UInt32(min(out.count, Int(UInt32.max))) {
            if stream.avail_in == 0 && !inputEOF {
                var n: Int
                repeat { n = Glibc.read(fd, input.baseAddress!, input.count) } while n < 0 && errno == EINTR
                if n < 0 { throw LookupError.system("read failed", path: name) }
                if n == 0 { inputEOF = true }
                stream.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_in = UInt32(n)
            }
            if stream.avail_in == 0 && inputEOF {
                if finishedMember { return 0 }
                throw LookupError(.io, path: name, "broken .gz: unexpected end of file")
            }
            if finishedMember {
                // Another gzip member follows the previous one, or trailing garbage (padding,
                // a torn append) that gzip -d ignores after a whole member: so do we.
                try fill(atLeast: 2, from: fd)
                let next = stream.next_in!
                guard stream.avail_in >= 2, next[0] == 0x1F, next[1] == 0x8B else {
                    stream.avail_in = 0
                    inputEOF = true
                    continue
                }
                inflateReset(&stream)
                finishedMember = false
            }
            let rc = inflate(&stream, Z_NO_FLUSH)
            switch rc {
            case Z_OK, Z_BUF_ERROR:
                break
            case Z_STREAM_END:
                finishedMember = true
                if stream.avail_out != UInt32(min(out.count, Int(UInt32.max))) { break }
            default:
                let detail = stream.msg.map { String(cString: $0) } ?? "zlib error \(rc)"
                throw LookupError(.io, path: name, "broken .gz: \(detail)")
            }
        }
        return out.count - Int(stream.avail_out)
    }
}
