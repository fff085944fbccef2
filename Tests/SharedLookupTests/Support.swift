// Helpers for the SharedLookup tests: temp directories, writing input files, building tables.
import Foundation
@testable import SharedLookup

/// A fresh temp directory, removed when the value goes away.
final class Scratch {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "shared-lookup-tests-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    /// Writes `contents` to `name` and returns its path.
    @discardableResult
    func write(_ name: String, _ contents: String) -> String {
        let p = file(name)
        FileManager.default.createFile(atPath: p, contents: Data(contents.utf8))
        return p
    }

    /// Names of the files in the directory.
    func listing() -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: path))?.sorted() ?? []
    }
}

/// Every record of `table` in key order, as strings.
func allRecords(_ table: Table) throws -> [(String, String)] {
    var result: [(String, String)] = []
    try table.scan { k, v in
        result.append((String(decoding: k, as: UTF8.self), String(decoding: v, as: UTF8.self)))
        return true
    }
    return result
}

/// A deterministic pseudo-random generator (SplitMix64), so failures reproduce.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
