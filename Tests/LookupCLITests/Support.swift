// Test support: running lookup and other tools (through LookupTestSupport's ChildProcess and
// LiveChild), expectations on results, files, seeded data generation, mdb_dump text.
import Foundation
import LookupTestSupport
import Testing

// MARK: - Running processes

/// Runs the `lookup` binary.
@discardableResult
func lookup(_ arguments: [String], stdin: [UInt8]? = nil) throws -> ProcessOutput {
    try runProcess(try TestBinaries.requireLookup(), arguments, stdin: stdin)
}

/// Runs `python3 -c script args...`.
@discardableResult
func python(_ script: String, _ arguments: [String] = [], stdin: [UInt8]? = nil) throws -> ProcessOutput {
    try runProcess(try TestBinaries.tool("python3"), ["-c", script] + arguments, stdin: stdin)
}

// MARK: - Expectations on results

/// Text that shows the process crashed rather than reporting an error.
let crashMarkers = ["Fatal error", "Stack dump", "Program crashed", "Backtrac", "Illegal instruction",
                    "Segmentation fault", "Bus error", "Assertion failed"]

/// Expects `result` to be a clean failure: not killed by a signal, a non-zero exit status
/// (`status` when given), exactly one line on stderr, mentioning every string of `mentions`,
/// and no crash report.
func expectCleanError(_ result: ProcessOutput, status: Int32? = nil, mentions: [String], _ what: String,
                      sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(!result.signaled, "\(what): died of signal \(result.status); stderr: \(result.err.prefix(1500))",
            sourceLocation: sourceLocation)
    if let status {
        #expect(result.status == status, "\(what): \(result.summary)", sourceLocation: sourceLocation)
    } else {
        #expect(result.status != 0, "\(what): \(result.summary)", sourceLocation: sourceLocation)
    }
    #expect(result.errLines.count == 1, "\(what): expected exactly one line on stderr, got \(result.errLines.count): \(result.err.prefix(1500))",
            sourceLocation: sourceLocation)
    for text in mentions {
        #expect(result.err.contains(text), "\(what): stderr does not mention \"\(text)\": \(result.err.prefix(1500))",
                sourceLocation: sourceLocation)
    }
    for marker in crashMarkers {
        #expect(!result.err.contains(marker), "\(what): crash report on stderr: \(result.err.prefix(1500))",
                sourceLocation: sourceLocation)
    }
}

/// Expects `result` to be a success (exit 0, not signaled).
func expectSuccess(_ result: ProcessOutput, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(!result.signaled && result.status == 0, "\(what): \(result.summary)", sourceLocation: sourceLocation)
}

/// Expects a table's records (from a dump, in dump order) to be exactly `expected`, in key
/// order; reports the first few differences.
func expectRecords(_ records: [Record], equal expected: [[UInt8]: [UInt8]], _ what: String,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(records.count == expected.count, "\(what): \(records.count) records, expected \(expected.count)",
            sourceLocation: sourceLocation)
    var problems: [String] = []
    var seen = Set<[UInt8]>()
    for (i, r) in records.enumerated() {
        if i > 0 && !records[i - 1].key.lexicographicallyPrecedes(r.key) {
            problems.append("not in key order at \(show(r.key))")
        }
        seen.insert(r.key)
        if let want = expected[r.key] {
            if want != r.value { problems.append("key \(show(r.key)): value \(show(r.value)), expected \(show(want))") }
        } else {
            problems.append("unexpected key \(show(r.key))")
        }
        if problems.count >= 5 { break }
    }
    if problems.count < 5 {
        for key in expected.keys where !seen.contains(key) {
            problems.append("missing key \(show(key))")
            if problems.count >= 5 { break }
        }
    }
    #expect(problems.isEmpty, "\(what): \(problems.joined(separator: "; "))", sourceLocation: sourceLocation)
}

/// Bytes shown for messages: printable ASCII as is, others as \xNN (long values cut).
func show(_ bytes: [UInt8], limit: Int = 60) -> String {
    var text = "\""
    for b in bytes.prefix(limit) {
        if b >= 0x20 && b < 0x7f && b != 0x5c && b != 0x22 { text.unicodeScalars.append(Unicode.Scalar(b)) }
        else { text += "\\x" + hex([b]) }
    }
    return text + (bytes.count > limit ? "...\"(\(bytes.count) bytes)" : "\"")
}

// MARK: - Files and directories

func listDirectory(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

func fileSize(_ path: String) -> Int {
    var st = stat()
    return stat(path, &st) == 0 ? Int(st.st_size) : -1
}

// MARK: - Data generation

private let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
private let hexDigits = Array("0123456789abcdef".utf8)

/// A random word of letters and digits.
func randomWord(_ rng: inout SeededRNG, _ lengths: ClosedRange<Int>) -> String {
    let n = Int.random(in: lengths, using: &rng)
    return String(decoding: (0..<n).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }, as: UTF8.self)
}

