// RecordWriters: the writers `lookup dump` uses: mdb_dump text (bytevalue or print, as LMDB's
// own `mdb_dump` prints it) and KEY<delimiter>VALUE lines (CSV with RFC 4180 quoting, or TSV).

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

/// Writes records in the text format of LMDB's `mdb_dump`, byte for byte as `mdb_dump` (or
/// `mdb_dump -p` when `printable`) prints them, so `mdb_load` and `lookup build --format
/// mdb-dump` read the output back.
///
/// In print format a backslash is written as `\\`, as LMDB 0.9.25 and later do; `mdb_dump`
/// 0.9.24 writes a lone `\`, which its own `mdb_load` cannot read back.
public struct MDBDumpWriter: Sendable {
    /// Whether printable bytes are written as text (`format=print`) instead of hex.
    public let printable: Bool
    /// The database name for the `database=` header line; `nil` for the main database.
    public let database: String?

    /// Creates a writer for `format=print` (`printable`) or `format=bytevalue` output, naming
    /// `database` in the header when it is not `nil`.
    public init(printable: Bool, database: String? = nil) {
        self.printable = printable
        self.database = database
    }

    /// Writes the section header, up to and including `HEADER=END`, with the environment's
    /// map size, reader limit and page size as `mdb_dump` reports them.
    public func writeHeader(to out: inout OutputBuffer, mapSize: Int, maxReaders: Int = 126,
                            pageSize: Int = 4096) throws(LookupError) {
        var text = "VERSION=3\nformat=\(printable ? "print" : "bytevalue")\n"
        if let database { text += "database=\(database)\n" }
        text += "type=btree\nmapsize=\(mapSize)\nmaxreaders=\(maxReaders)\ndb_pagesize=\(pageSize)\nHEADER=END\n"
        try out.append(text)
    }

    /// Writes one record: a key line and a value line, each starting with a space.
    @inline(__always)
    public func write(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                      to out: inout OutputBuffer) throws(LookupError) {
        try writeLine(key, to: &out)
        try writeLine(value, to: &out)
    }

    /// Writes the section's closing `DATA=END` line.
    public func writeFooter(to out: inout OutputBuffer) throws(LookupError) {
        try out.append("DATA=END\n")
    }

    private func writeLine(_ bytes: UnsafeRawBufferPointer, to out: inout OutputBuffer) throws(LookupError) {
        // Encode in chunks on the stack, so each chunk is one append.
        var chunk = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                     UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                     UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                     UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let capacity = MemoryLayout.size(ofValue: chunk)   // 256 bytes
        let printable = self.printable
        let result: Result<Void, LookupError> = withUnsafeMutableBytes(of: &chunk) { buffer in
            var used = 0
            buffer[used] = 0x20
            used += 1
            for byte in bytes {
                if used > capacity - 4 {
                    do throws(LookupError) { try out.append(UnsafeRawBufferPointer(rebasing: buffer[..<used])) } catch { return .failure(error) }
                    used = 0
                }
                if !printable {
                    buffer[used] = hexDigits[Int(byte >> 4)]
                    buffer[used + 1] = hexDigits[Int(byte & 0x0F)]
                    used += 2
                } else if byte == UInt8(ascii: "\\") {
                    buffer[used] = byte
                    buffer[used + 1] = byte
                    used += 2
                } else if byte >= 0x20 && byte < 0x7F {
                    // isprint() in the C locale, which mdb_dump runs in.
                    buffer[used] = byte
                    used += 1
                } else {
                    buffer[used] = UInt8(ascii: "\\")
                    buffer[used + 1] = hexDigits[Int(byte >> 4)]
                    buffer[used + 2] = hexDigits[Int(byte & 0x0F)]
                    used += 3
                }
            }
            buffer[used] = 0x0A
            used += 1
            do throws(LookupError) { try out.append(UnsafeRawBufferPointer(rebasing: buffer[..<used])) } catch { return .failure(error) }
            return .success(())
        }
        try result.get()
    }
}

