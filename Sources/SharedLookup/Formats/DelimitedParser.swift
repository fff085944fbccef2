// DelimitedParser: reads CSV (RFC 4180 quoting) and TSV (plain splitting) records into key and
// value, where the value is the rest of the record in the input's own text. Also holds the
// small helpers the parsers in this folder share: a reusable byte buffer and the key checks.

// MARK: - Shared helpers

/// A growable byte buffer reused from record to record, so parsers do not allocate per line.
final class ByteScratch {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    /// The number of bytes in use.
    var count = 0

    init(capacity: Int = 4096) {
        self.capacity = max(capacity, 16)
        base = .allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    /// The bytes in use; valid until the next change.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Empties the buffer, keeping its storage.
    @inline(__always)
    func removeAll() { count = 0 }

    /// Makes room for `extra` more bytes.
    @inline(__always)
    func reserve(_ extra: Int) {
        if _slowPath(count + extra > capacity) { grow(to: count + extra) }
    }

    private func grow(to needed: Int) {
        var newCapacity = capacity
        while newCapacity < needed { newCapacity *= 2 }
        let bigger = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        if count > 0 { bigger.copyMemory(from: base, byteCount: count) }
        base.deallocate()
        base = bigger
        capacity = newCapacity
    }

    /// Appends `bytes`.
    @inline(__always)
    func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        (base + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    /// Appends one byte.
    @inline(__always)
    func append(_ byte: UInt8) {
        reserve(1)
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }
}

extension RecordOptions {
    /// Why `key` cannot be a table key (empty, or longer than `maxKeySize`), or `nil` if it can.
    @inline(__always)
    func keyProblem(_ key: UnsafeRawBufferPointer) -> String? {
        if _slowPath(key.isEmpty) { return "empty key" }
        if _slowPath(key.count > maxKeySize) {
            return "key is \(key.count) bytes; LMDB keys are at most \(maxKeySize) bytes"
        }
        return nil
    }

    /// `keyProblem`, and for text formats (CSV, TSV, JSON Lines) a NUL byte: a line holding one
    /// is binary data that `run` and `map` skip, so such a key could never be matched.
    @inline(__always)
    func textKeyProblem(_ key: UnsafeRawBufferPointer) -> String? {
        if let problem = keyProblem(key) { return problem }
        if _slowPath(memchr(key.baseAddress!, 0, key.count) != nil) { return "key holds a NUL byte (binary data); text keys cannot" }
        return nil
    }
}

extension UnsafeRawBufferPointer {
    /// The bytes `range` of this buffer (which must lie inside it), as a buffer.
    @inline(__always)
    func slice(_ lower: Int, _ upper: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[lower..<upper])
    }

    /// Whether the buffer starts with the UTF-8 byte order mark.
    var startsWithBOM: Bool { count >= 3 && self[0] == 0xEF && self[1] == 0xBB && self[2] == 0xBF }
}

/// A short, printable rendering of some bytes for messages (at most `limit` bytes shown).
func printablePreview(_ bytes: UnsafeRawBufferPointer, limit: Int = 40) -> String {
    var text = ""
    for byte in bytes.prefix(limit) {
        switch byte {
        case 0x09: text += "\\t"
        case 0x0A: text += "\\n"
        case 0x0D: text += "\\r"
        case 0x5C: text += "\\\\"
        case 0x20...0x7E: text.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = String(byte, radix: 16)
            text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
        }
    }
    if bytes.count > limit { text += "..." }
    return text
}

// MARK: - DelimitedParser

/// Reads CSV or TSV records. The key is the decoded text of column `options.keyColumn`; the
/// value is every other column in its raw form (quotes kept as written), joined by the
/// delimiter in the original order.
struct DelimitedParser {
    private let options: RecordOptions
    private let delimiter: UInt8
    private let quoting: Bool
    /// The bytes of a record that spans several lines (quoted newlines).
    private let recordBytes = ByteScratch()
    /// A quoted key with its `""` pairs decoded.
    private let keyBytes = ByteScratch(capacity: 1024)
    /// A value assembled from the columns before and after the key column.
    private let valueBytes = ByteScratch()
    /// Whether the key is made of several columns.
    private let composite: Bool
    /// The columns of a composite key's record: raw start and end, and whether quoted.
    private var spans: [(start: Int, end: Int, quoted: Bool)] = []

    private static let quote = UInt8(ascii: "\"")

