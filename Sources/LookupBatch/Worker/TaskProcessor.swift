// TaskProcessor: the hot loop of a worker. Reads a task's lines in large blocks, finds each
// line's key, looks a block's keys up in key order with one cursor (much faster than one
// descent per line), then hands the lines to the job in input order.
import SharedLookup

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Processes tasks for one job in one worker process.
final class TaskProcessor<Job: LineJob> {
    let table: Table
    let options: RunOptions
    var job: Job
    /// Called with the bytes read so far in the current task, now and then.
    var progress: (Int) -> Void = { _ in }

    /// At most this many bad lines per task are described; all are counted.
    static var badLineSamples: Int { 10 }
    /// Input is read in blocks of this size; a block's keys are looked up together, in key
    /// order. Bigger blocks put more keys on each leaf page visited (less CPU: 1 MiB 3.8 s,
    /// 4 MiB 2.6 s, 8 MiB 2.2 s, 32 MiB 1.8 s for 4M lines on a 5M-key table) but cost about
    /// three times their size in memory per worker; 8 MiB keeps a worker near 30 MiB.
    static var blockSize: Int { 8 << 20 }

    // Markers in `keyOfLine` for lines without a key (other negatives: -2 - column count).
    private static var brokenQuoting: Int { Int.min }
    private static var overlong: Int { Int.min + 1 }

    /// Per-block arrays, reused from block to block. The hot loop works on a local copy
    /// (a struct passed inout), which spares the dynamic exclusivity checks of class properties.
    private struct BlockScratch {
        var lineStarts: [Int] = []
        var lineLengths: [Int] = []
        var keys: [UnsafeRawBufferPointer] = []
        var keyOfLine: [Int] = []
        var values: [UnsafeRawBufferPointer?] = []
    }
    private var saved = BlockScratch()
    private let decodedKeys = DecodedKeys()

    init(table: Table, options: RunOptions) throws {
        self.table = table
        self.options = options
        self.job = try Job(context: JobContext(table: table, options: options))
    }

