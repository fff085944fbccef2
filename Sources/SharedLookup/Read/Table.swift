// Table: the read side of a lookup table. Opens a table file read-only (after checking it is a
// whole LMDB file), looks keys up (owned copies, zero-copy closures, batches through the key index),
// scans prefixes and ranges, and reports stats and metadata.
import LMDB
import Synchronization

/// How a table is opened.
public struct TableOptions: Sendable, Hashable {
    /// Use LMDB's lock file (`TABLE-lock`). Off by default: a published table is never written
    /// in place (builds replace it by rename), so readers need no lock table; this also works
    /// on read-only filesystems and leaves no reader slots behind when workers are killed.
    /// Turn it on only for a file that another program updates in place.
    public var useLockFile: Bool
    /// Turn off OS read-ahead (`MDB_NORDAHEAD`): better for random reads of a table larger
    /// than RAM, worse for scans of a cached one. The larger-than-memory regime turns it off
    /// by itself.
    public var noReadAhead: Bool
    /// How to read the table; `nil` (the default) chooses from its size and the memory this
    /// process may use (see `MemoryRegime`).
    public var regime: MemoryRegime.Kind?
    /// Reader slots with a lock file (`mdb_env_set_maxreaders`); LMDB's default is 126.
    public var maxReaders: Int

    /// Creates options; see each property.
    public init(useLockFile: Bool = false, noReadAhead: Bool = false, maxReaders: Int = 4096, regime: MemoryRegime.Kind? = nil) {
        self.useLockFile = useLockFile
        self.noReadAhead = noReadAhead
        self.regime = regime
        self.maxReaders = maxReaders
    }
}

/// The names of the databases inside a table file.
enum TableLayout {
    /// Records live in this named database.
    static let dataDatabase = "data"
    /// Metadata lives in this named database, under `metadataKey`.
    static let metaDatabase = "meta"
    /// The key of the metadata JSON in the meta database.
    static let metadataKey = "metadata"
    /// The key index lives in this named database, under `indexKey`.
    static let indexDatabase = "index"
    /// The key of the hash index in the index database.
    static let indexKey = "hash"
}

/// Statistics of a table: its B+tree, its file, its map and its metadata.
public struct TableStats: Sendable, Codable, Equatable {
    /// The table's path.
    public var path: String
    /// Number of records.
    public var entries: Int
    /// Size of the file in bytes.
    public var fileSize: Int
    /// Depth of the B+tree.
    public var depth: Int
    /// Page size in bytes.
    public var pageSize: Int
    /// Branch, leaf and overflow pages of the records' tree.
    public var branchPages: Int, leafPages: Int, overflowPages: Int
    /// Pages in use in the whole file.
    public var pagesInUse: Int
    /// The map size stored in the file.
    public var mapSize: Int
    /// Reader slots in use and available; `nil` when opened without a lock file.
    public var readersInUse: Int?, maxReaders: Int?
    /// The table's metadata; `nil` for a plain LMDB file not built by `lookup`.
    public var metadata: TableMetadata?
    /// Size in bytes of the key index (0 when the table has none).
    public var keyIndexSize: Int = 0
    /// How this process reads the table, and why.
    public var regime: String = ""
    /// An updated table's files: its base, then its change layer (`nil` for a table as built).
    public var layers: [TableLayerStats]?
}

/// One file of an updated table (`TableStats.layers`).
public struct TableLayerStats: Sendable, Codable, Equatable {
    /// "base" or "changes".
    public var role: String
    /// The file.
    public var path: String
    /// Its records (a change layer's: upserts and deletion marks).
    public var records: Int
    /// Of a change layer's records, the deletion marks.
    public var deletionMarks: Int?
    /// Its size in bytes.
    public var fileSize: Int
}

