// TempDir: the test targets' scratch space. Every directory a test process makes lives under
// one root in the system temp directory, removed when the process exits (so fixtures kept for
// the whole process go too); each `TempDir` is removed with its contents when released.
import Foundation

/// The system temp directory, without a trailing slash.
public let temporaryDirectory: String = {
    var path = NSTemporaryDirectory()
    while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
    return path
}()

/// This test process's scratch root (`<tmp>/lookup-tests-<pid>`), removed when the process exits.
public let scratchRoot: String = {
    let path = "\(temporaryDirectory)/lookup-tests-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(atPath: scratchRoot) }
    return path
}()

/// A fresh directory under the scratch root, removed with everything in it when released.
public final class TempDir: @unchecked Sendable {
    /// Its absolute path.
    public let path: String

    /// A new directory whose name starts with `tag`.
    public init(_ tag: String = "t") throws {
        path = "\(scratchRoot)/\(tag)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// `path/name`.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Names in the directory, sorted (hidden files included).
    public func names() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    /// Writes `bytes` to `name` and returns its path.
    @discardableResult
    public func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let target = file(name)
        try writeFile(target, bytes)
        return target
    }

    /// Writes `text` to `name` and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String { try write(name, Array(text.utf8)) }
}

/// A failure of the test machinery itself (a tool missing, a file not written).
public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
