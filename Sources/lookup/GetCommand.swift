// `lookup get`: prints the values of keys given as arguments or read from standard input
// (batched and looked up together through the key index, so millions of keys take seconds).
import ArgumentParser
import SharedLookup

struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Print the values of keys.",
        discussion: """
        Prints each found key's value on its own line, in the order the keys were given (every \
        value, one per line, for a one-to-many table). With no KEY, reads keys from standard \
        input, one per line (CRLF accepted). A composite key's parts are given joined by a tab; \
        keys are case folded and trimmed when the table's were (build --ignore-case, --trim).

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

    @Option(help: "Print only these columns of the table's row: 1-based positions or header names, comma separated (joined by the table's delimiter).")
    var columns: String?

    @Flag(help: "Verify the whole table first, as `lookup check` does (in a child process): a damaged table stops with exit 2 before any output. Costs a walk of the table.")
    var verify = false

    /// Keys looked up per batch when reading standard input.
    static let batchSize = 1 << 18

    func run() throws {
        var missingCount = 0
        try reportingErrors {
            let table = try openTable(table, verify: verify)
            let choice = try ColumnChoice(list: columns, metadata: table.metadata)
            let normalizer = table.keyNormalizer()
            let composite = table.keyForm.parts > 1
            // Whether keys as given differ from keys as stored.
            let transforms = table.formsKeys
            var out = OutputBuffer(fd: STDOUT_FILENO, name: "<stdout>")
            let missingBytes = missing.map { Array($0.utf8) }
            try table.read { reader in
                // `key` as given (a composite key's parts joined by tabs), `stored` as looked up.
                func emit(_ key: UnsafeRawBufferPointer, stored: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer?) throws {
                    if let value {
                        try forEachValue(value, table.valuesPerKey) { one in
                            if withKeys { try out.append(key); try out.append(9) }
                            if choice.isWholeValue {
                                try out.append(one)
                            } else {
                                try choice.projected(key: stored, value: one).withUnsafeBytes { try out.append($0) }
                            }
                            try out.append(10)
                        }
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
                        let typed = Array(key.utf8)
                        let stored = table.storedKey(typed: Array(key.utf8))
                        try typed.withUnsafeBytes { given in
                            try stored.withUnsafeBytes { lookedUp in
                                let value = try reader.value(for: lookedUp)
                                if value == nil && missing == nil { printError("not found: \(key)") }
                                try emit(given, stored: lookedUp, value)
                            }
                        }
                    }
                    return
                }
                // Standard input: copy a batch of keys, look them up together, print in input order.
                let input = try InputReader(path: "-")
                var arena: [UInt8] = []
                var spans: [(offset: Int, count: Int)] = []
                var storedSpans: [(offset: Int, count: Int)] = []
                var results: [UnsafeRawBufferPointer?] = []
                spans.reserveCapacity(Self.batchSize)
                results.reserveCapacity(Self.batchSize)
                var finished = false
                while !finished {
                    arena.removeAll(keepingCapacity: true)
                    spans.removeAll(keepingCapacity: true)
                    storedSpans.removeAll(keepingCapacity: true)
                    // Each key twice: as given, then as stored (tabs of a composite key made
                    // 0x1F, folded and trimmed as the table's keys).
                    while spans.count < Self.batchSize {
                        guard let line = try input.nextLine() else { finished = true; break }
                        spans.append((arena.count, line.count))
                        arena.append(contentsOf: line)
                        guard transforms else { continue }
                        let start = arena.count
                        arena.append(contentsOf: line)
                        if composite {
                            for i in start..<arena.count where arena[i] == 9 { arena[i] = KeyForm.partSeparator }
                        }
                        // As the table stores it; a key not of a range table's type matches nothing.
                        let given = Array(arena[start...])
                        arena.removeSubrange(start...)
                        given.withUnsafeBytes { arena.append(contentsOf: normalizer.stored($0) ?? UnsafeRawBufferPointer(start: nil, count: 0)) }
                        storedSpans.append((start, arena.count - start))
                    }
                    if spans.isEmpty { break }
                    try arena.withUnsafeBytes { base in
                        let views = spans.map { UnsafeRawBufferPointer(rebasing: base[$0.offset ..< $0.offset + $0.count]) }
                        let stored = !transforms ? views : storedSpans.map { UnsafeRawBufferPointer(rebasing: base[$0.offset ..< $0.offset + $0.count]) }
                        results.removeAll(keepingCapacity: true)
                        results.append(contentsOf: repeatElement(nil, count: views.count))
                        try reader.lookupBatch(stored) { index, value in results[index] = value }
                        for i in views.indices { try emit(views[i], stored: stored[i], results[i]) }
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
