// ChangeLayer: how an updated table is stored. `lookup update` does not rewrite the table: it
// writes a small table file of changes (the change layer) whose records are the keys changed
// since the base was built, each with a tag byte: 1 and the new value (an upsert), or 0 alone
// (the key is deleted). The layer's metadata names its base, a file in the versions directory
// (TableVersions), and the current table path is the layer file itself. Readers consult the
// layer first, through its own key index, then the base. Each update writes a new layer
// holding the previous layer's changes and the new ones, so a read looks in at most two
// files; `lookup compact` folds them into a new base.
import Foundation

/// What `lookup update` made: stored in a change layer's metadata (`TableMetadata.layer`).
public struct LayerInfo: Codable, Sendable, Equatable {
    /// This version's number (its file is `v<number>.lmdb` in the versions directory).
    public var version: Int
    /// The version the update was applied to.
    public var madeFrom: Int
    /// The base's file name in the versions directory.
    public var base: String
    /// The base's content hash, checked when the table is opened.
    public var baseContentHash: String
    /// Records of this version: the base's, with the changes applied.
    public var records: Int
    /// The content hash of this version: of the base's and the layer's hashes.
    public var contentHash: String
    /// Keys given a value by this update, and how many of them were new.
    public var upserted: Int, inserted: Int
    /// Keys this update deleted (that were in the table).
    public var deleted: Int
    /// The change files this update read ("api" for changes made in code).
    public var changeSources: [String]
    /// Changed keys in the layer (upserts and deletion marks, from every update since the base).
    public var layerRecords: Int
}

/// A change layer's record value: a tag byte, then the value of an upsert.
enum ChangeRecord {
    static let deletedTag: UInt8 = 0
    static let upsertTag: UInt8 = 1

    /// What a stored layer value says.
    enum Decoded {
        case deleted
        case value(UnsafeRawBufferPointer)
        case malformed
    }

    @inline(__always)
    static func decode(_ stored: UnsafeRawBufferPointer) -> Decoded {
        guard let tag = stored.first else { return .malformed }
        if tag == upsertTag { return .value(UnsafeRawBufferPointer(rebasing: stored[1...])) }
        return tag == deletedTag && stored.count == 1 ? .deleted : .malformed
    }

    /// The stored form of an upsert of `value`.
    static func upsert(_ value: UnsafeRawBufferPointer) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(value.count + 1)
        bytes.append(upsertTag)
        bytes.append(contentsOf: value)
        return bytes
    }

    /// The stored form of a deletion mark.
    static let deletion: [UInt8] = [deletedTag]
}

extension TableMetadata {
    /// The metadata of a version made by `layer`'s update of a table with this (its base's)
    /// metadata: the base's description, the version's record count and content hash, the
    /// update's time, and the layer.
    func updated(by layer: LayerInfo, changes: TableMetadata?) -> TableMetadata {
        var m = self
        m.records = layer.records
        m.contentHash = layer.contentHash
        m.builtAt = changes?.builtAt ?? builtAt
        m.layer = layer
        // Counts of the base's values and dropped duplicates describe the base only.
        m.values = nil
        return m
    }

    /// Takes `other`'s description of the records: where they came from and how keys and
    /// columns are formed (a compacted table describes its records as its source did).
    mutating func describe(as other: TableMetadata) {
        sources = other.sources
        format = other.format
        keyColumn = other.keyColumn
        keyField = other.keyField
        delimiter = other.delimiter
        keyColumns = other.keyColumns
        keyParts = other.keyParts
        ignoreCase = other.ignoreCase
        trim = other.trim
        columns = other.columns
        columnCount = other.columnCount
    }

    /// The delimiter the table was built with when it is not its format's own (`,` for CSV,
    /// tab for TSV): change files in the table's format are read with it.
    public var customDelimiter: UInt8? {
        guard let delimiter, let byte = delimiter.utf8.first else { return nil }
        let own: UInt8? = format == "csv" ? UInt8(ascii: ",") : format == "tsv" ? 9 : nil
        return byte == own ? nil : byte
    }

    /// The content hash of a version made of a base and a change layer with these hashes.
    static func layeredContentHash(base: String, changes: String) -> String {
        var hash = ContentHash()
        let key = Array(base.utf8), value = Array(changes.utf8)
        key.withUnsafeBytes { k in value.withUnsafeBytes { v in hash.add(key: k, value: v) } }
        return hash.hex
    }
}

/// A blocked Bloom filter of a change layer's keys (by `KeyIndex.hash`), stored in the layer
/// file beside its key index (16 bits a key): a lookup of a key the layer lacks (almost every
/// key of a join) reads one cache line of it, small enough to stay cached while the base's
/// lookups stream through memory, instead of probing the layer's index. About 0.5% of absent
/// keys pass it and probe the index.
struct LayerFilter {
    /// Under this key of the index database.
    static let storedKey = "filter"
    private let blocks: UnsafeRawPointer
    private let mask: UInt64

    /// The stored size for `keys` keys: a count of 64-byte blocks (a power of two), then the blocks.
    static func storedSize(keys: Int) -> Int {
        var count = 1
        while count * 32 < keys { count <<= 1 }
        return 8 + count * 64
    }

    /// The filter of `hashes` in its stored form.
    static func stored(hashes: [UInt64]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: storedSize(keys: hashes.count))
        let count = UInt64((bytes.count - 8) / 64)
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: count.littleEndian, toByteOffset: 0, as: UInt64.self)
            for h in hashes {
                let block = 8 + Int((h >> 16) & (count - 1)) * 64
                let (a, b, c) = bits(h)
                for bit in [a, b, c] { raw[block + bit >> 3] |= 1 << UInt8(bit & 7) }
            }
        }
        return bytes
    }

    /// The three bits of a block that a key of hash `h` sets.
    @inline(__always)
    private static func bits(_ h: UInt64) -> (Int, Int, Int) {
        (Int((h >> 32) & 511), Int((h >> 41) & 511), Int((h >> 50) & 511))
    }

    /// The filter stored at `stored` (in the map), or `nil` when its size does not match its count.
    init?(stored: UnsafeRawBufferPointer) {
        guard stored.count >= 8 + 64, let base = stored.baseAddress else { return nil }
        let count = UInt64(littleEndian: stored.loadUnaligned(as: UInt64.self))
        guard count > 0, count & (count - 1) == 0, UInt64(stored.count) == 8 + count * 64 else { return nil }
        blocks = base + 8
        mask = count - 1
    }

    /// Whether a key of hash `h` may be in the layer (`false`: it is not).
    @inline(__always)
    func mayContain(_ h: UInt64) -> Bool {
        let block = blocks + Int((h >> 16) & mask) * 64
        let (a, b, c) = Self.bits(h)
        @inline(__always) func isSet(_ bit: Int) -> Bool { block.load(fromByteOffset: bit >> 3, as: UInt8.self) & (1 << UInt8(bit & 7)) != 0 }
        return isSet(a) && isSet(b) && isSet(c)
    }
}
