// TableFile: checks a table file's LMDB meta pages before it is mapped, so a truncated or
// foreign file gives a clear error instead of SIGBUS when pages past its end are touched.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    /// Bytes the file must hold for every page the meta page names.
    var requiredSize: Int { (lastPage + 1) * pageSize }

    // Layout of LMDB 0.9 on a 64-bit machine: a 16-byte page header, then MDB_meta.
    private static let magic: UInt32 = 0xBEEF_C0DE
    private static let dataVersion: UInt32 = 1
    private static let metaFlag: UInt16 = 0x08

    /// Reads and validates the meta pages of `path` (through `fd` when given).
    static func read(path: String, fd givenFD: Int32? = nil) throws(LookupError) -> TableFileHeader {
        let fd: Int32
        if let givenFD {
            fd = givenFD
        } else {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 { throw LookupError.system("cannot open table", path: path) }
        }
        defer { if givenFD == nil { close(fd) } }
        var st = stat()
        if fstat(fd, &st) != 0 { throw LookupError.system("cannot stat table", path: path) }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw LookupError(.notATable, path: path, "is a directory; a table is a single file (built by `lookup build`)")
        }
        let fileSize = Int(st.st_size)
        let notLMDB = LookupError(.notATable, path: path, "not an LMDB table file (no LMDB meta page)")
        if fileSize < 160 { throw fileSize == 0 ? LookupError(.notATable, path: path, "empty file, not an LMDB table") : notLMDB }

        func meta(at offset: Int) throws(LookupError) -> (flags: UInt16, magic: UInt32, version: UInt32, mapSize: Int, pageSize: Int, lastPage: Int, txnid: Int)? {
            var bytes = [UInt8](repeating: 0, count: 160)
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 160, off_t(offset)) }
            if n < 0 { throw LookupError.system("cannot read table", path: path) }
            if n < 160 { return nil }
            func u16(_ o: Int) -> UInt16 { UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8 }
            func u32(_ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[o + $1]) << (8 * $1) } }
            func u64(_ o: Int) -> Int { Int(truncatingIfNeeded: (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[o + $1]) << (8 * $1) }) }
            // MDB_meta at 16: magic, version, address, mapsize, dbs[2] (48 bytes each;
            // dbs[0].md_pad holds the page size), last_pg, txnid.
            return (u16(10), u32(16), u32(20), u64(32), Int(u32(40)), u64(136), u64(144))
        }

        guard let m0 = try meta(at: 0), m0.magic == magic, m0.flags & metaFlag != 0 else { throw notLMDB }
        if m0.version != dataVersion {
            throw LookupError(.notATable, path: path, "LMDB data format version \(m0.version) is not supported (expected \(dataVersion))")
        }
        let pageSize = m0.pageSize
        guard pageSize >= 512, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else { throw notLMDB }
        guard fileSize >= 2 * pageSize, let m1 = try meta(at: pageSize), m1.magic == magic else {
            throw LookupError(.truncated, path: path, "truncated table: \(fileSize) bytes, shorter than its two meta pages")
        }
        let newest = m1.txnid > m0.txnid ? m1 : m0
        let header = TableFileHeader(pageSize: pageSize, lastPage: newest.lastPage, transactionID: newest.txnid,
                                     mapSize: newest.mapSize, fileSize: fileSize)
        if fileSize < header.requiredSize {
            throw LookupError(.truncated, path: path,
                              "truncated table: file is \(fileSize) bytes but its meta page needs \(header.requiredSize); rebuild it or copy it again")
        }
        return header
    }
}
