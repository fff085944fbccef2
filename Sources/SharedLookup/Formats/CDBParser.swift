// CDBParser: reads the cdbmake input format, `+klen,dlen:key->data` and a newline per record,
// with an empty line at the end. Keys and data are arbitrary bytes, newlines included.

/// Reads cdbmake records. The format is binary (lengths, not separators, delimit key and
/// data), so the parser reads byte runs, not lines; a record's line number is the line it
/// starts on. The final empty line may be missing. After a malformed record the parser
/// resynchronises at the next line that starts with `+`, which may not be a real record.
struct CDBParser {
    private let options: RecordOptions

    /// The longest length field accepted, in digits.
    private static let maxDigits = 10

    /// A parser for cdbmake input.
    init(options: RecordOptions) {
        self.options = options
    }

    /// Reads every record of `input`, sending records and bad records to `handler`.
    mutating func parse<H: RecordHandler>(_ input: InputReader, into handler: inout H) throws {
        let plus = UInt8(ascii: "+")
        while let first = try input.peekByte() {
            let line = input.lineNumber + 1
            if first == 0x0A {
                // The empty line that ends the input.
                _ = try input.readBytes(1)
                if try input.peekByte() != nil {
                    try bad("input goes on after the empty line that ends cdbmake input", line: line + 1,
                            input: input, handler: &handler)
                }
                return
            }
            guard first == plus else {
                try bad("record does not start with '+' (found \(Self.describe(first)))", line: line,
                        input: input, handler: &handler)
                if try !resync(input) { return }
                continue
            }
            _ = try input.readBytes(1)

            // +klen,dlen:
            let keyLength: Int
            let dataLength: Int
            switch try readLength(input, terminator: UInt8(ascii: ",")) {
            case .value(let n): keyLength = n
            case .bad(let message):
                try bad("malformed record header: \(message) in the key length", line: line, input: input, handler: &handler)
                if try !resync(input) { return }
                continue
            case .truncated:
                try bad("input ends in the middle of a record header: truncated?", line: line, input: input, handler: &handler)
                return
            }
            switch try readLength(input, terminator: UInt8(ascii: ":")) {
            case .value(let n): dataLength = n
            case .bad(let message):
                try bad("malformed record header: \(message) in the data length", line: line, input: input, handler: &handler)
                if try !resync(input) { return }
                continue
            case .truncated:
                try bad("input ends in the middle of a record header: truncated?", line: line, input: input, handler: &handler)
                return
            }

            // key->data\n, read as one run so the key stays valid while the data is read.
            let total = keyLength + 2 + dataLength + 1
            if total > input.maxLineLength {
                try bad("record of \(total) bytes is over the limit of \(input.maxLineLength) bytes",
                        line: line, input: input, handler: &handler)
                if try !skip(total, input: input) {
                    try bad("input ends in the middle of a record: truncated?", line: line, input: input, handler: &handler)
                    return
                }
                continue
            }
            let fetched: UnsafeRawBufferPointer?
            do {
                fetched = try input.readBytes(total)
            } catch {
                // (A `catch where` clause here crashes the Swift 6.3 compiler.)
                guard error.kind == .badRecord else { throw error }
                fetched = nil   // the input ends part-way
            }
            guard let run = fetched else {
                try bad("input ends in the middle of a record (its header says a \(keyLength)-byte key and \(dataLength)-byte data): truncated?",
                        line: line, input: input, handler: &handler)
                return
            }
            guard run[keyLength] == UInt8(ascii: "-") && run[keyLength + 1] == UInt8(ascii: ">") else {
                let afterNewline = run[total - 1] == 0x0A
                try bad("expected '->' after the \(keyLength)-byte key (wrong length?)", line: line,
                        input: input, handler: &handler)
                if try !resync(input, afterNewline: afterNewline) { return }
                continue
            }
            guard run[total - 1] == 0x0A else {
                try bad("expected a newline after the \(dataLength)-byte data (wrong length?)", line: line,
                        input: input, handler: &handler)
                if try !resync(input) { return }
                continue
            }
            let key = run.slice(0, keyLength)
            if let problem = options.keyProblem(key) {
                try bad(problem, line: line, input: input, handler: &handler)
                continue
            }
            try handler.record(key: key, value: run.slice(keyLength + 2, keyLength + 2 + dataLength), line: line)
        }
    }

    private enum Length {
        case value(Int)
        case bad(String)
        case truncated
    }

    /// Reads a decimal length and the byte after it, which must be `terminator`.
    private func readLength(_ input: InputReader, terminator: UInt8) throws -> Length {
        var value = 0
        var digits = 0
        while true {
            guard let byte = try input.peekByte() else { return .truncated }
            if byte &- UInt8(ascii: "0") < 10 {
                digits += 1
                if digits > Self.maxDigits { return .bad("more than \(Self.maxDigits) digits") }
                value = value * 10 + Int(byte &- UInt8(ascii: "0"))
                _ = try input.readBytes(1)
                continue
            }
            if digits == 0 { return .bad("expected a digit, found \(Self.describe(byte))") }
            if byte != terminator {
                return .bad("expected '\(Character(Unicode.Scalar(terminator)))', found \(Self.describe(byte))")
            }
            _ = try input.readBytes(1)
            return .value(value)
        }
    }

    /// Skips to the next line that starts with `+`; false at the end of input. `afterNewline`:
    /// the last byte read was a newline, so the next byte starts a line.
    private func resync(_ input: InputReader, afterNewline: Bool = false) throws -> Bool {
        if afterNewline, let next = try input.peekByte(), next == UInt8(ascii: "+") { return true }
        while let byte = try input.readBytes(1) {
            guard byte[0] == 0x0A else { continue }
            guard let next = try input.peekByte() else { return false }
            if next == UInt8(ascii: "+") { return true }
        }
        return false
    }

    /// Reads past `count` bytes; false if the input ends first.
    private func skip(_ count: Int, input: InputReader) throws -> Bool {
        var left = count
        while left > 0 {
            let chunk = min(left, 1 << 16)
            do {
                guard try input.readBytes(chunk) != nil else { return false }
            } catch {
                guard error.kind == .badRecord else { throw error }
                return false
            }
            left -= chunk
        }
        return true
    }

    private func bad<H: RecordHandler>(_ message: String, line: Int, input: InputReader, handler: inout H) throws {
        try handler.badRecord(LookupError(.badRecord, path: input.name, line: line, message))
    }

    private static func describe(_ byte: UInt8) -> String {
        switch byte {
        case 0x0A: return "a newline"
        case 0x21..<0x7F: return "'\(Character(Unicode.Scalar(byte)))'"
        default:
            let hex = String(byte, radix: 16)
            return "byte 0x" + (hex.count == 1 ? "0" + hex : hex)
        }
    }
}
