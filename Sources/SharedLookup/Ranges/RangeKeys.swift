// RangeKeys: how the keys of a range table compare, and their byte forms. IP addresses (IPv4 as
// IPv4-mapped IPv6) are 16 bytes big-endian, integers 8 bytes big-endian with the sign bit
// flipped, text is its bytes: in each form, byte order is the key type's order, so LMDB's B+tree
// orders ranges by start and "the greatest start <= x" is one cursor seek. Bounds are kept
// exclusive (the first key after a range), with "no bound" for a range reaching the top.

/// How a table matches lookup keys.
public enum MatchKind: String, Sendable, Codable, CaseIterable {
    /// The key must equal a stored key.
    case exact
    /// The key falls in a range `start..end` (`build --ranges`).
    case range
    /// The key is an IP address inside a network (`build --cidr`).
    case cidr
    /// The longest stored key that is a prefix of the key (`build --prefixes`).
    case prefix
}

/// How keys of a range table compare.
public enum RangeKeyType: String, Sendable, Codable, CaseIterable {
    /// IPv4 and IPv6 addresses, by value (IPv4 as IPv4-mapped IPv6).
    case ip
    /// Signed 64-bit integers, by value.
    case int
    /// Bytes, compared as bytes (UTF-8 text in code point order).
    case text
}

extension RangeKeyType {
    /// "an IP address", "an integer", "text": what a key of this type is.
    public var article: String {
        switch self {
        case .ip: return "an IP address"
        case .int: return "an integer"
        case .text: return "text"
        }
    }
}

/// The byte forms of range keys.
public enum RangeKeys {
    /// `text` (an address, or an integer) as the bytes its type compares by, or `nil` when it
    /// is not one.
    public static func encode(_ text: UnsafeRawBufferPointer, as type: RangeKeyType) -> [UInt8]? {
        switch type {
        case .ip: return parseIP(text)
        case .int: return parseInt(text).map(encodeInt)
        case .text: return Array(text)
        }
    }

    /// Writes the form of `text` into `out` (cleared first); `false` when it is not one.
    @inline(__always)
    static func encode(_ text: UnsafeRawBufferPointer, as type: RangeKeyType, into out: ByteScratch) -> Bool {
        out.removeAll()
        switch type {
        case .text:
            out.append(text)
            return true
        case .int:
            guard let value = parseInt(text) else { return false }
            var big = (UInt64(bitPattern: value) ^ (1 << 63)).bigEndian
            withUnsafeBytes(of: &big) { out.append($0) }
            return true
        case .ip:
            out.reserve(16)
            var address = in6_addr()
            guard parseIP(text, into: &address) else { return false }
            withUnsafeBytes(of: &address) { out.append($0) }
            return true
        }
    }

    /// An integer's bytes.
    static func encodeInt(_ value: Int64) -> [UInt8] {
        withUnsafeBytes(of: (UInt64(bitPattern: value) ^ (1 << 63)).bigEndian) { Array($0) }
    }