/// Random bytes drawn from 0...255 minus `excluding`.
func randomBytes(_ rng: inout SeededRNG, _ lengths: ClosedRange<Int>, excluding: Set<UInt8> = []) -> [UInt8] {
    let n = Int.random(in: lengths, using: &rng)
    var out: [UInt8] = []
    out.reserveCapacity(n)
    while out.count < n {
        let b = UInt8.random(in: 0...255, using: &rng)
        if !excluding.contains(b) { out.append(b) }
    }
    return out
}

func hex(_ bytes: [UInt8]) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for b in bytes { out.append(hexDigits[Int(b >> 4)]); out.append(hexDigits[Int(b & 15)]) }
    return String(decoding: out, as: UTF8.self)
}

func unhex(_ text: Substring) -> [UInt8]? {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else { return nil }
    func value(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
    var out: [UInt8] = []
    out.reserveCapacity(digits.count / 2)
    var i = 0
    while i < digits.count {
        guard let hi = value(digits[i]), let lo = value(digits[i + 1]) else { return nil }
        out.append(hi << 4 | lo)
        i += 2
    }
    return out
}

/// Generated CSV: its text and, for each key, the value the table must hold (the rest of
/// the line), plus the keys in file order.
struct GeneratedCSV {
    var text: [UInt8]
    var expected: [String: String]
    var keys: [String]
}

/// One CSV field that is not the key: plain words, numbers, empty fields, and quoted fields
/// holding commas and doubled quotes.
func randomCSVField(_ rng: inout SeededRNG) -> String {
    switch Int.random(in: 0..<6, using: &rng) {
    case 0: return randomWord(&rng, 1...12)
    case 1: return String(Int.random(in: -100_000...100_000, using: &rng))
    case 2: return "\"\(randomWord(&rng, 1...6)), \(randomWord(&rng, 1...6)),\(randomWord(&rng, 0...4))\""
    case 3: return "\"say \"\"\(randomWord(&rng, 1...8))\"\", ok\""
    case 4: return ""
    default: return "\(randomWord(&rng, 1...5)) \(randomWord(&rng, 1...5))"
    }
}

/// `count` CSV records with distinct keys in random (unsorted) order. Some keys are quoted
/// (holding a comma or a doubled quote); the value is the raw text after the key field.
func generateCSV(count: Int, rng: inout SeededRNG) -> GeneratedCSV {
    var text: [UInt8] = []
    var expected: [String: String] = [:]
    var keys: [String] = []
    while keys.count < count {
        let word = randomWord(&rng, 4...20)
        let key: String, raw: String
        switch Int.random(in: 0..<10, using: &rng) {
        case 0: key = word + "," + randomWord(&rng, 1...4); raw = "\"\(key)\""
        case 1: key = word + "\"q"; raw = "\"" + word + "\"\"q\""
        default: key = word; raw = word
        }
        if expected[key] != nil { continue }
        let fields = (0..<Int.random(in: 1...4, using: &rng)).map { _ in randomCSVField(&rng) }
        let rest = fields.joined(separator: ",")
        expected[key] = rest
        keys.append(key)
        text += Array((raw + "," + rest + "\n").utf8)
    }
    return GeneratedCSV(text: text, expected: expected, keys: keys)
}

/// A large CSV written fast: `count` lines `KEY,VALUE,"x,y"` with distinct 16-hex-digit keys
/// in scrambled order and values of varying length. Distinct because `mix` is a bijection.
func generateBigCSV(count: Int, seed: UInt64) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(count * 48)
    let filler = Array("abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz".utf8)
    for i in 0..<count {
        let k = mix(UInt64(i) &+ seed &* 0x1_0000_0001)
        var shift: UInt64 = 60
        while true {
            out.append(hexDigits[Int((k >> shift) & 15)])
            if shift == 0 { break }
            shift -= 4
        }
        out.append(UInt8(ascii: ","))
        let n = Int(k % 24)
        out.append(contentsOf: filler[n..<(n + 8 + Int(k >> 59))])
        out.append(contentsOf: [44, 34, 120, 44, 121, 34, 10])   // ,"x,y"\n
    }
    return out
}

// MARK: - mdb_dump text

/// One key/value record.
struct Record: Equatable {
    var key: [UInt8]
    var value: [UInt8]
}

/// A parsed mdb_dump text (one database section).
struct DumpText {
    /// Header lines, up to and including HEADER=END.
    var header: [String] = []
    /// The raw data lines between HEADER=END and DATA=END.
    var dataLines: [[UInt8]] = []
    /// The decoded records.
    var records: [Record] = []
    /// Whether the text ended with DATA=END.
    var complete = false
}

/// Parses the first section of mdb_dump text (`format=bytevalue` or `format=print`).
func parseDump(_ bytes: [UInt8]) throws -> DumpText {
    var dump = DumpText()
    var inHeader = true
    var printable = false
    for line in splitLines(bytes) {
        if inHeader {
            let text = String(decoding: line, as: UTF8.self)
            dump.header.append(text)
            if text == "format=print" { printable = true }
            if text == "HEADER=END" { inHeader = false }
            continue
        }
        if line == Array("DATA=END".utf8) { dump.complete = true; break }
        dump.dataLines.append(line)
    }
    guard dump.dataLines.count % 2 == 0 else { throw TestFailure("dump has an odd number of data lines") }
    var i = 0
    while i < dump.dataLines.count {
        let k = try decodeDumpLine(dump.dataLines[i], printable: printable)
        let v = try decodeDumpLine(dump.dataLines[i + 1], printable: printable)
        dump.records.append(Record(key: k, value: v))
        i += 2
    }
    return dump
}

