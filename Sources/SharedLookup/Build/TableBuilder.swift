// TableBuilder: builds a table file from records (input files in any RecordFormat, or records
// added through the API): sorts them within a memory budget, applies the duplicate policy,
// bulk-loads them in key order with MDB_APPEND into a temp file beside the destination,
// stores the key index and the metadata, fsyncs, and renames the file over the destination.
import Foundation
import LMDB

/// What to do when a key occurs more than once.
public enum DuplicatePolicy: String, CaseIterable, Sendable, Codable {
    /// Fail, naming both occurrences (the default).
    case error
    /// Keep the first occurrence in input order.
    case first
    /// Keep the last occurrence in input order.
    case last
    /// Keep every value, in input order: a one-to-many table (see `ValueList`).
    case all
}

/// What the merging thread kept (read after it ended).
private final class MergeOutcome: @unchecked Sendable {
    var written = 0, dropped = 0, values = 0
    var hash = ContentHash()
}

/// The builder, lent to its merging thread (which alone reads the sorter until it ends).
private struct UncheckedBuilder: @unchecked Sendable {
    let builder: TableBuilder
}

/// Options for building a table.
public struct BuildOptions: Sendable {
    /// The input format; `nil` infers it from each input's name.
    public var format: RecordFormat?
    /// How records are read (key column, delimiter, header, ...).
    public var record: RecordOptions
    /// The duplicate-key policy.
    public var duplicates: DuplicatePolicy
    /// How keys are formed: their part count (records added in code with composite keys say
    /// it here; for input files it follows `record.keyColumns`), and the case folding and
    /// trimming applied to every key (recorded in the table, so every lookup applies them too).
    public var keyForm: KeyForm = KeyForm()
    /// How lookups will match: exactly, or by range (`--ranges`: records `start,end,value`,
    /// `-k` their two columns), network (`--cidr`) or longest prefix (`--prefixes`).
    public var match: MatchKind = .exact
    /// How a range table's keys compare (`.ip` for `--cidr`, `.text` for `--prefixes`).
    public var keyType: RangeKeyType = .text
    /// Ranges that nest are kept, the narrowest winning (`--overlaps narrowest`); else any
    /// overlap is refused. Prefixes always nest.
    public var narrowest = false
    /// Memory for sorting, in bytes; past it, sorted runs spill to temp files.
    public var memoryBudget: Int
    /// Count and skip malformed records instead of failing on the first.
    public var skipBadRecords: Bool
    /// Where sort runs spill; `nil` uses the destination's directory.
    public var temporaryDirectory: String?
    /// The longest input line accepted.
    public var maxLineLength: Int
    /// Store a hash index of the keys in the table (about 10 bytes a key), so a lookup costs
    /// a cache line or two instead of a B+tree descent. Built in memory after the records are
    /// loaded; left out when it would need more than `memoryBudget`.
    public var keyIndex: Bool = true

    /// The default sort memory: 1 GiB, or half the memory this process may use (its memory
    /// cgroup's limit, or the RAM) when that is less, so a build in a small container spills
    /// sorted runs instead of thrashing.
    public static var defaultMemoryBudget: Int { max(16 << 20, min(1 << 30, MemoryLimit.current.bytes / 2)) }

    /// Creates options with sensible defaults (sort memory: `defaultMemoryBudget`, strict errors).
    public init(format: RecordFormat? = nil, record: RecordOptions = RecordOptions(), duplicates: DuplicatePolicy = .error,
                memoryBudget: Int = BuildOptions.defaultMemoryBudget, skipBadRecords: Bool = false, temporaryDirectory: String? = nil,
                maxLineLength: Int = 16 << 20) {
        self.format = format
        self.record = record
        self.duplicates = duplicates
        self.memoryBudget = memoryBudget
        self.skipBadRecords = skipBadRecords
        self.temporaryDirectory = temporaryDirectory
        self.maxLineLength = maxLineLength
    }
}

