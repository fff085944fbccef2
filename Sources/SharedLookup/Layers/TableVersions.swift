// TableVersions: the versions of a table kept in a directory beside it (`TABLE.versions/`).
// Each version is a table file `v<N>.lmdb` that is never written again: a base (as `lookup
// build` or `lookup compact` made it) or a change layer over a base. The table path is a hard
// link to the current one, so publishing a version (an update, a rollback) is one rename over
// the table path: a reader opens either the old file or the new one, never a mix. Writers
// (update, compact, rollback) hold the directory's lock file for their whole run, so two
// updates never lose one of them: the second waits for the first.
import Foundation

/// The versions of the table at `table`.
public struct TableVersions: Sendable {
    /// The table's path, as given (it names the table in messages).
    public let table: String
    /// The table's file: `table` with symbolic links resolved (a link to a table names the
    /// table; publishing replaces the file, not the link).
    public let file: String
    /// The directory holding the versions: the table file's path with ".versions".
    public let directory: String
    /// Whether `table` is a version file itself (inside a versions directory): read, never
    /// written.
    public let isVersionFile: Bool

    /// The versions of the table at `table`. A path inside a versions directory (a version
    /// file itself) has its versions in that directory.
    public init(table: String) {
        self.table = table
        var resolved = table
        if let real = realpath(table, nil) {
            resolved = String(cString: real)
            free(real)
        }
        file = resolved
        let parent = (resolved as NSString).deletingLastPathComponent
        isVersionFile = parent.hasSuffix(".versions") && Self.number(ofFile: (resolved as NSString).lastPathComponent) != nil
        directory = isVersionFile ? parent : resolved + ".versions"
    }

    /// The versions of `table` for a writer (update, compact, rollback): refuses a version
    /// file given as the table, which must never change.
    static func forWriting(table: String) throws -> TableVersions {
        let versions = TableVersions(table: table)
        if versions.isVersionFile {
            let owner = String(versions.directory.dropLast(".versions".count))
            throw LookupError(.usage, path: table, "is a version file of \(owner), which never changes; update, compact or roll back \(owner) itself")
        }
        return versions
    }

    /// The path of the version file named `name`.
    public func path(of name: String) -> String { directory + "/" + name }

    /// The file name of version `number`.
    public static func fileName(version number: Int) -> String {
        let digits = String(number)
        return "v" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits + ".lmdb"
    }

    /// The number of a version file's name, or `nil` when it does not name one.
    static func number(ofFile name: String) -> Int? {
        guard name.hasPrefix("v"), name.hasSuffix(".lmdb") else { return nil }
        let digits = name.dropFirst().dropLast(5)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }

    /// One version, as `lookup versions` lists it.
    public struct Version: Sendable, Codable, Equatable {
        /// Its number.
        public var number: Int
        /// Its file.
        public var path: String
        /// Whether the table path is this version now.
        public var isCurrent: Bool
        /// When it was made (ISO 8601, UTC).
        public var madeAt: String
        /// Its records.
        public var records: Int
        /// The content hash of the version (of base and changes, for an updated one).
        public var contentHash: String
        /// What made it, for people ("built from a.csv", "update of v2: 10 upserted (3 new), 2 deleted").
        public var change: String
        /// The base it is a change layer over (`nil` for a base).
        public var base: Int?
    }

    /// The version files, by number.
    func files() -> [(number: Int, name: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name in Self.number(ofFile: name).map { ($0, name) } }.sorted { $0.number < $1.number }
    }

    /// Every version kept, oldest first. The table file itself is listed as the current
    /// version even when no update has recorded it yet (number 0: it becomes a version at the
    /// next update).
    public func list() throws -> [Version] {
        let current = Self.fileID(file)
        var versions: [Version] = []
        for (number, name) in files() {
            let path = path(of: name)
            let file = try OpenedTableFile(path: path, descriptor: nil, options: TableOptions())
            versions.append(Self.describe(number: number, path: path, metadata: file.metadata,
                                          isCurrent: current != nil && Self.fileID(path) == current))
        }
        if !versions.contains(where: \.isCurrent), current != nil {
            let opened = try OpenedTableFile(path: file, descriptor: nil, options: TableOptions())
            versions.append(Self.describe(number: 0, path: table, metadata: opened.metadata, isCurrent: true))
        }
        return versions
    }

    private static func describe(number: Int, path: String, metadata: TableMetadata?, isCurrent: Bool) -> Version {
        guard let metadata else {
            return Version(number: number, path: path, isCurrent: isCurrent, madeAt: "", records: 0, contentHash: "",
                           change: "a plain LMDB file", base: nil)
        }
        if let layer = metadata.layer {
            var change = "update of v\(layer.madeFrom): \(layer.upserted) upserted (\(layer.inserted) new), \(layer.deleted) deleted"
            if !layer.changeSources.isEmpty { change += ", from " + layer.changeSources.joined(separator: ", ") }
            return Version(number: number, path: path, isCurrent: isCurrent, madeAt: metadata.builtAt, records: layer.records,
                           contentHash: layer.contentHash, change: change, base: Self.number(ofFile: layer.base))
        }
        let change = metadata.compactedFrom.map { "compaction of v\($0)" }
            ?? "built from " + metadata.sources.joined(separator: ", ")
        return Version(number: number, path: path, isCurrent: isCurrent, madeAt: metadata.builtAt, records: metadata.records,
                       contentHash: metadata.contentHash, change: change, base: nil)
    }

