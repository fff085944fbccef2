// TableCheck: walks a whole table and verifies it against its metadata: every page readable,
// keys strictly ascending and of legal size, every record found through the key index,
// record count and content hash as recorded.
import LMDB

/// The result of `Table.verify()`.
public struct TableCheckReport: Sendable, Codable {
    /// Records walked.
    public var records: Int
    /// Bytes of keys and values walked.
    public var bytes: Int
    /// The content hash recomputed from the records.
    public var contentHash: String
    /// Problems found; empty when the table is sound.
    public var problems: [String]
    /// Whether the table passed.
    public var ok: Bool { problems.isEmpty }
}

extension Table {
    /// Reads every record in key order and compares what it finds with the metadata. An
    /// updated table's base and change layer are each checked so, and its current contents
    /// (base and changes merged) against the version's record count and content hash.
    public func verify() throws -> TableCheckReport {
        let report = try verifyFile()
        guard let changeLayer else { return report }
        return try verifyLayered(base: report, changes: try changeLayer.verifyFile())
    }

    /// Checks the file the environment reads (an updated table's base) against its own metadata.
    func verifyFile() throws -> TableCheckReport {
        var problems: [String] = []
        var records = 0
        var bytes = 0
        var hash = ContentHash()
        var previous: [UInt8] = []
        var outOfOrder = 0, badKeys = 0, indexMisses = 0, misrouted = 0
        // A one-to-many table: every value is a list; the lists' values add up to the metadata's.
        let many = valuesPerKey == .many
        var badLists = 0, values = 0
        // A range table: its segments are disjoint and in order.
        let ranges = matchKind != .exact
        var badSegments = 0
        var previousEnd: [UInt8]?
        // The walk goes leaf to leaf without the branch pages; a lookup descends through them.
        // The first and last key of every leaf found by a descent, at the place the walk saw
        // them, proves every branch key routes every record right.
        var previousValue: UnsafeRawPointer?
        var pages = PageTally(pageSize: fileHeader.pageSize)
        var dataStat: DatabaseStat?
        try read { reader in
            _ = try reader.withCursor { cursor in
                try cursor.forEach { entry in
                    records += 1
                    bytes += entry.key.count + entry.value.count
                    if entry.key.isEmpty || entry.key.count > lmdbMaxKeySize { badKeys += 1 }
                    if records > 1 && previous.withUnsafeBytes({ compareKeys($0, entry.key) }) >= 0 { outOfOrder += 1 }
                    if pages.add(entry) {
                        if records > 1, !previous.withUnsafeBytes({ reader.descentFinds($0, at: previousValue) }) { misrouted += 1 }
                        if !reader.descentFinds(entry.key, at: entry.value.baseAddress) { misrouted += 1 }
                    }
                    previousValue = entry.value.baseAddress
                    previous.removeAll(keepingCapacity: true)
                    previous.append(contentsOf: entry.key)
                    hash.add(key: entry.key, value: entry.value)
                    if ranges {
                        // Segments: each well formed, ending after it starts and before the next starts.
                        if let segment = RangeRecord.decode(entry.value) {
                            if let end = previousEnd, end.withUnsafeBytes({ compareKeys(entry.key, $0) }) < 0 { badSegments += 1 }
                            if let end = segment.end, compareKeys(end, entry.key) <= 0 { badSegments += 1 }
                            previousEnd = segment.end.map { Array($0) }
                            if segment.end == nil { previousEnd = [UInt8](repeating: 0xFF, count: 512) }
                        } else {
                            badSegments += 1
                        }
                    }
                    if many {
                        if !ValueList.isWellFormed(entry.value) { badLists += 1 } else { values += ValueList(entry.value).count }
                    }
                    if let index = keyIndex {
                        switch index.find(entry.key, hash: KeyIndex.hash(entry.key)) {
                        case .found(let value):
                            if value.baseAddress != entry.value.baseAddress || value.count != entry.value.count { indexMisses += 1 }
                        case .missing:
                            indexMisses += 1
                        case .unknown:
                            break  // a value in overflow pages: lookups ask the B+tree
                        }
                    }
                    return true
                }
            }
            if records > 0, !previous.withUnsafeBytes({ reader.descentFinds($0, at: previousValue) }) { misrouted += 1 }
            let stat = try reader.stat()
            dataStat = stat
            if stat.entries != records { problems.append("the B+tree says \(stat.entries) entries but \(records) were walked") }
        }
        if outOfOrder > 0 { problems.append("\(outOfOrder) keys out of order") }
        if misrouted > 0 { problems.append("the B+tree's branch pages do not lead to \(misrouted) records at the ends of leaf pages") }
        if indexMisses > 0 { problems.append("the key index does not find \(indexMisses) records of the table") }
        if badSegments > 0 { problems.append("\(badSegments) segments of the range table are malformed, empty or overlap the next") }
        if badLists > 0 { problems.append("\(badLists) values are not well-formed lists of values (a one-to-many table)") }
        if many, badLists == 0, let recorded = fileMetadata?.values, recorded != values {
            problems.append("metadata says \(recorded) values, the lists hold \(values)")
        }
        if badKeys > 0 { problems.append("\(badKeys) keys empty or longer than \(lmdbMaxKeySize) bytes") }
        // A table of lookup's layout: its file as lookup build writes it, too.
        if database.name == TableLayout.dataDatabase {
            problems += fileHeader.buildProblems()
            problems += try layoutProblems()
            problems += try freePageProblems()
            // (A plain LMDB file may hold duplicate-sorted values, whose pages count otherwise.)
            if let dataStat { problems += pages.problems("the records' database", counted: dataStat) }
        }
        if let metadata = fileMetadata {
            if metadata.records != records {
                problems.append("metadata says \(metadata.records) records, the table holds \(records)")
            }
            if metadata.contentHash != hash.hex {
                problems.append("content hash \(hash.hex) differs from the recorded \(metadata.contentHash)")
            }
        }
        return TableCheckReport(records: records, bytes: bytes, contentHash: hash.hex, problems: problems)
    }
}