/// What a build did.
public struct BuildReport: Sendable {
    /// Records in the published table.
    public var records: Int
    /// Records read from the inputs (before dropping duplicates).
    public var recordsRead: Int
    /// Duplicates dropped under `first`/`last`.
    public var duplicatesDropped: Int
    /// Malformed records skipped (with `skipBadRecords`).
    public var badRecords: Int
    /// The first few skipped records' errors.
    public var badRecordSamples: [LookupError]
    /// Whether the input arrived in key order (no sort was needed).
    public var inputWasSorted: Bool
    /// Sorted runs spilled to disk (0 when everything fit in memory).
    public var runsSpilled: Int
    /// Size of the published file in bytes.
    public var fileSize: Int
    /// The metadata stored in the table.
    public var metadata: TableMetadata
}

/// Builds one table. Add records (`addInput`, `add`), then `publish()`; until then the
/// destination is untouched, and a builder dropped without publishing removes its temp files.
public final class TableBuilder {
    /// Where the table will be published.
    public let destination: String
    /// The build's options.
    public let options: BuildOptions

    private let directory: String
    private let temporaryPath: String
    private let sorter: RecordSorter
    private var sources: [String] = []
    private var formats: [String] = []
    private var bad = Samples<LookupError>(limit: TableBuilder.sampleLimit)
    private var published = false
    private let normalizer: KeyNormalizer
    /// The first CSV/TSV input's header names and column count.
    private var columnNames: [String]?
    private var columnCount: Int?
    /// A range build's reusable buffers: the start's and end's forms, the stored segment.
    private let rangeStart = ByteScratch(capacity: 64), rangeEnd = ByteScratch(capacity: 64)
    private let rangeStored = ByteScratch()

    /// How many bad-record errors a report keeps.
    public static let sampleLimit = 10

    /// A change layer's facts (`TableUpdater`), stored in its metadata, and the filter of its
    /// keys (`LayerFilter`), stored beside its key index.
    var layer: LayerInfo?
    var layerFilter: [UInt8]?
    /// Metadata whose description of the records (sources, format, key columns, key form,
    /// columns) the table's metadata takes (`lookup compact`), and the version compacted.
    var inheritedDescription: TableMetadata?
    var compactedFrom: Int?
    /// Records added so far.
    var recordsAdded: Int { sorter.count }

    /// Prepares a build of `destination`. Fails at once if its directory is missing or not
    /// writable, so no input is read in vain.
    public init(destination: String, options: BuildOptions = BuildOptions()) throws(LookupError) {
        self.destination = destination
        self.options = options
        var form = options.keyForm
        if options.record.keyColumns.count > 1 { form.parts = options.record.keyColumns.count }
        normalizer = KeyNormalizer(form: form)
        let slash = destination.lastIndex(of: "/")
        directory = slash.map { $0 == destination.startIndex ? "/" : String(destination[..<$0]) } ?? "."
        let base = slash.map { String(destination[destination.index(after: $0)...]) } ?? destination
        if base.isEmpty { throw LookupError(.usage, path: destination, "the table path names a directory; give a file name") }
        var st = stat()
        if stat(directory, &st) != 0 {
            throw LookupError(.io, path: destination, "output directory \(directory) does not exist")
        }
        if (st.st_mode & S_IFMT) != S_IFDIR {
            throw LookupError(.io, path: destination, "\(directory) is not a directory")
        }
        if access(directory, W_OK) != 0 {
            throw LookupError(.io, path: destination, "output directory \(directory) is not writable")
        }
        if stat(destination, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
            throw LookupError(.io, path: destination, "is a directory; give a file name for the table")
        }
        let prefix = ".\(base).tmp-"
        TemporaryFiles.removeStale(in: directory, prefix: prefix)
        temporaryPath = "\(directory)/\(prefix)\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let sortDirectory = options.temporaryDirectory ?? directory
        if options.temporaryDirectory != nil {
            if stat(sortDirectory, &st) != 0 || (st.st_mode & S_IFMT) != S_IFDIR || access(sortDirectory, W_OK) != 0 {
                throw LookupError(.io, path: sortDirectory, "temporary directory does not exist or is not writable")
            }
        }
        TemporaryFiles.removeStale(in: sortDirectory, prefix: ".lookup-sort-")
        sorter = RecordSorter(budget: options.memoryBudget, temporaryDirectory: sortDirectory)
    }

