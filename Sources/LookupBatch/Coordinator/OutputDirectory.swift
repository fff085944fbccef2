// OutputDirectory: the checks a run makes on its output directory before it writes anything
// (not a file, no two inputs writing one output, no results overwritten unasked), its creation,
// and the hidden work directory where workers write their parts.
import Foundation
import SharedLookup

/// The output directory of a run (`--output DIR`) and the run's work directory.
enum OutputDirectory {
    /// Names of work directories start with this (inside the output directory, or TMPDIR).
    static let workPrefix = ".lookup-work-"

    /// Refuses an output directory that cannot take this run's outputs; writes nothing.
    /// Results already there are refused unless the run resumes or overwrites them.
    static func check(_ dir: String, files: [InputFile], resume: Bool, overwrite: Bool) throws {
        var st = stat()
        if stat(dir, &st) == 0 && (st.st_mode & S_IFMT) != S_IFDIR {
            throw LookupError(.usage, path: dir, "output exists and is not a directory")
        }
        // Two inputs must not write the same output file.
        var seen: [String: String] = [:]
        for f in files {
            if let other = seen[f.relativeOutput] {
                throw LookupError(.usage, path: f.path, "writes the same output \(f.relativeOutput) as \(other); rename one or run them separately")
            }
            seen[f.relativeOutput] = f.path
        }
        // Results already there are kept unless asked.
        if !resume && !overwrite {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            if entries.contains(where: { !$0.hasPrefix(workPrefix) }) {
                throw LookupError(.usage, path: dir, "output directory already holds results; use --resume to continue or --overwrite to replace them")
            }
        }
    }

    /// Creates the output directory (and its parents) if missing; it must be writable.
    static func create(_ dir: String) throws {
        if mkdir(dir, 0o755) != 0 && errno != EEXIST {
            try makeParents(of: dir + "/x")
        }
        if access(dir, W_OK) != 0 { throw LookupError.system("output directory is not writable", path: dir) }
    }

    /// Creates a fresh work directory in `outputDir` (removing those of coordinators that were
    /// killed), or in TMPDIR when the output goes to stdout; returns its path.
    static func makeWorkDirectory(in outputDir: String?) throws -> String {
        let parent: String
        if let outputDir {
            parent = outputDir
            // Work directories of coordinators that were killed.
            TemporaryFiles.removeStaleDirectories(in: outputDir, prefix: workPrefix)
        } else {
            parent = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        }
        let path = "\(parent)/\(workPrefix)\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        if mkdir(path, 0o700) != 0 { throw LookupError.system("cannot create a work directory", path: path) }
        return path
    }
}
