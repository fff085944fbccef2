// TableDescriptorOpen: opening a table through a file descriptor that is already open (one a
// worker process inherited from its coordinator), so that every process of a run reads the
// same file even after a new table was renamed over its path. The table is still named by its
// path in `Table.path` and in every error; the descriptor only decides which file is read.

extension Table {
    /// Opens, read-only, the table file that the open descriptor `descriptor` refers to (which
    /// need not be the file at `path` any more: a table republished by rename leaves the
    /// descriptor on the old file). `path` names the table in `self.path` and in errors.
    /// `descriptor` stays the caller's: the table opens the file anew through it and never
    /// closes it. Such a table has no lock file (`options.useLockFile` is refused). For an
    /// updated table, `baseDescriptor` is its base file's (`basePath`), read instead of the
    /// file of that name, which a later update may have removed.
    public convenience init(descriptor: Int32, path: String, baseDescriptor: Int32? = nil,
                            options: TableOptions = TableOptions()) throws(LookupError) {
        if options.useLockFile {
            throw LookupError(.usage, path: path, "a table opened through a descriptor has no lock file; open it by path instead")
        }
        try self.init(path: path, descriptor: descriptor, baseDescriptor: baseDescriptor, options: options)
    }

    /// A path that opens the file behind `descriptor` again: `/proc/self/fd/N` on Linux, which
    /// reaches the descriptor's inode even after its path was renamed over or unlinked;
    /// `/dev/fd/N` elsewhere.
    static func reopeningPath(_ descriptor: Int32) -> String {
        #if os(Linux)
        return "/proc/self/fd/\(descriptor)"
        #else
        return "/dev/fd/\(descriptor)"
        #endif
    }

    /// Device and inode of the file this table mapped (through LMDB's own descriptor), to tell
    /// whether two processes read the same table file. For an updated table, its change
    /// layer's: the file its path names (which names its base).
    public func mappedFileID() throws(LookupError) -> (device: UInt64, inode: UInt64) {
        let fd: Int32
        do { fd = try (changeLayer?.environment ?? environment).fileDescriptor() } catch { throw LookupError(error, path: path) }
        var info = stat()
        if fstat(fd, &info) != 0 { throw LookupError.system("cannot stat table", path: path) }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }
}
