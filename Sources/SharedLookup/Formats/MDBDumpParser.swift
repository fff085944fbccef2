// MDBDumpParser: reads the text format of LMDB's `mdb_dump` (`format=bytevalue` or
// `format=print`), one or several database sections, and loads the records of one of them.

/// Reads an `mdb_dump` dump. Each section is a header (`VERSION=3` ... `HEADER=END`), pairs of
/// data lines (a key line and a value line, each starting with one space), and `DATA=END`.
///
/// Only one section is loaded: the one named `options.database` if set (a thrown error if
/// there is none); else the unnamed (main) database, else one named "data", else the first.
/// Records of the chosen section are streamed when no later section can replace it (always
/// for the main database); otherwise they are held in a temporary file until the end of the
/// input shows which section wins.
struct MDBDumpParser {
    private let options: RecordOptions
    private let keyBytes = ByteScratch(capacity: 1024)
    private let valueBytes = ByteScratch()

    /// A parser choosing its section by `options.database`.
    init(options: RecordOptions) {
        self.options = options
    }

    /// What is done with a section's records.
    private enum Role {
        /// Sent to the handler as they are read.
        case stream
        /// Kept in a temporary file: a later section may still replace this one.
        case hold
        /// Read past.
        case skip
    }

    /// A section's header, as far as it matters here.
    private struct Header {
        var name: [UInt8]?
        var printable = false
        var problem: String?
        var problemLine = 0
    }

    private static let dataEnd = Array("DATA=END".utf8)
    private static let headerEnd = Array("HEADER=END".utf8)
    private static let versionPrefix = Array("VERSION=".utf8)

    /// How a section's data ended.
    private enum SectionEnd {
        /// At its `DATA=END` line.
        case dataEnd
        /// At a `VERSION=` line that starts the next section (`DATA=END` is missing).
        case nextHeader(UnsafeRawBufferPointer, Int)
        /// At the end of the input (`DATA=END` is missing).
        case endOfInput
    }