    /// A parser for `delimiter`-separated records; `quoting` turns on RFC 4180 quotes (CSV).
    init(options: RecordOptions, delimiter: UInt8, quoting: Bool) {
        self.options = options
        self.delimiter = delimiter
        self.quoting = quoting && delimiter != Self.quote
        self.composite = options.keyColumns.count > 1
    }

    /// Reads every record of `input`, sending records and bad records to `handler`.
    mutating func parse<H: RecordHandler>(_ input: InputReader, into handler: inout H) throws {
        guard options.keyColumns.allSatisfy({ $0 >= 1 }) else {
            throw LookupError(.usage, "key columns must be 1 or more (got \(options.keyColumns.map(String.init).joined(separator: ",")))")
        }
        var first = true
        var names: [String]?
        var layoutPending = true
        var consumedBefore = input.bytesConsumed
        while let raw = try input.nextLine() {
            let lineNumber = input.lineNumber
            let terminator = input.bytesConsumed - consumedBefore - raw.count
            consumedBefore = input.bytesConsumed
            var line = raw
            if first {
                first = false
                if line.startsWithBOM { line = line.slice(3, line.count) }
                if options.header {
                    names = fieldTexts(line)
                    continue
                }
            }
            if line.isEmpty { continue }
            if layoutPending {
                layoutPending = false
                handler.layout(names: names, columns: fieldTexts(line).count)
            }
            if composite {
                try splitComposite(line, terminator: terminator, lineNumber: lineNumber,
                                   consumedBefore: &consumedBefore, input: input, handler: &handler)
            } else if !quoting || memchr(line.baseAddress!, Int32(Self.quote), line.count) == nil {
                // A line without quotes needs no RFC 4180 scanning: split it on the delimiter.
                try splitPlain(line, lineNumber: lineNumber, input: input, handler: &handler)
            } else {
                try splitQuoted(line, terminator: terminator, lineNumber: lineNumber,
                                consumedBefore: &consumedBefore, input: input, handler: &handler)
            }
        }
        if layoutPending, let names { handler.layout(names: names, columns: names.count) }
    }

    /// The texts of a line's fields (quotes decoded), for the header and a column count.
    /// Once per input: simple rather than fast.
    private func fieldTexts(_ line: UnsafeRawBufferPointer) -> [String] {
        var fields: [String] = []
        var field: [UInt8] = []
        var inQuotes = false
        var i = 0
        while i < line.count {
            let byte = line[i]
            if quoting && byte == Self.quote {
                if inQuotes && i + 1 < line.count && line[i + 1] == Self.quote {
                    field.append(byte)
                    i += 1
                } else {
                    inQuotes.toggle()
                }
            } else if byte == delimiter && !inQuotes {
                fields.append(String(decoding: field, as: UTF8.self))
                field.removeAll()
            } else {
                field.append(byte)
            }
            i += 1
        }
        fields.append(String(decoding: field, as: UTF8.self))
        return fields
    }

    /// Reports a bad record at `line`.
    private func bad<H: RecordHandler>(_ message: String, line: Int, input: InputReader, handler: inout H) throws {
        try handler.badRecord(LookupError(.badRecord, path: input.name, line: line, message))
    }

    /// Checks the key and hands the record over.
    @inline(__always)
    private func deliver<H: RecordHandler>(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, line: Int,
                                           input: InputReader, handler: inout H) throws {
        if let problem = options.textKeyProblem(key) {
            try bad(problem, line: line, input: input, handler: &handler)
            return
        }
        try handler.record(key: key, value: value, line: line)
    }

    /// The value made of `record[..<prefixEnd]`, the delimiter, and `record[suffixStart...]`,
    /// leaving out whichever part is empty.
    @inline(__always)
    private func joinedValue(_ record: UnsafeRawBufferPointer, keyStart: Int, keyEnd: Int) -> UnsafeRawBufferPointer {
        let hasPrefix = keyStart > 0
        let hasSuffix = keyEnd < record.count
        switch (hasPrefix, hasSuffix) {
        case (false, false): return record.slice(record.count, record.count)
        case (false, true): return record.slice(keyEnd + 1, record.count)
        case (true, false): return record.slice(0, keyStart - 1)
        case (true, true):
            valueBytes.removeAll()
            valueBytes.append(record.slice(0, keyStart - 1))
            valueBytes.append(delimiter)
            valueBytes.append(record.slice(keyEnd + 1, record.count))
            return valueBytes.bytes
        }
    }

