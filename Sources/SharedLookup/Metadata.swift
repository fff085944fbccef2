// TableMetadata: what a table says about itself (record count, sources, build time, format,
// key column, content hash), stored as JSON under the key "metadata" of the "meta" database.
import Foundation

/// Facts stored in a table file at build time, checked by `lookup check`.
public struct TableMetadata: Codable, Sendable, Equatable {
    /// Version of this table layout (named databases "data" and "meta").
    public var layoutVersion: Int
    /// Number of key/value records in the "data" database.
    public var records: Int
    /// The inputs the table was built from ("-" for standard input).
    public var sources: [String]
    /// When the build finished, ISO 8601 in UTC.
    public var builtAt: String
    /// The input format (`csv`, `tsv`, `jsonl`, `mdb-dump`, `cdb`, or `api`).
    public var format: String
    /// The 1-based key column (CSV/TSV), if any.
    public var keyColumn: Int?
    /// The JSON Lines key field, if any.
    public var keyField: String?
    /// The field delimiter (CSV/TSV), if any.
    public var delimiter: String?
    /// The duplicate-key policy used.
    public var duplicates: String
    /// Duplicate records dropped under `first`/`last`.
    public var duplicatesDropped: Int
    /// Bad records skipped under `--skip-bad-lines`.
    public var badRecordsSkipped: Int
    /// Hex digest of every key and value in key order (see `ContentHash`).
    public var contentHash: String
    /// The tool and version that built the table.
    public var tool: String
    /// The key columns of a composite key (CSV/TSV), 1-based, in key order; `nil` for one.
    public var keyColumns: [Int]?
    /// How many parts a key has (`nil`: one).
    public var keyParts: Int?
    /// Keys were case folded (`--ignore-case`); every lookup key is folded too.
    public var ignoreCase: Bool?
    /// Keys were trimmed of surrounding whitespace (`--trim`); every lookup key is too.
    public var trim: Bool?
    /// The column names of the header (`--header`), key columns included, in row order.
    public var columns: [String]?
    /// How many columns the first record had (CSV/TSV), key columns included.
    public var columnCount: Int?
    /// The values stored, when the table keeps every value of a key (`--duplicates all`).
    public var values: Int?
    /// How lookup keys match (`nil`: exactly); a range table's records are segments.
    public var match: MatchKind?
    /// How a range table's keys compare.
    public var keyType: RangeKeyType?
    /// Where ranges nest, the narrowest wins (`--overlaps narrowest`); else they were refused.
    public var overlaps: String?
    /// The ranges, networks or prefixes read (a range table's records are the segments made
    /// of them).
    public var ranges: Int?
    /// A version made by `lookup update` (`TableUpdater`): its number, base and changes.
    public var layer: LayerInfo?
    /// A base made by `lookup compact` of this version.
    public var compactedFrom: Int?

    /// The layout version this code writes.
    public static let currentLayoutVersion = 1
    /// The tool string this code writes.
    public static let toolName = "lookup 0.1.0"

    /// Creates metadata; `builtAt` defaults to now.
    public init(records: Int, sources: [String], format: String, keyColumn: Int? = nil, keyField: String? = nil,
                delimiter: String? = nil, duplicates: String, duplicatesDropped: Int = 0, badRecordsSkipped: Int = 0,
                contentHash: String, builtAt: Date = Date()) {
        self.layoutVersion = Self.currentLayoutVersion
        self.records = records
        self.sources = sources
        self.builtAt = ISO8601DateFormatter().string(from: builtAt)
        self.format = format
        self.keyColumn = keyColumn
        self.keyField = keyField
        self.delimiter = delimiter
        self.duplicates = duplicates
        self.duplicatesDropped = duplicatesDropped
        self.badRecordsSkipped = badRecordsSkipped
        self.contentHash = contentHash
        self.tool = Self.toolName
    }

    /// How the table's keys are formed; every lookup key is formed the same way.
    public var keyForm: KeyForm {
        KeyForm(parts: matchKind == .exact ? keyParts ?? keyColumns?.count ?? 1 : 1,
                ignoreCase: ignoreCase ?? false, trim: trim ?? false)
    }

    /// How lookup keys match.
    public var matchKind: MatchKind { match ?? .exact }

    /// Whether a key has one value or a list (`--duplicates all`).
    public var valuesPerKey: ValuesPerKey { duplicates == DuplicatePolicy.all.rawValue ? .many : .one }

    /// The 1-based columns of the key in a table row (CSV/TSV).
    public var keyColumnList: [Int] { keyColumns ?? keyColumn.map { [$0] } ?? [1] }

    /// JSON bytes with sorted keys.
    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }

    /// Decodes metadata from stored JSON.
    static func decode(_ bytes: UnsafeRawBufferPointer) throws -> TableMetadata {
        try JSONDecoder().decode(TableMetadata.self, from: Data(bytes))
    }
}

/// An order-dependent 64-bit digest of a sequence of key/value records; detects a changed,
/// lost or reordered record. Not cryptographic.
public struct ContentHash: Sendable {
    private var state: UInt64 = 0x243F_6A88_85A3_08D3

    /// A fresh digest.
    public init() {}

    @inline(__always)
    private static func mix(_ h: UInt64, _ w: UInt64) -> UInt64 {
        var x = (h ^ w) &* 0x9E37_79B9_7F4A_7C15
        x ^= x >> 29
        return x &* 0xBF58_476D_1CE4_E5B9
    }

    @inline(__always)
    private static func hashBytes(_ h: UInt64, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h = mix(h, UInt64(bytes.count))
        var i = 0
        let n = bytes.count
        while i + 8 <= n {
            h = mix(h, bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            i += 8
        }
        if i < n {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < n { tail |= UInt64(bytes[i]) << shift; shift += 8; i += 1 }
            h = mix(h, tail)
        }
        return h
    }

    /// Adds one record.
    @inline(__always)
    public mutating func add(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        state = Self.hashBytes(Self.hashBytes(state, key), value)
    }

    /// The digest as 16 hex digits.
    public var hex: String {
        let s = String(state, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
