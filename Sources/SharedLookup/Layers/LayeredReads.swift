// LayeredReads: reading an updated table (a base and its change layer, ChangeLayer.swift):
// a key's change through the layer's own key index, and the records of base and changes
// merged in key order (the layer's record wins; a deletion mark hides the base's).
import LMDB

extension TableReader {
    /// What the change layer says of `key` (in stored form): `nil` when it has no change for
    /// it (or the table is not updated).
    @inline(__always)
    func change(for key: UnsafeRawBufferPointer) throws(LookupError) -> ChangeRecord.Decoded? {
        guard let changes, let layer = table.changeLayer else { return nil }
        do {
            return try Self.storedChange(key, hash: KeyIndex.hash(key), layer: layer, changes: changes).map(ChangeRecord.decode)
        } catch {
            throw LookupError(error, path: layer.path)
        }
    }

    /// The stored layer record of `key` (of hash `hash`): its filter first, which rules out
    /// almost every absent key in one cached line, then its key index, else its B+tree.
    @inline(__always)
    static func storedChange(_ key: UnsafeRawBufferPointer, hash: UInt64, layer: Table,
                             changes: ReadView) throws(LMDBError) -> UnsafeRawBufferPointer? {
        if let filter = layer.layerFilter, !filter.mayContain(hash) { return nil }
        guard let index = layer.keyIndex else { return try changes.get(key) }
        switch index.find(key, hash: hash) {
        case .found(let value): return value
        case .missing: return nil
        case .unknown: return try changes.get(key)
        }
    }