private func decodeDumpLine(_ line: [UInt8], printable: Bool) throws -> [UInt8] {
    guard line.first == 0x20 else { throw TestFailure("dump data line without its leading space: \(show(line))") }
    let body = line.dropFirst()
    if !printable {
        guard let bytes = unhex(Substring(String(decoding: body, as: UTF8.self))) else {
            throw TestFailure("bad hex in dump line \(show(line))")
        }
        return bytes
    }
    var out: [UInt8] = []
    var i = body.startIndex
    while i < body.endIndex {
        if body[i] == 0x5c {
            if i + 1 < body.endIndex && body[i + 1] == 0x5c { out.append(0x5c); i += 2; continue }
            guard i + 2 < body.endIndex, let b = unhex(Substring(String(decoding: body[(i + 1)...(i + 2)], as: UTF8.self))) else {
                throw TestFailure("bad escape in dump line \(show(line))")
            }
            out += b
            i += 3
        } else {
            out.append(body[i])
            i += 1
        }
    }
    return out
}

/// mdb_dump text for `records` (written in the order given), `format=bytevalue` or `print`.
func makeDump(_ records: [Record], printable: Bool) -> [UInt8] {
    var out = Array("VERSION=3\nformat=\(printable ? "print" : "bytevalue")\ntype=btree\nmapsize=1048576\nmaxreaders=126\ndb_pagesize=4096\nHEADER=END\n".utf8)
    func line(_ bytes: [UInt8]) {
        out.append(0x20)
        if printable {
            for b in bytes {
                if b == 0x5c { out += [0x5c, 0x5c] }
                else if b >= 0x20 && b < 0x7f { out.append(b) }
                else { out.append(0x5c); out += Array(hex([b]).utf8) }
            }
        } else {
            out += Array(hex(bytes).utf8)
        }
        out.append(10)
    }
    for r in records { line(r.key); line(r.value) }
    out += Array("DATA=END\n".utf8)
    return out
}

/// The table's records as `lookup dump` (mdb-dump format) writes them.
func lookupDump(_ table: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [Record] {
    let result = try lookup(["dump", table])
    expectSuccess(result, "lookup dump \(table)", sourceLocation: sourceLocation)
    let dump = try parseDump(result.stdout)
    #expect(dump.complete, "lookup dump \(table): no DATA=END", sourceLocation: sourceLocation)
    return dump.records
}

/// Keys and values as [UInt8] dictionary from a String dictionary.
func byteTable(_ table: [String: String]) -> [[UInt8]: [UInt8]] {
    var out: [[UInt8]: [UInt8]] = [:]
    for (k, v) in table { out[Array(k.utf8)] = Array(v.utf8) }
    return out
}

/// The "Entries: N" count from `mdb_stat` output.
func mdbStatEntries(_ text: String) -> Int? {
    for line in text.split(separator: "\n") {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("Entries:") {
            return Int(trimmed.dropFirst("Entries:".count).trimmingCharacters(in: .whitespaces))
        }
    }
    return nil
}

/// Mounts a tmpfs with `options` on `directory` (which must exist).
func mountTmpfs(_ directory: String, options: String) throws {
    let result = try runProcess("/usr/bin/env", ["mount", "-t", "tmpfs", "-o", options, "tmpfs", directory])
    guard result.status == 0 else { throw TestFailure("mount -t tmpfs -o \(options) \(directory) failed: \(result.summary)") }
}

/// Unmounts `directory`.
func unmount(_ directory: String) {
    _ = try? runProcess("/usr/bin/env", ["umount", directory])
}

/// The line numbers `text` gives after "PATH:" (as in "PATH:12: ..." or "first at PATH:3").
func mentionedLines(_ text: String, path: String) -> Set<Int> {
    var lines = Set<Int>()
    var rest = Substring(text)
    while let range = rest.range(of: path + ":") {
        let digits = rest[range.upperBound...].prefix(while: { $0.isASCII && $0.isNumber })
        if let n = Int(digits) { lines.insert(n) }
        rest = rest[range.upperBound...]
    }
    return lines
}

/// Expects two lists of lines to be equal; on a difference reports the counts and the first
/// differing line rather than both lists.
func expectSameLines<T: Equatable>(_ got: [T], _ want: [T], _ what: String, render: (T) -> String = { "\($0)" },
                                   sourceLocation: SourceLocation = #_sourceLocation) {
    if got == want { return }
    let index = (0..<min(got.count, want.count)).first { got[$0] != want[$0] } ?? min(got.count, want.count)
    let g = index < got.count ? render(got[index]) : "(none)", w = index < want.count ? render(want[index]) : "(none)"
    Issue.record("\(what): \(got.count) lines, expected \(want.count); first difference at line \(index + 1): got \(g), expected \(w)",
                 sourceLocation: sourceLocation)
}
