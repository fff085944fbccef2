// Shared pieces of the subcommands: one-line error reporting with the exit codes scripts rely
// on, size and delimiter parsing, and standard output.
import ArgumentParser
import Foundation
import SharedLookup

/// Exit statuses of `lookup`.
enum Status {
    /// A key was missing (`get`).
    static let notFound = ExitCode(1)
    /// The table failed its check (`check`).
    static let checkFailed = ExitCode(1)
    /// Some inputs of a run failed (reported in the summary); the others completed (`run`).
    static let someFailed = ExitCode(1)
    /// An error: bad input, unreadable file, broken table.
    static let error = ExitCode(2)
}

/// Prints `message` as one line on standard error, prefixed with "lookup: ".
func printError(_ message: String) {
    let line = "lookup: " + message.split(whereSeparator: \.isNewline).joined(separator: " ") + "\n"
    var copy = line
    copy.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

/// What a writer of `table` (update, compact, rollback) says when another one holds it.
func announceWaiting(for table: String) -> () -> Void {
    { printError("waiting for another update of \(table) to finish") }
}

/// Runs `body`, turning any error into one line on stderr and exit status 2.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch {
        throw reported(error)
    }
}

/// Runs async `body`, turning any error into one line on stderr and exit status 2.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch {
        throw reported(error)
    }
}

/// The exit code for `error`, after printing it as one line on stderr (an `ExitCode` passes as is).
private func reported(_ error: any Error) -> ExitCode {
    if let exit = error as? ExitCode { return exit }
    // `lookup map ... | head -1`: the reader has all it wanted; stop quietly, as a filter should.
    if let error = error as? LookupError, error.kind == .closedOutput, error.path == "<stdout>" { return .success }
    printError((error as? LookupError)?.description ?? "\(error)")
    return Status.error
}

/// Arms the fault guard for `path` (a fault while reading a damaged table ends the process
/// with one `lookup: PATH: the table is damaged ...` line and exit status 2, not a crash
/// report), for commands that read the table in this process.
func guardTable(_ path: String) {
    TableFaultGuard.arm(table: path, prefix: "lookup: ", status: Status.error.rawValue)
}

/// Opens the table at `path` for a command, with the fault guard armed for it; with `verify`,
/// after verifying the whole file in a child process.
func openTable(_ path: String, verify: Bool = false) throws -> Table {
    guardTable(path)
    return verify ? try Table.openVerified(path: path) : try Table(path: path)
}

/// Parses sizes like `512M`, `2G`, `1.5GiB`, `100000` (bytes).
func parseSize(_ text: String) -> Int? {
    let lower = text.lowercased().trimmingCharacters(in: .whitespaces)
    var number = lower
    var scale = 1.0
    for (suffix, factor) in [("kib", 1024.0), ("mib", 1048576.0), ("gib", 1073741824.0), ("tib", 1099511627776.0),
                             ("kb", 1024.0), ("mb", 1048576.0), ("gb", 1073741824.0), ("tb", 1099511627776.0),
                             ("k", 1024.0), ("m", 1048576.0), ("g", 1073741824.0), ("t", 1099511627776.0), ("b", 1.0)]
    where lower.hasSuffix(suffix) {
        number = String(lower.dropLast(suffix.count))
        scale = factor
        break
    }
    guard let value = Double(number.trimmingCharacters(in: .whitespaces)), value >= 0, value.isFinite else { return nil }
    let bytes = value * scale
    return bytes < 9e18 ? Int(bytes) : nil
}

/// Parses a delimiter: one byte, or `tab`, `\t`, `comma`, `pipe`, `space`, `semicolon`.
func parseDelimiter(_ text: String) -> UInt8? {
    switch text {
    case "\\t", "tab", "TAB": return 9
    case "comma": return UInt8(ascii: ",")
    case "pipe": return UInt8(ascii: "|")
    case "space": return UInt8(ascii: " ")
    case "semicolon": return UInt8(ascii: ";")
    default:
        let bytes = Array(text.utf8)
        guard bytes.count == 1, bytes[0] != UInt8(ascii: "\n"), bytes[0] != UInt8(ascii: "\r"),
              bytes[0] != UInt8(ascii: "\"") else { return nil }
        return bytes[0]
    }
}

