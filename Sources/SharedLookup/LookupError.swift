// LookupError: the error type of the table layer. Every error names the file it is about and,
// where there is one, the line; its description is the one line the CLI prints.
import LMDB

/// An error from building, opening or reading a table: what failed, in which file, at which
/// line, and what to do about it. `description` is a single line meant for people.
public struct LookupError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The category of failure.
    public enum Kind: String, Sendable, Equatable {
        /// Reading or writing a file failed (missing, unreadable, not writable, broken .gz).
        case io
        /// A record of the input is malformed (bad quoting, no key column, empty or long key).
        case badRecord
        /// A key occurs twice under the `error` duplicate policy.
        case duplicateKey
        /// The file is not a table (not LMDB, or not written by this tool where that matters).
        case notATable
        /// The table file is shorter than its meta page says: truncated or still being written.
        case truncated
        /// The table file is damaged: its pages cannot be followed (found while reading it).
        case damaged
        /// The disk filled up.
        case diskFull
        /// The reader of an output pipe went away (EPIPE): there is nobody left to write for.
        case closedOutput
        /// A handle was used in a process other than the one that opened it (after `fork()`).
        case usedAfterFork
        /// The caller asked for something impossible (bad option value and the like).
        case usage
        /// Any other LMDB failure.
        case lmdb
    }

    /// The category of failure.
    public var kind: Kind
    /// The file concerned, when there is one ("<stdin>" for standard input).
    public var path: String?
    /// The 1-based line (or record) number in `path`, when there is one.
    public var line: Int?
    /// What went wrong, and where useful, what to do.
    public var message: String
    /// For `.damaged`: what was found wrong in the table (the message's parenthesis).
    public var damage: String?

    /// Creates an error.
    public init(_ kind: Kind, path: String? = nil, line: Int? = nil, _ message: String) {
        self.kind = kind
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        var prefix = ""
        if let path { prefix = path + (line.map { ":\($0)" } ?? "") + ": " }
        // One line, whatever the message holds.
        let text = message.contains("\n") ? message.split(separator: "\n").joined(separator: " ") : message
        return prefix + text
    }
}

extension LookupError {
    /// Wraps an `LMDBError` met while working on `path`.
    init(_ error: LMDBError, path: String) {
        if error.code == LMDBError.usedAfterForkCode {
            self.init(.usedAfterFork, path: path, "table handle used after fork(): \(error.detail)")
        } else if error.isDiskFull {
            self.init(.diskFull, path: path, "disk full while writing (\(error.operation))")
        } else if error.isDamagedPage {
            self = .damaged(path, "\(error.operation): \(error.detail.isEmpty ? error.message : error.detail)")
        } else if error.isInvalidFile {
            self.init(.notATable, path: path, "not an LMDB table file (\(error.message))")
        } else {
            var text = "\(error.operation): \(error.message)"
            if !error.detail.isEmpty { text += " (\(error.detail))" }
            self.init(.lmdb, path: path, text)
        }
    }

    /// The one error every command gives for a table whose pages are damaged: names the table,
    /// says what was found, and points at `lookup check`.
    public static func damaged(_ path: String, _ detail: String) -> LookupError {
        var error = LookupError(.damaged, path: path, "the table is damaged (\(detail)); `lookup check \(path)` tells more")
        error.damage = detail
        return error
    }

    /// The error for a failed system call on `path`, with `strerror(errno)`.
    public static func system(_ what: String, path: String, errno code: Int32 = errno) -> LookupError {
        let kind: Kind = (code == ENOSPC || code == EDQUOT) ? .diskFull : code == EPIPE ? .closedOutput : .io
        return LookupError(kind, path: path, "\(what): \(String(cString: strerror(code)))")
    }
}

