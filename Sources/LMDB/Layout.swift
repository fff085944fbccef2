// Layout: LMDB's on-disk structures that this package reads in place, named by field, as
// lmdb.h / mdb.c 0.9.24 (data format version 1) write them on a 64-bit little-endian machine:
// the meta page (`MDB_meta` after the page header) and the leaf node (`MDB_node`). Everything
// else reaches LMDB through its API.

/// One LMDB meta page (pages 0 and 1 of the file), as LMDB 0.9 (lmdb.h 0.9.24) writes it on a
/// 64-bit little-endian machine: a 16-byte page header, then `MDB_meta`.
public struct MetaPage: Equatable, Sendable {
    /// One `MDB_db` record of the meta page: a database's root and counts.
    public struct DatabaseRecord: Equatable, Sendable {
        /// `md_pad`: in the free database of meta page 0 and 1, the page size.
        public var pad: UInt32
        /// `md_flags`: the database's flags (for the free database also the writer's env flags).
        public var flags: UInt16
        /// `md_depth`: height of its B+tree.
        public var depth: UInt16
        /// `md_branch_pages`, `md_leaf_pages`, `md_overflow_pages`.
        public var branchPages: UInt64, leafPages: UInt64, overflowPages: UInt64
        /// `md_entries`: records in it.
        public var entries: UInt64
        /// `md_root`: its root page, or `MetaPage.invalidPage` when it is empty.
        public var root: UInt64
    }

    /// `mp_pgno`: the page's own number (0 or 1).
    public var pageNumber: UInt64
    /// `mp_pad` and `mp_lower`/`mp_upper` of the page header: unused in a meta page (0).
    public var pagePad: UInt16, pageBounds: UInt32
    /// `mp_flags`: must hold `P_META`.
    public var pageFlags: UInt16
    /// `mm_address`: the fixed map address, 0 unless written with `MDB_FIXEDMAP`.
    public var address: UInt64
    /// `mm_magic`, `mm_version`.
    public var magic: UInt32, version: UInt32
    /// `mm_mapsize`: the map size the writer used.
    public var mapSize: UInt64
    /// `mm_dbs[FREE_DBI]`, `mm_dbs[MAIN_DBI]`.
    public var free: DatabaseRecord, main: DatabaseRecord
    /// `mm_last_pg`: the last page in use.
    public var lastPage: UInt64
    /// `mm_txnid`: the transaction that wrote this meta page.
    public var transactionID: UInt64

    /// Bytes of the page header and `MDB_meta` together.
    public static let size = 152
    /// `P_META`, the page flag of a meta page.
    public static let metaFlag: UInt16 = 0x08
    /// `MDB_MAGIC`, `MDB_DATA_VERSION`.
    public static let magicNumber: UInt32 = 0xBEEF_C0DE, dataVersion: UInt32 = 1
    /// `P_INVALID`: the root of an empty database.
    public static let invalidPage = UInt64.max
    /// `MDB_INTEGERKEY`: always set in the free database's flags.
    public static let integerKey: UInt16 = 0x08
    /// The database flags a file may carry (`MDB_REVERSEKEY` ... `MDB_REVERSEDUP`).
    public static let databaseFlags: UInt16 = 0x7E
    /// Deeper B+trees than this cannot exist in a file of 2^64 bytes.
    public static let maxDepth: UInt16 = 32

    /// Parses the first `MetaPage.size` bytes of a meta page; `nil` when `bytes` is shorter.
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.size else { return nil }
        func u16(_ o: Int) -> UInt16 { UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
        func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
        func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
        func database(_ o: Int) -> DatabaseRecord {
            DatabaseRecord(pad: u32(o), flags: u16(o + 4), depth: u16(o + 6), branchPages: u64(o + 8),
                           leafPages: u64(o + 16), overflowPages: u64(o + 24), entries: u64(o + 32), root: u64(o + 40))
        }
        // Page header: mp_pgno at 0, mp_pad at 8, mp_flags at 10, mp_lower/mp_upper at 12.
        // MDB_meta at 16: magic, version, address, mapsize, dbs[2] (48 bytes each), last_pg, txnid.
        self.init(pageNumber: u64(0), pagePad: u16(8), pageBounds: u32(12), pageFlags: u16(10), address: u64(24),
                  magic: u32(16), version: u32(20), mapSize: u64(32),
                  free: database(40), main: database(88), lastPage: u64(136), transactionID: u64(144))
    }

    /// A meta page with these fields.
    public init(pageNumber: UInt64, pagePad: UInt16, pageBounds: UInt32, pageFlags: UInt16, address: UInt64,
                magic: UInt32, version: UInt32, mapSize: UInt64, free: DatabaseRecord, main: DatabaseRecord,
                lastPage: UInt64, transactionID: UInt64) {
        self.pageNumber = pageNumber; self.pagePad = pagePad; self.pageBounds = pageBounds; self.pageFlags = pageFlags
        self.address = address; self.magic = magic; self.version = version; self.mapSize = mapSize
        self.free = free; self.main = main; self.lastPage = lastPage; self.transactionID = transactionID
    }

    /// Whether this page is an LMDB meta page at all (what LMDB itself checks).
    public var isMeta: Bool { pageFlags & Self.metaFlag != 0 && magic == Self.magicNumber }

