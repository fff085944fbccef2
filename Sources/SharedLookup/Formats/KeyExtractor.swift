// KeyExtractor: finds the key field in one line of delimited text (CSV with RFC 4180 quoting,
// or TSV), for jobs that look each input line up in a table. No allocation per line: an
// unquoted key is a slice of the line; a quoted one is decoded into a reused buffer.

/// Finds the key field of a line.
public final class KeyExtractor {
    /// The outcome for one line.
    public enum Outcome {
        /// The key: a slice of the line, or (for a quoted CSV field) bytes in the extractor's
        /// buffer, valid until the next call.
        case key(UnsafeRawBufferPointer)
        /// The line has fewer columns than the key column.
        case missingColumn(columns: Int)
        /// The key field's quoting is broken.
        case badQuoting(String)
    }

    /// What a line with `columns` columns, too few for key columns `keyColumns`, is told.
    public static func missingColumnMessage(columns: Int, keyColumns: [Int]) -> String {
        "line has \(columns) column\(columns == 1 ? "" : "s"), key column\(keyColumns.count == 1 ? " is" : "s are") \(keyColumns.map(String.init).joined(separator: ","))"
    }

    /// 1-based key column (the first, for a composite key).
    public let column: Int
    /// 1-based key columns, in key order: several for a composite key, whose parts the
    /// extractor joins with 0x1F.
    public let columns: [Int]
    /// The field delimiter.
    public let delimiter: UInt8
    /// Whether fields may be quoted (CSV).
    public let quoting: Bool
    private let scratch = ByteScratch(capacity: 256)

    private let composite: Bool
    private let parts = ByteScratch(capacity: 256)

    /// Creates an extractor for `column` (1-based).
    public convenience init(column: Int, delimiter: UInt8, quoting: Bool) {
        self.init(columns: [column], delimiter: delimiter, quoting: quoting)
    }

    /// Creates an extractor for the key made of `columns` (1-based, in key order).
    public init(columns: [Int], delimiter: UInt8, quoting: Bool) {
        self.columns = columns.isEmpty ? [1] : columns.map { max($0, 1) }
        self.column = self.columns[0]
        self.composite = self.columns.count > 1
        self.delimiter = delimiter
        self.quoting = quoting
    }

    /// The key of `line` (which holds no line end).
    @inline(__always)
    public func key(in line: UnsafeRawBufferPointer) -> Outcome {
        if composite { return compositeKey(in: line) }
        return field(column, in: line)
    }

    /// The parts of a composite key, joined by 0x1F in the extractor's buffer. A part that
    /// holds 0x1F itself is refused (it would read as two parts).
    private func compositeKey(in line: UnsafeRawBufferPointer) -> Outcome {
        parts.removeAll()
        for (i, c) in columns.enumerated() {
            switch field(c, in: line) {
            case .key(let part):
                if part.count > 0 && memchr(part.baseAddress!, Int32(KeyForm.partSeparator), part.count) != nil {
                    return .badQuoting("key column \(c) holds the byte 0x1F, which separates the parts of a composite key")
                }
                if i > 0 { parts.append(KeyForm.partSeparator) }
                parts.append(part)
            case let other:
                return other
            }
        }
        return .key(parts.bytes)
    }

    /// Field `column` of `line`.
    @inline(__always)
    private func field(_ column: Int, in line: UnsafeRawBufferPointer) -> Outcome {
        guard let base = line.baseAddress, line.count > 0 else {
            return column == 1 ? .key(UnsafeRawBufferPointer(start: line.baseAddress, count: 0)) : .missingColumn(columns: 1)
        }
        var fieldStart = 0
        var field = 1
        while true {
            if quoting && fieldStart < line.count && line[fieldStart] == UInt8(ascii: "\"") {
                return quotedField(line, from: fieldStart, index: field, column: column)
            }
            let rest = line.count - fieldStart
            var fieldEnd = line.count
            var found = false
            if rest > 0, let hit = memchr(base + fieldStart, Int32(delimiter), rest) {
                fieldEnd = UnsafeRawPointer(hit) - base
                found = true
            }
            if field == column {
                return .key(UnsafeRawBufferPointer(start: base + fieldStart, count: fieldEnd - fieldStart))
            }
            if !found { return .missingColumn(columns: field) }
            fieldStart = fieldEnd + 1
            field += 1
        }
    }

    /// Walks quoted and plain fields from `start` (field number `index`) to the key column.
    private func quotedField(_ line: UnsafeRawBufferPointer, from start: Int, index: Int, column: Int) -> Outcome {
        var i = start
        var field = index
        let quote = UInt8(ascii: "\"")
        while true {
            let isKey = field == column
            if isKey { scratch.removeAll() }
            if i < line.count && line[i] == quote {
                i += 1
                var closed = false
                while i < line.count {
                    let b = line[i]
                    if b == quote {
                        if i + 1 < line.count && line[i + 1] == quote {
                            if isKey { scratch.append(quote) }
                            i += 2
                            continue
                        }
                        closed = true
                        i += 1
                        break
                    }
                    if isKey { scratch.append(b) }
                    i += 1
                }
                if !closed { return .badQuoting("unterminated quoted field in column \(field)") }
                if i < line.count && line[i] != delimiter {
                    return .badQuoting("text after the closing quote in column \(field)")
                }
            } else {
                let fieldStart = i
                while i < line.count && line[i] != delimiter {
                    if quoting && line[i] == quote && isKey {
                        return .badQuoting("quote inside an unquoted field in column \(field)")
                    }
                    i += 1
                }
                if isKey { return .key(UnsafeRawBufferPointer(rebasing: line[fieldStart..<i])) }
            }
            if isKey { return .key(scratch.bytes) }
            if i >= line.count { return .missingColumn(columns: field) }
            i += 1  // past the delimiter
            field += 1
        }
    }
}
