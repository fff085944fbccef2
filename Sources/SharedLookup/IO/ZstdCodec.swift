// ZstdCodec: the Zstandard decoder of compressed inputs (libzstd's streaming API); frames in a
// row, and skippable frames, are one input.
import CZstd

/// Decodes Zstandard frames.
final class ZstdCodec: DecoderCodec {
    private let context: OpaquePointer
    /// What the last call returned: 0 once a frame is whole and flushed.
    private var pending = 0

    init() throws(CodecFailure) {
        guard let context = ZSTD_createDCtx() else { throw CodecFailure(message: "out of memory") }
        self.context = context
    }

    deinit { ZSTD_freeDCtx(context) }

    var atEnd: Bool { pending == 0 }

    func step(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
              inputEnded: Bool) throws(CodecFailure) -> (consumed: Int, produced: Int) {
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var outBuffer = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        if input.isEmpty && pending == 0 { return (0, 0) }
        let rc = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
        if ZSTD_isError(rc) != 0 { throw CodecFailure(message: String(cString: ZSTD_getErrorName(rc))) }
        pending = rc
        return (inBuffer.pos, outBuffer.pos)
    }
}
