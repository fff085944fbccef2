// TableUpdater: `lookup update` and `lookup compact`. An update reads upserts (with the
// build's own parsers and options, into a small sorted table of their own) and keys to
// delete, merges them with the current version's change layer into a new layer (cost: the
// size of the changes, not of the table), writes it as the next version file and publishes it
// by one rename (TableVersions). Nothing is published unless every change file was read
// whole: a bad line, a full disk or a kill leaves the current version as it was. A compaction
// writes the current version's records as a new base.
import Foundation
import LMDB

/// How an update reads its change files and keeps versions.
public struct UpdateOptions: Sendable {
    /// How upsert files are read (format, key columns, header, delimiter, duplicates...), as
    /// `lookup build` reads its inputs; `nil` fields of the table's own apply: its key
    /// columns, delimiter, key field and duplicate policy. Its key form is always the table's.
    public var record: RecordOptions?
    /// The input format of change files (`nil`: from each file's name).
    public var format: RecordFormat?
    /// The duplicate policy for upserts (`nil`: the table's).
    public var duplicates: DuplicatePolicy?
    /// Previous versions kept after publishing (`--keep`).
    public var keep: Int
    /// Wait for another writer of the table (else fail at once with one line).
    public var wait: Bool
    /// Sort memory for the upserts.
    public var memoryBudget: Int

    /// Creates options; see each property.
    public init(record: RecordOptions? = nil, format: RecordFormat? = nil, duplicates: DuplicatePolicy? = nil, keep: Int = 2,
                wait: Bool = true, memoryBudget: Int = BuildOptions.defaultMemoryBudget) {
        self.record = record
        self.format = format
        self.duplicates = duplicates
        self.keep = keep
        self.wait = wait
        self.memoryBudget = memoryBudget
    }
}

/// What an update or a compaction published.
public struct UpdateReport: Sendable {
    /// The version published.
    public var version: Int
    /// The version it was made from.
    public var madeFrom: Int
    /// Records of the new version.
    public var records: Int
    /// Keys given a value, of them new, and keys deleted (that were in the table).
    public var upserted: Int, inserted: Int, deleted: Int
    /// Changed keys in the new change layer (0 after a compaction).
    public var layerRecords: Int
}

/// Updates a table with upserts and deletes, publishing a new version atomically. Holds the
/// table's versions lock from creation until `publish()` or `discard()` (a second updater of
/// the same table waits). Add changes (`addUpserts`, `upsert`, `addDeletes`, `delete`), then
/// `publish()`. A key both upserted and deleted in one update is upserted (deletes apply first).
public final class TableUpdater {
    /// The table's path.
    public let table: String
    /// The options.
    public let options: UpdateOptions

    static let upsertsPrefix = ".upserts-"

    private let versions: TableVersions
    private var lock: TableVersions.Lock?
    private let current: Table
    private let currentNumber: Int
    private let upserts: TableBuilder
    private let upsertsPath: String
    private var deletes: [[UInt8]] = []
    private var sources: [String] = []
    private let normalizer: KeyNormalizer

    /// Prepares an update of `table`: takes its lock (calling `waiting` once if another writer
    /// holds it, then waiting), and opens the current version.
    public init(table: String, options: UpdateOptions = UpdateOptions(), waiting: () -> Void = {}) throws {
        self.table = table
        self.options = options
        (versions, lock, currentNumber, current) = try Self.startWriting(table, wait: options.wait, waiting: waiting)
        let metadata = current.metadata!
        normalizer = current.keyNormalizer()
        let record = options.record ?? Self.recordOptions(for: metadata)
        if record.keyColumns.count != current.keyForm.parts && metadata.format != "jsonl" {
            throw LookupError(.usage, path: table, "the table's keys have \(current.keyForm.parts) part\(current.keyForm.parts == 1 ? "" : "s"); -k \(record.keyColumns.map(String.init).joined(separator: ",")) gives \(record.keyColumns.count)")
        }
        var build = BuildOptions(format: options.format, record: record,
                                 duplicates: options.duplicates ?? DuplicatePolicy(rawValue: metadata.duplicates) ?? .error,
                                 memoryBudget: options.memoryBudget)
        build.keyForm = current.keyForm
        build.keyIndex = false
        upsertsPath = versions.path(of: "\(Self.upsertsPrefix)\(getpid())-u.lmdb")
        Self.removeStaleFiles(in: versions.directory)
        upserts = try TableBuilder(destination: upsertsPath, options: build)
    }

