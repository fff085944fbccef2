// RequestKeys: the keys a request asks for: one percent-encoded key from a URL path, or the
// keys of a batch body (a JSON array of strings, or newline-separated text), checked against
// LMDB's key length and the batch limit.
import Foundation
import NIOCore

/// Keys of a request, stored back to back in one buffer.
struct RequestKeys {
    /// The keys' bytes, back to back.
    private(set) var storage: [UInt8] = []
    /// Where each key is in `storage`.
    private(set) var spans: [Range<Int>] = []
    /// The longest key accepted (`ServeLimits.maxKeyBytes(for:)`).
    let maxKeyBytes: Int

    /// No keys yet; keys over `maxKeyBytes` are refused.
    init(maxKeyBytes: Int) {
        self.maxKeyBytes = maxKeyBytes
    }

    /// Number of keys.
    var count: Int { spans.count }

    /// Calls `body` with a view of every key (valid during the call).
    func withKeys<R>(_ body: ([UnsafeRawBufferPointer]) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { base in
            try body(spans.map { UnsafeRawBufferPointer(rebasing: base[$0]) })
        }
    }

    /// Appends a key, checking its length; `name` says which key in messages ("key #3", "line 3").
    mutating func append<C: Collection<UInt8>>(_ key: C, name: String) throws(ServeError) {
        try Self.checkLength(key.count, name: name, limit: maxKeyBytes)
        let start = storage.count
        storage.append(contentsOf: key)
        spans.append(start..<storage.count)
    }

    /// Throws 400 unless a key of `count` bytes is not empty and at most `limit` bytes.
    static func checkLength(_ count: Int, name: String, limit: Int) throws(ServeError) {
        if count == 0 {
            throw .badRequest("\(name) is empty; keys are " + (limit == Int.max ? "1 byte or more" : "1 to \(limit) bytes"))
        }
        if count > limit { throw .badRequest("\(name) is \(count) bytes; keys are at most \(limit) bytes") }
    }

    // MARK: - One key from a URL path

    /// Decodes a percent-encoded path segment (`%2F` is a slash, `+` is a plus). Throws 400 for
    /// a `%` not followed by two hex digits, an empty key or one over `maxKeyBytes`.
    static func decodePathKey(_ encoded: Substring, maxKeyBytes: Int = ServeLimits.maxKeyBytes) throws(ServeError) -> [UInt8] {
        var out: [UInt8] = []
        let bytes = Array(encoded.utf8)
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b != UInt8(ascii: "%") {
                out.append(b)
                i += 1
                continue
            }
            guard i + 2 < bytes.count, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) else {
                let shown = String(decoding: bytes[i..<min(i + 3, bytes.count)], as: UTF8.self)
                throw .badRequest("invalid percent-encoding \"\(shown)\" at byte \(i + 1) of the key: % must be followed by two hex digits")
            }
            out.append(hi << 4 | lo)
            i += 3
        }
        try checkLength(out.count, name: "the key", limit: maxKeyBytes)
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    // MARK: - Batch bodies

    /// The keys of a batch body: a JSON array of strings when the content type says JSON (or,
    /// with no telling content type, when the body starts with `[`), else one key per line
    /// (`\n` or `\r\n`; a final newline ends the last key). Throws 400 for a malformed body or
    /// key, 413 for more than `maxKeys` keys.
    static func parseBatch(_ body: ByteBuffer, contentType: String?, maxKeys: Int, maxKeyBytes: Int = ServeLimits.maxKeyBytes) throws(ServeError) -> RequestKeys {
        let type = contentType?.lowercased() ?? ""
        let bytes = body.readableBytesView
        let isJSON: Bool
        if type.contains("json") && !type.contains("ndjson") {
            isJSON = true
        } else if type.hasPrefix("text/") || type.contains("ndjson") {
            isJSON = false
        } else {
            isJSON = bytes.first(where: { !Self.isJSONSpace($0) }) == UInt8(ascii: "[")
        }
        var keys = RequestKeys(maxKeyBytes: maxKeyBytes)
        if isJSON { try parseJSON(bytes, maxKeys: maxKeys, into: &keys) } else { try parseLines(bytes, maxKeys: maxKeys, into: &keys) }
        return keys
    }

    private static func isJSONSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }

    private static func parseJSON(_ bytes: ByteBufferView, maxKeys: Int, into keys: inout RequestKeys) throws(ServeError) {
        let strings: [String]
        do {
            strings = try JSONDecoder().decode([String].self, from: Data(bytes))
        } catch DecodingError.typeMismatch(_, _), DecodingError.valueNotFound(_, _) {
            throw .badRequest("the body must be a JSON array of key strings, like [\"a\",\"b\"]")
        } catch {
            throw .badRequest("the body is not valid JSON; send a JSON array of key strings, like [\"a\",\"b\"], or one key per line as text/plain")
        }
        try checkCount(strings.count, maxKeys: maxKeys)
        keys.spans.reserveCapacity(strings.count)
        for (i, s) in strings.enumerated() { try keys.append(s.utf8, name: "key #\(i + 1)") }
    }

    private static func parseLines(_ bytes: ByteBufferView, maxKeys: Int, into keys: inout RequestKeys) throws(ServeError) {
        keys.storage.reserveCapacity(bytes.count)
        var start = bytes.startIndex
        var line = 0
        while start < bytes.endIndex {
            line += 1
            let newline = bytes[start...].firstIndex(of: 10) ?? bytes.endIndex
            var end = newline
            if end > start && bytes[end - 1] == 13 { end -= 1 }
            if keys.count == maxKeys { throw .tooLarge("the batch has more than \(maxKeys) keys; send at most \(maxKeys) per request") }
            try keys.append(bytes[start..<end], name: "line \(line)")
            start = newline == bytes.endIndex ? newline : newline + 1
        }
    }

    private static func checkCount(_ count: Int, maxKeys: Int) throws(ServeError) {
        if count > maxKeys { throw .tooLarge("the batch has \(count) keys; send at most \(maxKeys) per request") }
    }
}