    /// The signed integer written in `text` (an optional sign and decimal digits).
    static func parseInt(_ text: UnsafeRawBufferPointer) -> Int64? {
        guard !text.isEmpty, text.count <= 20 else { return nil }
        var i = 0
        var negative = false
        if text[0] == UInt8(ascii: "-") || text[0] == UInt8(ascii: "+") {
            negative = text[0] == UInt8(ascii: "-")
            i = 1
        }
        guard i < text.count else { return nil }
        var magnitude: UInt64 = 0
        while i < text.count {
            let d = text[i] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            let (times, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(UInt64(d))
            if o1 || o2 { return nil }
            magnitude = sum
            i += 1
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    /// The 16 bytes of an IPv4 (as IPv4-mapped IPv6) or IPv6 address.
    static func parseIP(_ text: UnsafeRawBufferPointer) -> [UInt8]? {
        var address = in6_addr()
        guard parseIP(text, into: &address) else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }

    /// Parses an address into `address`: dotted IPv4 becomes ::ffff:a.b.c.d.
    @inline(__always)
    static func parseIP(_ text: UnsafeRawBufferPointer, into address: inout in6_addr) -> Bool {
        if let v4 = parseIPv4(text) {
            withUnsafeMutableBytes(of: &address) { bytes in
                bytes.storeBytes(of: 0, toByteOffset: 0, as: UInt64.self)
                bytes.storeBytes(of: UInt32(0x0000_FFFF).bigEndian, toByteOffset: 8, as: UInt32.self)
                bytes.storeBytes(of: v4.bigEndian, toByteOffset: 12, as: UInt32.self)
            }
            return true
        }
        return parseIPSlow(text, into: &address)
    }

    /// A dotted-quad IPv4 address (four decimal numbers 0...255 without leading zeros, as
    /// inet_pton reads them), or `nil`.
    @inline(__always)
    static func parseIPv4(_ text: UnsafeRawBufferPointer) -> UInt32? {
        guard text.count >= 7 && text.count <= 15 else { return nil }
        var result: UInt32 = 0
        var part: UInt32 = 0, digits = 0, parts = 0
        for byte in text {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, parts < 3 else { return nil }
                result = result << 8 | part
                parts += 1
                part = 0
                digits = 0
                continue
            }
            let d = byte &- UInt8(ascii: "0")
            guard d < 10, !(digits > 0 && part == 0) else { return nil }
            part = part * 10 + UInt32(d)
            digits += 1
            guard part <= 255 else { return nil }
        }
        guard digits > 0, parts == 3 else { return nil }
        return result << 8 | part
    }

    /// Any other address form (IPv6, IPv4-mapped IPv6), through inet_pton.
    private static func parseIPSlow(_ text: UnsafeRawBufferPointer, into address: inout in6_addr) -> Bool {
        guard text.count >= 2 && text.count < 46 else { return false }
        // inet_pton wants a C string: copy to the stack with a NUL.
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 48) { buffer in
            var hasColon = false
            for i in 0..<text.count {
                let byte = text[i]
                if byte == UInt8(ascii: ":") { hasColon = true }
                buffer[i] = CChar(bitPattern: byte)
            }
            buffer[text.count] = 0
            if hasColon { return inet_pton(AF_INET6, buffer.baseAddress, &address) == 1 }
            var v4 = in_addr()
            guard inet_pton(AF_INET, buffer.baseAddress, &v4) == 1 else { return false }
            withUnsafeMutableBytes(of: &address) { bytes in
                for i in 0..<10 { bytes[i] = 0 }
                bytes[10] = 0xFF
                bytes[11] = 0xFF
                withUnsafeBytes(of: &v4) { for i in 0..<4 { bytes[12 + i] = $0[i] } }
            }
            return true
        }
    }

    /// A network `address/length` (IPv4 lengths 0...32, IPv6 0...128) as its first address and
    /// exclusive end (`nil`: none, the network reaches the top), or why it is not one.
    static func parseCIDR(_ text: UnsafeRawBufferPointer) -> Result<(start: [UInt8], end: [UInt8]?), RangeKeyError> {
        guard let slash = text.firstIndex(of: UInt8(ascii: "/")) else {
            return .failure(RangeKeyError("\"\(printablePreview(text))\" is not a network: address/length expected"))
        }
        let addressText = text.slice(0, slash), lengthText = text.slice(slash + 1, text.count)
        guard var address = parseIP(addressText) else {
            return .failure(RangeKeyError("\"\(printablePreview(addressText))\" is not an IP address"))
        }
        let v4 = !addressText.contains(UInt8(ascii: ":"))
        guard let length = parseInt(lengthText), length >= 0, length <= (v4 ? 32 : 128), lengthText.count <= 3,
              lengthText.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return .failure(RangeKeyError("\"\(printablePreview(text))\": the prefix length must be 0 to \(v4 ? 32 : 128)"))
        }
        let bits = Int(length) + (v4 ? 96 : 0)
        var hostBits = false
        for i in 0..<16 {
            let keep = max(0, min(8, bits - 8 * i))
            let mask: UInt8 = keep == 8 ? 0xFF : UInt8(truncatingIfNeeded: 0xFF00 >> keep)
            if address[i] & ~mask != 0 { hostBits = true }
            address[i] &= mask
        }
        if hostBits {
            return .failure(RangeKeyError("\"\(printablePreview(text))\" has host bits set; the network is \(formatIP(address))/\(length)"))
        }
        // The exclusive end: the last address of the network, plus one.
        var end = address
        for i in 0..<16 {
            let keep = max(0, min(8, bits - 8 * i))
            let mask: UInt8 = keep == 8 ? 0xFF : UInt8(truncatingIfNeeded: 0xFF00 >> keep)
            end[i] |= ~mask
        }
        return .success((address, increment(end)))
    }