    deinit { discard() }

    /// What a writer of `table` starts with, in this order: its versions (a version file is
    /// refused), a check that lookup can update it (before anything is written beside it),
    /// the versions lock, the current version's number (recorded if new), and the table
    /// opened again under the lock: the version the writer applies to.
    private static func startWriting(_ table: String, wait: Bool, waiting: () -> Void) throws
        -> (versions: TableVersions, lock: TableVersions.Lock, number: Int, current: Table) {
        let versions = try TableVersions.forWriting(table: table)
        try checkUpdatable(try Table(path: table))
        let lock = try versions.lock(wait: wait, waiting: waiting)
        let number = try versions.recordCurrent()
        let current = try Table(path: table)
        try checkUpdatable(current)
        return (versions, lock, number, current)
    }

    /// How change files are read by default: as the table's inputs were (its key columns, key
    /// field, and its delimiter when it was not its format's own); no header.
    public static func recordOptions(for metadata: TableMetadata) -> RecordOptions {
        var record = RecordOptions(delimiter: metadata.customDelimiter)
        record.keyColumns = metadata.keyColumnList
        if let field = metadata.keyField { record.keyField = field }
        return record
    }

    /// Removes what killed updates left in the versions directory: their upserts tables
    /// and those tables' unfinished builds.
    static func removeStaleFiles(in directory: String) {
        TemporaryFiles.removeStale(in: directory, prefix: upsertsPrefix)
        TemporaryFiles.removeStale(in: directory, prefix: "." + upsertsPrefix)
    }

    /// Ends the update without publishing: removes its temp files, releases the lock.
    public func discard() {
        upserts.discard()
        unlink(upsertsPath)
        lock = nil
    }

    private static func checkUpdatable(_ table: Table) throws {
        guard let metadata = table.metadata else {
            throw LookupError(.usage, path: table.path, "is a plain LMDB file, not a table built by lookup build; only lookup's tables can be updated")
        }
        if metadata.matchKind != .exact {
            throw LookupError(.usage, path: table.path, "is a \(metadata.matchKind.rawValue) table; updating range, network and prefix tables is not supported: rebuild it with lookup build")
        }
    }

    /// Reads upserts from `path` ("-": standard input), as `lookup build` reads an input.
    public func addUpserts(from path: String, format: RecordFormat? = nil) throws {
        try upserts.addInput(path, format: format)
        sources.append(path)
    }

    /// Upserts one record from code: `key` as `TableBuilder.add` takes it (a composite key's
    /// parts joined by `KeyForm.partSeparator`), folded and trimmed as the table's keys are.
    public func upsert<K: LMDBBytes, V: LMDBBytes>(key: K, value: V) throws {
        try upserts.add(key: key, value: value)
        if sources.last != "api" { sources.append("api") }
    }

    /// Deletes one key from code (given as for `upsert`). A key the table lacks is ignored.
    public func delete<K: LMDBBytes>(key: K) throws {
        let stored = key.withLMDBBytes { Array(normalizer.normalize($0)) }
        if stored.isEmpty { throw LookupError(.badRecord, path: "api", line: deletes.count + 1, "empty key") }
        deletes.append(stored)
        if sources.last != "api" { sources.append("api") }
    }

