// TableFile: checks a table file's LMDB meta pages before it is mapped, so a truncated, foreign
// or damaged file gives a clear error instead of SIGBUS, SIGSEGV or an arithmetic trap when
// LMDB follows what they say. Holds the meta page layout by field name.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One LMDB meta page (pages 0 and 1 of the file), as LMDB 0.9 (lmdb.h 0.9.24) writes it on a
/// 64-bit little-endian machine: a 16-byte page header, then `MDB_meta`.
struct MetaPage: Equatable {
    /// One `MDB_db` record of the meta page: a database's root and counts.
    struct DatabaseRecord: Equatable {
        /// `md_pad`: in the free database of meta page 0 and 1, the page size.
        var pad: UInt32
        /// `md_flags`: the database's flags (for the free database also the writer's env flags).
        var flags: UInt16
        /// `md_depth`: height of its B+tree.
        var depth: UInt16
        /// `md_branch_pages`, `md_leaf_pages`, `md_overflow_pages`.
        var branchPages: UInt64, leafPages: UInt64, overflowPages: UInt64
        /// `md_entries`: records in it.
        var entries: UInt64
        /// `md_root`: its root page, or `MetaPage.invalidPage` when it is empty.
        var root: UInt64
    }

    /// `mp_pgno`: the page's own number (0 or 1).
    var pageNumber: UInt64
    /// `mp_pad` and `mp_lower`/`mp_upper` of the page header: unused in a meta page (0).
    var pagePad: UInt16, pageBounds: UInt32
    /// `mp_flags`: must hold `P_META`.
    var pageFlags: UInt16
    /// `mm_address`: the fixed map address, 0 unless written with `MDB_FIXEDMAP`.
    var address: UInt64
    /// `mm_magic`, `mm_version`.
    var magic: UInt32, version: UInt32
    /// `mm_mapsize`: the map size the writer used.
    var mapSize: UInt64
    /// `mm_dbs[FREE_DBI]`, `mm_dbs[MAIN_DBI]`.
    var free: DatabaseRecord, main: DatabaseRecord
    /// `mm_last_pg`: the last page in use.
    var lastPage: UInt64
    /// `mm_txnid`: the transaction that wrote this meta page.
    var transactionID: UInt64

    /// Bytes of the page header and `MDB_meta` together.
    static let size = 152
    /// `P_META`, the page flag of a meta page.
    static let metaFlag: UInt16 = 0x08
    /// `MDB_MAGIC`, `MDB_DATA_VERSION`.
    static let magicNumber: UInt32 = 0xBEEF_C0DE, dataVersion: UInt32 = 1
    /// `P_INVALID`: the root of an empty database.
    static let invalidPage = UInt64.max
    /// `MDB_INTEGERKEY`: always set in the free database's flags.
    static let integerKey: UInt16 = 0x08
    /// The database flags a file may carry (`MDB_REVERSEKEY` ... `MDB_REVERSEDUP`).
    static let databaseFlags: UInt16 = 0x7E
    /// Deeper B+trees than this cannot exist in a file of 2^64 bytes.
    static let maxDepth: UInt16 = 32