    /// Reads the dump, sending the chosen section's records and bad records to `handler`.
    mutating func parse<H: RecordHandler>(_ input: InputReader, into handler: inout H) throws {
        var sectionNames: [[UInt8]?] = []
        var done = false                  // a section was streamed: nothing later can replace it
        var held: HeldRecords?            // the best section so far, while a later one may replace it
        var heldRank = Int.max            // 0 main, 1 "data", 2 any other
        var pending: (line: UnsafeRawBufferPointer, number: Int)?   // a header line met in data
        var orphanReported = false

        readLoop: while true {
            // Outside a section: blank lines are skipped, anything else starts a header.
            let first: UnsafeRawBufferPointer
            let firstNumber: Int
            if let line = pending {
                (first, firstNumber) = line
                pending = nil
            } else {
                guard let line = try input.nextLine() else { break readLoop }
                if line.isEmpty { continue }
                first = line
                firstNumber = input.lineNumber
            }
            if first[0] == 0x20 {
                if !orphanReported {
                    orphanReported = true
                    try bad("data line outside a section (no header before it)", line: firstNumber,
                            input: input, handler: &handler)
                }
                continue
            }
            orphanReported = false

            // The header, up to HEADER=END.
            var header = Header()
            var line = first
            var lineNumber = firstNumber
            var sawHeaderEnd = false
            var sawData = false
            while true {
                if Self.equals(line, Self.headerEnd) { sawHeaderEnd = true; break }
                if !line.isEmpty && line[0] == 0x20 { sawData = true; break }
                readHeaderLine(line, into: &header)
                if header.problem != nil && header.problemLine == 0 { header.problemLine = lineNumber }
                guard let next = try input.nextLine() else { break }
                line = next
                lineNumber = input.lineNumber
            }
            if !sawHeaderEnd {
                if !sawData {
                    if let problem = header.problem {
                        // Likely not a dump at all: say what was wrong first.
                        try bad(problem + ", and the input ends before HEADER=END", line: header.problemLine,
                                input: input, handler: &handler)
                    } else {
                        try bad("dump ends inside a header (no HEADER=END): truncated?", line: lineNumber,
                                input: input, handler: &handler)
                    }
                    break readLoop
                }
                try bad("data line before HEADER=END", line: lineNumber, input: input, handler: &handler)
                switch try skipData(input) {
                case .dataEnd: continue readLoop
                case .nextHeader(let line, let number): pending = (line, number); continue readLoop
                case .endOfInput: break readLoop
                }
            }
            sectionNames.append(header.name)
            if let problem = header.problem {
                try bad(problem, line: header.problemLine, input: input, handler: &handler)
            }

            // Which role this section plays.
            var role = Role.skip
            var rank = Int.max
            if header.problem == nil && !done {
                if let wanted = options.database {
                    if let name = header.name, name.elementsEqual(wanted.utf8) { role = .stream }
                } else {
                    if let name = header.name {
                        rank = name.elementsEqual("data".utf8) ? 1 : 2
                    } else {
                        rank = 0
                    }
                    if rank == 0 {
                        role = .stream
                    } else if rank < heldRank {
                        role = .hold
                    }
                }
            }
            var sink: HeldRecords?
            switch role {
            case .stream:
                done = true
                held = nil
            case .hold:
                held = nil
                sink = try HeldRecords()
                heldRank = rank
            case .skip:
                break
            }

            // The data lines.
            let end = role == .skip
                ? try skipData(input)
                : try readData(input, printable: header.printable, sink: sink, handler: &handler)
            if let sink { held = sink }
            switch end {
            case .dataEnd:
                continue readLoop
            case .nextHeader(let line, let number):
                pending = (line, number)
            case .endOfInput:
                try bad("dump ends without DATA=END: truncated?", line: input.lineNumber, input: input, handler: &handler)
                break readLoop
            }
        }

        if let wanted = options.database, !sectionNames.contains(where: { $0?.elementsEqual(wanted.utf8) ?? false }) {
            let names = sectionNames.map { $0.map { "\"" + String(decoding: $0, as: UTF8.self) + "\"" } ?? "the main database" }
            throw LookupError(.badRecord, path: input.name,
                              "no database named \"\(wanted)\" in the dump" +
                              (names.isEmpty ? " (it holds no database)" : "; it holds \(names.joined(separator: ", "))"))
        }
        if let held {
            try held.replay(path: input.name, maxLineLength: input.maxLineLength, into: &handler)
        }
    }

    /// Reads past a section's data lines, without looking at them.
    private func skipData(_ input: InputReader) throws -> SectionEnd {
        while let line = try input.nextLine() {
            if Self.equals(line, Self.dataEnd) { return .dataEnd }
            if Self.hasPrefix(line, Self.versionPrefix) { return .nextHeader(line, input.lineNumber) }
        }
        return .endOfInput
    }

    /// Reads one section's data lines in pairs, streaming records or holding them in `sink`.
    private func readData<H: RecordHandler>(_ input: InputReader, printable: Bool, sink: HeldRecords?,
                                            handler: inout H) throws -> SectionEnd {
        while true {
            guard let keyLine = try input.nextLine() else { return .endOfInput }
            let keyNumber = input.lineNumber
            if Self.equals(keyLine, Self.dataEnd) { return .dataEnd }
            if Self.hasPrefix(keyLine, Self.versionPrefix) {
                try report("section ends without DATA=END before a new header", line: keyNumber, sink: sink,
                           input: input, handler: &handler)
                return .nextHeader(keyLine, keyNumber)
            }
            keyBytes.removeAll()
            let keyProblem = decode(keyLine, printable: printable, into: keyBytes)

            guard let valueLine = try input.nextLine() else {
                try report("key line without a value line", line: keyNumber, sink: sink, input: input, handler: &handler)
                return .endOfInput
            }
            let valueNumber = input.lineNumber
            if Self.equals(valueLine, Self.dataEnd) {
                try report("key line without a value line", line: keyNumber, sink: sink, input: input, handler: &handler)
                return .dataEnd
            }
            if Self.hasPrefix(valueLine, Self.versionPrefix) {
                try report("key line without a value line", line: keyNumber, sink: sink, input: input, handler: &handler)
                try report("section ends without DATA=END before a new header", line: valueNumber, sink: sink,
                           input: input, handler: &handler)
                return .nextHeader(valueLine, valueNumber)
            }
            if let keyProblem {
                try report("key line: \(keyProblem)", line: keyNumber, sink: sink, input: input, handler: &handler)
                continue
            }
            valueBytes.removeAll()
            if let problem = decode(valueLine, printable: printable, into: valueBytes) {
                try report("value line: \(problem)", line: valueNumber, sink: sink, input: input, handler: &handler)
                continue
            }
            let key = keyBytes.bytes
            if let problem = options.keyProblem(key) {
                try report(problem, line: keyNumber, sink: sink, input: input, handler: &handler)
                continue
            }
            if let sink {
                try sink.add(key: key, value: valueBytes.bytes, line: keyNumber)
            } else {
                try handler.record(key: key, value: valueBytes.bytes, line: keyNumber)
            }
        }
    }