    /// Reads keys to delete from `path` ("-": standard input): the key column(s) of a CSV or
    /// TSV file (or the key field of JSON Lines), else one key per line (a composite key's parts
    /// joined by a tab). An empty key is a bad line naming the file and line.
    public func addDeletes(from path: String, format: RecordFormat? = nil) throws {
        let record = upserts.options.record
        let kind = format ?? options.format ?? RecordFormat.infer(fromPath: path)
        let input = try InputReader(path: path, maxLineLength: upserts.options.maxLineLength)
        let name = path == "-" ? "<stdin>" : path
        var extractor: KeyExtractor?
        var json: JSONKeyReader?
        switch kind {
        case .csv?, .tsv?:
            let delimiter = record.delimiter ?? (kind == .tsv ? 9 : UInt8(ascii: ","))
            extractor = KeyExtractor(columns: record.keyColumns, delimiter: delimiter, quoting: kind == .csv)
        case .jsonl?:
            json = try JSONKeyReader(paths: [record.keyField])
        default:
            break
        }
        var line = 0
        while let text = try input.nextLine() {
            line += 1
            if line == 1 && record.header && (extractor != nil || json != nil) { continue }
            var content = text
            if content.last == 0x0D { content = UnsafeRawBufferPointer(rebasing: content.dropLast()) }
            var key: [UInt8]
            if let extractor {
                switch extractor.key(in: content) {
                case .key(let k): key = Array(k)
                case .missingColumn(let columns):
                    throw LookupError(.badRecord, path: name, line: line,
                                      KeyExtractor.missingColumnMessage(columns: columns, keyColumns: record.keyColumns))
                case .badQuoting(let why): throw LookupError(.badRecord, path: name, line: line, why)
                }
            } else if let json {
                switch json.key(in: content) {
                case .key(let k): key = Array(k)
                case .bad(let why): throw LookupError(.badRecord, path: name, line: line, why)
                }
            } else {
                key = current.keyForm.keyBytes(fromTyped: Array(content))
                let parts = key.reduce(1) { $0 + ($1 == KeyForm.partSeparator ? 1 : 0) }
                if parts != current.keyForm.parts {
                    throw LookupError(.badRecord, path: name, line: line, "the key has \(parts) part\(parts == 1 ? "" : "s"); the table's keys have \(current.keyForm.parts), joined by a tab")
                }
            }
            key = key.withUnsafeBytes { Array(normalizer.normalize($0)) }
            if key.isEmpty || key.withUnsafeBytes({ KeyForm.isBlank($0, parts: current.keyForm.parts) }) {
                throw LookupError(.badRecord, path: name, line: line, "empty key")
            }
            if key.count > lmdbMaxKeySize {
                throw LookupError(.badRecord, path: name, line: line, "key is \(key.count) bytes; LMDB keys are at most \(lmdbMaxKeySize) bytes")
            }
            deletes.append(key)
        }
        sources.append(path)
    }

    /// One changed key of this update: its new value, or deleted.
    private struct Change {
        var key: [UInt8]
        var value: [UInt8]?
    }

