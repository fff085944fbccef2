// MemoryRegime: whether a table fits in the memory this process may use, and so how it is
// read. The memory is the smallest of the machine's RAM and every memory cgroup limit above
// the process (v1 `memory.limit_in_bytes`, v2 `memory.max`, walked up to the root: a
// container's limit counts the page cache, so the table's cached pages count against it).
//
// - in-memory: the table fits. Reads rely on the page cache; a cold table is brought in by
//   the kernel's read-ahead (large sequential reads), the fastest way to warm it.
// - larger-than-memory: it does not. Read-ahead is turned off (`MADV_RANDOM` on the map: a
//   random fault would otherwise read megabytes around it and evict pages still needed),
//   the key index is read in once with large reads and kept resident while it fits in half
//   the memory (a miss then costs no disk read), and every batch asks for the pages of its
//   records ahead, in file order (`MADV_WILLNEED`), so the device sees a deep queue instead
//   of one fault at a time.
//
// `LOOKUP_REGIME=in-memory|larger-than-memory` in the environment overrides the detection.
import Foundation

/// How a table is read, chosen from its size and the memory available to this process.
public struct MemoryRegime: Sendable, Hashable, CustomStringConvertible {
    /// The two ways of reading.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// The table fits in memory: page cache and read-ahead.
        case inMemory = "in-memory"
        /// It does not: no read-ahead, resident key index, batched page requests.
        case largerThanMemory = "larger-than-memory"
    }

    /// The chosen way.
    public let kind: Kind
    /// The table's size in bytes.
    public let tableSize: Int
    /// The memory this process may use, in bytes, and what limits it.
    public let memory: MemoryLimit
    /// Set when `LOOKUP_REGIME` chose the regime.
    public let overridden: Bool

    /// The environment variable that overrides the detection.
    public static let overrideVariable = "LOOKUP_REGIME"

    /// Chooses the regime for a table of `tableSize` bytes with `memory` available. A table
    /// fits when it leaves an eighth of the memory (at least 128 MiB) for the processes
    /// themselves, their input and output.
    public init(tableSize: Int, memory: MemoryLimit, override: Kind? = nil) {
        self.tableSize = tableSize
        self.memory = memory
        self.overridden = override != nil
        let reserve = max(memory.bytes / 8, 128 << 20)
        self.kind = override ?? (tableSize <= memory.bytes - reserve ? .inMemory : .largerThanMemory)
    }

    /// The regime for a table of `tableSize` bytes in this process (detected once, then
    /// cached: limits do not change under a running process in practice).
    public static func detect(tableSize: Int) -> MemoryRegime {
        MemoryRegime(tableSize: tableSize, memory: MemoryLimit.current, override: environmentOverride)
    }

    /// The regime `LOOKUP_REGIME` asks for, if it names one.
    static var environmentOverride: Kind? {
        getenv(overrideVariable).flatMap { Kind(rawValue: String(cString: $0)) }
    }

    /// Whether a key index of `size` bytes is kept resident: in this regime, when it takes at
    /// most half the memory.
    public func keepsIndexResident(size: Int) -> Bool {
        kind == .largerThanMemory && size > 0 && size <= memory.bytes / 2
    }

    /// One line for people: the regime and why.
    public var description: String {
        let why = overridden ? "set by \(Self.overrideVariable)"
            : "table \(humanSize(tableSize)) \(kind == .inMemory ? "fits in" : "exceeds") \(humanSize(memory.bytes)) (\(memory.source))"
        return "\(kind.rawValue) (\(why))"
    }
}

/// The memory a process may use and what sets it.
public struct MemoryLimit: Sendable, Hashable {
    /// Bytes.
    public let bytes: Int
    /// What limits it: "RAM", "cgroup v1 limit", "cgroup v2 memory.max".
    public let source: String

    /// Creates a limit.
    public init(bytes: Int, source: String) {
        self.bytes = bytes
        self.source = source
    }

    /// This process's limit (computed once).
    public static let current: MemoryLimit = detect()

    /// The smallest of the RAM and every memory cgroup limit above this process.
    static func detect() -> MemoryLimit {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        var best = MemoryLimit(bytes: pages > 0 && pageSize > 0 ? pages * pageSize : Int.max, source: "RAM")
        for limit in cgroupLimits() where limit.bytes < best.bytes { best = limit }
        return best
    }

    /// Limits set by the memory cgroups (v1 and v2) this process is in and their ancestors;
    /// `read` gives a file's text (the real files by default; tests give others).
    static func cgroupLimits(read readText: (String) -> String? = readText) -> [MemoryLimit] {
        guard let membership = readText("/proc/self/cgroup"), let mounts = readText("/proc/self/mountinfo") else { return [] }
        var limits: [MemoryLimit] = []
        for line in membership.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let v2 = fields[0] == "0" && fields[1].isEmpty
            guard v2 || fields[1].split(separator: ",").contains("memory") else { continue }
            guard let mount = cgroupMount(mounts, v2: v2) else { continue }
            // The cgroup's path is relative to the hierarchy's root; the mount may show a
            // part of it (a container sees its own cgroup as the root).
            var path = String(fields[2])
            if mount.root != "/" && path.hasPrefix(mount.root) { path = String(path.dropFirst(mount.root.count)) }
            let file = v2 ? "memory.max" : "memory.limit_in_bytes"
            var components = path.split(separator: "/").map(String.init)
            while true {
                let directory = ([mount.point] + components).joined(separator: "/")
                if let text = readText(directory + "/" + file),
                   let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), value > 0, value < 1 << 60 {
                    limits.append(MemoryLimit(bytes: value, source: v2 ? "cgroup v2 memory.max" : "cgroup v1 limit"))
                }
                if components.isEmpty { break }
                components.removeLast()
            }
        }
        return limits
    }

    /// Where the v1 memory hierarchy or the v2 hierarchy is mounted, and which of its
    /// directories the mount shows as its root.
    private static func cgroupMount(_ mountinfo: String, v2: Bool) -> (point: String, root: String)? {
        for line in mountinfo.split(separator: "\n") {
            // ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER-OPTIONS
            let parts = line.split(separator: " ")
            guard let dash = parts.firstIndex(of: "-"), dash >= 5, parts.count > dash + 1 else { continue }
            let type = parts[dash + 1]
            let superOptions = dash + 3 < parts.count ? parts[dash + 3].split(separator: ",") : []
            if v2 ? type == "cgroup2" : (type == "cgroup" && superOptions.contains("memory")) {
                return (unescapeMount(String(parts[4])), unescapeMount(String(parts[3])))
            }
        }
        return nil
    }

    /// mountinfo writes spaces and a few other bytes as octal escapes (`\040`).
    private static func unescapeMount(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var out: [UInt8] = []
        let bytes = Array(s.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 3 < bytes.count,
               let code = UInt8(String(decoding: bytes[i + 1 ... i + 3], as: UTF8.self), radix: 8) {
                out.append(code)
                i += 4
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A small text file's contents, or `nil`.
    static func readText(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: data, as: UTF8.self)
    }
}
