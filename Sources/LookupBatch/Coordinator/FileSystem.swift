// FileSystem: the coordinator's small file operations: copying a part file to a descriptor,
// creating missing parent directories (`mkdir -p`, with an error that names the directory),
// and removing a directory with its contents.
import Foundation
import SharedLookup

/// Appends the whole file at `path` to `fd`; `name` names `fd` in a write error.
func appendFile(_ path: String, to fd: Int32, name: String) throws {
    let input = open(path, O_RDONLY | O_CLOEXEC)
    if input < 0 { throw LookupError.system("cannot read part", path: path) }
    defer { close(input) }
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; throw LookupError.system("cannot read part", path: path) }
        if n == 0 { return }
        if !buffer.withUnsafeBytes({ writeFully(fd, UnsafeRawBufferPointer(rebasing: $0[..<n])) }) {
            throw LookupError.system("write failed", path: name)
        }
    }
}

/// Creates the parent directories of `path`; an error names the directory that could not be
/// made and why (permission denied, read-only file system, a file in the way).
func makeParents(of path: String) throws {
    try makeDirectory((path as NSString).deletingLastPathComponent)
}

/// Creates `dir` and its missing ancestors (`mkdir -p`).
private func makeDirectory(_ dir: String) throws {
    if dir.isEmpty || dir == "/" || dir == "." { return }
    var info = stat()
    if stat(dir, &info) == 0 {
        if info.st_mode & S_IFMT == S_IFDIR { return }
        throw LookupError(.io, path: dir, "cannot create directory: a file of that name is in the way")
    }
    try makeDirectory((dir as NSString).deletingLastPathComponent)
    if mkdir(dir, 0o777) != 0 && errno != EEXIST {
        throw LookupError.system("cannot create directory", path: dir)
    }
}

/// Removes a directory and the files in it.
func removeDirectory(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}