    /// Merges the changes with the current version's into the next version's change layer,
    /// writes it, publishes it atomically and prunes old versions; returns what it did.
    @discardableResult
    public func publish() throws -> UpdateReport {
        defer { discard() }
        // The upserts, sorted and resolved as a build resolves duplicates.
        try upserts.publish()
        let upserted = try Table(path: upsertsPath)
        // Deletes first, then upserts: a key in both keeps its upsert. Both in key order,
        // merged into one list of changes.
        deletes.sort { compareKeys($0, $1) < 0 }
        var changes: [Change] = []
        changes.reserveCapacity(deletes.count + upserts.recordsAdded)
        var d = 0
        func takeDeletes(before key: UnsafeRawBufferPointer?) {
            while d < deletes.count {
                let order = key.map { k in deletes[d].withUnsafeBytes { compareKeys($0, k) } } ?? -1
                if order > 0 { break }
                if order < 0 && changes.last?.key != deletes[d] { changes.append(Change(key: deletes[d], value: nil)) }
                d += 1
            }
        }
        try upserted.read { reader in
            _ = try reader.scan(from: nil, to: nil) { key, value in
                takeDeletes(before: key)
                changes.append(Change(key: Array(key), value: Array(value)))
                return true
            }
        }
        takeDeletes(before: nil)
        unlink(upsertsPath)

        let number = versions.nextNumber()
        let name = TableVersions.fileName(version: number)
        let baseName: String
        let baseHash: String
        if let layer = current.metadata?.layer {
            baseName = layer.base
            baseHash = layer.baseContentHash
        } else {
            baseName = TableVersions.fileName(version: currentNumber)
            baseHash = current.metadata!.contentHash
        }
        var layerOptions = BuildOptions(duplicates: .error, memoryBudget: options.memoryBudget)
        layerOptions.keyIndex = true
        let layer = try TableBuilder(destination: versions.path(of: name), options: layerOptions)
        var records = current.metadata!.records
        var inserted = 0, deleted = 0, upsertCount = 0
        var hashes: [UInt64] = []
        func addToLayer(_ key: [UInt8], _ stored: [UInt8]) throws {
            try layer.add(key: key, value: stored)
            hashes.append(key.withUnsafeBytes { KeyIndex.hash($0) })
        }
        try current.read { reader in
            // The current layer's changes, merged in key order with this update's.
            var previous: [(key: [UInt8], stored: [UInt8])] = []
            if let changeLayer = current.changeLayer {
                try changeLayer.read { r in
                    _ = try r.scan(from: nil, to: nil) { key, stored in
                        previous.append((Array(key), Array(stored)))
                        return true
                    }
                }
            }
            var p = 0
            func carry(upTo key: [UInt8]?) throws {
                while p < previous.count, key.map({ compareKeys(previous[p].key, $0) < 0 }) ?? true {
                    try addToLayer(previous[p].key, previous[p].stored)
                    p += 1
                }
            }
            for change in changes {
                try carry(upTo: change.key)
                // The previous layer's record of the key, if any, says whether it exists now;
                // else the base does.
                var prior: [UInt8]?
                if p < previous.count, previous[p].key == change.key {
                    prior = previous[p].stored
                    p += 1
                }
                let existed: Bool
                if let prior {
                    existed = prior.first == ChangeRecord.upsertTag
                } else {
                    existed = try change.key.withUnsafeBytes { try reader.fileValue(for: $0) != nil }
                }
                if let value = change.value {
                    upsertCount += 1
                    if !existed { inserted += 1; records += 1 }
                    try addToLayer(change.key, value.withUnsafeBytes { ChangeRecord.upsert($0) })
                } else {
                    if existed { deleted += 1; records -= 1 }
                    // A deletion mark hides the base's record; a key the base lacks needs none.
                    // (Without a previous record, whether it existed is whether the base has it.)
                    let inBase = prior == nil ? existed : try change.key.withUnsafeBytes { try reader.fileValue(for: $0) != nil }
                    if inBase { try addToLayer(change.key, ChangeRecord.deletion) }
                }
            }
            try carry(upTo: nil)
        }
        let layerRecords = layer.recordsAdded
        layer.layer = LayerInfo(version: number, madeFrom: currentNumber, base: baseName, baseContentHash: baseHash,
                                records: records, contentHash: "", upserted: upsertCount, inserted: inserted, deleted: deleted,
                                changeSources: sources, layerRecords: layerRecords)
        layer.layerFilter = LayerFilter.stored(hashes: hashes)
        try layer.publish()
        try versions.publish(name, replacing: currentNumber)
        versions.prune(keep: options.keep)
        return UpdateReport(version: number, madeFrom: currentNumber, records: records, upserted: upsertCount,
                            inserted: inserted, deleted: deleted, layerRecords: layerRecords)
    }

    /// Folds the current version of `table` (base and changes) into a new base, published as
    /// the next version; returns it (`nil` when the table has no changes to fold).
    @discardableResult
    public static func compact(table: String, keep: Int = 2, wait: Bool = true, waiting: () -> Void = {}) throws -> UpdateReport? {
        let (versions, lock, currentNumber, current) = try startWriting(table, wait: wait, waiting: waiting)
        defer { withExtendedLifetime(lock) {} }
        guard let metadata = current.metadata, metadata.layer != nil else { return nil }
        let number = versions.nextNumber()
        let name = TableVersions.fileName(version: number)
        var build = BuildOptions(duplicates: DuplicatePolicy(rawValue: metadata.duplicates) ?? .error)
        build.keyIndex = true
        let builder = try TableBuilder(destination: versions.path(of: name), options: build)
        builder.inheritedDescription = metadata
        builder.compactedFrom = currentNumber
        let many = current.valuesPerKey == .many
        try current.read { reader in
            _ = try reader.scan(from: nil, to: nil) { key, value in
                if many {
                    for one in ValueList(value) { try builder.add(key: key, value: one) }
                } else {
                    try builder.add(key: key, value: value)
                }
                return true
            }
        }
        let report = try builder.publish()
        try versions.publish(name, replacing: currentNumber)
        versions.prune(keep: keep)
        return UpdateReport(version: number, madeFrom: currentNumber, records: report.records, upserted: 0, inserted: 0,
                            deleted: 0, layerRecords: 0)
    }
}
