// InputScanner: turns the INPUT arguments into the list of input files: directories recursed
// (hidden entries skipped, symlinks followed, loops detected), --include/--exclude globs
// applied, and each file given the relative path its output mirrors.
import SharedLookup

/// One input file of a run.
public struct InputFile: Sendable, Equatable {
    /// Its path as found.
    public var path: String
    /// The path of its output, relative to the output directory (a compression suffix such as
    /// `.gz` dropped, the `--compress` suffix added).
    public var relativeOutput: String
    /// Size in bytes.
    public var size: Int
    /// Modification time, nanoseconds since the epoch.
    public var modified: Int
    /// Whether it is compressed (by name: `.gz`, `.zst`, `.xz`, `.bz2`); read whole, never split.
    public var compressed: Bool
}

/// Finds the input files of a run.
struct InputScanner {
    let include: [String]
    let exclude: [String]
    /// Added to every output name (the `--compress` format's suffix, or "").
    let outputSuffix: String
    /// Problems met while scanning (unreadable directories, symlink loops), one per path.
    private(set) var problems: [LookupError] = []
    private(set) var files: [InputFile] = []

    init(include: [String], exclude: [String], outputSuffix: String = "") {
        self.include = include
        self.exclude = exclude
        self.outputSuffix = outputSuffix
    }

    private func matches(_ patterns: [String], _ name: String, _ relative: String) -> Bool {
        patterns.contains { fnmatch($0, name, 0) == 0 || fnmatch($0, relative, FNM_PATHNAME) == 0 }
    }

    /// Scans every INPUT argument.
    mutating func scan(_ inputs: [String]) throws {
        for input in inputs {
            var st = stat()
            if stat(input, &st) != 0 {
                throw LookupError.system("cannot read input", path: input)
            }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                var visiting: Set<[UInt64]> = [[UInt64(st.st_dev), UInt64(st.st_ino)]]
                walk(directory: input, relative: "", visiting: &visiting)
            } else {
                let name = String(input.split(separator: "/").last ?? Substring(input))
                add(path: input, relative: name, st: st)
            }
        }
    }

    private mutating func add(path: String, relative: String, st: stat) {
        let compressed = Compression.named(by: relative) != nil
        let output = Compression.removingSuffix(relative) + outputSuffix
        files.append(InputFile(path: path, relativeOutput: output, size: Int(st.st_size),
                               modified: Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec),
                               compressed: compressed))
    }

    private mutating func walk(directory: String, relative: String, visiting: inout Set<[UInt64]>) {
        guard let dir = opendir(directory) else {
            problems.append(LookupError.system("cannot read directory", path: directory))
            return
        }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasPrefix(".") { continue }  // hidden files, ".", ".."
            names.append(name)
        }
        closedir(dir)
        for name in names.sorted() {
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            let rel = relative.isEmpty ? name : relative + "/" + name
            if matches(exclude, name, rel) { continue }
            var st = stat()
            if stat(path, &st) != 0 {
                // A dangling symlink or a file that vanished.
                problems.append(LookupError.system("cannot read input", path: path))
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                let id = [UInt64(st.st_dev), UInt64(st.st_ino)]
                if visiting.contains(id) {
                    problems.append(LookupError(.io, path: path, "symlink loop: this directory contains itself; skipped"))
                    continue
                }
                visiting.insert(id)
                walk(directory: path, relative: rel, visiting: &visiting)
                visiting.remove(id)
            } else if (st.st_mode & S_IFMT) == S_IFREG {
                if !include.isEmpty && !matches(include, name, rel) { continue }
                add(path: path, relative: rel, st: st)
            }
        }
    }
}
