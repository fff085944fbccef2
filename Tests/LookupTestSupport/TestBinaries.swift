// TestBinaries: where the tests find the programs they run: the package's built products
// (`lookup` from $LOOKUP_BIN, else this checkout's debug build, and the example apps beside
// it) and system tools on PATH.
import Foundation

/// The programs the tests run.
public enum TestBinaries {
    /// The package root, found from this file's path (<repo>/Tests/LookupTestSupport/TestBinaries.swift).
    public static let packageRoot: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The `lookup` binary under test: $LOOKUP_BIN, else <repo>/.build/debug/lookup.
    public static let lookup: String = ProcessInfo.processInfo.environment["LOOKUP_BIN"].flatMap { $0.isEmpty ? nil : $0 }
        ?? packageRoot + "/.build/debug/lookup"

    /// The built executable `name` of this package (`table-example`, ...), beside `lookup`.
    public static func product(_ name: String) -> String {
        (lookup as NSString).deletingLastPathComponent + "/" + name
    }

    /// `lookup`, or an error saying how to build it when it is not there.
    public static func requireLookup() throws -> String {
        guard access(lookup, X_OK) == 0 else {
            throw TestFailure("no lookup binary at \(lookup): run `swift build --product lookup` or set LOOKUP_BIN")
        }
        return lookup
    }

    /// Finds `tool` on PATH (`scripts/deps.sh`, run by `scripts/test`, installs lmdb-utils).
    public static func tool(_ tool: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(tool)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw TestFailure("\(tool) not found on PATH; scripts/deps.sh installs it (lmdb-utils for mdb_*)")
    }
}