    deinit {
        if !published { discard() }
    }

    /// Removes the temp files of an unpublished build.
    public func discard() {
        sorter.removeRuns()
        unlink(temporaryPath)
        unlink(temporaryPath + "-lock")
        TemporaryFiles.unregister(temporaryPath)
    }

    /// A file by device and inode.
    private struct FileID: Hashable { var device: UInt64, inode: UInt64 }
    /// The input files read so far, with the path each was first named by.
    private var inputFiles: [FileID: String] = [:]

    /// Reads every record of the input at `path` ("-" for standard input, `.gz` decompressed).
    public func addInput(_ path: String, format: RecordFormat? = nil) throws {
        guard let format = format ?? options.format ?? RecordFormat.infer(fromPath: path) else {
            throw LookupError(.usage, path: path, "cannot tell the input format from the file name; give --format csv|tsv|jsonl|mdb-dump|cdb")
        }
        let source = sources.count
        if source >= 1 << 23 { throw LookupError(.usage, path: path, "too many inputs") }
        // Building over one's own input would lose the input.
        var inputStat = stat(), tableStat = stat()
        if path != "-", stat(path, &inputStat) == 0, stat(destination, &tableStat) == 0,
           inputStat.st_dev == tableStat.st_dev, inputStat.st_ino == tableStat.st_ino {
            throw LookupError(.usage, path: path, "is the same file as the table being written (\(destination)); write the table elsewhere")
        }
        // The same file named twice (or through a link) would read every record twice and
        // report each key as its own duplicate.
        if path != "-", stat(path, &inputStat) == 0 {
            let file = FileID(device: UInt64(inputStat.st_dev), inode: UInt64(inputStat.st_ino))
            if let first = inputFiles[file] {
                throw LookupError(.usage, path: path, first == path ? "is given twice as an input; each input is read once"
                                  : "is the same file as the input \(first); each input is read once")
            }
            inputFiles[file] = path
        }
        let input = try InputReader(path: path, maxLineLength: options.maxLineLength)
        sources.append(path)
        if !formats.contains(format.rawValue) { formats.append(format.rawValue) }
        var handler = Handler(builder: self, base: UInt64(source) << 40)
        try format.parse(input, options: options.record, into: &handler)
    }

    /// Adds one record from code (its "line" is its ordinal among added records). For a range
    /// table (`options.match`), the key is a range (start and end joined by
    /// `KeyForm.partSeparator`), a network or a prefix, as in an input.
    public func add<K: LMDBBytes, V: LMDBBytes>(key: K, value: V) throws {
        if sources.last != "api" || formats.last != "api" {
            sources.append("api")
            formats.append("api")
        }
        let base = UInt64(sources.count - 1) << 40
        if options.match != .exact {
            // A range (start and end joined by KeyForm.partSeparator), network or prefix: read
            // and checked as a record of an input is.
            var handler = Handler(builder: self, base: base)
            try key.withLMDBBytes { raw in
                try value.withLMDBBytes { v in try handler.record(key: raw, value: v, line: sorter.count + 1) }
            }
            return
        }
        try key.withLMDBBytes { raw in
            try value.withLMDBBytes { v in
                let k = normalizer.normalize(raw)
                if k.isEmpty { throw LookupError(.badRecord, path: "api", line: sorter.count + 1, "empty key") }
                if k.count > options.record.maxKeySize {
                    throw LookupError(.badRecord, path: "api", line: sorter.count + 1,
                                      "key is \(k.count) bytes; LMDB keys are at most \(options.record.maxKeySize) bytes")
                }
                try sorter.add(key: k, value: v, sequence: base | UInt64(sorter.count + 1))
            }
        }
    }