    /// Device and inode of the file at `path`, or `nil`.
    static func fileID(_ path: String) -> [UInt64]? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return [UInt64(info.st_dev), UInt64(info.st_ino)]
    }

    // MARK: - Writing

    /// The lock of the versions directory, held by one writer at a time until released (or
    /// its process ends: a killed writer leaves no lock behind).
    final class Lock {
        private let fd: Int32
        init(fd: Int32) { self.fd = fd }
        deinit { close(fd) }
    }

    /// Creates the versions directory if needed and takes its lock; when another writer holds
    /// it, calls `waiting` once and waits (or, with `wait` false, fails with one line).
    func lock(wait: Bool, waiting: () -> Void) throws -> Lock {
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw LookupError.system("cannot create the versions directory \(directory)", path: table)
        }
        let path = directory + "/lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw LookupError.system("cannot open the lock file", path: path) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return Lock(fd: fd) }
        guard errno == EWOULDBLOCK else {
            close(fd)
            throw LookupError.system("cannot lock", path: path)
        }
        guard wait else {
            close(fd)
            throw LookupError(.usage, path: table, "another update, compaction or rollback of this table is running; try again when it ends")
        }
        waiting()
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            close(fd)
            throw LookupError.system("cannot lock", path: path)
        }
        return Lock(fd: fd)
    }

    /// The current version's number, recording the table file as a new version (a hard link
    /// in the directory, no copy) when it is not one yet (as after `lookup build`). Call with
    /// the lock held.
    func recordCurrent() throws -> Int {
        guard let current = Self.fileID(file) else { throw LookupError(.io, path: table, "cannot open table: No such file or directory") }
        let all = files()
        if let found = all.first(where: { Self.fileID(path(of: $0.name)) == current }) { return found.number }
        let number = (all.last?.number ?? 0) + 1
        if link(file, path(of: Self.fileName(version: number))) != 0 {
            throw LookupError.system("cannot record the table as version \(number) in \(directory)", path: table)
        }
        syncDirectory(directory)
        return number
    }

    /// The number the next version gets.
    func nextNumber() -> Int { (files().last?.number ?? 0) + 1 }

    /// Makes version `name` the table atomically: a link to it renamed over the table file.
    /// `replacing` is the version the writer started from: when the table file is another one
    /// by now (a build published over it meanwhile), nothing is published and the version
    /// file is removed, so that other table is not silently replaced.
    func publish(_ name: String, replacing expected: Int?) throws {
        if let expected {
            let now = Self.fileID(file)
            guard now != nil, now == Self.fileID(path(of: Self.fileName(version: expected))) else {
                unlink(path(of: name))
                throw LookupError(.io, path: table, "was replaced while this command ran (by a build?); nothing was published: run it again on the new table")
            }
        }
        let parent = (file as NSString).deletingLastPathComponent
        let prefix = "." + (file as NSString).lastPathComponent + ".publish-"
        TemporaryFiles.removeStale(in: parent.isEmpty ? "." : parent, prefix: prefix)
        let temporary = (parent.isEmpty ? "" : parent + "/") + prefix + "\(getpid())-link"
        unlink(temporary)
        if link(path(of: name), temporary) != 0 {
            throw LookupError.system("cannot publish version \(name)", path: table)
        }
        if rename(temporary, file) != 0 {
            let error = LookupError.system("cannot publish version \(name) (rename)", path: table)
            unlink(temporary)
            throw error
        }
        syncDirectory(parent.isEmpty ? "." : parent)
    }

    /// Removes versions beyond the newest `keep` before the current one, except bases that a
    /// kept version is made on. Call with the lock held.
    func prune(keep: Int) {
        let current = Self.fileID(file)
        let all = files()
        var kept = Set<String>()
        var older = 0
        for (_, name) in all.reversed() {
            if Self.fileID(path(of: name)) == current { kept.insert(name); continue }
            if older < keep { kept.insert(name) }
            older += 1
        }
        // The bases of kept versions stay.
        for name in kept {
            if let file = try? OpenedTableFile(path: path(of: name), descriptor: nil, options: TableOptions()),
               let base = file.metadata?.layer?.base {
                kept.insert(base)
            }
        }
        for (_, name) in all where !kept.contains(name) { unlink(path(of: name)) }
        TableUpdater.removeStaleFiles(in: directory)
    }

    /// Makes version `number` (default: the newest one older than the current) the table
    /// again, atomically; returns it. Waits for another writer, as updates do.
    @discardableResult
    public static func rollback(table: String, to number: Int? = nil, wait: Bool = true, waiting: () -> Void = {}) throws -> Version {
        let versions = try TableVersions.forWriting(table: table)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: versions.directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw LookupError(.usage, path: table, "has no versions to roll back to (lookup update makes them, in \(versions.directory))")
        }
        let lock = try versions.lock(wait: wait, waiting: waiting)
        defer { withExtendedLifetime(lock) {} }
        let current = try versions.recordCurrent()
        let all = versions.files()
        let target: (number: Int, name: String)
        if let number {
            guard let found = all.first(where: { $0.number == number }) else {
                throw LookupError(.usage, path: table, "has no version \(number); `lookup versions \(table)` lists them: \(all.map { "v\($0.number)" }.joined(separator: ", "))")
            }
            target = found
        } else {
            guard let found = all.last(where: { $0.number < current }) else {
                throw LookupError(.usage, path: table, "has no version older than the current v\(current) to roll back to")
            }
            target = found
        }
        // A damaged or incomplete version is refused before it is published.
        let path = versions.path(of: target.name)
        let opened = try Table(path: path)
        try versions.publish(target.name, replacing: current)
        return describe(number: target.number, path: path, metadata: opened.metadata, isCurrent: true)
    }
}
