// InputReader: reads an input (a file or standard input, either of them possibly compressed
// with gzip, zstd, xz or bzip2) in large blocks and hands out lines or byte runs as borrowed buffers, with no allocation per line.
// Line ends are "\n" or "\r\n"; a missing final newline still ends the last line.
/// Reads one input in large blocks. Lines and byte runs it returns borrow its buffer: they are
/// valid until the next call on the reader. Gzip input (by `.gz` extension or by its magic
/// bytes) is decompressed transparently, and so are zstd (`.zst`), xz (`.xz`) and bzip2 (`.bz2`)
/// input; `-` reads standard input.
public final class InputReader {
    /// The input's name for messages: its path, or "<stdin>".
    public let name: String
    /// Whether the input is being decompressed.
    public private(set) var isCompressed = false
    /// The number of the last line returned by `nextLine()` (1-based; 0 before the first).
    public private(set) var lineNumber = 0
    /// Total bytes consumed so far (decompressed).
    public private(set) var bytesConsumed = 0
    /// The longest line accepted, in bytes; longer lines are an error naming the line.
    public let maxLineLength: Int
    /// Whether the last error was a line over `maxLineLength`; `skipLine()` then moves past it.
    public private(set) var atOverlongLine = false

    private let fd: Int32
    /// Hand the file's pages in the page cache back once read (`POSIX_FADV_DONTNEED` behind
    /// the reader, every few MiB): for a job whose table does not fit in memory, where every
    /// cached page of input is a page less for the table.
    public var dropsReadPages = false
    /// Where the descriptor stands in the file, and up to where its pages were dropped.
    private var fileBytesRead = 0, fileBytesDropped = 0
    private let ownsFD: Bool
    private var decoder: InputDecoder?
    private var buffer: UnsafeMutableRawBufferPointer
    private var start = 0      // first unconsumed byte
    private var end = 0        // one past the last valid byte
    private var atEOF = false

    /// The default block size for reads.
    public static let blockSize = 1 << 20

    /// Opens `path` ("-" for standard input). Throws a `LookupError` naming the path when it
    /// cannot be opened, is a directory, or claims to be compressed (by extension) but is not.
    public convenience init(path: String, maxLineLength: Int = 16 << 20, blockSize: Int = InputReader.blockSize) throws(LookupError) {
        if path == "-" {
            try self.init(openedFD: STDIN_FILENO, ownsFD: false, name: "<stdin>", named: nil,
                          maxLineLength: maxLineLength, blockSize: blockSize)
            return
        }
        let opened = open(path, O_RDONLY | O_CLOEXEC)
        if opened < 0 { throw LookupError.system("cannot open input", path: path) }
        var st = stat()
        if fstat(opened, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
            close(opened)
            throw LookupError(.io, path: path, "is a directory, not an input file")
        }
        try self.init(openedFD: opened, ownsFD: true, name: path, named: Compression.named(by: path),
                      maxLineLength: maxLineLength, blockSize: blockSize)
    }

    /// Reads `openedFD` (closed at the end when `ownsFD`), sniffing it for a compressed format;
    /// `named` is the format its name promises.
    private init(openedFD: Int32, ownsFD: Bool, name: String, named: Compression?, maxLineLength: Int,
                 blockSize: Int) throws(LookupError) {
        self.maxLineLength = maxLineLength
        self.name = name
        self.fd = openedFD
        self.ownsFD = ownsFD
        buffer = .allocate(byteCount: max(blockSize, 4096), alignment: 16)
        // Sniff the first bytes for a compressed format's magic: two bytes, and more only
        // when those two may begin one (so a pipe's short first line is not waited on).
        let sniffed: Compression?
        do throws(LookupError) {
            try fillRaw(minimum: 2)
            if Compression.mayStartMagic(UnsafeRawBufferPointer(start: buffer.baseAddress! + start, count: end - start)) {
                try fillRaw(minimum: Compression.magicLength)
            }
            sniffed = Compression.sniff(UnsafeRawBufferPointer(start: buffer.baseAddress! + start, count: end - start))
            if let named, sniffed != named, end > start {
                throw LookupError(.io, path: name, "broken \(named.suffix): not in \(named.formatName) format")
            }
            if let sniffed {
                // The sniffed bytes become the decompressor's first input; the line buffer
                // then holds decompressed bytes only.
                let decoder = try sniffed.decoder(name: name)
                decoder.prime(UnsafeRawBufferPointer(start: buffer.baseAddress! + start, count: end - start))
                self.decoder = decoder
                isCompressed = true
                start = 0
                end = 0
                atEOF = false
            }
        } catch {
            cleanup()
            throw error
        }
    }

