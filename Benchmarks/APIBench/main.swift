// lookup-api-bench: times point lookups through the Swift API, for the benchmark's comparison
// with C `mdb_get` (Benchmarks/peers/get_api_c_lmdb.c, the same keys in the same order).
//
//   lookup-api-bench TABLE.lmdb KEYS.txt --mode one|batch [--batch N] [--passes P]
//
// Loads KEYS.txt (one key per line) into one buffer, opens the table, then runs the lookup
// loop once untimed (so both sides start with the table's pages mapped) and P times timed
// (default 3); only the loop is timed. `one`: every key with `TableReader.value(for:)` inside
// one `Table.read` transaction. `batch`: the keys in batches of N (default 65536) through one
// reused `KeyBatch`. Prints one JSON line: the median ns per key over the timed passes, every
// pass, and a checksum (hits, summed value lengths) that must equal the C peer's.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SharedLookup

func fail(_ message: String) -> Never {
    let line = Array("lookup-api-bench: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

func nanoseconds() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

/// `x` rounded to two decimals.
func round2(_ x: Double) -> Double { (x * 100).rounded() / 100 }

/// The whole file's bytes, read with POSIX calls.
func readFile(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY)
    if fd < 0 { fail("\(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var st = stat()
    if fstat(fd, &st) != 0 { fail("\(path): \(String(cString: strerror(errno)))") }
    var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
        if n <= 0 { fail("\(path): short read") }
        done += n
    }
    return bytes
}

var arguments = Array(CommandLine.arguments.dropFirst())
var mode = "", batchSize = 65536, passes = 3
var positional: [String] = []
while !arguments.isEmpty {
    let a = arguments.removeFirst()
    func number() -> Int {
        guard !arguments.isEmpty, let n = Int(arguments.removeFirst()), n > 0 else { fail("\(a) needs a positive number") }
        return n
    }
    switch a {
    case "--mode": mode = arguments.isEmpty ? "" : arguments.removeFirst()
    case "--batch": batchSize = number()
    case "--passes": passes = number()
    default: positional.append(a)
    }
}
guard positional.count == 2, mode == "one" || mode == "batch" else {
    fail("usage: lookup-api-bench TABLE.lmdb KEYS.txt --mode one|batch [--batch N] [--passes P]")
}

let text = readFile(positional[1])
var spans: [(start: Int, count: Int)] = []
var lineStart = 0
for (i, byte) in text.enumerated() where byte == UInt8(ascii: "\n") {
    spans.append((lineStart, i - lineStart))
    lineStart = i + 1
}
if lineStart < text.count { spans.append((lineStart, text.count - lineStart)) }

let table: Table
do { table = try Table(path: positional[0]) } catch { fail("\(error)") }

/// One pass over every key; returns (hits, summed value lengths, elapsed ns).
func pass(_ keys: [UnsafeRawBufferPointer], table: Table, oneAtATime: Bool, batchSize: Int) throws -> (Int, Int, UInt64) {
    var hits = 0, bytes = 0
    var elapsed: UInt64 = 0
    try table.read { reader in
        let t0 = nanoseconds()
        if oneAtATime {
            for key in keys {
                if let value = try reader.value(for: key) {
                    hits += 1
                    bytes += value.count
                }
            }
        } else {
            var batch = KeyBatch()
            var start = 0
            while start < keys.count {
                batch.removeAll()
                let end = min(start + batchSize, keys.count)
                for i in start..<end where !batch.add(keys[i]) { fail("key \(i + 1) cannot be in a table") }
                try batch.lookUp(in: reader)
                for i in 0..<batch.count {
                    if let value = batch.value(at: i) {
                        hits += 1
                        bytes += value.count
                    }
                }
                start = end
            }
        }
        elapsed = nanoseconds() - t0
    }
    return (hits, bytes, elapsed)
}

text.withUnsafeBytes { all in
    let keys = spans.map { UnsafeRawBufferPointer(rebasing: all[$0.start..<($0.start + $0.count)]) }
    do {
        let warm = try pass(keys, table: table, oneAtATime: mode == "one", batchSize: batchSize)
        var ns: [Double] = []
        for _ in 0..<passes {
            let p = try pass(keys, table: table, oneAtATime: mode == "one", batchSize: batchSize)
            if p.0 != warm.0 || p.1 != warm.1 { fail("passes disagree") }
            ns.append(Double(p.2) / Double(max(keys.count, 1)))
        }
        let median = ns.sorted()[ns.count / 2]
        let all = ns.map { "\(round2($0))" }.joined(separator: ", ")
        print("{\"program\": \"lookup-api-bench\", \"mode\": \"\(mode)\", \"batch\": \(mode == "batch" ? batchSize : 1), "
              + "\"keys\": \(keys.count), \"ns_per_key\": \(round2(median)), \"passes_ns_per_key\": [\(all)], "
              + "\"hits\": \(warm.0), \"value_bytes\": \(warm.1), \"key_index\": \((try table.stats().keyIndexSize) > 0)}")
    } catch {
        fail("\(error)")
    }
}