    /// `bytes` + 1 as a fixed-width big-endian number, or `nil` when it overflows (the top).
    static func increment(_ bytes: [UInt8]) -> [UInt8]? {
        var result = bytes
        var i = result.count - 1
        while i >= 0 {
            if result[i] == 0xFF {
                result[i] = 0
                i -= 1
            } else {
                result[i] += 1
                return result
            }
        }
        return nil
    }

    /// The first text after every text that starts with `prefix` (`nil`: none, the prefix is
    /// all 0xFF bytes).
    static func prefixEnd(_ prefix: [UInt8]) -> [UInt8]? {
        var end = prefix
        while let last = end.last, last == 0xFF { end.removeLast() }
        guard !end.isEmpty else { return nil }
        end[end.count - 1] += 1
        return end
    }

    /// The exclusive end of a range whose last key is `last`.
    static func exclusiveEnd(after last: [UInt8], type: RangeKeyType) -> [UInt8]? {
        type == .text ? last + [0] : increment(last)
    }

    /// A key's bytes as text for people: an address, an integer, or the text.
    public static func describe(_ key: UnsafeRawBufferPointer, type: RangeKeyType) -> String {
        switch type {
        case .ip where key.count == 16: return formatIP(Array(key))
        case .int where key.count == 8:
            let raw = key.loadUnaligned(as: UInt64.self).bigEndian
            return String(Int64(bitPattern: raw ^ (1 << 63)))
        default: return String(decoding: key, as: UTF8.self)
        }
    }

    /// A range for people, inclusive: `10.0.0.0-10.255.255.255`.
    static func describeRange(start: [UInt8], end: [UInt8]?, type: RangeKeyType) -> String {
        let (first, last) = bounds(start: start, end: end, type: type)
        return first + "-" + last
    }

    /// A range's first and last key for people (inclusive). A text range ending before a key
    /// that is not "last key + NUL" (a prefix's) says "before KEY".
    public static func bounds(start: [UInt8], end: [UInt8]?, type: RangeKeyType) -> (first: String, last: String) {
        let first = start.withUnsafeBytes { describe($0, type: type) }
        guard var last = end else {
            return (first, type == .ip ? "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" : type == .int ? String(Int64.max) : "(the end)")
        }
        if type == .text {
            if last.last == 0 { last.removeLast() } else { return (first, "(before " + String(decoding: last, as: UTF8.self) + ")") }
        } else {
            // The exclusive end minus one (it is above the start, so no borrow runs out).
            var i = last.count - 1
            while i >= 0 {
                if last[i] == 0 { last[i] = 0xFF; i -= 1 } else { last[i] -= 1; break }
            }
        }
        return (first, last.withUnsafeBytes { describe($0, type: type) })
    }

    /// An address in its usual text: dotted for IPv4-mapped, else IPv6.
    static func formatIP(_ bytes: [UInt8]) -> String {
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return bytes[12..<16].map(String.init).joined(separator: ".")
        }
        var address = in6_addr()
        withUnsafeMutableBytes(of: &address) { for i in 0..<16 { $0[i] = bytes[i] } }
        var text = [CChar](repeating: 0, count: 64)
        guard inet_ntop(AF_INET6, &address, &text, 64) != nil else { return "?" }
        return String(cString: text)
    }
}

/// Why a range key or network is malformed.
struct RangeKeyError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