/// Writes records as `key<delimiter>value` lines. With `quoting` (CSV) a key, and a value
/// unless `rawValue`, is quoted per RFC 4180 when it holds the delimiter, a quote, CR or LF.
/// Without quoting (TSV) such records cannot be written and are an error.
public struct DelimitedWriter: Sendable {
    /// The byte between key and value.
    public let delimiter: UInt8
    /// Whether fields are quoted per RFC 4180 when needed (CSV).
    public let quoting: Bool
    /// Whether values are written as they are: for tables built from CSV, whose values are
    /// already the rest of a CSV line.
    public let rawValue: Bool
    /// Whether a composite key's parts (joined by 0x1F) are written as fields of their own.
    public let splitsKeyParts: Bool

    /// Creates a writer; see the properties.
    public init(delimiter: UInt8, quoting: Bool, rawValue: Bool, splitsKeyParts: Bool = false) {
        self.delimiter = delimiter
        self.quoting = quoting
        self.rawValue = rawValue
        self.splitsKeyParts = splitsKeyParts
    }

    /// Writes one `key<delimiter>value` line. Without quoting, throws a `.usage` error for a
    /// key holding the delimiter, CR or LF, or a value holding CR or LF.
    public func write(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                      to out: inout OutputBuffer) throws(LookupError) {
        if splitsKeyParts && key.contains(KeyForm.partSeparator) {
            // A composite key: each part a field of its own.
            var start = 0
            for i in 0...key.count where i == key.count || key[i] == KeyForm.partSeparator {
                let part = UnsafeRawBufferPointer(rebasing: key[start..<i])
                if quoting { try writeField(part, to: &out) } else { try checkedTSVKey(part, to: &out) }
                if i < key.count { try out.append(delimiter) }
                start = i + 1
            }
            try writeValue(key: key, value, to: &out)
            return
        }
        if quoting {
            try writeField(key, to: &out)
        } else {
            try checkedTSVKey(key, to: &out)
        }
        try writeValue(key: key, value, to: &out)
    }

    /// Writes a key (or key part) as a TSV field, refusing one that cannot be.
    private func checkedTSVKey(_ key: UnsafeRawBufferPointer, to out: inout OutputBuffer) throws(LookupError) {
        if key.contains(where: { $0 == delimiter || $0 == 0x0A || $0 == 0x0D }) {
            let what = key.contains(delimiter) ? (delimiter == 9 ? "a tab" : "the delimiter") : "a line break"
            throw LookupError(.usage, "key \"\(printablePreview(key))\" holds \(what) and cannot be written as TSV; use --format mdb-dump")
        }
        try out.append(key)
    }

    /// Writes the delimiter, the value and the line end.
    private func writeValue(key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer,
                            to out: inout OutputBuffer) throws(LookupError) {
        try out.append(delimiter)
        if quoting {
            if rawValue { try out.append(value) } else { try writeField(value, to: &out) }
        } else {
            if value.contains(where: { $0 == 0x0A || $0 == 0x0D }) {
                throw LookupError(.usage, "the value of key \"\(printablePreview(key))\" holds a line break and cannot be written as TSV; use --format mdb-dump")
            }
            try out.append(value)
        }
        try out.append(UInt8(0x0A))
    }

    /// Writes a field, in quotes (with `"` doubled) when it holds the delimiter, a quote, CR or LF.
    private func writeField(_ field: UnsafeRawBufferPointer, to out: inout OutputBuffer) throws(LookupError) {
        let quote = UInt8(ascii: "\"")
        let needsQuotes = field.contains { $0 == delimiter || $0 == quote || $0 == 0x0A || $0 == 0x0D }
        guard needsQuotes else {
            try out.append(field)
            return
        }
        try out.append(quote)
        var start = 0
        for i in 0..<field.count where field[i] == quote {
            // Write through this quote, then the quote again.
            try out.append(UnsafeRawBufferPointer(rebasing: field[start...i]))
            try out.append(quote)
            start = i + 1
        }
        try out.append(UnsafeRawBufferPointer(rebasing: field[start...]))
        try out.append(quote)
    }
}