    /// Reports a bad record now, or holds it with the section's records.
    private func report<H: RecordHandler>(_ message: String, line: Int, sink: HeldRecords?, input: InputReader,
                                          handler: inout H) throws {
        if let sink {
            try sink.addBad(message: message, line: line)
        } else {
            try bad(message, line: line, input: input, handler: &handler)
        }
    }

    private func bad<H: RecordHandler>(_ message: String, line: Int, input: InputReader, handler: inout H) throws {
        try handler.badRecord(LookupError(.badRecord, path: input.name, line: line, message))
    }

    /// Takes in one header line (`name=value`).
    private func readHeaderLine(_ line: UnsafeRawBufferPointer, into header: inout Header) {
        guard header.problem == nil else { return }
        guard let equals = line.firstIndex(of: UInt8(ascii: "=")) else {
            if !line.isEmpty {
                header.problem = "bad header line \"\(printablePreview(line))\" (expected name=value)"
            }
            return
        }
        let name = line.slice(0, equals)
        let value = line.slice(equals + 1, line.count)
        switch String(decoding: name, as: UTF8.self) {
        case "VERSION":
            if !Self.equals(value, Array("3".utf8)) {
                header.problem = "unsupported dump VERSION=\(printablePreview(value)) (3 expected)"
            }
        case "format":
            if Self.equals(value, Array("print".utf8)) {
                header.printable = true
            } else if Self.equals(value, Array("bytevalue".utf8)) {
                header.printable = false
            } else {
                header.problem = "unsupported format=\(printablePreview(value)) (bytevalue or print expected)"
            }
        case "database":
            header.name = Array(value)
        case "type":
            if !Self.equals(value, Array("btree".utf8)) {
                header.problem = "unsupported type=\(printablePreview(value)) (btree expected)"
            }
        default:
            // mapsize, maxreaders, db_pagesize, duplicates, dupsort, mapaddr...: not needed.
            break
        }
    }

    /// Decodes one data line (leading space, then hex pairs or print text) into `out`.
    /// Returns a problem, or `nil`. An empty line is taken as an empty field.
    private func decode(_ line: UnsafeRawBufferPointer, printable: Bool, into out: ByteScratch) -> String? {
        if line.isEmpty { return nil }
        guard line[0] == 0x20 else {
            return "data line does not start with a space: \"\(printablePreview(line))\""
        }
        let count = line.count
        out.reserve(printable ? count : count / 2)
        if !printable {
            guard (count - 1) % 2 == 0 else { return "odd number of hex digits (\(count - 1))" }
            var i = 1
            while i < count {
                guard let high = JSONScanner.hexValue(line[i]), let low = JSONScanner.hexValue(line[i + 1]) else {
                    let at = JSONScanner.hexValue(line[i]) == nil ? i : i + 1
                    return "bad hex digit \"\(printablePreview(line.slice(at, at + 1)))\" at column \(at + 1)"
                }
                out.append(high << 4 | low)
                i += 2
            }
            return nil
        }
        var i = 1
        while i < count {
            let byte = line[i]
            if byte != UInt8(ascii: "\\") {
                out.append(byte)
                i += 1
                continue
            }
            if i + 1 < count && line[i + 1] == UInt8(ascii: "\\") {
                out.append(byte)
                i += 2
                continue
            }
            // mdb_dump 0.9.24 prints a backslash bare in -p mode: a backslash that does not
            // start an escape stands for itself.
            guard i + 2 < count, let high = JSONScanner.hexValue(line[i + 1]),
                  let low = JSONScanner.hexValue(line[i + 2]) else {
                out.append(byte)
                i += 1
                continue
            }
            out.append(high << 4 | low)
            i += 3
        }
        return nil
    }

