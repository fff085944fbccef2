// XzCodec: the xz decoder of compressed inputs (liblzma's stream decoder with
// LZMA_CONCATENATED): streams in a row, and the padding between them, are one input.
import CLzma

/// Decodes xz streams.
final class XzCodec: DecoderCodec {
    private let stream: UnsafeMutablePointer<lzma_stream>
    private(set) var atEnd = false

    init() throws(CodecFailure) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: lzma_stream())  // LZMA_STREAM_INIT: all zero
        let rc = lzma_stream_decoder(stream, UInt64.max, clzma_concatenated)
        if rc != LZMA_OK {
            stream.deallocate()
            throw CodecFailure(message: XzCodec.describe(rc))
        }
    }

    deinit {
        lzma_end(stream)
        stream.deallocate()
    }

    func step(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
              inputEnded: Bool) throws(CodecFailure) -> (consumed: Int, produced: Int) {
        if atEnd { return (0, 0) }
        stream.pointee.next_in = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        stream.pointee.avail_in = input.count
        stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        stream.pointee.avail_out = output.count
        let rc = lzma_code(stream, inputEnded ? LZMA_FINISH : LZMA_RUN)
        let consumed = input.count - stream.pointee.avail_in
        let produced = output.count - stream.pointee.avail_out
        switch rc {
        case LZMA_OK, LZMA_BUF_ERROR: break  // BUF_ERROR: no progress possible (a truncated input)
        case LZMA_STREAM_END: atEnd = true
        default: throw CodecFailure(message: XzCodec.describe(rc))
        }
        return (consumed, produced)
    }

    private static func describe(_ rc: lzma_ret) -> String {
        switch rc {
        case LZMA_FORMAT_ERROR: return "not in xz format"
        case LZMA_DATA_ERROR: return "compressed data is corrupt"
        case LZMA_OPTIONS_ERROR: return "unsupported options"
        case LZMA_MEM_ERROR: return "out of memory"
        case LZMA_UNSUPPORTED_CHECK: return "unsupported integrity check"
        default: return "liblzma error \(rc.rawValue)"
        }
    }
}
