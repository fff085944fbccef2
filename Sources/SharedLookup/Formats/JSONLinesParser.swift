// JSONLinesParser: reads JSON Lines (one JSON object per line) with a small strict byte-level
// JSON scanner. The key is one named member; the value is an object of the other members,
// each kept in its raw text.

/// Reads JSON Lines records: the member named `options.keyField` (a string, decoded, or a
/// number, as written) is the key; the value is `{` + the other members' raw text joined by
/// `,` + `}`, in their original order.
struct JSONLinesParser {
    private let options: RecordOptions
    private let keyField: [UInt8]
    private let keyBytes = ByteScratch(capacity: 1024)
    private let nameBytes = ByteScratch(capacity: 256)
    private let valueBytes = ByteScratch()

    /// A parser taking the key from the member `options.keyField`.
    init(options: RecordOptions) {
        self.options = options
        keyField = Array(options.keyField.utf8)
    }

    /// Reads every line of `input`, sending records and bad records to `handler`. Blank lines
    /// are skipped.
    mutating func parse<H: RecordHandler>(_ input: InputReader, into handler: inout H) throws {
        var first = true
        while let raw = try input.nextLine() {
            var line = raw
            if first {
                first = false
                if line.startsWithBOM { line = line.slice(3, line.count) }
            }
            let lineNumber = input.lineNumber
            switch scan(line) {
            case .blank:
                continue
            case .record(let key, let value):
                if let problem = options.textKeyProblem(key) {
                    try handler.badRecord(LookupError(.badRecord, path: input.name, line: lineNumber, problem))
                } else {
                    try handler.record(key: key, value: value, line: lineNumber)
                }
            case .bad(let message):
                try handler.badRecord(LookupError(.badRecord, path: input.name, line: lineNumber, message))
            }
        }
    }

    private enum LineResult {
        case blank
        case record(UnsafeRawBufferPointer, UnsafeRawBufferPointer)
        case bad(String)
    }

    /// Validates one line as a single JSON object and splits it into key and value.
    private func scan(_ line: UnsafeRawBufferPointer) -> LineResult {
        var scanner = JSONScanner(line)
        scanner.skipWhitespace()
        if scanner.atEnd { return .blank }
        let fieldName = options.keyField
        do throws(JSONSyntaxError) {
            if let notObject = try scanner.notAnObject() { return .bad(notObject) }
            scanner.index += 1
            valueBytes.removeAll()
            valueBytes.append(UInt8(ascii: "{"))
            var members = 0
            var key: UnsafeRawBufferPointer?
            var keyKind: JSONScanner.ValueKind?
            scanner.skipWhitespace()
            if scanner.peek == UInt8(ascii: "}") {
                scanner.index += 1
            } else {
                while true {
                    guard scanner.peek == UInt8(ascii: "\"") else { throw scanner.fail("expected a member name in quotes") }
                    let nameStart = scanner.index
                    let nameEscaped = try scanner.scanString()
                    let nameEnd = scanner.index
                    scanner.skipWhitespace()
                    guard scanner.peek == UInt8(ascii: ":") else { throw scanner.fail("expected ':' after a member name") }
                    scanner.index += 1
                    scanner.skipWhitespace()
                    let valueStart = scanner.index
                    let kind = try scanner.scanValue(depth: 1)
                    let valueEnd = scanner.index
                    if isKeyField(line.slice(nameStart + 1, nameEnd - 1), escaped: nameEscaped) {
                        if keyKind != nil { return .bad("\"\(fieldName)\" appears twice in the object") }
                        keyKind = kind
                        key = line.slice(valueStart, valueEnd)
                    } else {
                        if members > 0 { valueBytes.append(UInt8(ascii: ",")) }
                        valueBytes.append(line.slice(nameStart, nameEnd))
                        valueBytes.append(UInt8(ascii: ":"))
                        valueBytes.append(line.slice(valueStart, valueEnd))
                        members += 1
                    }
                    scanner.skipWhitespace()
                    guard let next = scanner.peek else { throw scanner.fail("object not closed") }
                    scanner.index += 1
                    if next == UInt8(ascii: "}") { break }
                    guard next == UInt8(ascii: ",") else { scanner.index -= 1; throw scanner.fail("expected ',' or '}'") }
                    scanner.skipWhitespace()
                }
            }
            scanner.skipWhitespace()
            if !scanner.atEnd { throw scanner.fail("text after the JSON object") }
            valueBytes.append(UInt8(ascii: "}"))

            guard let keyKind, let rawKey = key else { return .bad("no \"\(fieldName)\" member in the object") }
            switch keyKind {
            case .number:
                return .record(rawKey, valueBytes.bytes)
            case .string(let escaped):
                let content = rawKey.slice(1, rawKey.count - 1)
                if !escaped { return .record(content, valueBytes.bytes) }
                keyBytes.removeAll()
                if let problem = JSONScanner.decodeString(content, into: keyBytes) {
                    return .bad("\"\(fieldName)\" member: \(problem)")
                }
                return .record(keyBytes.bytes, valueBytes.bytes)
            default:
                return .bad("\"\(fieldName)\" member is \(keyKind.article) \(keyKind.name); the key must be a string or a number")
            }
        } catch {
            return .bad("invalid JSON: \(error.message) at byte \(error.offset + 1)")
        }
    }