/// A lookup table opened read-only.
///
/// Open it in each process that uses it, after that process starts: a handle used in a forked
/// child throws `LookupError` of kind `.usedAfterFork`. The table is safe to share between
/// threads. Bytes handed to closures point into the shared memory map and are valid only
/// during the call.
public final class Table: @unchecked Sendable {
    /// The path the table was opened from.
    public let path: String
    /// The LMDB environment underneath.
    public let environment: Environment
    /// The database holding the records.
    public let database: Database
    /// The table's metadata, or `nil` for a plain LMDB file (records in its main database).
    /// A table of lookup's layout always has it (else it is refused as damaged). For a
    /// table updated in place of a rebuild (`TableUpdater`), it describes the current
    /// contents: its base's, with the record count and content hash of base and changes, and
    /// `layer` telling the version.
    public let metadata: TableMetadata?
    /// The metadata stored in the file this table's environment reads (its base, for an
    /// updated table): what `verify` checks that file against.
    let fileMetadata: TableMetadata?
    /// An updated table's change layer (upserts and deletion marks over the base, consulted
    /// first; see ChangeLayer.swift), opened as a table file of its own; `nil` for a table as
    /// built.
    let changeLayer: Table?
    /// An updated table's base file (in the versions directory), whose records the
    /// environment reads; `nil` for a table as built.
    public let basePath: String?
    /// Size of the table file when opened (of its base, for an updated table).
    public let fileSize: Int
    /// How the table's keys are formed (parts, case folding, trimming), from its metadata.
    public let keyForm: KeyForm
    /// Whether a key has one value or a list of them (`--duplicates all`).
    public let valuesPerKey: ValuesPerKey
    /// The table's hash index, read from the map (`nil` for tables without one, or one that
    /// does not match the file). It points into the map, so it is valid only while this table
    /// is open: internal, never handed out where it could outlive the table (`TableStats`
    /// tells its size).
    let keyIndex: KeyIndex?
    /// A change layer's filter of its keys (`LayerFilter`), read from the map.
    let layerFilter: LayerFilter?

    /// What the file's meta pages said when it was opened (for `check`).
    let fileHeader: TableFileHeader
    /// How this process reads the table: chosen at open from its size and the memory
    /// available (see `MemoryRegime`).
    public let regime: MemoryRegime
    /// Page requests for the map (larger-than-memory regime), and whether the key index was
    /// made resident yet.
    let pages: PageRequests?
    private let indexMadeResident = Mutex(false)

    /// Opens the table at `path` read-only. Fails with a clear `LookupError` for a missing,
    /// foreign, truncated or damaged file (meta pages that LMDB would follow astray).
    public convenience init(path: String, options: TableOptions = TableOptions()) throws(LookupError) {
        try self.init(path: path, descriptor: nil, options: options)
    }

    /// Opens the file `descriptor` refers to when given, else `path`; `path` names the table
    /// in `self.path` and in errors either way (see TableDescriptorOpen.swift). A file that is
    /// the change layer of an updated table opens its base too (through `baseDescriptor` when
    /// given, else from the versions directory beside `path`), and checks it is the base the
    /// changes were made on.
    convenience init(path: String, descriptor: Int32?, baseDescriptor: Int32? = nil, options: TableOptions) throws(LookupError) {
        let file = try OpenedTableFile(path: path, descriptor: descriptor, options: options)
        guard let layer = file.metadata?.layer else {
            self.init(file: file, path: path, changes: nil, basePath: nil, metadata: file.metadata)
            return
        }
        let changes = Table(file: file, path: path, changes: nil, basePath: nil, metadata: file.metadata)
        let basePath = TableVersions(table: path).path(of: layer.base)
        let base: OpenedTableFile
        do {
            base = try OpenedTableFile(path: basePath, descriptor: baseDescriptor, options: options)
        } catch {
            throw LookupError(.io, path: path, "is an updated table whose base \(basePath) cannot be opened (\(error.message)); an updated table reads its versions directory beside it: copy or ship it with it, or run lookup compact first")
        }
        guard let baseMetadata = base.metadata, baseMetadata.layer == nil, baseMetadata.contentHash == layer.baseContentHash else {
            throw LookupError.damaged(path, "its base \(basePath) is not the table its changes were made on (content hash \(base.metadata?.contentHash ?? "none"), expected \(layer.baseContentHash))")
        }
        self.init(file: base, path: path, changes: changes, basePath: basePath,
                  metadata: baseMetadata.updated(by: layer, changes: file.metadata))
    }

