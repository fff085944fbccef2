// Files: reading and writing whole files in tests, one way for every test target.
import Foundation

/// The bytes of the file at `path`.
public func readFile(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { throw TestFailure("cannot read \(path)") }
    return [UInt8](data)
}

/// Writes `bytes` to `path`, making its directory first when missing.
public func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let parent = (path as NSString).deletingLastPathComponent
    if !parent.isEmpty { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { throw TestFailure("cannot write \(path)") }
}

/// Writes `text` (UTF-8) to `path`.
public func writeFile(_ path: String, _ text: String) throws { try writeFile(path, Array(text.utf8)) }