    @inline(__always)
    private static func equals(_ line: UnsafeRawBufferPointer, _ text: [UInt8]) -> Bool {
        line.count == text.count && line.elementsEqual(text)
    }

    @inline(__always)
    private static func hasPrefix(_ line: UnsafeRawBufferPointer, _ text: [UInt8]) -> Bool {
        line.count >= text.count && line.prefix(text.count).elementsEqual(text)
    }
}

/// The records (and bad records) of a section that may still be replaced by a later one, kept
/// in a temporary file and replayed to the handler if the section wins.
private final class HeldRecords {
    private let path: String
    private let fd: Int32
    private var out: OutputBuffer
    private var removed = false

    init() throws {
        var directory = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        if directory.isEmpty { directory = "/tmp" }
        var template = Array("\(directory)/lookup-dump-\(getpid())-XXXXXX".utf8CString)
        let opened = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        let name = String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if opened < 0 { throw LookupError.system("cannot create a temporary file", path: name) }
        path = name
        fd = opened
        out = OutputBuffer(fd: opened, name: name)
        TemporaryFiles.register(name)
    }

    deinit {
        close(fd)
        remove()
    }

    private func remove() {
        if removed { return }
        removed = true
        unlink(path)
        TemporaryFiles.unregister(path)
    }

    // Each entry: a tag byte (0 record, 1 bad record), the line (8 bytes), two lengths (4
    // bytes each), then the key and value bytes (or the message and nothing).
    private func addEntry(tag: UInt8, line: Int, _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) throws {
        var head = [UInt8](repeating: tag, count: 17)
        head.withUnsafeMutableBytes { h in
            h.storeBytes(of: Int64(line).littleEndian, toByteOffset: 1, as: Int64.self)
            h.storeBytes(of: UInt32(first.count).littleEndian, toByteOffset: 9, as: UInt32.self)
            h.storeBytes(of: UInt32(second.count).littleEndian, toByteOffset: 13, as: UInt32.self)
        }
        try head.withUnsafeBytes { try out.append($0) }
        try out.append(first)
        try out.append(second)
    }

    func add(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, line: Int) throws {
        try addEntry(tag: 0, line: line, key, value)
    }

    func addBad(message: String, line: Int) throws {
        var text = message
        try text.withUTF8 { try addEntry(tag: 1, line: line, UnsafeRawBufferPointer($0), UnsafeRawBufferPointer(start: nil, count: 0)) }
    }

    /// Sends the held entries to `handler`, naming `name` (the dump) in bad records.
    func replay<H: RecordHandler>(path name: String, maxLineLength: Int, into handler: inout H) throws {
        try out.flush()
        // An entry holds a decoded key and value, each at most one dump line long.
        let limit = maxLineLength > Int.max / 4 ? maxLineLength : maxLineLength * 2 + 4096
        let reader = try InputReader(path: path, maxLineLength: limit)
        remove()
        while let head = try reader.readBytes(17) {
            let tag = head[0]
            let line = Int(Int64(littleEndian: head.loadUnaligned(fromByteOffset: 1, as: Int64.self)))
            let firstCount = Int(UInt32(littleEndian: head.loadUnaligned(fromByteOffset: 9, as: UInt32.self)))
            let secondCount = Int(UInt32(littleEndian: head.loadUnaligned(fromByteOffset: 13, as: UInt32.self)))
            guard let body = try reader.readBytes(firstCount + secondCount) else { break }
            if tag == 1 {
                let message = String(decoding: body.slice(0, firstCount), as: UTF8.self)
                try handler.badRecord(LookupError(.badRecord, path: name, line: line, message))
            } else {
                try handler.record(key: body.slice(0, firstCount), value: body.slice(firstCount, body.count), line: line)
            }
        }
    }
}