    private init(file: OpenedTableFile, path: String, changes: Table?, basePath: String?, metadata: TableMetadata?) {
        self.path = path
        self.environment = file.environment
        self.database = file.database
        self.fileMetadata = file.metadata
        self.metadata = metadata
        self.fileSize = file.fileSize
        self.keyIndex = file.keyIndex
        self.layerFilter = file.layerFilter
        self.fileHeader = file.fileHeader
        self.regime = file.regime
        self.pages = file.pages
        self.changeLayer = changes
        self.basePath = basePath
        keyForm = metadata?.keyForm ?? KeyForm()
        valuesPerKey = metadata?.valuesPerKey ?? .one
    }

    /// Why a file whose main database does not find "data" is not to be read as a plain LMDB
    /// file: its main database holds only named databases (as a table of lookup's does),
    /// but none LMDB finds as "data": the main database's flags or its page are damaged, or it
    /// is another program's multi-database file. `nil` for a plain file of records.
    fileprivate static func damagedLayout(_ txn: borrowing Transaction, _ main: Database) throws -> String? {
        let stat = try txn.stat(main)
        guard stat.entries > 0, stat.entries <= 3 else { return nil }
        let keys = try txn.withCursor(main) { cursor in
            var keys: [String] = []
            while let entry = try cursor.next() { keys.append(String(decoding: entry.key, as: UTF8.self)) }
            return keys
        }
        // A named database opens; a plain record does not (MDB_INCOMPATIBLE).
        guard keys.allSatisfy({ (try? txn.openDatabase($0)) != nil }) else { return nil }
        return "its main database holds only the named databases \(keys), none that can be read as \"\(TableLayout.dataDatabase)\""
    }

    /// Runs `body` with a reader: one read transaction for many lookups (the fast way).
    public func read<R>(_ body: (borrowing TableReader) throws -> R) throws -> R {
        do {
            guard let changeLayer else {
                return try environment.read { txn in
                    try body(TableReader(view: ReadView(txn, database: database), table: self))
                }
            }
            // An updated table: the base and its change layer, each in a read transaction.
            return try environment.read { txn in
                try changeLayer.environment.read { changes in
                    try body(TableReader(view: ReadView(txn, database: database), table: self,
                                         changes: ReadView(changes, database: changeLayer.database)))
                }
            }
        } catch let error as LMDBError {
            throw LookupError(error, path: path)
        }
    }

    /// `key` as the table stores it: case folded and trimmed when the table was built so
    /// (`keyForm`). The lookups of `Table`, `TableReader.withValue` and `lookupBatch` apply it
    /// themselves; `TableReader.value(for:)` and `KeyBatch` take keys in this form.
    public func storedKey<K: LMDBBytes>(_ key: K) -> [UInt8] {
        key.withLMDBBytes { bytes in
            guard keyForm.normalizes || (matchKind != .exact && metadata?.keyType != .text) else { return Array(bytes) }
            // The stored bytes may live in the former's buffers: keep it alive until they are
            // copied. A key not of a range table's type (not an address...) matches nothing.
            let former = keyNormalizer()
            return withExtendedLifetime(former) { former.stored(bytes).map { Array($0) } ?? [] }
        }
    }

    /// Whether keys as given differ from keys as stored: composite, folded or trimmed keys, or
    /// a range table of addresses or integers.
    public var formsKeys: Bool {
        keyForm.parts > 1 || keyForm.normalizes || (matchKind != .exact && metadata?.keyType != .text)
    }

    /// How lookups match (exactly, or by range, network or prefix).
    public var matchKind: MatchKind { metadata?.matchKind ?? .exact }

    /// A key former for this table (one per thread): see `KeyNormalizer.stored`.
    public func keyNormalizer() -> KeyNormalizer {
        KeyNormalizer(form: keyForm, rangeKeyType: matchKind == .exact ? nil : metadata?.keyType)
    }

