// The typed values of options: the library's enums (modes, start methods, duplicate policies,
// record formats) parsed by argument-parser itself, so a wrong value is refused with the list
// of right ones, and no command parses an option's string twice.
import ArgumentParser
import LookupBatch
import SharedLookup

extension RunMode: ExpressibleByArgument {}
extension StartMethod: ExpressibleByArgument {}
extension DuplicatePolicy: ExpressibleByArgument {}
extension RecordFormat: ExpressibleByArgument {}

/// The line formats of `run` and `map`.
enum LineFormat: String, CaseIterable, ExpressibleByArgument {
    case csv, tsv
}

/// The output formats of `lookup dump`.
enum DumpFormat: String, CaseIterable, ExpressibleByArgument {
    /// The text format of LMDB's `mdb_dump`.
    case mdbDump = "mdb-dump"
    case csv, tsv
}

/// The formats `lookup run --compress` writes outputs in (a subset of those read).
enum OutputCompression: String, CaseIterable, ExpressibleByArgument {
    case gz, zst

    /// The library's format.
    var compression: Compression { self == .gz ? .gz : .zst }
}
