// TableCorruption: the random damage the fault-injection tests inflict on a table file (meta
// pages, branch, leaf and overflow pages, the key index, anywhere), and `TablePages`, which
// finds where each kind of page of a table file is. Shared by the CLI and the service tests,
// so both draw corruptions the same way.

/// Where the kinds of pages of a table file are (page numbers), read from the page headers.
public struct TablePages: Sendable {
    /// LMDB page flags (page header offset 10).
    static let branchFlag: UInt16 = 0x01, leafFlag: UInt16 = 0x02, overflowFlag: UInt16 = 0x04

    /// The file's page size (from the first meta page).
    public var pageSize: Int
    public var branch: [Int] = [], leaf: [Int] = [], overflow: [Int] = []
    /// Byte offset of the key index's stored value ("LKHASH01") up to the end of its overflow run.
    public var index: Range<Int> = 0..<0

    /// Reads the page headers of the table file `bytes`.
    public init(_ bytes: [UInt8]) {
        func load(_ offset: Int, _ size: Int) -> Int {
            (0..<size).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
        }
        // The meta page's first database record starts with the page size (md_pad).
        pageSize = bytes.count >= 44 ? max(load(40, 4), 512) : 4096
        let pages = bytes.count / pageSize
        var page = 2
        while page < pages {
            let base = page * pageSize
            let flags = UInt16(load(base + 10, 2))
            if flags & Self.overflowFlag != 0 {
                // An overflow run: its page count at 12, the value 16 bytes in.
                let count = max(load(base + 12, 4), 1)
                overflow.append(page)
                if Array(bytes[base + 16 ..< base + 24]) == Array("LKHASH01".utf8) {
                    index = base + 16 ..< min(bytes.count, (page + count) * pageSize)
                }
                page += count
                continue
            }
            if flags & Self.branchFlag != 0 { branch.append(page) }
            if flags & Self.leafFlag != 0 { leaf.append(page) }
            page += 1
        }
    }
}

/// One kind of random damage to a table file.
public enum TableCorruption: String, CaseIterable, Sendable {
    /// One random byte of a meta page's header and database records.
    case metaByte = "meta byte"
    /// A whole 8-byte field of a meta page (roots, counts, last page, txnid) set to an extreme.
    case metaField = "meta field"
    /// 1 to 4 random bytes of a branch page.
    case branch
    /// 1 to 4 random bytes of a leaf page.
    case leaf
    /// 1 to 4 random bytes of an overflow page.
    case overflow
    /// 1 to 8 random bytes of the key index.
    case keyIndex = "key index"
    /// 1 to 8 random bytes anywhere in the file.
    case anywhere
    /// A branch, leaf or overflow page zeroed.
    case zeroedPage = "zeroed page"

    /// Damages `bytes` (a table file whose pages are `pages`) this way, at places drawn from
    /// `rng`. A kind of page the file has none of leaves it as it is.
    public func apply<G: RandomNumberGenerator>(to bytes: inout [UInt8], pages: TablePages, using rng: inout G) {
        let pageSize = pages.pageSize
        func damage(in range: Range<Int>, count: Int) {
            guard !range.isEmpty else { return }
            for _ in 0..<count { bytes[Int.random(in: range, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
        }
        func page(_ list: [Int]) -> Range<Int> {
            guard let p = list.randomElement(using: &rng) else { return 0..<0 }
            return p * pageSize ..< (p + 1) * pageSize
        }
        switch self {
        case .metaByte:
            let meta = Int.random(in: 0...1, using: &rng) * pageSize
            damage(in: meta ..< meta + 152, count: 1)
        case .metaField:
            let meta = Int.random(in: 0...1, using: &rng) * pageSize
            let field = meta + 16 + 8 * Int.random(in: 2...17, using: &rng)
            let extremes = [UInt64.max, 0, 1, UInt64(Int.max), 0x7FFF_FFFF, UInt64.random(in: 0...UInt64.max, using: &rng)]
            let value = extremes[Int.random(in: 0..<extremes.count, using: &rng)]
            for b in 0..<8 { bytes[field + b] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(b))) }
        case .branch: damage(in: page(pages.branch), count: Int.random(in: 1...4, using: &rng))
        case .leaf: damage(in: page(pages.leaf), count: Int.random(in: 1...4, using: &rng))
        case .overflow: damage(in: page(pages.overflow), count: Int.random(in: 1...4, using: &rng))
        case .keyIndex: damage(in: pages.index, count: Int.random(in: 1...8, using: &rng))
        case .anywhere: damage(in: 0 ..< bytes.count, count: Int.random(in: 1...8, using: &rng))
        case .zeroedPage:
            for i in page(pages.branch + pages.leaf + pages.overflow) { bytes[i] = 0 }
        }
    }
}
