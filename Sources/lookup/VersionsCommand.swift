// `lookup versions` lists the versions of a table kept by updates; `lookup rollback`
// republishes one of them atomically (TableVersions).
import ArgumentParser
import Foundation
import SharedLookup

struct VersionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "versions",
        abstract: "List the versions of a table kept in TABLE.versions/.",
        discussion: """
        One line per version, oldest first: its number, when it was made, its records, its \
        content hash and what made it; the current one is marked with *. A table no update \
        has touched yet is listed as version 0 (it is recorded as a version at its first update).
        """)

    @Argument(help: "The table.")
    var table: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        try reportingErrors {
            _ = try openTable(table)
            let versions = try TableVersions(table: table).list()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try printOutput(String(decoding: try encoder.encode(versions), as: UTF8.self))
                return
            }
            try printOutput(versions.map { v in
                "\(v.isCurrent ? "*" : " ") v\(v.number)  \(v.madeAt)  \(v.records) records  \(v.contentHash)  \(v.change)"
            }.joined(separator: "\n"))
        }
    }
}

struct RollbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Republish an older version of a table atomically.",
        discussion: """
        Makes version V (default: the newest one older than the current) the table again, by one \
        rename over TABLE; readers see the old contents or the new ones whole. The version is \
        checked to open as a table first. `lookup versions` lists them.
        """)

    @Argument(help: "The table.")
    var table: String

    @Option(help: "The version to republish (a number from `lookup versions`).")
    var to: Int?

    @Flag(help: "Fail at once if an update of the table is running, instead of waiting for it.")
    var noWait = false

    @Flag(name: .shortAndLong, help: "Print nothing but errors.")
    var quiet = false

    func run() throws {
        try reportingErrors {
            _ = try openTable(table)
            let version = try TableVersions.rollback(table: table, to: to, wait: !noWait, waiting: announceWaiting(for: table))
            if !quiet { printError("rolled \(table) back to version \(version.number): \(version.records) records (\(version.change))") }
        }
    }
}
