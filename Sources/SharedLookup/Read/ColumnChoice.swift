// ColumnChoice: which of a table row's columns a lookup appends (`--columns LIST`, by 1-based
// position in the table's row or by name from its stored header), and how a value is written
// after a line: as delimited fields, or as a JSON value for JSON Lines lines. One meaning for
// run, map, get, serve and the API.

/// The columns of a table's rows that a lookup writes, resolved against the table.
public struct ColumnChoice: Sendable {
    /// Where a chosen column comes from.
    public enum Source: Sendable, Equatable {
        /// Part `n` (0-based) of the key.
        case keyPart(Int)
        /// Field `n` (0-based) of a delimited value.
        case field(Int)
        /// A member of a JSON object value, by name.
        case member(String)
    }

    /// The chosen columns, in output order; empty: the whole value.
    public let sources: [Source]
    /// A name for each chosen column (the header's, else `columnN`); for the whole value,
    /// the names of the value's columns where the table stored a header.
    public let names: [String]
    /// Whether the table was built from JSON Lines (its values are objects).
    public let jsonValues: Bool
    /// The table's field delimiter (CSV/TSV values).
    public let tableDelimiter: UInt8
    /// Whether the table's values are CSV (fields may be quoted).
    public let quoted: Bool
    /// How many fields a missing value stands for (left joins): the chosen columns, or the
    /// value's columns when known, else 1.
    public let missingFields: Int

    /// The whole value of a table with `metadata` (nothing chosen).
    public init(metadata: TableMetadata?) {
        try! self.init(list: nil, metadata: metadata)
    }

    /// Resolves `list` ("2,name,4"; `nil` or empty: the whole value) against a table with
    /// `metadata`. Throws a `.usage` error naming a column the table does not have.
    public init(list: String?, metadata: TableMetadata?) throws(LookupError) {
        let format = metadata?.format ?? "api"
        jsonValues = format == "jsonl"
        let delimited = format == "csv" || format == "tsv"
        tableDelimiter = metadata?.delimiter?.utf8.first ?? (format == "tsv" ? 9 : UInt8(ascii: ","))
        quoted = format == "csv"
        let keyColumns = metadata?.keyColumnList ?? [1]
        let header = metadata?.columns
        let valueNames: [String] = header.map { names in
            names.enumerated().filter { !keyColumns.contains($0.offset + 1) }.map(\.element)
        } ?? []
        guard let list, !list.isEmpty else {
            sources = []
            names = valueNames
            let valueColumns = (metadata?.columnCount).map { max(1, $0 - keyColumns.count) } ?? 1
            missingFields = jsonValues ? 1 : valueColumns
            return
        }
        guard delimited || jsonValues else {
            throw LookupError(.usage, "--columns: the table was built from \(format) input, whose values have no columns")
        }
        var sources: [Source] = []
        var names: [String] = []
        for item in list.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            if item.isEmpty { throw LookupError(.usage, "--columns: an empty column in \"\(list)\"") }
            if jsonValues {
                if Int(item) != nil {
                    throw LookupError(.usage, "--columns: the table was built from JSON Lines: name its members, not positions (\(item))")
                }
                if let field = metadata?.keyField, item == field {
                    throw LookupError(.usage, "--columns: \"\(item)\" is the key field; the values hold the other members")
                }
                sources.append(.member(item))
                names.append(item)
                continue
            }
            let position: Int
            if let number = Int(item) {
                guard number >= 1 else { throw LookupError(.usage, "--columns: positions start at 1 (got \(item))") }
                if let count = metadata?.columnCount, number > count {
                    throw LookupError(.usage, "--columns: the table's rows have \(count) columns, there is no column \(number)")
                }
                position = number
            } else {
                guard let header else {
                    throw LookupError(.usage, "--columns: no column named \"\(item)\": the table was built without --header, so its columns have no names; give positions")
                }
                guard let at = header.firstIndex(of: item) else {
                    throw LookupError(.usage, "--columns: no column named \"\(item)\" in the table (its columns: \(header.joined(separator: ", ")))")
                }
                position = at + 1
            }
            if let part = keyColumns.firstIndex(of: position) {
                if let match = metadata?.matchKind, match != .exact {
                    throw LookupError(.usage, "--columns: column \(item) is the \(match == .range ? "range's bounds" : match == .cidr ? "network" : "prefix") of a \(match.rawValue) table; its values hold the other columns")
                }
                sources.append(.keyPart(part))
            } else {
                sources.append(.field(position - 1 - keyColumns.filter { $0 < position }.count))
            }
            names.append(header.map { position <= $0.count ? $0[position - 1] : "column\(position)" } ?? "column\(position)")
        }
        self.sources = sources
        self.names = names
        missingFields = jsonValues ? 1 : sources.count
    }

