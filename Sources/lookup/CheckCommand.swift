// `lookup check`: walks the whole table and verifies it against its metadata.
import ArgumentParser
import SharedLookup

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Verify a table: walk every record and compare with its metadata.",
        discussion: """
        The walk runs in a child process, so a file damaged inside its pages fails the check \
        instead of crashing lookup. Exit status: 0 when the table is sound, 1 when a problem was \
        found, 2 when it cannot be read.
        """)

    @Argument(help: "The table file.")
    var table: String

    func run() throws {
        var failed = false
        try reportingErrors {
            // In a child process: a table damaged inside fails its check instead of crashing lookup.
            let report = try Table.verifyIsolated(path: table)
            if report.ok {
                let against = try openTable(table).metadata == nil ? " (no metadata to compare with)" : ", matches its metadata"
                try printOutput("ok: \(table): \(report.records) records, content hash \(report.contentHash)\(against)")
            } else {
                // One line, however many problems the walk found.
                printError("\(table): " + report.problems.joined(separator: "; "))
                failed = true
            }
        }
        if failed { throw Status.checkFailed }
    }
}
