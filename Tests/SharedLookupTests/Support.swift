// Helpers for the SharedLookup tests: reading a table back (temp directories and seeded
// random numbers come from LookupTestSupport).
import Foundation
@testable import SharedLookup

/// Every record of `table` in key order, as strings.
func allRecords(_ table: Table) throws -> [(String, String)] {
    var result: [(String, String)] = []
    try table.scan { k, v in
        result.append((String(decoding: k, as: UTF8.self), String(decoding: v, as: UTF8.self)))
        return true
    }
    return result
}