    /// Whether the whole value is written.
    public var isWholeValue: Bool { sources.isEmpty }

    // MARK: Delimited output

    /// Writes the chosen columns of `value` (of key `key`), each preceded by `delimiter`.
    @inline(__always)
    public func appendFields(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, delimiter: UInt8,
                             to out: inout OutputBuffer) throws(LookupError) {
        try out.append(delimiter)
        if sources.isEmpty {
            try out.append(value)
            return
        }
        for (i, source) in sources.enumerated() {
            if i > 0 { try out.append(delimiter) }
            try out.append(text(of: source, key: key, value: value))
        }
    }

    /// Writes `delimiter` and `missing` once for each column a miss stands for.
    public func appendMissingFields(_ missing: UnsafeRawBufferPointer, delimiter: UInt8,
                                    to out: inout OutputBuffer) throws(LookupError) {
        for _ in 0..<missingFields {
            try out.append(delimiter)
            try out.append(missing)
        }
    }

    /// The chosen columns of `value` joined by the table's delimiter (for `get` and `serve`).
    public func projected(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> [UInt8] {
        if sources.isEmpty { return Array(value) }
        var bytes: [UInt8] = []
        for (i, source) in sources.enumerated() {
            if i > 0 { bytes.append(tableDelimiter) }
            bytes.append(contentsOf: text(of: source, key: key, value: value))
        }
        return bytes
    }

    /// A chosen column's text: a key part, a field as written in the value, or a member's
    /// JSON text (a string's as written, quotes included).
    @inline(__always)
    private func text(of source: Source, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        switch source {
        case .keyPart(let n): return Self.part(n, of: key, separator: KeyForm.partSeparator, quoted: false)
        case .field(let n): return Self.part(n, of: value, separator: tableDelimiter, quoted: quoted)
        case .member(let name): return Self.member(name, of: value) ?? UnsafeRawBufferPointer(start: nil, count: 0)
        }
    }

    /// Field `n` (0-based) of `bytes` split on `separator` (RFC 4180 quotes kept and honoured
    /// when `quoted`); empty when there are fewer fields.
    static func part(_ n: Int, of bytes: UnsafeRawBufferPointer, separator: UInt8, quoted: Bool) -> UnsafeRawBufferPointer {
        var field = 0, start = 0, i = 0
        var inQuotes = false
        while i <= bytes.count {
            if i == bytes.count || (bytes[i] == separator && !inQuotes) {
                if field == n { return UnsafeRawBufferPointer(rebasing: bytes[start..<i]) }
                field += 1
                start = i + 1
            } else if quoted && bytes[i] == UInt8(ascii: "\"") {
                inQuotes.toggle()
            }
            i += 1
        }
        return UnsafeRawBufferPointer(rebasing: bytes[bytes.count..<bytes.count])
    }

    /// The raw JSON text of the member `name` of the object `object`, or `nil`.
    static func member(_ name: String, of object: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var found: UnsafeRawBufferPointer?
        forEachMember(object) { memberName, value in
            if memberName == name { found = value; return false }
            return true
        }
        return found
    }

    /// Calls `body(name, raw value)` for each member of the JSON object `object` (a stored
    /// value, valid JSON) until it returns `false`.
    static func forEachMember(_ object: UnsafeRawBufferPointer, _ body: (String, UnsafeRawBufferPointer) -> Bool) {
        var scanner = JSONScanner(object)
        scanner.skipWhitespace()
        guard scanner.peek == UInt8(ascii: "{") else { return }
        scanner.index += 1
        let names = ByteScratch(capacity: 64)
        do throws(JSONSyntaxError) {
            while true {
                scanner.skipWhitespace()
                guard scanner.peek == UInt8(ascii: "\"") else { return }
                let nameStart = scanner.index
                let escaped = try scanner.scanString()
                let content = UnsafeRawBufferPointer(rebasing: object[(nameStart + 1)..<(scanner.index - 1)])
                var name = String(decoding: content, as: UTF8.self)
                if escaped {
                    names.removeAll()
                    if JSONScanner.decodeString(content, into: names) == nil { name = String(decoding: names.bytes, as: UTF8.self) }
                }
                scanner.skipWhitespace()
                guard scanner.peek == UInt8(ascii: ":") else { return }
                scanner.index += 1
                scanner.skipWhitespace()
                let valueStart = scanner.index
                _ = try scanner.scanValue(depth: 1)
                if !body(name, UnsafeRawBufferPointer(rebasing: object[valueStart..<scanner.index])) { return }
                scanner.skipWhitespace()
                guard scanner.peek == UInt8(ascii: ",") else { return }
                scanner.index += 1
            }
        } catch {
            return
        }
    }

    // MARK: JSON output

    /// Writes the value as JSON: a table built from JSON Lines gives its object (or one of the
    /// chosen members); another gives the value as a string, or an object of the chosen columns
    /// by name when it has names for them (a string of them joined by its delimiter otherwise).
    public func appendJSON(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                           to out: inout OutputBuffer) throws(LookupError) {
        if sources.isEmpty {
            if jsonValues { try out.append(value) } else { try Self.appendJSONString(value, quoted: false, to: &out) }
            return
        }
        try out.append(UInt8(ascii: "{"))
        for (i, source) in sources.enumerated() {
            if i > 0 { try out.append(UInt8(ascii: ",")) }
            try Self.appendJSONString(Array(names[i].utf8), quoted: false, to: &out)
            try out.append(UInt8(ascii: ":"))
            let text = text(of: source, key: key, value: value)
            if jsonValues {
                if text.isEmpty { try out.append("null") } else { try out.append(text) }
            } else {
                try Self.appendJSONString(text, quoted: quoted, to: &out)
            }
        }
        try out.append(UInt8(ascii: "}"))
    }

    /// Writes `bytes` as a JSON string literal; `quoted`: a CSV field as written, whose quotes
    /// are taken off first. Bytes that are not UTF-8 become U+FFFD.
    public static func appendJSONString<B: Collection<UInt8>>(_ bytes: B, quoted: Bool, to out: inout OutputBuffer) throws(LookupError) {
        let literal = jsonLiteral(bytes, quoted: quoted)
        for byte in literal { try out.append(byte) }
    }

    /// `bytes` as a JSON string literal; see `appendJSONString`.
    public static func jsonLiteral<B: Collection<UInt8>>(_ bytes: B, quoted: Bool) -> [UInt8] {
        var text = String(decoding: bytes, as: UTF8.self)
        if quoted, text.count >= 2, text.first == "\"", text.last == "\"" {
            text = String(text.dropFirst().dropLast()).replacingOccurrences(of: "\"\"", with: "\"")
        }
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for unit in text.utf8 {
            switch unit {
            case UInt8(ascii: "\""): out += [0x5C, 0x22]
            case UInt8(ascii: "\\"): out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = String(unit, radix: 16)
                out += Array(("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8)
            default: out.append(unit)
            }
        }
        out.append(UInt8(ascii: "\""))
        return out
    }
}