    /// What makes this meta page unusable for a file of `pages` whole pages, if anything: the
    /// values LMDB follows without checking (roots, last page, depth, flags, map size).
    public func damage(pages: UInt64) -> String? {
        if lastPage < 1 { return "its last page number \(lastPage) is below the meta pages" }
        if lastPage >= pages { return nil }  // a shorter file: reported as truncated by the caller
        for (name, db) in [("free", free), ("main", main)] {
            if db.root == Self.invalidPage {
                if db.depth != 0 || db.entries != 0 { return "the \(name) database has no root but \(db.entries) entries" }
                continue
            }
            if db.root < 2 || db.root > lastPage { return "the \(name) database's root page \(db.root) is outside pages 2...\(lastPage)" }
            if db.depth == 0 || db.depth > Self.maxDepth { return "the \(name) database's depth \(db.depth) is impossible" }
        }
        if free.flags & Self.integerKey == 0 { return "the free database's flags \(free.flags) lack MDB_INTEGERKEY" }
        if main.flags & ~Self.databaseFlags != 0 { return "the main database's flags \(main.flags) are not LMDB database flags" }
        if mapSize > 1 << 47 { return "its map size \(mapSize) is impossible" }
        if transactionID > 1 << 48 { return "its transaction id \(transactionID) is impossible" }
        return nil
    }
}

/// A leaf node of an LMDB page (`MDB_node`), read in place: an 8-byte header (value size low
/// and high 16 bits, flags, key size), then the key, then the value (unless it lives in
/// overflow pages, `F_BIGDATA`).
public struct LeafNode {
    /// Bytes of the node header.
    public static let headerSize = 8
    /// `F_BIGDATA`: the value lives in overflow pages.
    public static let bigData: UInt16 = 0x01
    /// Where the node starts.
    public let base: UnsafeRawPointer

    /// The node at `base`.
    @inlinable @inline(__always)
    public init(_ base: UnsafeRawPointer) { self.base = base }

    /// `mn_flags`.
    @inlinable @inline(__always)
    public var flags: UInt16 { base.loadUnaligned(fromByteOffset: 4, as: UInt16.self) }
    /// `mn_ksize`: the key's length.
    @inlinable @inline(__always)
    public var keySize: Int { Int(base.loadUnaligned(fromByteOffset: 6, as: UInt16.self)) }
    /// The value's length (`mn_lo | mn_hi << 16`).
    @inlinable @inline(__always)
    public var valueSize: Int {
        Int(base.loadUnaligned(as: UInt16.self)) | Int(base.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) << 16
    }
    /// The key's first byte.
    @inlinable @inline(__always)
    public var key: UnsafeRawPointer { base + Self.headerSize }
}

/// A leaf page (`MDB_page` with `P_LEAF`), read in place: a 16-byte header (page number, pad,
/// flags, `mp_lower`, `mp_upper`), then one 16-bit offset per node, from the page's start.
public struct LeafPage {
    /// Bytes of the page header.
    public static let headerSize = 16
    /// `P_LEAF`, and `P_LEAF2` (fixed-size keys without nodes, which is not read here).
    public static let leafFlag: UInt16 = 0x02, leaf2Flag: UInt16 = 0x20
    /// Where the page starts.
    public let base: UnsafeRawPointer
    /// The page size.
    public let size: Int

    /// The page of `size` bytes holding `address` (a key or value LMDB returned): its address
    /// rounded down to the page size. `nil` unless that page is a plain leaf page whose node
    /// offsets all lie inside it.
    @inlinable @inline(__always)
    public init?(holding address: UnsafeRawPointer, pageSize: Int) {
        let page = UnsafeRawPointer(bitPattern: UInt(bitPattern: Int(bitPattern: address)) & ~UInt(pageSize - 1))!
        base = page
        size = pageSize
        let flags = page.loadUnaligned(fromByteOffset: 10, as: UInt16.self)
        let lower = Int(page.loadUnaligned(fromByteOffset: 12, as: UInt16.self))
        guard flags & Self.leafFlag != 0, flags & Self.leaf2Flag == 0,
              lower >= Self.headerSize, lower <= pageSize else { return nil }
    }

    /// `NUMKEYS`: the nodes on the page.
    @inlinable @inline(__always)
    public var count: Int { (Int(base.loadUnaligned(fromByteOffset: 12, as: UInt16.self)) - Self.headerSize) >> 1 }

    /// Node `i`, or `nil` when it, its key or its value would reach past the page, or its value
    /// lives in overflow pages.
    @inlinable @inline(__always)
    public func node(_ i: Int) -> LeafNode? {
        let offset = Int(base.loadUnaligned(fromByteOffset: Self.headerSize + 2 * i, as: UInt16.self))
        guard offset >= Self.headerSize, offset + LeafNode.headerSize <= size else { return nil }
        let node = LeafNode(base + offset)
        guard node.flags & LeafNode.bigData == 0,
              offset + LeafNode.headerSize + node.keySize + node.valueSize <= size else { return nil }
        return node
    }

    /// The position of the node whose key starts at `key` (a key of this page LMDB returned),
    /// found in the page's offsets without reading any node; `nil` when none matches.
    @inlinable @inline(__always)
    public func position(ofKeyAt key: UnsafeRawPointer) -> Int? {
        let offset = key - LeafNode.headerSize - base
        guard offset >= Self.headerSize, offset < size else { return nil }
        let wanted = UInt16(offset)
        for i in 0..<count where base.loadUnaligned(fromByteOffset: Self.headerSize + 2 * i, as: UInt16.self) == wanted {
            return i
        }
        return nil
    }
}

extension LeafNode {
    /// The key's bytes.
    @inlinable @inline(__always)
    public var keyBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: key, count: keySize) }
    /// The value's bytes (for a node whose value is on the page).
    @inlinable @inline(__always)
    public var valueBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: key + keySize, count: valueSize) }
}