    private struct Handler: RecordHandler {
        let builder: TableBuilder
        let base: UInt64

        @inline(__always)
        mutating func record(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, line: Int) throws {
            if builder.options.match != .exact {
                try rangeRecord(key: builder.normalizer.normalize(key), value: value, line: line)
                return
            }
            if builder.normalizer.form.normalizes {
                try normalizedRecord(key: key, value: value, line: line)
                return
            }
            try builder.sorter.add(key: key, value: value, sequence: base | UInt64(line))
        }

        /// A record whose key is folded or trimmed first (which may leave it empty or too long).
        private mutating func normalizedRecord(key raw: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, line: Int) throws {
            let key = builder.normalizer.normalize(raw)
            let blank = KeyForm.isBlank(key, parts: builder.normalizer.form.parts)
            if let problem = blank ? "empty key (every key column is empty)" : builder.options.record.keyProblem(key) {
                let name = builder.sources.last.map { $0 == "-" ? "<stdin>" : $0 } ?? "?"
                try badRecord(LookupError(.badRecord, path: name, line: line,
                                          "\(problem) after \(builder.options.keyForm.trim ? "trimming" : "case folding")"))
                return
            }
            try builder.sorter.add(key: key, value: value, sequence: base | UInt64(line))
        }

        /// A range, network or prefix: sorted by its start's form, with its exclusive end
        /// and value stored after it as a segment (`RangeRecord`) for `mergeRanges`.
        private mutating func rangeRecord(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, line: Int) throws {
            let b = builder
            let type = b.options.keyType
            func refuse(_ message: String) throws {
                let name = b.sources.last.map { $0 == "-" ? "<stdin>" : $0 } ?? "?"
                try badRecord(LookupError(.badRecord, path: name, line: line, message))
            }
            var end: UnsafeRawBufferPointer?
            switch b.options.match {
            case .exact:
                preconditionFailure("an exact record is not a range")
            case .range:
                guard let cut = key.firstIndex(of: KeyForm.partSeparator) else { return try refuse("a range needs a start and an end") }
                let startText = key.slice(0, cut), endText = key.slice(cut + 1, key.count)
                guard RangeKeys.encode(startText, as: type, into: b.rangeStart) else {
                    return try refuse("\"\(printablePreview(startText))\" is not \(type.article)")
                }
                guard RangeKeys.encode(endText, as: type, into: b.rangeEnd) else {
                    return try refuse("\"\(printablePreview(endText))\" is not \(type.article)")
                }
                if compareKeys(b.rangeStart.bytes, b.rangeEnd.bytes) > 0 {
                    return try refuse("the range starts after it ends (\(printablePreview(startText)) > \(printablePreview(endText)))")
                }
                let exclusive = RangeKeys.exclusiveEnd(after: Array(b.rangeEnd.bytes), type: type)
                b.rangeEnd.removeAll()
                if let exclusive { exclusive.withUnsafeBytes { b.rangeEnd.append($0) } }
                end = exclusive == nil ? nil : b.rangeEnd.bytes
            case .cidr:
                switch RangeKeys.parseCIDR(key) {
                case .failure(let why): return try refuse(why.message)
                case .success(let network):
                    b.rangeStart.removeAll()
                    network.start.withUnsafeBytes { b.rangeStart.append($0) }
                    b.rangeEnd.removeAll()
                    if let last = network.end { last.withUnsafeBytes { b.rangeEnd.append($0) } }
                    end = network.end == nil ? nil : b.rangeEnd.bytes
                }
            case .prefix:
                b.rangeStart.removeAll()
                b.rangeStart.append(key)
                let after = RangeKeys.prefixEnd(Array(key))
                b.rangeEnd.removeAll()
                if let after { after.withUnsafeBytes { b.rangeEnd.append($0) } }
                end = after == nil ? nil : b.rangeEnd.bytes
            }
            if let problem = b.options.record.keyProblem(b.rangeStart.bytes) { return try refuse(problem) }
            RangeRecord.encode(end: end, value: value, into: b.rangeStored)
            try b.sorter.add(key: b.rangeStart.bytes, value: b.rangeStored.bytes, sequence: base | UInt64(line))
        }

