// `lookup get`: prints the values of keys given as arguments or read from standard input
// (batched and looked up together through the key index, so millions of keys take seconds).
import ArgumentParser
import SharedLookup

struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Print the values of keys.",
        discussion: """
        Prints each found key's value on its own line, in the order the keys were given. With \
        no KEY, reads keys from standard input, one per line (CRLF accepted).

        A missing key prints nothing unless --missing gives a text to print in its place (use \
        it to keep output lines aligned with input lines). Exit status: 0 when every key was \
        found, 1 when any was missing, 2 on error.
        """)

    @Argument(help: "The table file.")
    var table: String

    @Argument(help: "Keys to look up (default: one per line from standard input).")
    var keys: [String] = []

    @Option(help: "Text to print for a missing key (default: print nothing).")
    var missing: String?

    @Flag(name: [.customShort("K"), .customLong("with-keys")], help: "Print KEY<TAB>VALUE instead of the value alone.")
    var withKeys = false

    @Flag(help: "Verify the whole table first, as `lookup check` does (in a child process): a damaged table stops with exit 2 before any output. Costs a walk of the table.")
    var verify = false

    /// Keys looked up per batch when reading standard input.
    static let batchSize = 1 << 18

    func run() throws {
        var missingCount = 0
        try reportingErrors {
            let table = try openTable(table, verify: verify)
            var out = OutputBuffer(fd: STDOUT_FILENO, name: "<stdout>")
            let missingBytes = missing.map { Array($0.utf8) }
            try table.read { reader in
                func emit(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer?) throws {
                    if let value {
                        if withKeys { try out.append(key); try out.append(9) }
                        try out.append(value)
                        try out.append(10)
                    } else {
                        missingCount += 1
                        if let missingBytes {
                            if withKeys { try out.append(key); try out.append(9) }
                            try missingBytes.withUnsafeBytes { try out.append($0) }
                            try out.append(10)
                        }
                    }
                }
                if !keys.isEmpty {
                    for key in keys {
                        var k = key
                        try k.withUTF8 { utf8 in
                            let bytes = UnsafeRawBufferPointer(utf8)
                            let value = try reader.value(for: bytes)
                            if value == nil && missing == nil { printError("not found: \(key)") }
                            try emit(bytes, value)
                        }
                    }
                    return
                }
                // Standard input: copy a batch of keys, look them up together, print in input order.
                let input = try InputReader(path: "-")
                var arena: [UInt8] = []
                var spans: [(offset: Int, count: Int)] = []
                var results: [UnsafeRawBufferPointer?] = []
                spans.reserveCapacity(Self.batchSize)
                results.reserveCapacity(Self.batchSize)
                var finished = false
                while !finished {
                    arena.removeAll(keepingCapacity: true)
                    spans.removeAll(keepingCapacity: true)
                    while spans.count < Self.batchSize {
                        guard let line = try input.nextLine() else { finished = true; break }
                        spans.append((arena.count, line.count))
                        arena.append(contentsOf: line)
                    }
                    if spans.isEmpty { break }
                    try arena.withUnsafeBytes { base in
                        let views = spans.map { UnsafeRawBufferPointer(rebasing: base[$0.offset ..< $0.offset + $0.count]) }
                        results.removeAll(keepingCapacity: true)
                        results.append(contentsOf: repeatElement(nil, count: views.count))
                        try reader.lookupBatch(views) { index, value in results[index] = value }
                        for i in views.indices { try emit(views[i], results[i]) }
                    }
                }
                if missingCount > 0 && missing == nil {
                    printError("\(missingCount) key\(missingCount == 1 ? "" : "s") not found")
                }
            }
            try out.flush()
        }
        if missingCount > 0 { throw Status.notFound }
    }
}