    /// A line with no quotes to honour: split on the delimiter only.
    @inline(__always)
    private func splitPlain<H: RecordHandler>(_ line: UnsafeRawBufferPointer, lineNumber: Int, input: InputReader,
                                              handler: inout H) throws {
        let base = line.baseAddress!
        let count = line.count
        let delim = Int32(delimiter)
        if options.keyColumn == 1 {
            // Fast path: the key is everything before the first delimiter, the value everything after.
            if let hit = memchr(base, delim, count) {
                let keyEnd = UnsafeRawPointer(hit) - base
                try deliver(key: line.slice(0, keyEnd), value: line.slice(keyEnd + 1, count),
                            line: lineNumber, input: input, handler: &handler)
            } else {
                try deliver(key: line, value: line.slice(count, count), line: lineNumber, input: input, handler: &handler)
            }
            return
        }
        var start = 0
        var column = 1
        while column < options.keyColumn {
            guard let hit = memchr(base + start, delim, count - start) else {
                try bad("line has \(column) column\(column == 1 ? "" : "s"), key column is \(options.keyColumn)",
                        line: lineNumber, input: input, handler: &handler)
                return
            }
            start = UnsafeRawPointer(hit) - base + 1
            column += 1
        }
        let end = memchr(base + start, delim, count - start).map { UnsafeRawPointer($0) - base } ?? count
        let key = line.slice(start, end)
        if let problem = options.textKeyProblem(key) {
            try bad(problem, line: lineNumber, input: input, handler: &handler)
            return
        }
        try handler.record(key: key, value: joinedValue(line, keyStart: start, keyEnd: end), line: lineNumber)
    }

    /// A line with quotes: scan the fields by RFC 4180, reading more lines while a quoted
    /// field is open, then take the key column out.
    private mutating func splitQuoted<H: RecordHandler>(_ firstLine: UnsafeRawBufferPointer, terminator firstTerminator: Int,
                                               lineNumber: Int, consumedBefore: inout Int, input: InputReader,
                                               handler: inout H) throws {
        let quote = Self.quote
        let delim = Int32(delimiter)
        var record = firstLine
        var terminator = firstTerminator
        var spansLines = false
        var position = 0          // where scanning goes on
        var column = 1            // the column being scanned
        var fieldStart = 0        // first raw byte of that column
        var inQuotes = false
        var keyStart = -1, keyEnd = -1, keyQuoted = false
        spans.removeAll(keepingCapacity: true)

        scan: while true {
            let base = record.baseAddress!
            let count = record.count
            if !inQuotes {
                fieldStart = position
                if position < count && record[position] == quote {
                    inQuotes = true
                    position += 1
                    continue scan
                }
                let end = memchr(base + position, delim, count - position).map { UnsafeRawPointer($0) - base } ?? count
                if memchr(base + position, Int32(quote), end - position) != nil {
                    try bad("bad quoting: a quote in the middle of unquoted column \(column)",
                            line: lineNumber, input: input, handler: &handler)
                    return
                }
                if column == options.keyColumn { keyStart = fieldStart; keyEnd = end; keyQuoted = false }
                spans.append((fieldStart, end, false))
                if end == count { break scan }
                position = end + 1
                column += 1
                continue scan
            }
            // Inside quotes: find the closing quote, stepping over "" pairs.
            guard let hit = memchr(base + position, Int32(quote), count - position) else {
                // The quoted field goes on past this line: append the line end and the next line.
                if !spansLines {
                    spansLines = true
                    recordBytes.removeAll()
                    recordBytes.append(record)
                }
                guard let next = try input.nextLine() else {
                    try bad("bad quoting: quoted column \(column) is not closed before the end of input",
                            line: lineNumber, input: input, handler: &handler)
                    return
                }
                let nextTerminator = input.bytesConsumed - consumedBefore - next.count
                consumedBefore = input.bytesConsumed
                if terminator >= 2 { recordBytes.append(0x0D) }
                recordBytes.append(0x0A)
                recordBytes.append(next)
                terminator = nextTerminator
                position = recordBytes.count - next.count
                record = recordBytes.bytes
                if recordBytes.count > input.maxLineLength {
                    try bad("bad quoting: quoted column \(column) runs over \(input.maxLineLength) bytes (a quote not closed?)",
                            line: lineNumber, input: input, handler: &handler)
                    return
                }
                continue scan
            }
            let close = UnsafeRawPointer(hit) - base
            if close + 1 < count && record[close + 1] == quote {
                position = close + 2
                continue scan
            }
            let end = close + 1
            if end < count && record[end] != delimiter {
                try bad("bad quoting: text after the closing quote of column \(column)",
                        line: lineNumber, input: input, handler: &handler)
                return
            }
            inQuotes = false
            if column == options.keyColumn { keyStart = fieldStart; keyEnd = end; keyQuoted = true }
            spans.append((fieldStart, end, true))
            if end == count { break scan }
            position = end + 1
            column += 1
        }

        if composite {
            try deliverComposite(record, lineNumber: lineNumber, input: input, handler: &handler)
            return
        }
        guard keyStart >= 0 else {
            try bad("line has \(column) column\(column == 1 ? "" : "s"), key column is \(options.keyColumn)",
                    line: lineNumber, input: input, handler: &handler)
            return
        }
        var key = record.slice(keyStart, keyEnd)
        if keyQuoted {
            // Strip the quotes and turn each "" into ".
            let content = record.slice(keyStart + 1, keyEnd - 1)
            if memchr(content.baseAddress!, Int32(quote), content.count) == nil {
                key = content
            } else {
                keyBytes.removeAll()
                var i = 0
                while i < content.count {
                    let byte = content[i]
                    keyBytes.append(byte)
                    i += byte == quote ? 2 : 1
                }
                key = keyBytes.bytes
            }
        }
        if let problem = options.textKeyProblem(key) {
            try bad(problem, line: lineNumber, input: input, handler: &handler)
            return
        }
        try handler.record(key: key, value: joinedValue(record, keyStart: keyStart, keyEnd: keyEnd), line: lineNumber)
    }

