// MemoryRegime: the memory limit found from cgroup files (v1, v2, nested, a container's view)
// and the regime chosen from it.
import LookupTestSupport
import Testing
@testable import SharedLookup

@Suite("Memory regime")
struct MemoryRegimeTests {
    /// `cgroupLimits` over the given files instead of the real ones.
    private func limits(_ files: [String: String]) -> [MemoryLimit] {
        MemoryLimit.cgroupLimits { files[$0] }
    }

    private let v1Mounts = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """

    @Test("cgroup v1: every limit from the process's group up to the root; unlimited ones skipped")
    func v1Nested() {
        let found = limits([
            "/proc/self/cgroup": "4:memory:/jobs/job1\n0::/\n",
            "/proc/self/mountinfo": v1Mounts,
            "/sys/fs/cgroup/memory/jobs/job1/memory.limit_in_bytes": "2147483648\n",
            "/sys/fs/cgroup/memory/jobs/memory.limit_in_bytes": "1073741824\n",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
        ])
        #expect(found.map(\.bytes).sorted() == [1 << 30, 2 << 30])
        #expect(found.allSatisfy { $0.source == "cgroup v1 limit" })
    }

    @Test("cgroup v2: memory.max, \"max\" meaning none")
    func v2() {
        let found = limits([
            "/proc/self/cgroup": "0::/kubepods/pod7/c1\n",
            "/proc/self/mountinfo": "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
            "/sys/fs/cgroup/kubepods/pod7/c1/memory.max": "536870912\n",
            "/sys/fs/cgroup/kubepods/pod7/memory.max": "max\n",
            "/sys/fs/cgroup/kubepods/memory.max": "max\n",
        ])
        #expect(found == [MemoryLimit(bytes: 512 << 20, source: "cgroup v2 memory.max")])
    }

    @Test("a container's mount shows its own group as the root: the path is taken relative to it")
    func containerRoot() {
        let found = limits([
            "/proc/self/cgroup": "0::/docker/abc\n",
            "/proc/self/mountinfo": "30 23 0:26 /docker/abc /sys/fs/cgroup ro - cgroup2 cgroup2 rw\n",
            "/sys/fs/cgroup/memory.max": "268435456\n",
        ])
        #expect(found.map(\.bytes) == [256 << 20])
    }

    @Test("no memory hierarchy mounted, or no files: no cgroup limit")
    func none() {
        #expect(limits([:]).isEmpty)
        #expect(limits(["/proc/self/cgroup": "4:memory:/a\n", "/proc/self/mountinfo": ""]).isEmpty)
    }

    @Test("the regime: fits while the table leaves an eighth of the memory (at least 128 MiB)")
    func regime() {
        let gib = MemoryLimit(bytes: 1 << 30, source: "cgroup v1 limit")
        #expect(MemoryRegime(tableSize: 800 << 20, memory: gib).kind == .inMemory)
        #expect(MemoryRegime(tableSize: 900 << 20, memory: gib).kind == .largerThanMemory)
        let small = MemoryLimit(bytes: 96 << 20, source: "cgroup v1 limit")
        #expect(MemoryRegime(tableSize: 1 << 20, memory: small).kind == .largerThanMemory)
        let forced = MemoryRegime(tableSize: 1 << 20, memory: small, override: .inMemory)
        #expect(forced.kind == .inMemory && forced.description.contains("set by LOOKUP_REGIME"))
        let big = MemoryRegime(tableSize: 5 << 30, memory: gib)
        #expect(big.keepsIndexResident(size: 400 << 20) && !big.keepsIndexResident(size: 600 << 20))
        #expect(!MemoryRegime(tableSize: 1 << 20, memory: gib).keepsIndexResident(size: 1 << 20))
        #expect(big.description == "larger-than-memory (table 5.0 GiB exceeds 1.0 GiB (cgroup v1 limit))")
    }

    @Test("the API: a table opened in the larger-than-memory regime answers batches as in memory")
    func apiBatches() throws {
        let dir = try TempDir("regime")
        let path = dir.path + "/t.lmdb"
        let builder = try TableBuilder(destination: path)
        for i in 0..<20_000 { try builder.add(key: "k\(i * 3)", value: "v\(i)") }
        try builder.publish()
        let keys = (0..<30_000).map { "k\($0 * 2)" }
        let memory = try Table(path: path, options: TableOptions(regime: .inMemory))
        let large = try Table(path: path, options: TableOptions(regime: .largerThanMemory))
        #expect(large.regime.kind == .largerThanMemory && memory.regime.kind == .inMemory)
        let a = try memory.values(for: keys), b = try large.values(for: keys)
        #expect(a == b)
        #expect(a.compactMap { $0 }.count == 10_000)
        #expect(try large.stats().regime.contains("key index"))
    }
}