    /// Whether a member name (the text between its quotes) is the key field.
    @inline(__always)
    private func isKeyField(_ content: UnsafeRawBufferPointer, escaped: Bool) -> Bool {
        var name = content
        if escaped {
            nameBytes.removeAll()
            if JSONScanner.decodeString(content, into: nameBytes) != nil { return false }
            name = nameBytes.bytes
        }
        guard name.count == keyField.count else { return false }
        if name.isEmpty { return true }
        return keyField.withUnsafeBytes { memcmp($0.baseAddress!, name.baseAddress!, name.count) == 0 }
    }
}

/// A JSON syntax error: what is wrong and the byte offset in the line.
struct JSONSyntaxError: Error {
    var message: String
    var offset: Int
}

/// A strict JSON (RFC 8259) scanner over bytes: it validates and steps over values without
/// building them. Strings must be valid UTF-8; nesting is limited to `maxDepth`.
struct JSONScanner {
    let bytes: UnsafeRawBufferPointer
    var index = 0
    static let maxDepth = 512

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// The kind of a scanned value.
    enum ValueKind {
        case string(escaped: Bool)
        case number
        case object
        case array
        case boolean
        case null

        var name: String {
            switch self {
            case .string: return "string"
            case .number: return "number"
            case .object: return "object"
            case .array: return "array"
            case .boolean: return "boolean"
            case .null: return "null"
            }
        }

        var article: String {
            switch self {
            case .array, .object: return "an"
            default: return "a"
            }
        }
    }

    var atEnd: Bool { index >= bytes.count }

    /// When the line's value (at `index`) is not an object: what it is, for a bad line
    /// ("line is a JSON array, not an object"), having checked it is valid JSON; throws why
    /// it is not. `nil` when an object starts here.
    mutating func notAnObject() throws(JSONSyntaxError) -> String? {
        if peek == UInt8(ascii: "{") { return nil }
        let kind = try scanValue(depth: 0)
        skipWhitespace()
        if !atEnd { throw fail("text after the JSON value") }
        return "line is a JSON \(kind.name), not an object"
    }

    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    func fail(_ message: String) -> JSONSyntaxError { JSONSyntaxError(message: message, offset: index) }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// Steps over one value starting at `index`.
    mutating func scanValue(depth: Int) throws(JSONSyntaxError) -> ValueKind {
        guard let byte = peek else { throw fail("expected a value, found the end of the line") }
        switch byte {
        case UInt8(ascii: "\""):
            return .string(escaped: try scanString())
        case UInt8(ascii: "{"):
            try scanObject(depth: depth + 1)
            return .object
        case UInt8(ascii: "["):
            try scanArray(depth: depth + 1)
            return .array
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try scanNumber()
            return .number
        case UInt8(ascii: "t"):
            try scanLiteral("true")
            return .boolean
        case UInt8(ascii: "f"):
            try scanLiteral("false")
            return .boolean
        case UInt8(ascii: "n"):
            try scanLiteral("null")
            return .null
        default:
            throw fail("unexpected character \(describe(byte))")
        }
    }

    private func describe(_ byte: UInt8) -> String {
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        let hex = String(byte, radix: 16)
        return "0x" + (hex.count == 1 ? "0" + hex : hex)
    }

    private mutating func scanLiteral(_ word: StaticString) throws(JSONSyntaxError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count,
              memcmp(bytes.baseAddress! + index, word.utf8Start, count) == 0 else {
            throw fail("unexpected character \(describe(bytes[index]))")
        }
        index += count
    }

    private mutating func scanObject(depth: Int) throws(JSONSyntaxError) {
        if depth > Self.maxDepth { throw fail("nested more than \(Self.maxDepth) levels deep") }
        index += 1
        skipWhitespace()
        if peek == UInt8(ascii: "}") { index += 1; return }
        while true {
            guard peek == UInt8(ascii: "\"") else { throw fail("expected a member name in quotes") }
            _ = try scanString()
            skipWhitespace()
            guard peek == UInt8(ascii: ":") else { throw fail("expected ':' after a member name") }
            index += 1
            skipWhitespace()
            _ = try scanValue(depth: depth)
            skipWhitespace()
            guard let next = peek else { throw fail("object not closed") }
            if next == UInt8(ascii: "}") { index += 1; return }
            guard next == UInt8(ascii: ",") else { throw fail("expected ',' or '}'") }
            index += 1
            skipWhitespace()
        }
    }