    /// Runs one task: writes its output file and returns its counts and bad lines.
    func run(_ task: TaskMessage) throws -> (TaskCounts, [BadLine]) {
        let input = try InputReader(path: task.input, maxLineLength: options.maxLineLength, blockSize: Self.blockSize)
        let syntax = options.fieldSyntax(forPath: task.input)
        let extractor = KeyExtractor(column: options.keyColumn, delimiter: syntax.delimiter, quoting: syntax.quoting)
        try job.begin(file: FileContext(path: task.input, delimiter: syntax.delimiter, quoting: syntax.quoting))

        var fd: Int32 = -1
        if Job.writesOutput {
            fd = open(task.output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if fd < 0 { throw LookupError.system("cannot create output", path: task.output) }
        }
        defer { if fd >= 0 { close(fd) } }
        var out = OutputBuffer(fd: fd, name: task.output, capacity: 1 << 20)

        var counts = TaskCounts()
        // Bad lines are tallied apart from `counts`, which the block loop holds inout.
        var bad: [BadLine] = []
        var badCount = 0
        func noteBad(_ line: Int, _ message: String) {
            badCount += 1
            if bad.count < Self.badLineSamples { bad.append(BadLine(line: line, message: message)) }
        }

        // A range that does not start the file begins at the first line starting in it.
        if task.start > 0 {
            try input.seek(to: task.start - 1)
            try input.skipLine()
        }
        let end = task.end ?? Int.max
        var scratch = saved
        saved = BlockScratch()
        var job = self.job
        defer {
            saved = scratch
            self.job = job
        }
        var lineNumber = 0  // within the task
        var headerPending = task.header && options.header
        var lastProgress = 0
        reading: while true {
            let blockStart = input.bytesConsumed
            if blockStart >= end { break }
            guard let next = try nextBlock(input) else { break }
            guard case .lines(let block) = next else {
                lineNumber += 1
                counts.lines += 1
                noteBad(lineNumber, "line longer than the limit of \(options.maxLineLength) bytes (--max-line)")
                try input.skipLine()
                continue
            }
            // Split the block into lines, stopping at the first line that starts past the range.
            scratch.lineStarts.removeAll(keepingCapacity: true)
            scratch.lineLengths.removeAll(keepingCapacity: true)
            var offset = 0
            var stop = false
            let base = block.baseAddress!
            while offset < block.count {
                if blockStart + offset >= end { stop = true; break }
                let rest = block.count - offset
                var length = rest
                var next = block.count
                if let nl = memchr(base + offset, 0x0A, rest) {
                    length = UnsafeRawPointer(nl) - (base + offset)
                    next = offset + length + 1
                }
                var content = length
                if content > 0 && block[offset + content - 1] == 0x0D { content -= 1 }
                scratch.lineStarts.append(offset)
                scratch.lineLengths.append(content)
                offset = next
            }
            try process(block: block, scratch: &scratch, job: &job, counts: &counts, lineNumber: &lineNumber,
                        headerPending: &headerPending, extractor: extractor, output: &out, noteBad: noteBad)
            counts.bytes = min(input.bytesConsumed, end) - task.start
            if counts.bytes - lastProgress >= 32 << 20 {
                lastProgress = counts.bytes
                progress(counts.bytes)
            }
            if stop { break reading }
        }
        counts.badLines = badCount
        try out.flush()
        if fd >= 0 && fsync(fd) != 0 { throw LookupError.system("cannot sync output", path: task.output) }
        return (counts, bad)
    }

    private enum Block {
        case lines(UnsafeRawBufferPointer)
        case overlongLine
    }

    /// The next block of whole lines, or an over-long line to skip, or `nil` at the end.
    private func nextBlock(_ input: InputReader) throws -> Block? {
        do {
            return try input.nextLines().map(Block.lines)
        } catch {
            if input.atOverlongLine { return .overlongLine }
            throw error
        }
    }

    /// Finds the keys of a block's lines, looks them up in key order, and runs the job on each
    /// line in input order.
    private func process(block: UnsafeRawBufferPointer, scratch: inout BlockScratch, job: inout Job,
                         counts: inout TaskCounts, lineNumber: inout Int, headerPending: inout Bool,
                         extractor: KeyExtractor, output: inout OutputBuffer, noteBad: (Int, String) -> Void) throws {
        let base = block.baseAddress!
        scratch.keys.removeAll(keepingCapacity: true)
        scratch.keyOfLine.removeAll(keepingCapacity: true)
        decodedKeys.reset()
        var first = 0
        if headerPending && !scratch.lineStarts.isEmpty {
            first = 1
        }
        // Keys: slices of the block, or (quoted CSV) decoded copies kept until the block is done.
        var decodedSlots: [(keyIndex: Int, offset: Int, count: Int)] = []
        for i in 0..<scratch.lineStarts.count {
            if i < first { scratch.keyOfLine.append(-1); continue }
            let line = UnsafeRawBufferPointer(start: base + scratch.lineStarts[i], count: scratch.lineLengths[i])
            if scratch.lineLengths[i] > options.maxLineLength { scratch.keyOfLine.append(Self.overlong); continue }
            switch extractor.key(in: line) {
            case .key(let key):
                if key.count > 0, key.baseAddress! < base || key.baseAddress! >= base + block.count {
                    decodedSlots.append((scratch.keys.count, decodedKeys.add(key), key.count))
                }
                scratch.keyOfLine.append(scratch.keys.count)
                scratch.keys.append(key)
            case .missingColumn(let columns):
                scratch.keyOfLine.append(-2 - columns)
            case .badQuoting:
                scratch.keyOfLine.append(Self.brokenQuoting)
            }
        }
        for slot in decodedSlots {
            scratch.keys[slot.keyIndex] = decodedKeys.bytes(slot.offset, slot.count)
        }
        scratch.values.removeAll(keepingCapacity: true)
        scratch.values.append(contentsOf: repeatElement(nil, count: scratch.keys.count))
        try table.read { reader in
            try reader.lookupBatch(scratch.keys) { index, value in scratch.values[index] = value }
            for i in 0..<scratch.lineStarts.count {
                lineNumber += 1
                counts.lines += 1
                let line = UnsafeRawBufferPointer(start: base + scratch.lineStarts[i], count: scratch.lineLengths[i])
                if i < first {
                    headerPending = false
                    try job.header(line: line, output: &output)
                    continue
                }
                let k = scratch.keyOfLine[i]
                if k >= 0 {
                    let value = scratch.values[k]
                    if value != nil { counts.hits += 1 } else { counts.misses += 1 }
                    try job.process(line: line, key: scratch.keys[k], value: value, output: &output)
                } else if k == Self.brokenQuoting {
                    if case .badQuoting(let why) = extractor.key(in: line) { noteBad(lineNumber, why) }
                } else if k == Self.overlong {
                    noteBad(lineNumber, "line longer than the limit of \(options.maxLineLength) bytes (--max-line)")
                } else {
                    noteBad(lineNumber, "line has \(-2 - k) column\(-2 - k == 1 ? "" : "s"), key column is \(options.keyColumn)")
                }
            }
        }
    }
}

/// Storage for keys decoded from quoted fields. Pointers it hands out stay valid until the
/// next `reset` because all keys of a block are added before any pointer is taken.
final class DecodedKeys {
    private var base = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 8)
    private var capacity = 4096
    private var count = 0

    deinit { base.deallocate() }

    func reset() { count = 0 }

    func add(_ key: UnsafeRawBufferPointer) -> Int {
        if count + key.count > capacity {
            let bigger = UnsafeMutableRawPointer.allocate(byteCount: max(capacity * 2, count + key.count), alignment: 8)
            bigger.copyMemory(from: base, byteCount: count)
            base.deallocate()
            base = bigger
            capacity = max(capacity * 2, count + key.count)
        }
        (base + count).copyMemory(from: key.baseAddress!, byteCount: key.count)
        count += key.count
        return count - key.count
    }

    func bytes(_ offset: Int, _ length: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + offset, count: length)
    }
}
