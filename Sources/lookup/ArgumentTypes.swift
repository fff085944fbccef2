// The typed values of options: the library's enums (modes, start methods, duplicate policies,
// record formats) parsed by argument-parser itself, so a wrong value is refused with the list
// of right ones, and no command parses an option's string twice.
import Foundation
import ArgumentParser
import LookupBatch
import SharedLookup

extension RunMode: ExpressibleByArgument {}
extension StartMethod: ExpressibleByArgument {}
extension DuplicatePolicy: ExpressibleByArgument {}
extension RecordFormat: ExpressibleByArgument {}
extension RangeKeyType: ExpressibleByArgument {}

/// `build --overlaps`: what nested ranges do.
enum OverlapPolicy: String, CaseIterable, ExpressibleByArgument {
    case error, narrowest
}

/// The line formats of `run` and `map`.
enum LineFormat: String, CaseIterable, ExpressibleByArgument {
    case csv, tsv, jsonl
}

/// The output formats of `lookup dump`.
enum DumpFormat: String, CaseIterable, ExpressibleByArgument {
    /// The text format of LMDB's `mdb_dump`.
    case mdbDump = "mdb-dump"
    case csv, tsv
}

/// `-k`: one key column, or several for a composite key (`-k 2,5`), 1-based, in key order.
struct KeyColumns: ExpressibleByArgument, Equatable {
    var columns: [Int]

    init(_ columns: [Int]) { self.columns = columns }

    init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false)
        let numbers = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, numbers.count == parts.count, numbers.allSatisfy({ $0 >= 1 }),
              Set(numbers).count == numbers.count else { return nil }
        columns = numbers
    }

    var defaultValueDescription: String { columns.map(String.init).joined(separator: ",") }
}

/// The formats `lookup run --compress` writes outputs in (a subset of those read).
enum OutputCompression: String, CaseIterable, ExpressibleByArgument {
    case gz, zst

    /// The library's format.
    var compression: Compression { self == .gz ? .gz : .zst }
}