    /// `key` as typed by a person (`get KEY`, `serve`): a composite key's parts joined by
    /// tabs are joined by 0x1F, then `storedKey` applies.
    public func storedKey(typed key: [UInt8]) -> [UInt8] {
        storedKey(keyForm.keyBytes(fromTyped: key))
    }

    /// The value for `key` as owned bytes, or `nil`. For a one-to-many table, its first value
    /// (see `allValues(for:)`).
    public func value<K: LMDBBytes>(for key: K) throws -> [UInt8]? {
        try withValue(for: key) { $0.map { Array($0) } }
    }

    /// The value for `key` as a String (UTF-8, invalid bytes repaired), or `nil`. For a
    /// one-to-many table, its first value.
    public func string(for key: String) throws -> String? {
        try withValue(for: key) { $0.map { String(decoding: $0, as: UTF8.self) } }
    }

    /// Every value of `key` in input order: one for most tables, all of them for a
    /// one-to-many table (`--duplicates all`); empty when the key is missing.
    public func allValues<K: LMDBBytes>(for key: K) throws -> [[UInt8]] {
        try read { reader in
            try reader.withValue(for: key) { stored in
                var values: [[UInt8]] = []
                if let stored { forEachValue(stored, valuesPerKey) { values.append(Array($0)) } }
                return values
            }
        }
    }

    /// Calls `body` with the value for `key` (or `nil`) without copying it. For a one-to-many
    /// table, its first value.
    public func withValue<K: LMDBBytes, R>(for key: K, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        try read { reader in
            try reader.withValue(for: key) { stored in
                guard let stored, valuesPerKey == .many else { return try body(stored) }
                var first: UnsafeRawBufferPointer?
                for value in ValueList(stored) { first = value; break }
                return try body(first)
            }
        }
    }

    /// Whether `key` is in the table.
    public func contains<K: LMDBBytes>(_ key: K) throws -> Bool {
        try read { reader in try reader.withValue(for: key) { $0 != nil } }
    }

    /// The values for many keys, in the order of `keys` (`nil` where missing). Looks them up
    /// together (`KeyBatch`: through the key index with prefetches, or in key order with one
    /// cursor for a table without one), much faster than one lookup per key. For a
    /// one-to-many table, each key's first value (see `allValues(for keys:)`).
    public func values<K: LMDBBytes>(for keys: [K]) throws -> [[UInt8]?] {
        try allValues(for: keys).map { $0.isEmpty ? nil : $0[0] }
    }

    /// Every value of each key of `keys` (see `allValues(for:)`), looked up together, in the
    /// order of `keys`.
    public func allValues<K: LMDBBytes>(for keys: [K]) throws -> [[[UInt8]]] {
        var result = [[[UInt8]]](repeating: [], count: keys.count)
        try read { reader in
            try reader.lookupBatch(keys) { index, stored in
                if let stored { forEachValue(stored, valuesPerKey) { result[index].append(Array($0)) } }
            }
        }
        return result
    }

