// KeyForm: how a table's keys are made, recorded in the table at build time and applied to
// every lookup key by every reader: how many columns a key has (a composite key's parts are
// joined by the byte 0x1F), whether case is folded and whether surrounding whitespace is
// trimmed. KeyNormalizer applies the folding and trimming, without allocating per key.
import Foundation

/// How a table's keys are formed.
public struct KeyForm: Sendable, Hashable, Codable {
    /// How many columns (parts) make a key; the parts are joined by `partSeparator`.
    public var parts: Int
    /// Keys are compared after Unicode case folding ("Straße" and "STRASSE" are one key).
    public var ignoreCase: Bool
    /// Keys are compared without surrounding whitespace (of each part).
    public var trim: Bool

    /// The byte between the parts of a composite key (ASCII unit separator).
    public static let partSeparator: UInt8 = 0x1F

    /// A key form; the default is one part, taken as it is.
    public init(parts: Int = 1, ignoreCase: Bool = false, trim: Bool = false) {
        self.parts = max(1, parts)
        self.ignoreCase = ignoreCase
        self.trim = trim
    }

    /// Whether keys are changed before they are stored or looked up.
    public var normalizes: Bool { ignoreCase || trim }

    /// A short description for `stats`: "2 columns, case folded, trimmed".
    public var summary: String {
        var words = [parts == 1 ? "1 column" : "\(parts) columns joined by 0x1F"]
        if ignoreCase { words.append("case folded") }
        if trim { words.append("trimmed") }
        return words.joined(separator: ", ")
    }

    /// `typed` as a key of this form, for keys typed by people (`get KEY`, `serve`): the parts
    /// of a composite key given joined by a tab are joined by 0x1F instead.
    public func keyBytes(fromTyped typed: [UInt8]) -> [UInt8] {
        var bytes = typed
        if parts > 1 {
            for i in bytes.indices where bytes[i] == 9 { bytes[i] = Self.partSeparator }
        }
        return bytes
    }

    /// The key made of `parts` (a composite key's column values, in key order), joined by
    /// `partSeparator`: what `TableBuilder.add(key:value:)` and the lookups of a table with
    /// composite keys take.
    public static func compositeKey<S: StringProtocol>(_ parts: [S]) -> [UInt8] {
        var key: [UInt8] = []
        for (i, part) in parts.enumerated() {
            if i > 0 { key.append(partSeparator) }
            key.append(contentsOf: part.utf8)
        }
        return key
    }

    /// Whether `key`, of `parts` parts, has nothing but separators: every part empty, which
    /// is refused like an empty one-part key.
    public static func isBlank(_ key: UnsafeRawBufferPointer, parts: Int) -> Bool {
        parts > 1 && key.count == parts - 1 && key.allSatisfy { $0 == partSeparator }
    }

}

/// Applies a `KeyForm`'s case folding and trimming to keys. Not thread-safe: one per thread.
public final class KeyNormalizer {
    /// The form applied.
    public let form: KeyForm
    private let scratch = ByteScratch(capacity: 1024)
    private let folded = ByteScratch(capacity: 1024)