    /// Calls `body` with each record of an updated table with `lower <= key < upper` (`nil`:
    /// unbounded) in key order, base and changes merged; `body` returns `false` to stop.
    /// Returns the number of records visited. `seen` gets every record read of either file
    /// as stored (whether the base's is hidden by a change or not), and whether it is the
    /// layer's.
    func forEachMerged(from lower: UnsafeRawBufferPointer?, to upper: UnsafeRawBufferPointer?,
                       seen: (Bool, UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void = { _, _, _ in },
                       _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws -> Int {
        guard let changes, let layer = table.changeLayer else { preconditionFailure("not an updated table") }
        var visited = 0
        do {
            var base = try view.cursor()
            var layered = try changes.cursor()
            var b = try lower.map { try base.seek($0) } ?? base.first()
            var c = try lower.map { try layered.seek($0) } ?? layered.first()
            func inRange(_ entry: Entry?) -> Entry? {
                guard let entry else { return nil }
                if let upper, compareKeys(entry.key, upper) >= 0 { return nil }
                return entry
            }
            b = inRange(b)
            c = inRange(c)
            while b != nil || c != nil {
                let order: Int32 = switch (b, c) {
                case let (x?, y?): compareKeys(x.key, y.key)
                case (_?, nil): -1
                default: 1
                }
                if order < 0 {
                    seen(false, b!.key, b!.value)
                    visited += 1
                    if try !body(b!.key, b!.value) { return visited }
                    b = inRange(try base.next())
                    continue
                }
                let entry = c!
                seen(true, entry.key, entry.value)
                if order == 0 { seen(false, b!.key, b!.value) }
                switch ChangeRecord.decode(entry.value) {
                case .value(let value):
                    visited += 1
                    if try !body(entry.key, value) { return visited }
                case .deleted:
                    break
                case .malformed:
                    throw LookupError.damaged(table.path, "its change layer \(layer.path) holds a malformed record")
                }
                if order == 0 { b = inRange(try base.next()) }
                c = inRange(try layered.next())
            }
        } catch let error as LMDBError {
            throw LookupError(error, path: table.path)
        }
        return visited
    }
}

extension TableReader {
    /// Calls `body` with every record in key order (of an updated table, base and changes
    /// merged) until it returns `false`; returns the number visited and, when the walk went to
    /// the end, the content hash of what it read, computed as the metadata's is (for an
    /// updated table, of each file's records as stored): a damaged page that ended the walk
    /// early or changed a record shows as another hash.
    public func scanHashing(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws -> (visited: Int, contentHash: String) {
        guard changes != nil else {
            var hash = ContentHash()
            let visited = try scan(from: nil, to: nil) { key, value in
                hash.add(key: key, value: value)
                return try body(key, value)
            }
            return (visited, hash.hex)
        }
        var base = ContentHash(), layer = ContentHash()
        let visited = try forEachMerged(from: nil, to: nil, seen: { isLayer, key, value in
            if isLayer { layer.add(key: key, value: value) } else { base.add(key: key, value: value) }
        }, body)
        return (visited, TableMetadata.layeredContentHash(base: base.hex, changes: layer.hex))
    }
}

extension KeyBatch {
    /// Looks the kept keys of an updated table up in its change layer; returns the positions
    /// of those it has no change for, to be looked up in the base. `found` gets the others'
    /// values (a deleted key stays missing).
    static func lookUpChanges(_ items: UnsafeBufferPointer<KeyItem>, in reader: borrowing TableReader,
                              found: UnsafeMutableBufferPointer<Found>, unchanged: inout [Int32]) throws {
        unchanged.removeAll(keepingCapacity: true)
        guard let layer = reader.table.changeLayer, let changes = reader.changes else { return }
        do {
            for i in items.indices {
                let key = items[i].bytes
                guard let stored = try TableReader.storedChange(key, hash: KeyIndex.hash(key), layer: layer, changes: changes) else {
                    unchanged.append(Int32(i))
                    continue
                }
                if case .value(let value) = ChangeRecord.decode(stored) { found[i] = Found(start: value.baseAddress, count: value.count) }
            }
        } catch {
            throw LookupError(error, path: layer.path)
        }
    }
}

extension Table {
    /// The checks of an updated table beyond its two files' own (`base`, `changes`): every
    /// layer record is an upsert or a deletion mark of a key the base holds, and the merged
    /// records add up to the version's count, with the version's content hash recorded right.
    func verifyLayered(base: TableCheckReport, changes: TableCheckReport) throws -> TableCheckReport {
        guard let changeLayer, let layer = metadata?.layer else { return base }
        var problems = base.problems + changes.problems.map { "its change layer: \($0)" }
        var malformed = 0, strayMarks = 0, filterMisses = 0
        var records = 0, bytes = 0, badLists = 0
        let many = valuesPerKey == .many
        try read { reader in
            _ = try changeLayer.read { layerReader in
                try layerReader.scan(from: nil, to: nil) { key, stored in
                    if let filter = changeLayer.layerFilter, !filter.mayContain(KeyIndex.hash(key)) { filterMisses += 1 }
                    switch ChangeRecord.decode(stored) {
                    case .malformed: malformed += 1
                    case .deleted: if try reader.fileValue(for: key) == nil { strayMarks += 1 }
                    case .value: break
                    }
                    return true
                }
            }
            guard malformed == 0 else { return }
            _ = try reader.forEachMerged(from: nil, to: nil) { key, value in
                records += 1
                bytes += key.count + value.count
                if many && !ValueList.isWellFormed(value) { badLists += 1 }
                return true
            }
        }
        if filterMisses > 0 { problems.append("its change layer's key filter does not pass \(filterMisses) of its keys") }
        if changeLayer.layerFilter == nil && layer.layerRecords > 0 { problems.append("its change layer has no readable key filter") }
        if malformed > 0 { problems.append("its change layer holds \(malformed) records that are neither an upsert nor a deletion mark") }
        if strayMarks > 0 { problems.append("its change layer marks \(strayMarks) keys deleted that the base does not hold") }
        if badLists > 0 { problems.append("\(badLists) changed values are not well-formed lists of values (a one-to-many table)") }
        if malformed == 0 && records != layer.records {
            problems.append("the version says \(layer.records) records, base and changes hold \(records)")
        }
        if changes.records != layer.layerRecords {
            problems.append("the version says its change layer holds \(layer.layerRecords) records, it holds \(changes.records)")
        }
        let expected = TableMetadata.layeredContentHash(base: base.contentHash, changes: changes.contentHash)
        if layer.contentHash != expected {
            problems.append("the version's content hash \(layer.contentHash) differs from that of its base and changes, \(expected)")
        }
        return TableCheckReport(records: records, bytes: bytes, contentHash: layer.contentHash, problems: problems)
    }
}
