// OutputOverlap: refuses, before anything is written, a run whose inputs and output directory
// overlap. An output directory inside (or equal to) an input directory would have the run read
// its own outputs as inputs; an input inside the output directory would be replaced by its own
// output (and joined again by every later --resume). Paths are compared in their real form:
// symlinks and `..` resolved, an output directory that does not exist yet through its nearest
// existing ancestor.
import Foundation
import SharedLookup

/// The check that inputs and the output directory do not overlap.
enum OutputOverlap {
    /// Throws a one-line usage error naming the input and `output` when an INPUT argument is a
    /// directory holding `output`, or an INPUT argument or any input file found under the
    /// INPUT directories (through a symlink, say) lies inside `output`.
    static func check(output: String, inputs: [String], files: [InputFile]) throws(LookupError) {
        let realOutput = resolvedPath(output)
        for input in inputs {
            let realInput = resolvedPath(input)
            var info = stat()
            if stat(input, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, contains(realInput, realOutput) {
                throw LookupError(.usage, path: output, "the output directory is inside the input directory \(input); choose another")
            }
            if contains(realOutput, realInput) {
                throw insideOutput(input, realInput, output)
            }
        }
        for file in files {
            let realFile = realPath(file.path)
            if contains(realOutput, realFile) { throw insideOutput(file.path, realFile, output) }
        }
    }

    /// Whether `path` is `directory` or lies below it (both absolute, resolved).
    static func contains(_ directory: String, _ path: String) -> Bool {
        path == directory || path.hasPrefix(directory.hasSuffix("/") ? directory : directory + "/")
    }

    private static func insideOutput(_ input: String, _ real: String, _ output: String) -> LookupError {
        // Name the real path where a symlink leads there, not for a mere relative path.
        let via = URL(fileURLWithPath: input).standardizedFileURL.path == real ? "" : " (it resolves to \(real))"
        return LookupError(.usage, path: input,
                           "the input is inside the output directory \(output)\(via): its output would replace it; move it or choose another output directory")
    }
}

/// `realpath`, or the path itself when it cannot be resolved.
func realPath(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return path }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// The absolute, symlink-free form of `path`, which need not exist yet: its longest existing
/// ancestor resolved with `realpath`, then the rest appended.
func resolvedPath(_ path: String) -> String {
    var head = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    var tail: [String] = []
    while !head.isEmpty && head != "/" && !FileManager.default.fileExists(atPath: head) {
        let url = URL(fileURLWithPath: head)
        tail.insert(url.lastPathComponent, at: 0)
        head = url.deletingLastPathComponent().path
    }
    let base = realPath(head.isEmpty ? "/" : head)
    let joined = ([base == "/" ? "" : base] + tail).joined(separator: "/")
    return URL(fileURLWithPath: joined).standardizedFileURL.path
}
