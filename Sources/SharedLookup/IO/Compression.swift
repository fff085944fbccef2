// Compression: the compressed formats an input may come in (gzip, zstd, xz, bzip2), told by a
// file name's suffix or by the magic bytes a stream starts with, and the names of files with
// the suffix dropped (for output names and format inference).

/// A compressed format of inputs (all four are read; `gz` and `zst` are also written).
public enum Compression: String, CaseIterable, Sendable, Codable {
    /// gzip (RFC 1952), several members allowed.
    case gz
    /// Zstandard, several frames allowed.
    case zst
    /// xz, several streams allowed.
    case xz
    /// bzip2, several streams allowed.
    case bz2

    /// The file name suffix, with its dot: ".gz", ".zst", ".xz", ".bz2".
    public var suffix: String { "." + rawValue }

    /// The format's name in messages: "gzip", "zstd", "xz", "bzip2".
    public var formatName: String {
        switch self {
        case .gz: "gzip"
        case .zst: "zstd"
        case .xz: "xz"
        case .bz2: "bzip2"
        }
    }

    /// Whether outputs can be written in this format (`lookup run --compress`).
    public var isWritable: Bool { self == .gz || self == .zst }

    /// The format the name of `path` ends in, if any (the suffix in lower case, as written).
    public static func named(by path: String) -> Compression? {
        allCases.first { path.hasSuffix($0.suffix) }
    }

    /// `path` without its compression suffix (unchanged when it has none).
    public static func removingSuffix(_ path: String) -> String {
        guard let format = named(by: path) else { return path }
        return String(path.dropLast(format.suffix.count))
    }

    /// The most bytes `sniff` looks at.
    static let magicLength = 10

    /// Whether `bytes` (fewer than `magicLength` only at the end of the input) may still turn
    /// out to start with a magic number when more bytes are read.
    static func mayStartMagic(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count < magicLength, bytes.count >= 2 else { return false }
        return magics.contains { _, magic in
            magic.count > bytes.count && zip(magic, bytes).allSatisfy { m, b in m.map { $0 == b } ?? true }
        }
    }

    /// The format whose magic bytes `bytes` starts with, if any.
    static func sniff(_ bytes: UnsafeRawBufferPointer) -> Compression? {
        for (format, magic) in magics where bytes.count >= magic.count {
            if zip(magic, bytes).allSatisfy({ m, b in m.map { $0 == b } ?? ((0x31...0x39).contains(b)) }) {
                return format
            }
        }
        return nil
    }

    /// Each format's magic bytes; `nil` stands for bzip2's block-size digit, "1" to "9".
    /// bzip2's "BZh9" is followed by the first block's magic (or that of the end of the
    /// stream, for an empty one), so text starting "BZh9" is not taken for it.
    private static let magics: [(Compression, [UInt8?])] = [
        (.gz, [0x1F, 0x8B]),
        (.zst, [0x28, 0xB5, 0x2F, 0xFD]),
        (.xz, [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]),
        (.bz2, [0x42, 0x5A, 0x68, nil, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59]),
        (.bz2, [0x42, 0x5A, 0x68, nil, 0x17, 0x72, 0x45, 0x38, 0x50, 0x90]),
    ]
}