        mutating func layout(names: [String]?, columns: Int) {
            if builder.columnCount == nil { builder.columnCount = columns }
            if builder.columnNames == nil, let names { builder.columnNames = names }
        }

        mutating func badRecord(_ error: LookupError) throws {
            if !builder.options.skipBadRecords { throw error }
            builder.bad.add(error)
        }
    }

    /// The input name and line a record's sequence number stands for.
    private func origin(_ sequence: UInt64) -> (name: String, line: Int) {
        let source = Int(sequence >> 40)
        let name = source < sources.count ? (sources[source] == "-" ? "<stdin>" : sources[source]) : "?"
        return (name, Int(sequence & ((1 << 40) - 1)))
    }

    /// Sorts, loads and publishes the table atomically; returns what was built.
    @discardableResult
    public func publish() throws -> BuildReport {
        precondition(!published, "publish() called twice")
        TemporaryFiles.register(temporaryPath)
        defer { if !published { discard() } }
        try sorter.finish()
        let (fileSize, runs, metadata) = try load()
        sorter.removeRuns()
        // Durable and atomic: data was synced by load(); rename, then sync the directory.
        if rename(temporaryPath, destination) != 0 {
            throw LookupError.system("cannot publish table (rename)", path: destination)
        }
        published = true
        TemporaryFiles.unregister(temporaryPath)
        syncDirectory(directory)
        return BuildReport(
            records: metadata.records, recordsRead: sorter.count, duplicatesDropped: metadata.duplicatesDropped,
            badRecords: bad.count, badRecordSamples: bad.kept, inputWasSorted: sorter.inputSorted,
            runsSpilled: runs, fileSize: fileSize, metadata: metadata)
    }

