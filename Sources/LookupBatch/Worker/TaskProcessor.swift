// TaskProcessor: the hot loop of a worker. Reads a task's lines in large blocks; a first pass
// finds each line's key and collects the keys, which are then looked up together (KeyBatch:
// through the table's key index with prefetches, or in key order with one cursor); a second
// pass hands every line to the job in input order with its value.
import LMDB
import SharedLookup

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
    /// order. Bigger blocks put more keys on each leaf page visited (less CPU), and cost their
    /// size plus about 35 bytes a line in memory per worker.
    static var blockSize: Int { 3 << 20 }

    /// The block size for `table` read by `workers` processes: larger than memory, blocks are
    /// as large as the memory allows, up to 64 MiB, so each batch's records cover the file
    /// densely and its page requests sweep it in order instead of seeking. A block costs about
    /// 2.7 times its size with its keys and copied values: all the workers' blocks together
    /// are an eighth of the memory, so they take about a third of it (the key index at most
    /// half).
    static func blockSize(for table: Table, workers: Int) -> Int {
        // A range table's batch walks its keys in order: more keys per block put more of them
        // on each leaf page (found by a search on the page, without a descent from the root).
        let base = table.matchKind == .exact ? blockSize : 4 * blockSize
        guard table.regime.kind == .largerThanMemory else { return base }
        return max(base, min(64 << 20, table.regime.memory.bytes / (8 * max(workers, 1))))
    }

    /// How many kept keys ahead the second pass prefetches values.
    static var prefetchDistance: Int { 8 }

    /// What the first pass keeps of a block: where the block ends for this task, the lines
    /// whose keys were kept for lookup (in line order), and the keys themselves.
    private struct BlockScratch {
        /// Values are used after the whole block's lookups: larger than memory, it keeps copies.
        var batch: KeyBatch = {
            var batch = KeyBatch()
            batch.copiesValues = true
            return batch
        }()
        var keptLines: [Int32] = []
        /// Every line of the block, in order.
        var notes: [LineNote] = []
    }
    private var saved = BlockScratch()
    private let decodedKeys = DecodedKeys()
    /// Folds and trims keys as the table's were, and writes a range table's addresses or
    /// integers in their form (`nil` when keys are taken as they are).
    private let normalizer: KeyNormalizer?
    /// Whether a hit's value is a list of values (one-to-many table), counted as rows.
    private let many: Bool
    /// Whether a miss writes a row (left join).
    private let missesAreRows: Bool

    init(table: Table, options: RunOptions) throws {
        self.table = table
        saved.batch.keepsLongKeys = table.matchKind != .exact
        self.options = options
        normalizer = table.keyForm.normalizes || table.matchKind != .exact ? table.keyNormalizer() : nil
        many = table.valuesPerKey == .many
        missesAreRows = options.mode == .left && Job.self == LeftJoinJob.self
        self.job = try Job(context: JobContext(table: table, options: options))
    }

    /// Runs one task: writes its output file (through the compressor and the pipe command
    /// the options ask for: `TaskOutput`) and returns its counts and bad lines.
    func run(_ task: TaskMessage) throws -> (TaskCounts, [BadLine]) {
        let input = try InputReader(path: task.input, maxLineLength: options.maxLineLength, blockSize: Self.blockSize(for: table, workers: options.workers))
        let sink = try TaskOutput(path: task.output, input: task.input, writesOutput: Job.writesOutput, options: options)
        var out = OutputBuffer(fd: sink.fd, name: task.output, capacity: 256 << 10)
        // A table larger than memory wants every page of memory: input and output pages go
        // back to the kernel once used.
        let tight = table.regime.kind == .largerThanMemory
        input.dropsReadPages = tight
        out.dropsWrittenPages = tight
        // A range that does not start the file begins at the first line starting in it.
        if task.start > 0 {
            try input.seek(to: task.start - 1)
            try input.skipLine()
        }
        var lastProgress = 0
        let result: (TaskCounts, [BadLine])
        do {
            result = try stream(input, path: task.input, start: task.start, end: task.end ?? Int.max,
                                header: task.header && options.header, output: &out) { counts, _, _ in
                if counts.bytes - lastProgress >= 32 << 20 {
                    lastProgress = counts.bytes
                    progress(counts.bytes)
                }
            }
            try out.flush()
        } catch {
            throw sink.failure(after: error)
        }
        try sink.finish()
        return result
    }

    /// Processes the lines of `input` that start before byte `end` (counting from `start`,
    /// where the reader stands), writing to `output`. After each block, `afterBlock` gets the
    /// counts so far, the output, and the bad lines found in that block. Returns the counts
    /// and the first bad lines.
    func stream(_ input: InputReader, path: String, start: Int, end: Int, header: Bool, output out: inout OutputBuffer,
                afterBlock: (TaskCounts, inout OutputBuffer, [BadLine]) throws -> Void) throws -> (TaskCounts, [BadLine]) {
        let syntax = options.fieldSyntax(forPath: path)
        let json = options.isJSONLines(path: path)
        let extractor: KeySource
        if json {
            if options.keyFields.count != table.keyForm.parts {
                throw LookupError(.usage, path: path, "the table's keys have \(table.keyForm.parts) part\(table.keyForm.parts == 1 ? "" : "s"); --key-field \(options.keyFields.joined(separator: ",")) gives \(options.keyFields.count)")
            }
            extractor = .json(try JSONKeyReader(paths: options.keyFields))
        } else {
            extractor = .delimited(KeyExtractor(columns: options.keyColumns, delimiter: syntax.delimiter, quoting: syntax.quoting))
        }
        try job.begin(file: FileContext(path: path, delimiter: syntax.delimiter, quoting: syntax.quoting, isJSONLines: json))

        var counts = TaskCounts()
        // Bad lines are tallied apart from `counts`, which the block loop holds inout.
        // The task's bad lines, and those of the block at hand.
        var bad = Samples<BadLine>(limit: Self.badLineSamples)
        var fresh = Samples<BadLine>(limit: Self.badLineSamples)
        func noteBad(_ line: Int, _ message: String) {
            bad.add(BadLine(line: line, message: message))
            fresh.add(BadLine(line: line, message: message))
        }
        var scratch = saved
        saved = BlockScratch()
        var job = self.job
        defer {
            saved = scratch
            self.job = job
        }
        var lineNumber = 0  // within this stream
        var headerPending = header
        reading: while true {
            let blockStart = input.bytesConsumed
            if blockStart >= end { break }
            guard let next = try nextBlock(input) else { break }
            fresh.removeAll()
            guard case .lines(let block) = next else {
                lineNumber += 1
                counts.lines += 1
                noteBad(lineNumber, "line longer than the limit of \(options.maxLineLength) bytes (--max-line)")
                try input.skipLine()
                counts.badLines = bad.count
                try afterBlock(counts, &out, fresh.kept)
                continue
            }
            // Only lines that start before the end of the range are this task's.
            let limit = end == Int.max ? block.count : min(block.count, max(0, end - blockStart))
            let stop = limit < block.count
            try process(block: block, limit: limit, scratch: &scratch, job: &job, counts: &counts,
                        lineNumber: &lineNumber, headerPending: &headerPending, extractor: extractor,
                        output: &out, noteBad: noteBad)
            counts.bytes = min(input.bytesConsumed, end) - start
            counts.badLines = bad.count
            try afterBlock(counts, &out, fresh.kept)
            if stop { break reading }
        }
        counts.badLines = bad.count
        return (counts, bad.kept)
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

    /// Where a file's keys come from: delimited fields, or members of JSON objects.
    private enum KeySource {
        case delimited(KeyExtractor)
        case json(JSONKeyReader)
    }

    /// What a line holds: its key is as the line has it (not yet normalized).
    private enum LineKind {
        case header
        case key(UnsafeRawBufferPointer)
        case bad(String)
    }

    /// What `line` (the `index`-th of its block) holds. `mayHoldNUL`: the block has a NUL byte
    /// somewhere (text never does), so lines are checked for one.
    @inline(__always)
    private func classify(_ line: UnsafeRawBufferPointer, index: Int, header: Bool, mayHoldNUL: Bool,
                          extractor: KeySource) -> LineKind {
        if index == 0 && header { return .header }
        if line.count > options.maxLineLength {
            return .bad("line longer than the limit of \(options.maxLineLength) bytes (--max-line)")
        }
        if mayHoldNUL && line.count > 0 && memchr(line.baseAddress!, 0, line.count) != nil {
            return .bad("line holds a NUL byte: binary data, not text")
        }
        let found: KeyExtractor.Outcome
        switch extractor {
        case .delimited(let fields):
            found = fields.key(in: line)
        case .json(let reader):
            switch reader.key(in: line) {
            case .key(let key): found = .key(key)
            case .bad(let why): return .bad(why)
            }
        }
        switch found {
        case .key(let key):
            return .key(key)
        case .missingColumn(let columns):
            return .bad(KeyExtractor.missingColumnMessage(columns: columns, keyColumns: options.keyColumns))
        case .badQuoting(let why): return .bad(why)
        }
    }

    /// Calls `body(index, line)` for each line (without its line end) starting before `limit`.
    @inline(__always)
    private func forEachLine(_ block: UnsafeRawBufferPointer, limit: Int,
                             _ body: (Int, UnsafeRawBufferPointer) throws -> Void) rethrows {
        let base = block.baseAddress!
        var offset = 0
        var index = 0
        while offset < limit {
            let rest = block.count - offset
            var length = rest
            if let nl = memchr(base + offset, 0x0A, rest) { length = UnsafeRawPointer(nl) - (base + offset) }
            var content = length
            if content > 0 && block[offset + content - 1] == 0x0D { content -= 1 }
            try body(index, UnsafeRawBufferPointer(start: base + offset, count: content))
            offset += length + 1
            index += 1
        }
    }

    /// Runs one block: pass 1 collects the keys to look up, they are looked up together
    /// (`KeyBatch`: through the key index, or in key order with one cursor without one), and
    /// pass 2 hands each line to the job in input order.
    private func process(block: UnsafeRawBufferPointer, limit: Int, scratch: inout BlockScratch, job: inout Job,
                         counts: inout TaskCounts, lineNumber: inout Int, headerPending: inout Bool,
                         extractor: KeySource, output: inout OutputBuffer, noteBad: (Int, String) -> Void) throws {
        let header = headerPending
        headerPending = false
        scratch.batch.removeAll()
        scratch.keptLines.removeAll(keepingCapacity: true)
        decodedKeys.reset()
        let firstLine = lineNumber
        let mayHoldNUL = limit > 0 && memchr(block.baseAddress!, 0, limit) != nil
        let blockStart = block.baseAddress!
        let blockEnd = blockStart + block.count
        func inBlock(_ bytes: UnsafeRawBufferPointer) -> Bool {
            guard let address = bytes.baseAddress else { return false }
            return address >= blockStart && address < blockEnd
        }
        scratch.notes.removeAll(keepingCapacity: true)
        let normalizer = self.normalizer, decodedKeys = self.decodedKeys
        forEachLine(block, limit: limit) { index, line in
            var note = LineNote(start: Int32(line.baseAddress! - blockStart), length: Int32(line.count), keyStart: LineNote.bad, keyLength: 0)
            defer { scratch.notes.append(note) }
            switch classify(line, index: index, header: header, mayHoldNUL: mayHoldNUL, extractor: extractor) {
            case .header:
                note.keyStart = LineNote.header
            case .key(let key):
                // The key as the job sees it (normalized text), and as the table stores it.
                var jobKey = key, stored = key
                if let normalizer {
                    jobKey = normalizer.normalize(key)
                    guard let s = normalizer.stored(normalized: jobKey) else {
                        noteBad(firstLine + index + 1, "key \"\(String(decoding: key.prefix(60), as: UTF8.self))\" is not \(normalizer.rangeKeyType?.article ?? "a key")")
                        return
                    }
                    stored = s
                }
                if jobKey.count > 0, inBlock(jobKey) {
                    note.keyStart = Int32(jobKey.baseAddress! - blockStart)
                    note.keyLength = Int32(jobKey.count)
                } else {
                    note.keyStart = jobKey.count == 0 ? 0 : LineNote.findAgain
                }
                // A key decoded from quotes or formed lives in the extractor or normalizer:
                // keep a stable copy.
                let stable = stored.count == 0 || inBlock(stored) ? stored : decodedKeys.add(stored)
                if scratch.batch.add(stable) { scratch.keptLines.append(Int32(index)) }
            case .bad(let why):
                noteBad(firstLine + index + 1, why)
            }
        }
        let lines = scratch.notes.count
        lineNumber += lines
        counts.lines += lines
        try table.read { reader in
            try scratch.batch.lookUp(in: reader)
            try scratch.batch.withValues { values in
                try scratch.keptLines.withUnsafeBufferPointer { keptLines in
                    try scratch.notes.withUnsafeBufferPointer { notes in
                        var kept = 0
                        for index in 0..<notes.count {
                            let note = notes[index]
                            let line = UnsafeRawBufferPointer(start: blockStart + Int(note.start), count: Int(note.length))
                            let key: UnsafeRawBufferPointer
                            switch note.keyStart {
                            case LineNote.bad:
                                continue
                            case LineNote.header:
                                try job.header(line: line, output: &output)
                                continue
                            case LineNote.findAgain:
                                guard case .key(let raw) = classify(line, index: index, header: header, mayHoldNUL: mayHoldNUL, extractor: extractor) else { continue }
                                key = normalizer?.normalize(raw) ?? raw
                            default:
                                key = UnsafeRawBufferPointer(start: blockStart + Int(note.keyStart), count: Int(note.keyLength))
                            }
                            var value: UnsafeRawBufferPointer? = nil
                            if kept < keptLines.count && keptLines[kept] == Int32(index) {
                                value = values[kept]
                                values.prefetch(kept + Self.prefetchDistance)
                                kept += 1
                            }
                            if let value {
                                counts.hits += 1
                                counts.rows += many ? ValueList(value).count : 1
                            } else {
                                counts.misses += 1
                                if missesAreRows { counts.rows += 1 }
                            }
                            try job.process(line: line, key: key, value: value, output: &output)
                        }
                    }
                }
            }
        }
    }
}

