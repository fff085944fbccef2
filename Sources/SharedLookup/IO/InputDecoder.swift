// InputDecoder: how InputReader reads a compressed input, and BufferedDecoder, which feeds a
// format's codec (zstd, xz, bzip2) from the file descriptor in large blocks and turns its
// failures, and an input that ends inside a frame, into "broken .zst: ..." errors naming the
// file.

/// Decompresses an input read from a file descriptor.
protocol InputDecoder: AnyObject {
    /// Gives the decoder bytes already read from the descriptor (the sniffed first bytes).
    func prime(_ bytes: UnsafeRawBufferPointer)
    /// Decompresses into `out` (not empty); returns the bytes written, 0 at the end of input.
    func read(from fd: Int32, into out: UnsafeMutableRawBufferPointer) throws(LookupError) -> Int
}

/// Why a codec cannot go on: the library's own words.
struct CodecFailure: Error {
    let message: String
}

/// One format's decoder over buffers.
protocol DecoderCodec: AnyObject {
    /// Decodes from `input` into `output`; returns the bytes consumed and produced.
    /// `inputEnded`: no bytes follow `input`. Several frames or streams in a row are decoded
    /// as one.
    func step(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
              inputEnded: Bool) throws(CodecFailure) -> (consumed: Int, produced: Int)
    /// Whether what was decoded so far ends with a whole frame or stream (the input may end here).
    var atEnd: Bool { get }
}

/// Feeds a codec from a file descriptor.
final class BufferedDecoder: InputDecoder {
    private let codec: DecoderCodec
    private let format: Compression
    private let name: String
    private let input: UnsafeMutableRawBufferPointer
    private var position = 0, end = 0
    private var inputEOF = false

    /// A decoder of `format` through `codec`, for the input `name`.
    init(_ codec: DecoderCodec, format: Compression, name: String) {
        self.codec = codec
        self.format = format
        self.name = name
        input = .allocate(byteCount: InputReader.blockSize, alignment: 16)
    }

    deinit { input.deallocate() }

    func prime(_ bytes: UnsafeRawBufferPointer) {
        let n = min(bytes.count, input.count)
        if n > 0 { input.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: n) }
        position = 0
        end = n
    }

    private func broken(_ why: String) -> LookupError {
        LookupError(.io, path: name, "broken \(format.suffix): \(why)")
    }

    /// Moves the unread input to the front of the buffer and reads more behind it.
    private func readMore(from fd: Int32) throws(LookupError) {
        if position > 0 {
            let live = end - position
            if live > 0 { memmove(input.baseAddress!, input.baseAddress! + position, live) }
            position = 0
            end = live
        }
        if end == input.count { throw broken("the decoder made no progress") }
        var n: Int
        repeat { n = Glibc.read(fd, input.baseAddress! + end, input.count - end) } while n < 0 && errno == EINTR
        if n < 0 { throw LookupError.system("read failed", path: name) }
        if n == 0 { inputEOF = true }
        end += n
    }

    func read(from fd: Int32, into out: UnsafeMutableRawBufferPointer) throws(LookupError) -> Int {
        while true {
            if position == end && !inputEOF { try readMore(from: fd) }
            let step: (consumed: Int, produced: Int)
            do {
                step = try codec.step(UnsafeRawBufferPointer(rebasing: input[position..<end]), into: out, inputEnded: inputEOF)
            } catch {
                throw broken(error.message)
            }
            position += step.consumed
            if step.produced > 0 { return step.produced }
            if step.consumed > 0 { continue }
            // No progress: the codec needs more input than there is.
            if inputEOF {
                if position == end && codec.atEnd { return 0 }
                throw broken("unexpected end of file")
            }
            try readMore(from: fd)
        }
    }
}

extension Compression {
    /// A decoder of this format for the input `name`.
    func decoder(name: String) throws(LookupError) -> InputDecoder {
        do {
            switch self {
            case .gz: return Inflater(name: name)
            case .zst: return BufferedDecoder(try ZstdCodec(), format: self, name: name)
            case .xz: return BufferedDecoder(try XzCodec(), format: self, name: name)
            case .bz2: return BufferedDecoder(try Bzip2Codec(), format: self, name: name)
            }
        } catch {
            throw LookupError(.io, path: name, "cannot start the \(suffix) decoder: \(error.message)")
        }
    }
}