    /// Writes the sorted records and metadata into the temp file; returns its size.
    private func load() throws -> (fileSize: Int, runs: Int, TableMetadata) {
        let runs = sorter.runPaths.count
        let env: Environment
        do {
            env = try Environment(path: temporaryPath, options: EnvironmentOptions(
                flags: [.noSubdirectory, .noLock, .noSync, .noMemoryInit], mapSize: Self.mapGrowth, maxReaders: 1, maxDatabases: 4,
                mode: 0o644))
        } catch {
            throw LookupError(error, path: destination)
        }
        do {
            let (data, meta, indexDB) = try env.write { txn in
                (try txn.openDatabase(TableLayout.dataDatabase, flags: .create),
                 try txn.openDatabase(TableLayout.metaDatabase, flags: .create),
                 options.keyIndex ? try txn.openDatabase(TableLayout.indexDatabase, flags: .create) : nil)
            }
            // Two cores: a thread merges, resolves duplicates and hashes (`merge`); this one
            // writes into LMDB, committing every few MiB so LMDB's dirty pages stay small.
            let pipe = RecordPipe()
            let merged = MergeOutcome()
            let builder = UncheckedBuilder(builder: self)
            let mergeEnded = RecordPipe.spawn { builder.builder.merge(into: pipe, outcome: merged) }
            let commitBytes = 16 << 20
            // Room for the last transaction too (metadata and key index), so the map grows
            // only between data transactions: both meta pages then give the same map size
            // (`check` expects a map size set once).
            let indexRoom = KeyIndex.storedSize(forKeys: sorter.count)
            let finalRoom = (options.keyIndex && indexRoom <= options.memoryBudget ? 2 * indexRoom : 0) + (4 << 20)
            let headroom = 2 * (commitBytes + RecordPipe.chunkSize) + 2 * sorter.largestRecord + finalRoom
            do {
                var done = false
                // A chunk larger than usual (a long list of values under --duplicates all) is
                // written in a transaction of its own, after the map grew for it.
                var carried: PackedRecords?
                while !done {
                    try growMapIfNeeded(env, headroom: headroom + 2 * (carried?.count ?? 0))
                    try env.write { txn in
                        try txn.withCursor(data) { cursor in
                            var batch = 0
                            while batch < commitBytes {
                                let chunk: PackedRecords
                                if let first = carried {
                                    chunk = first
                                    carried = nil
                                } else {
                                    guard let next = try pipe.receive() else { done = true; return }
                                    if next.count > RecordPipe.chunkSize + sorter.largestRecord + 64 {
                                        carried = next
                                        return
                                    }
                                    chunk = next
                                }
                                try chunk.forEach { k, v in try cursor.put(k, v, flags: .append) }
                                batch += chunk.count
                                pipe.recycle(chunk)
                            }
                        }
                    }
                }
            } catch {
                pipe.cancel()
                mergeEnded()
                throw error
            }
            mergeEnded()
            let (written, dropped, hash) = (merged.written, merged.dropped, merged.hash)
            var metadata = TableMetadata(
                records: written, sources: sources, format: formats.joined(separator: "+"),
                keyColumn: formats.contains(where: { $0 == "csv" || $0 == "tsv" }) ? options.record.keyColumn : nil,
                keyField: formats.contains("jsonl") ? options.record.keyField : nil,
                delimiter: formats.contains(where: { $0 == "csv" || $0 == "tsv" })
                    ? options.record.delimiter.map { String(UnicodeScalar($0)) } ?? (formats.contains("tsv") ? "\t" : ",") : nil,
                duplicates: options.duplicates.rawValue, duplicatesDropped: dropped, badRecordsSkipped: bad.count,
                contentHash: hash.hex)
            let delimited = formats.contains(where: { $0 == "csv" || $0 == "tsv" })
            if delimited && options.record.keyColumns.count > 1 { metadata.keyColumns = options.record.keyColumns }
            if normalizer.form.parts > 1 { metadata.keyParts = normalizer.form.parts }
            if options.keyForm.ignoreCase { metadata.ignoreCase = true }
            if options.keyForm.trim { metadata.trim = true }
            if delimited {
                metadata.columns = columnNames
                metadata.columnCount = columnCount
            }
            if options.duplicates == .all { metadata.values = merged.values }
            if options.match != .exact {
                metadata.match = options.match
                metadata.keyType = options.keyType
                metadata.overlaps = options.narrowest || options.match == .prefix ? "narrowest" : "error"
                metadata.ranges = merged.values
                metadata.keyParts = nil
            }
            if var layer {
                layer.contentHash = TableMetadata.layeredContentHash(base: layer.baseContentHash, changes: metadata.contentHash)
                metadata.layer = layer
            }
            metadata.compactedFrom = compactedFrom
            if let inherited = inheritedDescription { metadata.describe(as: inherited) }
            let encoded = try metadata.encoded()
            sorter.releaseMemory()
            // The index is built in LMDB's own buffer for the value, in memory until the commit.
            let indexSize = KeyIndex.storedSize(forKeys: written)
            // A range table is read by seeks: no hash index.
            let withIndex = indexDB != nil && written > 0 && indexSize <= options.memoryBudget && options.match == .exact
            try growMapIfNeeded(env, headroom: encoded.count * 2 + (withIndex ? indexSize * 2 : 0) + (1 << 20))
            try env.write { txn in
                try txn.put(meta, TableLayout.metadataKey, encoded)
                if let indexDB, let layerFilter { try txn.put(indexDB, LayerFilter.storedKey, layerFilter) }
                if let indexDB, withIndex {
                    let stored = try txn.reserve(indexDB, TableLayout.indexKey, count: indexSize)
                    // Records whose nodes do not look as expected: no index (lookups use the B+tree).
                    if try !KeyIndex.write(into: stored, records: written, data: data, transaction: txn) {
                        try txn.delete(indexDB, TableLayout.indexKey)
                    }
                }
            }
            try env.sync(force: true)
            let fd = try env.fileDescriptor()
            var st = stat()
            fstat(fd, &st)
            return (Int(st.st_size), runs, metadata)
        } catch let error as LMDBError {
            // LMDB reports a short write (a full disk) as EIO: say what really happened.
            if error.code == EIO && diskIsFull() {
                throw LookupError(.diskFull, path: destination, "disk full while writing the table (no space left in \(directory)); the old table is unchanged")
            }
            throw LookupError(error, path: destination)
        }
    }