/// What a `TaskProcessor`'s pass 1 learnt of a line, so pass 2 neither splits the block nor
/// finds the key again: where the line is in the block, and where its key as the job sees it
/// is (`keyStart` >= 0), or that the line is the header, bad, or its key is not in the block
/// (decoded from quotes, or normalized) and must be found again. Outside the generic class,
/// so arrays of it need no runtime type lookups.
private struct LineNote {
    var start: Int32
    var length: Int32
    var keyStart: Int32
    var keyLength: Int32
    static var header: Int32 { -1 }
    static var bad: Int32 { -2 }
    static var findAgain: Int32 { -3 }
}

/// Storage for keys decoded from quoted fields, in chunks that never move, so the keys it
/// hands out stay valid until the next `reset`.
final class DecodedKeys {
    private var chunks: [UnsafeMutableRawBufferPointer] = []
    private var used = 0        // bytes used in the last chunk
    private var chunkIndex = 0  // the chunk being filled
    private static let chunkSize = 64 << 10

    deinit { chunks.forEach { $0.deallocate() } }

    func reset() {
        chunkIndex = 0
        used = 0
    }

    /// A stable copy of `key` (at most `lmdbMaxKeySize` + 1 bytes are kept: a longer key
    /// cannot be in a table, and stays longer than any that can).
    func add(_ key: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let n = min(key.count, lmdbMaxKeySize + 1)
        if chunkIndex < chunks.count && used + n > Self.chunkSize {
            chunkIndex += 1
            used = 0
        }
        if chunkIndex == chunks.count {
            chunks.append(.allocate(byteCount: Self.chunkSize, alignment: 8))
        }
        let target = chunks[chunkIndex].baseAddress! + used
        target.copyMemory(from: key.baseAddress!, byteCount: n)
        used += n
        return UnsafeRawBufferPointer(start: target, count: n)
    }
}
