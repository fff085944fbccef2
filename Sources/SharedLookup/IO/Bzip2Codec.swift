// Bzip2Codec: the bzip2 decoder of compressed inputs (libbz2); streams in a row (as pbzip2 and
// `cat a.bz2 b.bz2` make) are one input: the decoder starts afresh after each stream's end.
import CBzip2

/// Decodes bzip2 streams.
final class Bzip2Codec: DecoderCodec {
    private let stream: UnsafeMutablePointer<bz_stream>
    /// Whether the last stream ended (and no byte of another was seen yet).
    private(set) var atEnd = false

    init() throws(CodecFailure) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: bz_stream())
        let rc = BZ2_bzDecompressInit(stream, 0, 0)
        if rc != BZ_OK {
            stream.deallocate()
            throw CodecFailure(message: Bzip2Codec.describe(rc))
        }
    }

    deinit {
        BZ2_bzDecompressEnd(stream)
        stream.deallocate()
    }

    func step(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
              inputEnded: Bool) throws(CodecFailure) -> (consumed: Int, produced: Int) {
        if atEnd {
            if input.isEmpty { return (0, 0) }
            // Another stream follows.
            BZ2_bzDecompressEnd(stream)
            stream.initialize(to: bz_stream())
            let rc = BZ2_bzDecompressInit(stream, 0, 0)
            if rc != BZ_OK { throw CodecFailure(message: Bzip2Codec.describe(rc)) }
            atEnd = false
        }
        let inCount = min(input.count, Int(UInt32.max))
        let outCount = min(output.count, Int(UInt32.max))
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: CChar.self))
        stream.pointee.avail_in = UInt32(inCount)
        stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: CChar.self)
        stream.pointee.avail_out = UInt32(outCount)
        let rc = BZ2_bzDecompress(stream)
        let consumed = inCount - Int(stream.pointee.avail_in)
        let produced = outCount - Int(stream.pointee.avail_out)
        switch rc {
        case BZ_OK: break
        case BZ_STREAM_END: atEnd = true
        default: throw CodecFailure(message: Bzip2Codec.describe(rc))
        }
        return (consumed, produced)
    }

    private static func describe(_ rc: Int32) -> String {
        switch rc {
        case BZ_DATA_ERROR_MAGIC: return "not in bzip2 format"
        case BZ_DATA_ERROR: return "compressed data is corrupt"
        case BZ_MEM_ERROR: return "out of memory"
        case BZ_CONFIG_ERROR: return "libbz2 is misconfigured"
        default: return "libbz2 error \(rc)"
        }
    }
}