    /// The merging thread's work: takes the sorted records from the sorter, applies the
    /// duplicate policy, hashes what is kept and hands it to `pipe` in chunks. Ends the pipe
    /// (with the error, if one stopped it).
    fileprivate func merge(into pipe: RecordPipe, outcome: MergeOutcome) {
        if options.match != .exact {
            mergeRanges(into: pipe, outcome: outcome)
            return
        }
        if options.duplicates == .all {
            mergeAll(into: pipe, outcome: outcome)
            return
        }
        var merged = MergedRecords(pipe: pipe)
        var dropped = 0
        // The last record of the chunk is pending until the next key shows it is not a
        // duplicate; a chunk is handed over only after its last record is settled.
        var pending = -1
        var pendingSequence: UInt64 = 0
        let policy = options.duplicates
        do {
            while true {
                let next = try sorter.next()
                if let r = next, pending >= 0, compareKeys(merged.record(at: pending).key, r.key) == 0 {
                    switch policy {
                    case .error:
                        let key = String(decoding: r.key.prefix(80), as: UTF8.self)
                        let here = origin(r.sequence), first = origin(pendingSequence)
                        throw LookupError(.duplicateKey, path: here.name, line: here.line,
                                          "duplicate key \"\(key)\" (first at \(first.name):\(first.line)); use --duplicates first|last to keep one")
                    case .first:
                        dropped += 1
                    case .last:
                        dropped += 1
                        merged.truncate(to: pending)
                        _ = merged.appendPending(key: r.key, value: r.value)
                        pendingSequence = r.sequence
                    case .all:
                        preconditionFailure("--duplicates all is merged by mergeAll")
                    }
                    continue
                }
                if pending >= 0 { guard merged.settle(at: pending) else { return } }
                guard let r = next else { break }
                pending = merged.appendPending(key: r.key, value: r.value)
                pendingSequence = r.sequence
            }
            guard merged.flush() else { return }
            outcome.written = merged.written
            outcome.dropped = dropped
            outcome.hash = merged.hash
            pipe.finish()
        } catch {
            pipe.finish(error: error)
        }
    }

    /// `merge` for `--duplicates all`: each key's values, in input order (the sorter orders
    /// equal keys by their sequence), become one record holding a `ValueList`.
    private func mergeAll(into pipe: RecordPipe, outcome: MergeOutcome) {
        var merged = MergedRecords(pipe: pipe)
        var values = 0
        let key = ByteScratch(capacity: 1024), list = ByteScratch()
        var open = false
        do {
            while let r = try sorter.next() {
                values += 1
                if open && compareKeys(key.bytes, r.key) == 0 {
                    ValueList.append(r.value, to: list)
                    continue
                }
                if open { guard merged.add(key: key.bytes, value: list.bytes) else { return } }
                key.removeAll()
                key.append(r.key)
                list.removeAll()
                ValueList.append(r.value, to: list)
                open = true
            }
            if open { guard merged.add(key: key.bytes, value: list.bytes) else { return } }
            guard merged.flush() else { return }
            outcome.written = merged.written
            outcome.values = values
            outcome.hash = merged.hash
            pipe.finish()
        } catch {
            pipe.finish(error: error)
        }
    }