extension Table {
    /// Differences between the databases in the file and those `lookup build` writes: the
    /// main database holds "data", "meta" and (since the key index) "index", nothing else, and
    /// every one keeps default flags.
    func layoutProblems() throws -> [String] {
        let expected = [TableLayout.dataDatabase, TableLayout.indexDatabase, TableLayout.metaDatabase]
        do {
            return try environment.read { txn in
                var problems: [String] = []
                let main = try txn.openDatabase()
                let names = try txn.withCursor(main) { cursor in
                    var names: [String] = []
                    while let entry = try cursor.next() { names.append(String(decoding: entry.key, as: UTF8.self)) }
                    return names
                }
                let unknown = names.filter { !expected.contains($0) }
                if !unknown.isEmpty { problems.append("the main database holds \(unknown), not a database of lookup's") }
                for name in names where expected.contains(name) {
                    let flags = try txn.flags(of: try txn.openDatabase(name)).rawValue
                    if flags != 0 { problems.append("database \(name) has flags \(flags); lookup build writes 0") }
                }
                if !names.contains(TableLayout.metaDatabase) { problems.append("the meta database is missing") }
                if fileHeader.newest.main.entries != UInt64(names.count) {
                    problems.append("the newest meta page counts \(fileHeader.newest.main.entries) databases, the file holds \(names.count)")
                }
                return problems
            }
        } catch let error as LMDBError {
            return ["reading the table's databases failed: \(error.message)"]
        }
    }
}

extension Table {
    /// Differences between LMDB's free-page database and what the newest meta page records of
    /// it (entries, leaf and overflow pages, depth): no reader uses it, but `check` vouches
    /// for every field of the meta pages.
    func freePageProblems() throws -> [String] {
        do {
            return try environment.read { txn in
                var pages = PageTally(pageSize: fileHeader.pageSize)
                try txn.withCursor(Database.freePages) { cursor in
                    while let entry = try cursor.next() { _ = pages.add(entry) }
                }
                // mdb_stat of the free-page database reads its record in the newest meta page.
                return pages.problems("the free-page database", counted: try txn.stat(Database.freePages), entries: true)
            }
        } catch let error as LMDBError {
            return ["reading the free-page database failed: \(error.message)"]
        }
    }
}

/// The leaf and overflow pages a walk of a database went through, counted from where its keys
/// and values lie, to compare with what the database's record says.
struct PageTally {
    let pageSize: Int
    private(set) var entries = 0, leaves = 0, overflow = 0
    private var leaf: UInt = 0

    init(pageSize: Int) { self.pageSize = pageSize }

    /// Counts one entry of the walk, in order: a key on a new page starts a leaf; a value
    /// whose node says `F_BIGDATA` lives in overflow pages (`OVPAGES`: a 16-byte page header,
    /// then the value). Returns whether the entry starts a new leaf page.
    mutating func add(_ entry: Entry) -> Bool {
        entries += 1
        guard let key = entry.key.baseAddress else { return false }
        let page = UInt(bitPattern: key) & ~UInt(pageSize - 1)
        let starts = page != leaf
        if starts { leaves += 1; leaf = page }
        if LeafNode(key - LeafNode.headerSize).flags & LeafNode.bigData != 0 {
            overflow += (15 + entry.value.count) / pageSize + 1
        }
        return starts
    }

    /// What `counted` (a database's record) says otherwise than this walk; `entries` too
    /// when asked (the records' database compares them itself).
    func problems(_ name: String, counted: DatabaseStat, entries compareEntries: Bool = false) -> [String] {
        var problems: [String] = []
        if compareEntries && counted.entries != entries { problems.append("\(name) records \(counted.entries) entries, \(entries) were walked") }
        if counted.leafPages != leaves { problems.append("\(name) records \(counted.leafPages) leaf pages, the walk went through \(leaves)") }
        if counted.overflowPages != overflow { problems.append("\(name) records \(counted.overflowPages) overflow pages, its values fill \(overflow)") }
        // One leaf is the whole tree: depth 1 and no branch pages (none: depth 0).
        if leaves <= 1 && (counted.depth != leaves || counted.branchPages != 0) {
            problems.append("\(name) records depth \(counted.depth) and \(counted.branchPages) branch pages for \(leaves) leaf page")
        }
        return problems
    }
}