    /// Reads an already open descriptor (not closed by the reader), e.g. a pipe. Compressed
    /// input is recognized by its magic bytes.
    public convenience init(descriptor: Int32, name: String, maxLineLength: Int = 16 << 20,
                            blockSize: Int = InputReader.blockSize) throws(LookupError) {
        try self.init(openedFD: descriptor, ownsFD: false, name: name, named: nil,
                      maxLineLength: maxLineLength, blockSize: blockSize)
    }

    deinit { cleanup() }

    private func cleanup() {
        decoder = nil
        if ownsFD { close(fd) }
        if buffer.count > 0 { buffer.deallocate(); buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0) }
    }

    /// Counts `n` more bytes read from the file, and drops the pages read so far from the
    /// page cache every few MiB.
    private func dropPages(read n: Int) {
        fileBytesRead += n
        if fileBytesRead - fileBytesDropped >= PageCacheRelease.step {
            let upTo = fileBytesRead & ~(PageCacheRelease.step - 1)
            PageCacheRelease.drop(fd, from: fileBytesDropped, to: upTo)
            fileBytesDropped = upTo
        }
    }

    /// Reads raw bytes from the descriptor until at least `minimum` bytes are buffered or EOF.
    private func fillRaw(minimum: Int) throws(LookupError) {
        while end - start < minimum && !atEOF {
            let n = read(fd, buffer.baseAddress! + end, buffer.count - end)
            if n < 0 {
                if errno == EINTR { continue }
                throw LookupError.system("read failed", path: name)
            }
            if n == 0 { atEOF = true } else { end += n }
        }
    }

    /// Makes room and reads one more block (decompressing if needed). Returns false at EOF.
    private func refill() throws(LookupError) -> Bool {
        if atEOF { return false }
        if start > 0 {
            let live = end - start
            if live > 0 { memmove(buffer.baseAddress!, buffer.baseAddress! + start, live) }
            start = 0
            end = live
        }
        if end == buffer.count {
            // A single line or record fills the buffer: grow it, within the line limit.
            if buffer.count >= maxLineLength + 2 {
                atOverlongLine = true
                throw LookupError(.badRecord, path: name, line: lineNumber + 1,
                                  "line longer than the limit of \(maxLineLength) bytes")
            }
            let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: min(buffer.count * 2, maxLineLength + 2), alignment: 16)
            bigger.baseAddress!.copyMemory(from: buffer.baseAddress!, byteCount: end)
            buffer.deallocate()
            buffer = bigger
        }
        while true {
            let room = buffer.count - end
            let n: Int
            if let decoder {
                n = try decoder.read(from: fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
            } else {
                n = read(fd, buffer.baseAddress! + end, room)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw LookupError.system("read failed", path: name)
                }
            }
            if n == 0 { atEOF = true; return false }
            end += n
            if dropsReadPages { dropPages(read: n) }
            return true
        }
    }

    /// The next line without its line end ("\n" or "\r\n"), or `nil` at the end of input.
    /// The buffer is valid until the next call. A line over `maxLineLength` throws.
    @inline(__always)
    public func nextLine() throws(LookupError) -> UnsafeRawBufferPointer? {
        var scanFrom = start
        while true {
            if scanFrom < end, let nl = memchr(buffer.baseAddress! + scanFrom, 0x0A, end - scanFrom) {
                let lineEnd = nl - buffer.baseAddress!
                var contentEnd = lineEnd
                if contentEnd > start && buffer[contentEnd - 1] == 0x0D { contentEnd -= 1 }
                let line = UnsafeRawBufferPointer(start: buffer.baseAddress! + start, count: contentEnd - start)
                bytesConsumed += lineEnd + 1 - start
                start = lineEnd + 1
                lineNumber += 1
                return line
            }
            let scanned = end - start
            if try !refill() {
                if end > start {
                    var contentEnd = end
                    if buffer[contentEnd - 1] == 0x0D { contentEnd -= 1 }
                    let line = UnsafeRawBufferPointer(start: buffer.baseAddress! + start, count: contentEnd - start)
                    bytesConsumed += end - start
                    start = end
                    lineNumber += 1
                    return line
                }
                return nil
            }
            scanFrom = start + scanned
        }
    }

    /// The next run of whole lines: a buffer that ends just after a line end ("\n"), or at the
    /// end of input; `nil` when nothing is left. Lines keep their line ends, and the caller
    /// splits them (and counts them: `lineNumber` is not advanced). Valid until the next call.
    public func nextLines() throws(LookupError) -> UnsafeRawBufferPointer? {
        var scanFrom = start
        while true {
            // The last line end is usually a few bytes from the end: scan backwards.
            var last = end - 1
            while last >= scanFrom && buffer[last] != 0x0A { last -= 1 }
            if last >= scanFrom {
                let cut = last + 1
                let run = UnsafeRawBufferPointer(start: buffer.baseAddress! + start, count: cut - start)
                bytesConsumed += cut - start
                start = cut
                return run
            }
            let scanned = end - start
            if try !refill() {
                if end > start {
                    let run = UnsafeRawBufferPointer(start: buffer.baseAddress! + start, count: end - start)
                    bytesConsumed += end - start
                    start = end
                    return run
                }
                return nil
            }
            scanFrom = start + scanned
        }
    }

    /// Moves past the rest of the current line (after an over-long line was reported), and
    /// counts it. Returns false when the input ended first.
    @discardableResult
    public func skipLine() throws(LookupError) -> Bool {
        atOverlongLine = false
        while true {
            if start < end, let nl = memchr(buffer.baseAddress! + start, 0x0A, end - start) {
                let cut = nl - buffer.baseAddress! + 1
                bytesConsumed += cut - start
                start = cut
                lineNumber += 1
                return true
            }
            bytesConsumed += end - start
            start = 0
            end = 0
            if try !refill() { lineNumber += 1; return false }
        }
    }

    /// Starts reading at byte `offset` of an uncompressed file (for reading a byte range).
    public func seek(to offset: Int) throws(LookupError) {
        if isCompressed || ownsFD == false {
            throw LookupError(.usage, path: name, "cannot seek in a compressed file or a stream")
        }
        if lseek(fd, off_t(offset), SEEK_SET) < 0 { throw LookupError.system("seek failed", path: name) }
        start = 0
        end = 0
        atEOF = false
        bytesConsumed = offset
        // Pages are dropped from where reading now starts (a task's byte range), not from 0.
        fileBytesRead = offset
        fileBytesDropped = offset & ~(PageCacheRelease.step - 1)
    }

    /// Exactly `count` bytes, or `nil` at the end of input when none are left. Throws when the
    /// input ends part-way. The buffer is valid until the next call. Counts newlines it passes.
    public func readBytes(_ count: Int) throws(LookupError) -> UnsafeRawBufferPointer? {
        while end - start < count {
            if try !refill() {
                if end == start { return nil }
                throw LookupError(.badRecord, path: name, line: lineNumber + 1,
                                  "input ends in the middle of a record")
            }
        }
        let run = UnsafeRawBufferPointer(start: buffer.baseAddress! + start, count: count)
        for byte in run where byte == 0x0A { lineNumber += 1 }
        start += count
        bytesConsumed += count
        return run
    }

    /// The next byte without consuming it, or `nil` at the end of input.
    public func peekByte() throws(LookupError) -> UInt8? {
        if start == end, try !refill() { return nil }
        return buffer[start]
    }
}
