// TableFile: checks a table file's LMDB meta pages before it is mapped, so a truncated, foreign
// or damaged file gives a clear error instead of SIGBUS, SIGSEGV or an arithmetic trap when
// LMDB follows what they say. The meta page's layout is LMDB's (`MetaPage`, LMDB/Layout.swift).
import LMDB

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

        guard let m0 = try readMeta(fd: fd, offset: 0, path: path), m0.isMeta, m0.version == MetaPage.dataVersion else {
            // A sound meta page 1 makes it an LMDB file whose meta page 0 is damaged.
            for size in [4096, 8192, 16384, 32768, 65536, 512, 1024, 2048] where fileSize >= 2 * size {
                if let m1 = try readMeta(fd: fd, offset: size, path: path), m1.isMeta,
                   m1.version == MetaPage.dataVersion, Int(m1.free.pad) == size, m1.pageNumber == 1 {
                    throw LookupError.damaged(path, "meta page 0 is not an LMDB meta page of this version")
                }
            }
            if let m0 = try readMeta(fd: fd, offset: 0, path: path), m0.isMeta {
                throw LookupError(.notATable, path: path, "LMDB data format version \(m0.version) is not supported (expected \(MetaPage.dataVersion))")
            }
            throw notLMDB
        }
        // The page size lives in the free database record of meta page 0.
        let pageSize = Int(m0.free.pad)
        guard pageSize >= 512, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else {
            throw LookupError.damaged(path, "meta page 0 gives the impossible page size \(m0.free.pad)")
        }
        guard fileSize >= 2 * pageSize, let m1 = try readMeta(fd: fd, offset: pageSize, path: path) else {
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

    /// The meta page at `offset` of `fd`; `nil` when the file is too short for it.
    private static func readMeta(fd: Int32, offset: Int, path: String) throws(LookupError) -> MetaPage? {
        var bytes = [UInt8](repeating: 0, count: MetaPage.size)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, MetaPage.size, off_t(offset)) }
        if n < 0 { throw LookupError.system("cannot read table", path: path) }
        return n < MetaPage.size ? nil : bytes.withUnsafeBytes { MetaPage($0) }
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