    /// Calls `body` for each record whose key starts with `prefix`, in key order; `body`
    /// returns `false` to stop. Returns the number of records visited.
    @discardableResult
    public func scan<K: LMDBBytes>(prefix: K, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws -> Int {
        try read { reader in try reader.scan(prefix: prefix, body) }
    }

    /// Calls `body` for each record with `lower <= key < upper` (`nil`: unbounded), in key
    /// order; `body` returns `false` to stop. Returns the number of records visited.
    @discardableResult
    public func scan(from lower: [UInt8]? = nil, to upper: [UInt8]? = nil,
                     _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws -> Int {
        try read { reader in try reader.scan(from: lower, to: upper, body) }
    }

    /// Calls `body` for every record in key order until it returns `false`; returns the
    /// number visited and the content hash of what was read, to compare with the metadata's
    /// (see `TableReader.scanHashing`).
    public func scanHashing(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws -> (visited: Int, contentHash: String) {
        try read { reader in try reader.scanHashing(body) }
    }

    /// Number of records.
    public func count() throws -> Int {
        try read { reader in try reader.count() }
    }

    /// The table's statistics.
    public func stats() throws -> TableStats {
        let info: EnvironmentInfo
        do { info = try environment.info() } catch { throw LookupError(error, path: path) }
        let stat: DatabaseStat = try read { reader in try reader.stat() }
        let locked = !environment.flags.contains(.noLock)
        var stats = TableStats(
            path: path, entries: stat.entries, fileSize: fileSize, depth: stat.depth, pageSize: stat.pageSize,
            branchPages: stat.branchPages, leafPages: stat.leafPages, overflowPages: stat.overflowPages,
            pagesInUse: info.lastPageNumber + 1, mapSize: info.mapSize,
            readersInUse: locked ? info.readersInUse : nil, maxReaders: locked ? info.maxReaders : nil,
            metadata: metadata, keyIndexSize: keyIndex?.size ?? 0, regime: regimeDescription)
        if let changeLayer, let basePath, let layer = metadata?.layer {
            stats.entries = layer.records
            var marks = 0
            try changeLayer.read { reader in
                _ = try reader.scan(from: nil, to: nil) { _, stored in
                    if case .deleted = ChangeRecord.decode(stored) { marks += 1 }
                    return true
                }
            }
            stats.layers = [
                TableLayerStats(role: "base", path: basePath, records: stat.entries, fileSize: fileSize),
                TableLayerStats(role: "changes", path: changeLayer.path, records: try changeLayer.count(), deletionMarks: marks,
                                fileSize: changeLayer.fileSize),
            ]
        }
        return stats
    }

    /// The regime and what it does with the key index, for people.
    public var regimeDescription: String {
        guard regime.kind == .largerThanMemory, let keyIndex else { return regime.description }
        let resident = regime.keepsIndexResident(size: keyIndex.size)
        return regime.description + "; key index (\(humanSize(keyIndex.size))) "
            + (resident ? "kept resident" : "too large to keep resident") + "; batches request their pages ahead"
    }

    /// Readies the table for many lookups (batches, a server) in its regime. Larger than
    /// memory: reads the key index in with large reads and keeps it resident when it fits
    /// (locked where the process may lock memory), once per table; later calls return at once.
    /// Returns whether the index is kept resident.
    @discardableResult
    public func prepareForManyLookups() -> Bool {
        guard let pages, let keyIndex, regime.keepsIndexResident(size: keyIndex.size) else { return false }
        indexMadeResident.withLock { done in
            if !done { _ = pages.makeResident(offset: keyIndex.slots - pages.map, count: keyIndex.size) }
            done = true
        }
        return true
    }
}

/// One table file opened read-only: its environment, records' database, metadata and key
/// index, checked to be a whole LMDB file of lookup's layout (or a plain LMDB file).
struct OpenedTableFile {
    let environment: Environment
    let database: Database
    let metadata: TableMetadata?
    let keyIndex: KeyIndex?
    /// A change layer's filter of its keys.
    let layerFilter: LayerFilter?
    let fileHeader: TableFileHeader
    let fileSize: Int
    let regime: MemoryRegime
    let pages: PageRequests?

    /// Opens the file `descriptor` refers to when given, else `path` (which names it in errors).
    init(path: String, descriptor: Int32?, options: TableOptions) throws(LookupError) {
        let header = try TableFileHeader.read(path: path, fd: descriptor)
        let regime = options.regime.map { MemoryRegime(tableSize: header.fileSize, memory: MemoryLimit.current, override: $0) }
            ?? MemoryRegime.detect(tableSize: header.fileSize)
        self.regime = regime
        var flags: EnvironmentFlags = [.readOnly, .noSubdirectory, .noThreadLocalStorage]
        if !options.useLockFile { flags.insert(.noLock) }
        if options.noReadAhead || regime.kind == .largerThanMemory { flags.insert(.noReadAhead) }
        let env: Environment
        do {
            env = try Environment(path: descriptor.map(Table.reopeningPath) ?? path, options: EnvironmentOptions(
                flags: flags, mapSize: nil, maxReaders: options.maxReaders, maxDatabases: 4))
        } catch {
            throw LookupError(error, path: path)
        }
        // A failed LMDB assertion on a damaged page trips an armed fault guard (one line, exit 2).
        env.setAssertionHandler(TableFaultGuard.lmdbAssertion)
        // The file may have been replaced between the check and the open: check what LMDB
        // actually mapped, through its own descriptor, before any page is touched.
        do {
            let fd = try env.fileDescriptor()
            fileHeader = try TableFileHeader.read(path: path, fd: fd)
            self.fileSize = fileHeader.fileSize
        } catch let error as LookupError {
            throw error
        } catch {
            throw LookupError(.io, path: path, "\(error)")
        }
        self.environment = env
        pages = regime.kind == .largerThanMemory ? env.readBounds.map {
            PageRequests(map: UnsafeRawPointer(bitPattern: $0.start)!, size: Int($0.end - $0.start))
        } : nil
        do {
            let fileSize = self.fileSize
            (database, metadata, keyIndex, layerFilter) = try env.read { txn in
                let main = try txn.openDatabase()
                // A table built by `lookup` keeps records in "data" and metadata in "meta";
                // any other LMDB file is read from its main database.
                guard try txn.get(main, TableLayout.dataDatabase) != nil,
                      let data = try? txn.openDatabase(TableLayout.dataDatabase) else {
                    // A table of lookup's whose main database flags were damaged no longer
                    // finds its named databases: it must not pass for a plain LMDB file.
                    if let damage = try Table.damagedLayout(txn, main) { throw LookupError.damaged(path, damage) }
                    return (main, nil, nil, nil)
                }
                // lookup build creates every database with default flags: other flags make
                // LMDB compare keys another way, and lookups would silently miss.
                for (name, db) in [("main", main), (TableLayout.dataDatabase, data)] {
                    let flags = try txn.flags(of: db).rawValue
                    if flags != 0 { throw LookupError.damaged(path, "the \(name) database has flags \(flags); lookup build writes 0") }
                }
                // Every table of lookup's has its metadata (count, content hash): without it,
                // what the file holds cannot be told from what it should hold.
                let metadata: TableMetadata
                guard let meta = try? txn.openDatabase(TableLayout.metaDatabase),
                      let bytes = try txn.get(meta, TableLayout.metadataKey) else {
                    throw LookupError.damaged(path, "it has records but no metadata")
                }
                do { metadata = try TableMetadata.decode(bytes) } catch {
                    throw LookupError.damaged(path, "its metadata is not readable JSON")
                }
                var index: KeyIndex?
                var filter: LayerFilter?
                if metadata.layer != nil, try txn.get(main, TableLayout.indexDatabase) != nil,
                   let db = try? txn.openDatabase(TableLayout.indexDatabase),
                   let bytes = try txn.get(db, LayerFilter.storedKey) {
                    filter = LayerFilter(stored: bytes)
                }
                if try txn.get(main, TableLayout.indexDatabase) != nil,
                   let db = try? txn.openDatabase(TableLayout.indexDatabase),
                   let bytes = try txn.get(db, TableLayout.indexKey) {
                    // Use it only where it points at the records the B+tree has. Pages that
                    // cannot be read here mean no index, not a failed open: `check` reports them.
                    let ends = (try? txn.withCursor(data) { cursor in (try cursor.first()?.key, try cursor.last()?.key) }) ?? (nil, nil)
                    if let first = ends.0?.baseAddress,
                       let map = MapBounds.base(of: first, pageSize: try txn.stat(data).pageSize),
                       let candidate = KeyIndex(stored: bytes, map: map, fileSize: fileSize),
                       KeyIndex.agrees(bytes, map: map, transaction: txn.id, first: ends.0, last: ends.1) {
                        index = candidate
                    }
                }
                return (data, metadata, index, filter)
            }
        } catch let error as LMDBError {
            throw LookupError(error, path: path)
        } catch let error as LookupError {
            throw error
        } catch {
            throw LookupError(.notATable, path: path, "cannot read table: \(error)")
        }
    }
}