    /// `merge` for a range table: the ranges, in order of their starts, become disjoint
    /// segments (`RangeFlattener`); overlaps are refused naming both lines.
    private func mergeRanges(into pipe: RecordPipe, outcome: MergeOutcome) {
        var merged = MergedRecords(pipe: pipe)
        var ranges = 0
        let stored = ByteScratch()
        var flattener = RangeFlattener(nesting: options.narrowest || options.match == .prefix)
        var stopped = false
        func emit(_ start: UnsafeRawBufferPointer, _ end: UnsafeRawBufferPointer?, _ value: UnsafeRawBufferPointer) throws {
            if stopped { return }
            RangeRecord.encode(end: end, value: value, into: stored)
            if !merged.add(key: start, value: stored.bytes) { stopped = true }
        }
        do {
            do {
                while let r = try sorter.next() {
                    ranges += 1
                    guard let segment = RangeRecord.decode(r.value) else { continue }
                    try flattener.add(RangeFlattener.Range(start: Array(r.key), end: segment.end.map { Array($0) },
                                                           value: Array(segment.value), sequence: r.sequence), emit: emit)
                    if stopped { return }
                }
                try flattener.finish(emit: emit)
            } catch let conflict as RangeFlattener.Conflict {
                throw overlapError(conflict)
            }
            if stopped { return }
            guard merged.flush() else { return }
            outcome.written = merged.written
            outcome.values = ranges
            outcome.hash = merged.hash
            pipe.finish()
        } catch {
            pipe.finish(error: error)
        }
    }

    /// The error for two ranges that cannot both be in the table, naming both lines.
    private func overlapError(_ conflict: RangeFlattener.Conflict) -> LookupError {
        let type = options.keyType
        func describe(_ r: RangeFlattener.Range) -> String {
            RangeKeys.describeRange(start: r.start, end: r.end, type: type)
        }
        let here = origin(conflict.second.sequence), first = origin(conflict.first.sequence)
        let what = options.match == .cidr ? "networks" : options.match == .prefix ? "prefixes" : "ranges"
        let message: String
        if conflict.same {
            message = "the same \(what.dropLast()) as \(first.name):\(first.line), \(describe(conflict.second))"
        } else if conflict.crossing {
            message = "\(what) overlap without one holding the other: \(describe(conflict.second)) and \(describe(conflict.first)) at \(first.name):\(first.line)"
        } else {
            message = "\(what) overlap: \(describe(conflict.second)) lies in \(describe(conflict.first)) at \(first.name):\(first.line); use --overlaps narrowest to let the narrowest win"
        }
        return LookupError(.badRecord, path: here.name, line: here.line, message)
    }

    /// Whether the destination's filesystem has (almost) no space left.
    private func diskIsFull() -> Bool {
        var fs = statvfs()
        guard statvfs(directory, &fs) == 0 else { return false }
        return UInt64(fs.f_bavail) * UInt64(fs.f_frsize) < 16 << 20
    }

    /// The map starts at this size and grows in steps of at least this much.
    static let mapGrowth = 64 << 20

    /// Grows the map (between transactions) so the next one has `headroom` bytes to write
    /// into. Growing in steps keeps the map size stored in the file (which every reader
    /// adopts) close to the file's size.
    private func growMapIfNeeded(_ env: Environment, headroom: Int) throws(LMDBError) {
        let info = try env.info()
        let used = (info.lastPageNumber + 1) * Int(sysconf(Int32(_SC_PAGESIZE)))
        if used + headroom > info.mapSize {
            let wanted = used + headroom + max(used / 4, Self.mapGrowth)
            try env.setMapSize((wanted + Self.mapGrowth - 1) / Self.mapGrowth * Self.mapGrowth)
        }
    }

    /// Builds a table from `inputs` and publishes it at `destination` in one call.
    @discardableResult
    public static func build(inputs: [String], to destination: String, options: BuildOptions = BuildOptions()) throws -> BuildReport {
        let builder = try TableBuilder(destination: destination, options: options)
        for input in inputs { try builder.addInput(input) }
        return try builder.publish()
    }
}