    /// A range table's key type: keys are then written in its form (`RangeKeys`).
    public let rangeKeyType: RangeKeyType?
    private let encoded = ByteScratch(capacity: 64)
    private let address = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 8)

    deinit { address.deallocate() }

    /// A normalizer for `form`; with `rangeKeyType`, `stored` also writes keys in that type's
    /// form.
    public init(form: KeyForm, rangeKeyType: RangeKeyType? = nil) {
        self.form = form
        self.rangeKeyType = rangeKeyType == .text ? nil : rangeKeyType
    }

    /// `key` as the table stores it: normalized, and for a range table of IP addresses or
    /// integers in their form; `nil` when it is not of that type (valid until the next call).
    @inline(__always)
    public func stored(_ key: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        stored(normalized: normalize(key))
    }

    /// A key `normalize` gave, as the table stores it: itself, or for a range table of IP
    /// addresses or integers in their form; `nil` when it is not of that type (valid until
    /// the next call). A job sees the normalized key: a range key as written, as text.
    @inline(__always)
    public func stored(normalized: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard let type = rangeKeyType else { return normalized }
        return encode(normalized, as: type)
    }

    /// A normalized key in `type`'s form, in this normalizer's own buffers (not those
    /// `normalize` writes), or `nil`.
    @inline(__always)
    private func encode(_ normalized: UnsafeRawBufferPointer, as type: RangeKeyType) -> UnsafeRawBufferPointer? {
        if type == .ip, let v4 = RangeKeys.parseIPv4(normalized) {
            // The common case without the general encoder: ::ffff:a.b.c.d.
            address.storeBytes(of: 0, toByteOffset: 0, as: UInt64.self)
            address.storeBytes(of: UInt32(0x0000_FFFF).bigEndian, toByteOffset: 8, as: UInt32.self)
            address.storeBytes(of: v4.bigEndian, toByteOffset: 12, as: UInt32.self)
            return UnsafeRawBufferPointer(start: address, count: 16)
        }
        return RangeKeys.encode(normalized, as: type, into: encoded) ? encoded.bytes : nil
    }

    /// `key` normalized: `key` itself when nothing changes, else bytes valid until the next call.
    @inline(__always)
    public func normalize(_ key: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        guard form.normalizes else { return key }
        return normalizeSlow(key)
    }

    /// `key` normalized, as an array.
    public func normalized(_ key: [UInt8]) -> [UInt8] {
        key.withUnsafeBytes { Array(normalize($0)) }
    }

    private func normalizeSlow(_ key: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var key = key
        if form.trim {
            key = trimmed(key)
        }
        if form.ignoreCase {
            key = caseFolded(key)
        }
        return key
    }

    /// Each part of `key` without surrounding whitespace.
    private func trimmed(_ key: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        guard key.count > 0 else { return key }
        if form.parts == 1 || memchr(key.baseAddress!, Int32(KeyForm.partSeparator), key.count) == nil {
            let (start, end) = Self.trimmedBounds(key, 0, key.count)
            return key.slice(start, end)
        }
        scratch.removeAll()
        var start = 0
        while true {
            let rest = key.count - start
            let end = memchr(key.baseAddress! + start, Int32(KeyForm.partSeparator), rest)
                .map { UnsafeRawPointer($0) - key.baseAddress! } ?? key.count
            let (s, e) = Self.trimmedBounds(key, start, end)
            scratch.append(key.slice(s, e))
            if end == key.count { break }
            scratch.append(KeyForm.partSeparator)
            start = end + 1
        }
        return scratch.bytes
    }

    /// The bounds of `key[start..<end]` without leading and trailing whitespace (ASCII, and
    /// Unicode White_Space such as U+00A0 and U+3000).
    private static func trimmedBounds(_ key: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> (Int, Int) {
        var s = start, e = end
        while s < e {
            let width = whitespaceWidth(key, at: s, limit: e)
            if width == 0 { break }
            s += width
        }
        while e > s {
            // Find where the last scalar starts (step back over continuation bytes).
            var b = e - 1
            while b > s && key[b] & 0xC0 == 0x80 { b -= 1 }
            let width = whitespaceWidth(key, at: b, limit: e)
            if width == 0 || b + width != e { break }
            e = b
        }
        return (s, e)
    }

    /// The byte length of the whitespace scalar at `i`, or 0 when there is none.
    @inline(__always)
    private static func whitespaceWidth(_ key: UnsafeRawBufferPointer, at i: Int, limit: Int) -> Int {
        let byte = key[i]
        if byte < 0x80 { return byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) ? 1 : 0 }
        var decoder = UTF8()
        var iterator = key[i..<limit].makeIterator()
        guard case .scalarValue(let scalar) = decoder.decode(&iterator) else { return 0 }
        return scalar.properties.isWhitespace ? UTF8.width(scalar) : 0
    }

    /// `key` with Unicode case folding: ASCII letters directly, other text through
    /// Foundation's full folding (so "ß" matches "SS"). Bytes that are not UTF-8 stay.
    private func caseFolded(_ key: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var ascii = true
        var upper = false
        for byte in key {
            if byte >= 0x80 { ascii = false; break }
            if byte >= 0x41 && byte <= 0x5A { upper = true }
        }
        if ascii && !upper { return key }
        folded.removeAll()
        if ascii {
            folded.reserve(key.count)
            for byte in key { folded.append(byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) }
            return folded.bytes
        }
        guard let text = String(validating: key, as: UTF8.self) else {
            for byte in key { folded.append(byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) }
            return folded.bytes
        }
        var result = text.folding(options: [.caseInsensitive], locale: nil)
        result.withUTF8 { folded.append(UnsafeRawBufferPointer($0)) }
        return folded.bytes
    }
}
