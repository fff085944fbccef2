// TemporaryFiles: the temp files a process has in flight (a table being built, sort runs),
// so that an interrupt (SIGINT/SIGTERM) can remove them before the process exits, and so a
// later build can remove those a killed build left behind.

import Foundation

/// A process-wide list of temp files to delete if the process is interrupted.
public enum TemporaryFiles {
    // Fixed C storage, so the signal handler reads it without allocating or locking.
    private static let capacity = 256
    nonisolated(unsafe) private static let slots: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = {
        let p = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
        p.initialize(repeating: nil, count: capacity)
        return p
    }()
    nonisolated(unsafe) private static var lock = pthread_mutex_t()
    nonisolated(unsafe) private static var lockReady: Bool = {
        pthread_mutex_init(&lock, nil)
        return true
    }()

    /// Remembers `path` for removal on interrupt.
    public static func register(_ path: String) {
        _ = lockReady
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        for i in 0..<capacity where slots[i] == nil {
            slots[i] = strdup(path)
            return
        }
    }

    /// Forgets `path` (it was renamed into place or deleted).
    public static func unregister(_ path: String) {
        _ = lockReady
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        for i in 0..<capacity {
            if let p = slots[i], strcmp(p, path) == 0 {
                slots[i] = nil
                free(p)
            }
        }
    }

    /// Deletes every registered file. Async-signal-safe: only `unlink`.
    public static func removeAllNow() {
        for i in 0..<capacity {
            if let p = slots[i] { unlink(p) }
        }
    }

    /// Installs SIGINT/SIGTERM/SIGHUP handlers that delete the registered files and exit with
    /// 128 + the signal number, as shells expect.
    public static func removeOnInterrupt() {
        let handler: @convention(c) (Int32) -> Void = { signo in
            TemporaryFiles.removeAllNow()
            _exit(128 + signo)
        }
        for signo in [SIGINT, SIGTERM, SIGHUP] {
            signal(signo, handler)
        }
    }

    /// Deletes files in `directory` named `prefix<pid>-...` whose process is gone: leftovers
    /// of builds that were killed with SIGKILL or by a power loss.
    static func removeStale(in directory: String, prefix: String) {
        guard let dir = opendir(directory) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard name.hasPrefix(prefix) else { continue }
            let rest = name.dropFirst(prefix.count)
            guard let pid = Int32(rest.prefix(while: { $0.isNumber })), pid > 0 else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                unlink("\(directory)/\(name)")
            }
        }
    }

    /// Removes directories (and their contents) in `directory` named `prefix<pid>-...` whose
    /// process is gone: work directories of runs that were killed.
    public static func removeStaleDirectories(in directory: String, prefix: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            guard let pid = Int32(rest.prefix(while: { $0.isNumber })), pid > 0 else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                try? FileManager.default.removeItem(atPath: directory + "/" + name)
            }
        }
    }
}

/// fsyncs a directory, so a rename or link published in it is durable.
func syncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd >= 0 { fsync(fd); close(fd) }
}
