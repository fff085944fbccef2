// `lookup check`: walks the whole table and verifies it against its metadata.
import ArgumentParser
import SharedLookup

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Verify a table: walk every record and compare with its metadata.",
        discussion: "Exit status: 0 when the table is sound, 1 when a problem was found, 2 when it cannot be read.")

    @Argument(help: "The table file.")
    var table: String

    func run() throws {
        var failed = false
        try reportingErrors {
            let opened = try Table(path: table)
            let report = try opened.verify()
            if report.ok {
                let against = opened.metadata == nil ? " (no metadata to compare with)" : ", matches its metadata"
                try printOutput("ok: \(table): \(report.records) records, content hash \(report.contentHash)\(against)")
            } else {
                for problem in report.problems { printError("\(table): \(problem)") }
                failed = true
            }
        }
        if failed { throw Status.notFound }
    }
}
