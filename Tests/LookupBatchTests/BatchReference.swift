// The naive single-process reference for `lookup run`: table CSV into a dictionary, then line by line.
import Foundation

/// A growable byte buffer (memcpy appends: test code is built unoptimized, so no per-byte loops).
final class ByteSink {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int = 1 << 16) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    private func reserve(_ extra: Int) {
        guard count + extra > capacity else { return }
        var c = capacity
        while c < count + extra { c *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        bigger.update(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = c
    }

    func append(_ bytes: UnsafeRawBufferPointer) {
        guard let p = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        UnsafeMutableRawPointer(base + count).copyMemory(from: p, byteCount: bytes.count)
        count += bytes.count
    }

    func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }

    func append(_ text: String) {
        var t = text
        t.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    /// The last byte, if any.
    var last: UInt8? { count > 0 ? base[count - 1] : nil }

    /// Drops the last `n` bytes.
    func dropLast(_ n: Int) { count = max(0, count - n) }

    var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }
}

/// The modes whose output the reference computes.
enum OutputMode: String, CaseIterable, Sendable {
    case join, filter, anti
}

/// Line counts as `lookup run` reports them.
struct RefCounts: Equatable, Sendable, CustomStringConvertible {
    var lines = 0, hits = 0, misses = 0, bad = 0
    mutating func add(_ o: RefCounts) { lines += o.lines; hits += o.hits; misses += o.misses; bad += o.bad }
    var description: String { "lines \(lines), hits \(hits), misses \(misses), bad \(bad)" }
    func matches(_ c: Counts) -> Bool { c.lines == lines && c.hits == hits && c.misses == misses && c.badLines == bad }
}

/// The reference outputs of one input for every mode, its counts, and its bad lines' numbers.
struct Reference: Sendable {
    var join: [UInt8] = []
    var filter: [UInt8] = []
    var anti: [UInt8] = []
    var counts = RefCounts()
    var badLines: [Int] = []

    func output(_ mode: OutputMode) -> [UInt8] {
        switch mode {
        case .join: return join
        case .filter: return filter
        case .anti: return anti
        }
    }
}

/// Loads a table CSV (`key,value...` per line, no quoting) into a dictionary: the key is the text
/// before the first comma, the value everything after it.
func loadTableCSV(_ bytes: [UInt8]) -> [[UInt8]: [UInt8]] {
    var table: [[UInt8]: [UInt8]] = [:]
    bytes.withUnsafeBytes { raw in
        let base = raw.baseAddress!
        var start = 0
        while start < raw.count {
            let nl = memchr(base + start, 10, raw.count - start).map { UnsafeRawPointer($0) - base } ?? raw.count
            if let comma = memchr(base + start, 44, nl - start).map({ UnsafeRawPointer($0) - base }) {
                table[Array(raw[start..<comma])] = Array(raw[(comma + 1)..<nl])
            }
            start = nl + 1
        }
    }
    return table
}

/// Runs the reference over one input's (decompressed) bytes: each line (split on "\n", a
/// trailing "\r" stripped, a missing final newline still ending the last line) is split on
/// `delimiter`; column `keyColumn` is the key. Lines longer than `maxLine`, holding a NUL byte
/// (binary data) or without the key column are bad (counted, not written). Hits go to join (`line<delim>value`) and filter,
/// misses to anti.
func referenceRun(_ input: [UInt8], table: [[UInt8]: [UInt8]], delimiter: UInt8 = 44, keyColumn: Int = 1,
                  maxLine: Int = Int.max) -> Reference {
    var ref = Reference()
    let join = ByteSink(capacity: input.count + 1024), filter = ByteSink(capacity: input.count + 16), anti = ByteSink(capacity: input.count + 16)
    input.withUnsafeBytes { raw in
        guard let base = raw.baseAddress else { return }
        var start = 0
        var number = 0
        while start < raw.count {
            let nl = memchr(base + start, 10, raw.count - start).map { UnsafeRawPointer($0) - base } ?? raw.count
            var end = nl
            if end > start && raw[end - 1] == 13 { end -= 1 }
            number += 1
            ref.counts.lines += 1
            let line = UnsafeRawBufferPointer(rebasing: raw[start..<end])
            start = nl + 1
            if line.count > maxLine { ref.counts.bad += 1; ref.badLines.append(number); continue }
            // A NUL byte: binary data, not a text line.
            if line.contains(0) { ref.counts.bad += 1; ref.badLines.append(number); continue }
            // Column `keyColumn`: the text between the (k-1)th and kth delimiter.
            var fieldStart = 0
            var column = 1
            var key: UnsafeRawBufferPointer?
            while true {
                let hit = line.count > fieldStart ? memchr(line.baseAddress! + fieldStart, Int32(delimiter), line.count - fieldStart) : nil
                let fieldEnd = hit.map { UnsafeRawPointer($0) - line.baseAddress! } ?? line.count
                if column == keyColumn { key = UnsafeRawBufferPointer(rebasing: line[fieldStart..<fieldEnd]); break }
                if hit == nil { break }
                fieldStart = fieldEnd + 1
                column += 1
            }
            guard let key else { ref.counts.bad += 1; ref.badLines.append(number); continue }
            if let value = table[Array(key)] {
                ref.counts.hits += 1
                join.append(line); join.append(delimiter); join.append(value); join.append(10)
                filter.append(line); filter.append(10)
            } else {
                ref.counts.misses += 1
                anti.append(line); anti.append(10)
            }
        }
    }
    ref.join = join.bytes
    ref.filter = filter.bytes
    ref.anti = anti.bytes
    return ref
}
