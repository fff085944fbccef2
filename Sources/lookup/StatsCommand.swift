// `lookup stats`: entries, file size, B+tree depth and pages, map size, readers and metadata.
import ArgumentParser
import Foundation
import SharedLookup

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show a table's size, shape and metadata.")

    @Argument(help: "The table file.")
    var table: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        try reportingErrors {
            // Read without a lock file, as every command reads tables: a lock file left by
            // another LMDB program is neither needed nor written to (it may be read-only).
            let stats = try openTable(table).stats()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try printOutput(String(decoding: try encoder.encode(stats), as: UTF8.self))
                return
            }
            var rows: [(String, String)] = [
                ("path", stats.path),
                ("entries", "\(stats.entries)"),
                ("file size", "\(stats.fileSize) bytes (\(humanSize(stats.fileSize)))"),
                ("depth", "\(stats.depth)"),
                ("page size", "\(stats.pageSize)"),
                ("pages", "\(stats.branchPages) branch, \(stats.leafPages) leaf, \(stats.overflowPages) overflow; \(stats.pagesInUse) in use in the file"),
                ("map size", "\(stats.mapSize) bytes (\(humanSize(stats.mapSize)))"),
                ("key index", stats.keyIndexSize > 0 ? "hash, \(humanSize(stats.keyIndexSize))" : "none (lookups descend the B+tree)"),
                ("read as", stats.regime),
                ("readers", stats.readersInUse.map { "\($0) of \(stats.maxReaders ?? 0)" } ?? "not tracked (read without a lock file)"),
            ]
            if let m = stats.metadata {
                rows += [
                    ("records (metadata)", "\(m.records)"),
                    ("built at", m.builtAt),
                    ("built by", m.tool),
                    ("format", m.format),
                    ("sources", m.sources.joined(separator: ", ")),
                ]
                if let k = m.keyColumns { rows.append(("key columns", k.map(String.init).joined(separator: ","))) }
                else if let k = m.keyColumn { rows.append(("key column", "\(k)")) }
                if let f = m.keyField { rows.append(("key field", f)) }
                rows.append(("keys", m.keyForm.summary))
                if let match = m.match, match != .exact {
                    let kind = match == .range ? "ranges" : match == .cidr ? "networks" : "prefixes"
                    var text = "\(match.rawValue): \(m.ranges ?? 0) \(kind) of \((m.keyType ?? .text).rawValue) keys in \(m.records) disjoint segments"
                    text += m.overlaps == "narrowest" ? "; where they nest, the narrowest wins" : "; no overlaps"
                    rows.append(("match", text))
                }
                if let names = m.columns { rows.append(("columns", names.joined(separator: ", "))) }
                else if let n = m.columnCount { rows.append(("columns", "\(n) (no header stored)")) }
                rows.append(("duplicates", "\(m.duplicates) (\(m.duplicatesDropped) dropped)"))
                if let v = m.values { rows.append(("values", "\(v) (one-to-many: every value of a key, in input order)")) }
                if m.badRecordsSkipped > 0 { rows.append(("bad records skipped", "\(m.badRecordsSkipped)")) }
                rows.append(("content hash", m.contentHash))
                if let layer = m.layer, let layers = stats.layers {
                    rows.append(("version", "v\(layer.version): update of v\(layer.madeFrom) (\(layer.upserted) upserted, \(layer.inserted) of them new, \(layer.deleted) deleted)"))
                    for file in layers {
                        var text = "\(file.path): \(file.records) records, \(humanSize(file.fileSize))"
                        if let marks = file.deletionMarks { text += " (\(file.records - marks) upserts, \(marks) deletion marks)" }
                        rows.append((file.role == "base" ? "layer: base" : "layer: changes", text))
                    }
                }
            } else {
                rows.append(("metadata", "none (a plain LMDB file, not built by lookup)"))
            }
            let width = rows.map(\.0.count).max() ?? 0
            try printOutput(rows.map { name, value in
                name + ":" + String(repeating: " ", count: width - name.count + 1) + value
            }.joined(separator: "\n"))
        }
    }
}