    // MARK: Composite keys

    /// A record whose key is several columns: finds every column (RFC 4180 quoting when the
    /// line has quotes), then joins the key columns' texts with 0x1F.
    private mutating func splitComposite<H: RecordHandler>(_ line: UnsafeRawBufferPointer, terminator: Int, lineNumber: Int,
                                                           consumedBefore: inout Int, input: InputReader,
                                                           handler: inout H) throws {
        if quoting && memchr(line.baseAddress!, Int32(Self.quote), line.count) != nil {
            try splitQuoted(line, terminator: terminator, lineNumber: lineNumber,
                            consumedBefore: &consumedBefore, input: input, handler: &handler)
            return
        }
        spans.removeAll(keepingCapacity: true)
        let base = line.baseAddress!
        var start = 0
        while true {
            let end = memchr(base + start, Int32(delimiter), line.count - start).map { UnsafeRawPointer($0) - base } ?? line.count
            spans.append((start, end, false))
            if end == line.count { break }
            start = end + 1
        }
        try deliverComposite(line, lineNumber: lineNumber, input: input, handler: &handler)
    }

    /// Hands over a composite-key record whose columns are in `spans`: the key is the key
    /// columns' texts (quotes decoded) joined by 0x1F, the value the other columns as written.
    private func deliverComposite<H: RecordHandler>(_ record: UnsafeRawBufferPointer, lineNumber: Int, input: InputReader,
                                                    handler: inout H) throws {
        let columns = options.keyColumns
        let needed = columns.max() ?? 1
        guard spans.count >= needed else {
            try bad("line has \(spans.count) column\(spans.count == 1 ? "" : "s"), key columns are \(columns.map(String.init).joined(separator: ","))",
                    line: lineNumber, input: input, handler: &handler)
            return
        }
        keyBytes.removeAll()
        for (i, column) in columns.enumerated() {
            if i > 0 { keyBytes.append(KeyForm.partSeparator) }
            let span = spans[column - 1]
            let text = record.slice(span.start, span.end)
            if memchr(text.baseAddress!, Int32(KeyForm.partSeparator), text.count) != nil {
                try bad("key column \(column) holds the byte 0x1F, which separates the parts of a composite key",
                        line: lineNumber, input: input, handler: &handler)
                return
            }
            if span.quoted {
                let content = record.slice(span.start + 1, span.end - 1)
                var j = 0
                while j < content.count {
                    let byte = content[j]
                    keyBytes.append(byte)
                    j += byte == Self.quote ? 2 : 1
                }
            } else {
                keyBytes.append(text)
            }
        }
        valueBytes.removeAll()
        var firstField = true
        for (i, span) in spans.enumerated() where !columns.contains(i + 1) {
            if !firstField { valueBytes.append(delimiter) }
            firstField = false
            valueBytes.append(record.slice(span.start, span.end))
        }
        let key = keyBytes.bytes
        if KeyForm.isBlank(key, parts: columns.count) {
            try bad("empty key (every key column is empty)", line: lineNumber, input: input, handler: &handler)
            return
        }
        if let problem = options.textKeyProblem(key) {
            try bad(problem, line: lineNumber, input: input, handler: &handler)
            return
        }
        try handler.record(key: key, value: valueBytes.bytes, line: lineNumber)
    }
}
