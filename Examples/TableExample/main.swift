// table-example: the SharedLookup API end to end. Builds a table from records made in code and
// from a CSV file, then reads it: point lookups, zero-copy reads in one transaction, a batch
// in key order, a prefix scan and the table's stats.
//
//   swift run table-example [DIRECTORY]
import Foundation
import SharedLookup

let directory = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : NSTemporaryDirectory()
let path = directory + "/example.lmdb"

do {
    // Build from code: add records in any order, then publish atomically.
    let builder = try TableBuilder(destination: path, options: BuildOptions(duplicates: .last))
    for (city, country) in [("paris", "FR"), ("berlin", "DE"), ("tokyo", "JP"), ("lyon", "FR"), ("bern", "CH")] {
        try builder.add(key: city, value: country)
    }
    let report = try builder.publish()
    print("built \(path): \(report.records) records")

    // Read: open once per process (after any fork), then look up.
    let table = try Table(path: path)
    print("paris -> \(try table.string(for: "paris") ?? "missing")")
    print("rome -> \(try table.string(for: "rome") ?? "missing")")

    // Many lookups in one read transaction, values borrowed from the map (no copies).
    let french = try table.read { reader in
        try ["paris", "lyon", "berlin"].filter { city in
            try reader.withValue(for: city) { value in value.map { Array($0) == Array("FR".utf8) } ?? false }
        }
    }
    print("french: \(french.joined(separator: ","))")

    // A batch: looked up in key order with one cursor, answered in the caller's order.
    let values = try table.values(for: ["tokyo", "nowhere", "bern"])
    print("batch: " + values.map { $0.map { String(decoding: $0, as: UTF8.self) } ?? "-" }.joined(separator: ","))

    // A prefix scan.
    var be: [String] = []
    try table.scan(prefix: "be") { key, _ in be.append(String(decoding: key, as: UTF8.self)); return true }
    print("prefix be: \(be.joined(separator: ","))")

    let stats = try table.stats()
    print("entries: \(stats.entries), depth: \(stats.depth), file: \(stats.fileSize) bytes")
} catch {
    FileHandle.standardError.write(Data("table-example: \(error)\n".utf8))
    exit(2)
}