    private mutating func scanArray(depth: Int) throws(JSONSyntaxError) {
        if depth > Self.maxDepth { throw fail("nested more than \(Self.maxDepth) levels deep") }
        index += 1
        skipWhitespace()
        if peek == UInt8(ascii: "]") { index += 1; return }
        while true {
            _ = try scanValue(depth: depth)
            skipWhitespace()
            guard let next = peek else { throw fail("array not closed") }
            if next == UInt8(ascii: "]") { index += 1; return }
            guard next == UInt8(ascii: ",") else { throw fail("expected ',' or ']'") }
            index += 1
            skipWhitespace()
        }
    }

    private mutating func scanDigits() -> Int {
        let start = index
        while index < bytes.count, bytes[index] &- UInt8(ascii: "0") < 10 { index += 1 }
        return index - start
    }

    private mutating func scanNumber() throws(JSONSyntaxError) {
        if peek == UInt8(ascii: "-") { index += 1 }
        guard let first = peek, first &- UInt8(ascii: "0") < 10 else { throw fail("bad number: expected a digit") }
        if first == UInt8(ascii: "0") {
            index += 1
            if let next = peek, next &- UInt8(ascii: "0") < 10 { throw fail("bad number: leading zero") }
        } else {
            _ = scanDigits()
        }
        if peek == UInt8(ascii: ".") {
            index += 1
            if scanDigits() == 0 { throw fail("bad number: expected a digit after '.'") }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            index += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
            if scanDigits() == 0 { throw fail("bad number: expected a digit in the exponent") }
        }
    }

    /// Steps over a string starting at its opening quote; returns whether it holds escapes.
    mutating func scanString() throws(JSONSyntaxError) -> Bool {
        index += 1
        var escaped = false
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return escaped
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
                index += 1
                guard index < count else { break }
                switch bytes[index] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                     UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 1
                case UInt8(ascii: "u"):
                    guard index + 4 < count, Self.hex4(bytes, index + 1) != nil else {
                        throw fail("bad \\u escape: four hex digits expected")
                    }
                    index += 5
                default:
                    throw fail("bad escape \\\(Character(Unicode.Scalar(bytes[index])))")
                }
            } else if byte < 0x20 {
                throw fail("control character \(describe(byte)) in a string")
            } else if byte < 0x80 {
                index += 1
            } else {
                try scanUTF8Sequence()
            }
        }
        throw fail("string not closed")
    }

    /// Steps over one multi-byte UTF-8 sequence, rejecting invalid ones.
    private mutating func scanUTF8Sequence() throws(JSONSyntaxError) {
        let lead = bytes[index]
        var follow = 0
        var low: UInt8 = 0x80, high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: follow = 1
        case 0xE0: follow = 2; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: follow = 2
        case 0xED: follow = 2; high = 0x9F
        case 0xF0: follow = 3; low = 0x90
        case 0xF1...0xF3: follow = 3
        case 0xF4: follow = 3; high = 0x8F
        default: throw fail("invalid UTF-8")
        }
        guard index + follow < bytes.count else { throw fail("invalid UTF-8") }
        let second = bytes[index + 1]
        guard second >= low && second <= high else { throw fail("invalid UTF-8") }
        var i = 2
        while i <= follow {
            guard bytes[index + i] & 0xC0 == 0x80 else { throw fail("invalid UTF-8") }
            i += 1
        }
        index += follow + 1
    }

    /// The value of four hex digits at `offset`, or `nil`.
    @inline(__always)
    static func hex4(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32? {
        var value: UInt32 = 0
        for i in offset..<offset + 4 {
            guard let digit = hexValue(bytes[i]) else { return nil }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// The value of one hex digit, or `nil`.
    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Decodes the contents of a scanned (so syntactically valid) string into UTF-8 bytes.
    /// Returns a problem (a lone surrogate) or `nil` on success.
    static func decodeString(_ content: UnsafeRawBufferPointer, into out: ByteScratch) -> String? {
        var i = 0
        let count = content.count
        while i < count {
            let byte = content[i]
            if byte != UInt8(ascii: "\\") {
                out.append(byte)
                i += 1
                continue
            }
            guard i + 1 < count else { return "bad escape" }
            let code = content[i + 1]
            i += 2
            switch code {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard i + 4 <= count, var scalar = hex4(content, i) else { return "bad \\u escape" }
                i += 4
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    // A high surrogate must be followed by an escaped low surrogate.
                    guard i + 6 <= count, content[i] == UInt8(ascii: "\\"), content[i + 1] == UInt8(ascii: "u"),
                          let low = hex4(content, i + 2), low >= 0xDC00 && low <= 0xDFFF else {
                        return "unpaired surrogate \\u\(String(scalar, radix: 16, uppercase: true))"
                    }
                    i += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                    return "unpaired surrogate \\u\(String(scalar, radix: 16, uppercase: true))"
                }
                appendUTF8(scalar, to: out)
            default:
                out.append(code)   // \" \\ \/
            }
        }
        return nil
    }

    /// Appends the UTF-8 encoding of a Unicode scalar value.
    private static func appendUTF8(_ scalar: UInt32, to out: ByteScratch) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | scalar >> 6))
            out.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | scalar >> 12))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        default:
            out.append(UInt8(0xF0 | scalar >> 18))
            out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        }
    }
}
