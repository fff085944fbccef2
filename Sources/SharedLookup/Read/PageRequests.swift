// PageRequests: asking the kernel for pages of the table's map ahead of their use, for tables
// larger than memory (see MemoryRegime). A lookup that faults on a page not in memory waits
// for one disk read; asking for many pages first (`MADV_WILLNEED`, which starts their reads
// and returns) lets the device work on all of them at once, and asking in file order lets it
// merge neighbours.

/// Requests for pages of one memory map.
struct PageRequests {
    /// The system's page size.
    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    /// One `MADV_WILLNEED` reads at most the device's read-ahead size: larger ranges are asked
    /// for in pieces of this size.
    static let piece = 2 << 20

    /// The start of the map.
    let map: UnsafeRawPointer
    /// Bytes of the map backed by the file.
    let size: Int

    /// Starts reading the pages holding bytes `offset ..< offset + count` of the map.
    func willNeed(offset: Int, count: Int) {
        let first = max(0, offset) & ~(Self.pageSize - 1)
        let end = min(size, offset + count)
        var at = first
        while at < end {
            let length = min(Self.piece, end - at)
            _ = madvise(UnsafeMutableRawPointer(mutating: map + at), length, MADV_WILLNEED)
            at += length
        }
    }

    /// Pages between two wanted ones are read too when there are at most this many: one
    /// longer read costs less than two seeks, so a dense batch sweeps the file.
    static let bridgedGap = 8

    /// Starts reading the pages holding the given byte offsets of the map, which must be in
    /// ascending order (0 and offsets past the map are skipped); pages near each other are
    /// asked for together, with the few between them.
    func willNeed<S: Sequence>(sortedOffsets offsets: S) where S.Element == Int {
        var runStart = -1, runEnd = -1
        let bridge = Self.bridgedGap * Self.pageSize
        for offset in offsets where offset > 0 && offset < size {
            let page = offset & ~(Self.pageSize - 1)
            if page < runEnd { continue }
            if runStart >= 0 && page - runEnd <= bridge {
                runEnd = page + Self.pageSize
                continue
            }
            if runStart >= 0 { willNeed(offset: runStart, count: runEnd - runStart) }
            runStart = page
            runEnd = page + Self.pageSize
        }
        if runStart >= 0 { willNeed(offset: runStart, count: runEnd - runStart) }
    }

    /// Reads bytes `offset ..< offset + count` in with large reads and keeps them in memory
    /// for as long as the map lives (`mlock`); returns whether they are locked. Without the
    /// right to lock (an unprivileged process's small `RLIMIT_MEMLOCK`), they are only read
    /// in, and stay as long as the kernel finds them used.
    func makeResident(offset: Int, count: Int) -> Bool {
        willNeed(offset: offset, count: count)
        let first = offset & ~(Self.pageSize - 1)
        let end = min(size, offset + count)
        guard end > first else { return false }
        return mlock(map + first, end - first) == 0
    }
}