    /// Reads the meta page at `offset` of `fd`; `nil` when the file is too short for it.
    static func read(fd: Int32, offset: Int, path: String) throws(LookupError) -> MetaPage? {
        var bytes = [UInt8](repeating: 0, count: size)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, size, off_t(offset)) }
        if n < 0 { throw LookupError.system("cannot read table", path: path) }
        if n < size { return nil }
        return bytes.withUnsafeBytes { raw in
            func u16(_ o: Int) -> UInt16 { UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
            func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
            func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
            func database(_ o: Int) -> DatabaseRecord {
                DatabaseRecord(pad: u32(o), flags: u16(o + 4), depth: u16(o + 6), branchPages: u64(o + 8),
                               leafPages: u64(o + 16), overflowPages: u64(o + 24), entries: u64(o + 32), root: u64(o + 40))
            }
            // Page header: mp_pgno at 0, mp_pad at 8, mp_flags at 10, mp_lower/mp_upper at 12.
            // MDB_meta at 16: magic, version,
            // address, mapsize, dbs[2] (48 bytes each), last_pg, txnid.
            return MetaPage(pageNumber: u64(0), pagePad: u16(8), pageBounds: u32(12), pageFlags: u16(10), address: u64(24),
                            magic: u32(16), version: u32(20), mapSize: u64(32),
                            free: database(40), main: database(88), lastPage: u64(136), transactionID: u64(144))
        }
    }

    /// Whether this page is an LMDB meta page at all (what LMDB itself checks).
    var isMeta: Bool { pageFlags & Self.metaFlag != 0 && magic == Self.magicNumber }

    /// What makes this meta page unusable for a file of `pages` whole pages, if anything: the
    /// values LMDB follows without checking (roots, last page, depth, flags, map size).
    func damage(pages: UInt64) -> String? {
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

/// What the meta pages of an LMDB data file say about it.
struct TableFileHeader: Equatable {
    /// Page size the file was written with.
    var pageSize: Int
    /// Number of the last page in use, from the newest meta page.
    var lastPage: Int
    /// Transaction id of the newest meta page.
    var transactionID: Int
    /// Map size stored in the newest meta page.
    var mapSize: Int
    /// Size of the file in bytes.
    var fileSize: Int
    /// Both meta pages, in file order.
    var metas: [MetaPage]
    /// For each meta page, whether the rest of its page (after `MDB_meta`) is all zero bytes.
    var metaTailsZero: [Bool]

    /// Bytes the file must hold for every page the meta page names.
    var requiredSize: Int { (lastPage + 1) * pageSize }
    /// The newest meta page: the one LMDB reads the file through.
    var newest: MetaPage { metas[1].transactionID > metas[0].transactionID ? metas[1] : metas[0] }

    /// Reads and validates the meta pages of `path` (through `fd` when given). A file that is
    /// not a regular file (a FIFO, a device) is refused without blocking on it.
    static func read(path: String, fd givenFD: Int32? = nil) throws(LookupError) -> TableFileHeader {
        let fd: Int32
        if let givenFD {
            fd = givenFD
        } else {
            // O_NONBLOCK: opening a FIFO must not wait for a writer.
            fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
            if fd < 0 { throw LookupError.system("cannot open table", path: path) }
        }
        defer { if givenFD == nil { close(fd) } }
        var st = stat()
        if fstat(fd, &st) != 0 { throw LookupError.system("cannot stat table", path: path) }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw LookupError(.notATable, path: path, "is a directory; a table is a single file (built by `lookup build`)")
        default: throw LookupError(.notATable, path: path, "is not a regular file (a FIFO, socket or device); a table is a file built by `lookup build`")
        }
        let fileSize = Int(st.st_size)
        let notLMDB = LookupError(.notATable, path: path, "not an LMDB table file (no LMDB meta page)")
        if fileSize < MetaPage.size { throw fileSize == 0 ? LookupError(.notATable, path: path, "empty file, not an LMDB table") : notLMDB }

        guard let m0 = try MetaPage.read(fd: fd, offset: 0, path: path), m0.isMeta, m0.version == MetaPage.dataVersion else {
            // A sound meta page 1 makes it an LMDB file whose meta page 0 is damaged.
            for size in [4096, 8192, 16384, 32768, 65536, 512, 1024, 2048] where fileSize >= 2 * size {
                if let m1 = try MetaPage.read(fd: fd, offset: size, path: path), m1.isMeta,
                   m1.version == MetaPage.dataVersion, Int(m1.free.pad) == size, m1.pageNumber == 1 {
                    throw LookupError.damaged(path, "meta page 0 is not an LMDB meta page of this version")
                }
            }
            if let m0 = try MetaPage.read(fd: fd, offset: 0, path: path), m0.isMeta {
                throw LookupError(.notATable, path: path, "LMDB data format version \(m0.version) is not supported (expected \(MetaPage.dataVersion))")
            }
            throw notLMDB
        }
        // The page size lives in the free database record of meta page 0.
        let pageSize = Int(m0.free.pad)
        guard pageSize >= 512, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else {
            throw LookupError.damaged(path, "meta page 0 gives the impossible page size \(m0.free.pad)")
        }
        guard fileSize >= 2 * pageSize, let m1 = try MetaPage.read(fd: fd, offset: pageSize, path: path) else {
            throw LookupError(.truncated, path: path, "truncated table: \(fileSize) bytes, shorter than its two meta pages")
        }
        guard m1.isMeta, m1.version == MetaPage.dataVersion else {
            throw LookupError.damaged(path, "page 1 is not an LMDB meta page")
        }
        let metas = [m0, m1]
        let newest = m1.transactionID > m0.transactionID ? m1 : m0
        let which = newest == m1 ? 1 : 0
        let pages = UInt64(fileSize / pageSize)
        if let damage = newest.damage(pages: pages) {
            throw LookupError.damaged(path, "meta page \(which): \(damage)")
        }
        if newest.lastPage >= pages {
            // A plausible last page beyond the end: a file cut short (a copy in progress). A
            // number no file could reach is damage.
            if newest.lastPage > UInt64(Int.max) / UInt64(pageSize) / 2 {
                throw LookupError.damaged(path, "meta page \(which): its last page \(newest.lastPage) is impossible")
            }
            let required = (Int(newest.lastPage) + 1) * pageSize
            throw LookupError(.truncated, path: path,
                              "truncated table: file is \(fileSize) bytes but its meta page needs \(required); rebuild it or copy it again")
        }
        let tails = try (0..<2).map { i throws(LookupError) in
            var tail = [UInt8](repeating: 0, count: pageSize - MetaPage.size)
            let n = tail.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(i * pageSize + MetaPage.size)) }
            if n < 0 { throw LookupError.system("cannot read table", path: path) }
            return n == tail.count && tail.allSatisfy { $0 == 0 }
        }
        return TableFileHeader(pageSize: pageSize, lastPage: Int(newest.lastPage),
                               transactionID: Int(truncatingIfNeeded: newest.transactionID),
                               mapSize: Int(newest.mapSize), fileSize: fileSize, metas: metas, metaTailsZero: tails)
    }

    /// Differences from what `lookup build` writes, for `lookup check`: both meta pages
    /// numbered and sound, the older one a consistent earlier state, the writer's flags and the
    /// main database's flags as the builder sets them.
    func buildProblems() -> [String] {
        var problems: [String] = []
        let pages = UInt64(fileSize / pageSize)
        for (i, meta) in metas.enumerated() {
            if meta.pageNumber != UInt64(i) { problems.append("meta page \(i) says it is page \(meta.pageNumber)") }
            if Int(meta.free.pad) != pageSize { problems.append("meta page \(i) gives page size \(meta.free.pad), meta page 0 \(pageSize)") }
            if let damage = meta.damage(pages: pages) { problems.append("meta page \(i): \(damage)") }
            else if meta.lastPage >= pages { problems.append("meta page \(i): its last page \(meta.lastPage) is past the end of the file") }
            // lookup build writes the records in named databases: the main database keeps
            // default flags; the free database has MDB_INTEGERKEY and the writer's MDB_NOSUBDIR.
            if meta.pagePad != 0 || meta.pageBounds != 0 || meta.pageFlags != MetaPage.metaFlag || meta.address != 0 || !metaTailsZero[i] {
                problems.append("meta page \(i) holds bytes LMDB does not write there")
            }
            // The main database holds the two or three named databases: one leaf page.
            let main = meta.main
            if main.pad != 0 || main.depth != 1 || main.branchPages != 0 || main.leafPages != 1 || main.overflowPages != 0
                || !(2...3).contains(main.entries) {
                problems.append("meta page \(i): the main database record is not that of lookup's named databases")
            }
            // LMDB writes meta page (transaction mod 2).
            if meta.transactionID % 2 != UInt64(i) { problems.append("meta page \(i) has transaction \(meta.transactionID)") }
            if meta.main.flags != 0 { problems.append("meta page \(i): main database flags \(meta.main.flags), lookup build writes 0") }
            if meta.free.flags != Self.builtFreeFlags { problems.append("meta page \(i): free database flags \(meta.free.flags), lookup build writes \(Self.builtFreeFlags)") }
        }
        // The map size is set once by the build, page-aligned and large enough for the file.
        if metas[0].mapSize != metas[1].mapSize { problems.append("the meta pages give map sizes \(metas[0].mapSize) and \(metas[1].mapSize)") }
        for (i, meta) in metas.enumerated() where meta.mapSize % UInt64(pageSize) != 0 || meta.mapSize < UInt64(fileSize) {
            problems.append("meta page \(i): map size \(meta.mapSize) is not a multiple of the page size covering the file")
        }
        // The older meta page is the state one transaction before the newest.
        let (older, newer) = metas[0].transactionID < metas[1].transactionID ? (metas[0], metas[1]) : (metas[1], metas[0])
        if newer.transactionID != older.transactionID + 1 {
            problems.append("the meta pages have transactions \(metas[0].transactionID) and \(metas[1].transactionID), not consecutive")
        }
        if older.lastPage > newer.lastPage { problems.append("the older meta page uses more pages than the newer") }
        return problems
    }

    /// The free database flags of a file `lookup build` wrote: `MDB_INTEGERKEY | MDB_NOSUBDIR`.
    static let builtFreeFlags: UInt16 = 0x4008
}
