// Builds on a read-only tmpfs and on a 2 MiB tmpfs that fills up: one clear error, old table intact, no temp files (serialized: mounts).
import Foundation
import LookupTestSupport
import Testing

@Suite("lookup on read-only and full filesystems", .serialized)
struct CLIFilesystemTests {
    @Test("an output directory on a read-only filesystem: one line, nothing written; tables there stay readable")
    func readOnlyOutputDirectory() throws {
        let dir = try TempDir("ro")
        try writeFile(dir.file("in.csv"), "a,1\nb,2\n")
        let mountPoint = dir.file("ro")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
        try mountTmpfs(mountPoint, options: "ro")
        defer { unmount(mountPoint) }
        let target = mountPoint + "/t.lmdb"
        let result = try lookup(["build", dir.file("in.csv"), "-o", target])
        expectCleanError(result, status: 2, mentions: [target], "build into a read-only directory")
        #expect(result.err.contains("writable") || result.err.contains("Read-only"), "should say why: \(result.err)")
        #expect(listDirectory(mountPoint).isEmpty)

        // A table on a filesystem remounted read-only is still read (no lock file needed).
        let rw = dir.file("rw")
        try FileManager.default.createDirectory(atPath: rw, withIntermediateDirectories: false)
        try mountTmpfs(rw, options: "size=8m")
        defer { unmount(rw) }
        expectSuccess(try lookup(["build", dir.file("in.csv"), "-o", rw + "/t.lmdb"]), "build on tmpfs")
        let remount = try runProcess("/usr/bin/env", ["mount", "-o", "remount,ro", rw])
        #expect(remount.status == 0, "remount: \(remount.summary)")
        let got = try lookup(["get", rw + "/t.lmdb", "a", "b"])
        expectSuccess(got, "get from a read-only filesystem")
        #expect(got.outLines == ["1", "2"])
        expectSuccess(try lookup(["check", rw + "/t.lmdb"]), "check on a read-only filesystem")
        expectSuccess(try lookup(["stats", rw + "/t.lmdb"]), "stats on a read-only filesystem")
        // Building over it fails cleanly and leaves it as it was.
        expectCleanError(try lookup(["build", dir.file("in.csv"), "-o", rw + "/t.lmdb"]), status: 2, mentions: [rw + "/t.lmdb"],
                         "rebuild on a read-only filesystem")
        #expect(listDirectory(rw) == ["t.lmdb"])
    }

    /// Mounts a 2 MiB tmpfs, publishes a small table there, then runs a build of `input`
    /// (with `options`) to the same path, which must fail for lack of space and leave the old
    /// table exactly as it was, with no temp files.
    private func fillDisk(input: String, options: [String], _ what: String,
                          sourceLocation: SourceLocation = #_sourceLocation) throws {
        let dir = try TempDir("tmpfs2m")
        let mountPoint = dir.file("small")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
        try mountTmpfs(mountPoint, options: "size=2m")
        defer { unmount(mountPoint) }
        let table = mountPoint + "/t.lmdb"
        var old: [String: String] = [:]
        for i in 0..<200 { old["old-\(i)"] = "value \(i)" }
        try writeFile(dir.file("small.csv"), old.map { "\($0.key),\($0.value)\n" }.joined())
        expectSuccess(try lookup(["build", dir.file("small.csv"), "-o", table]), "small build", sourceLocation: sourceLocation)
        let before = try readFile(table)

        let result = try lookup(["build", input, "-o", table] + options)
        // The file named may be the table or a temp file beside it: either way, in that directory.
        expectCleanError(result, mentions: [mountPoint + "/"], what, sourceLocation: sourceLocation)
        // What the message says, paths taken out (so a path cannot say "full" for it).
        let lower = result.err.components(separatedBy: " ").filter { !$0.contains("/") }.joined(separator: " ").lowercased()
        #expect(lower.contains("full") || lower.contains("no space"),
                "\(what): the message should say the disk is full: \(result.err)", sourceLocation: sourceLocation)

        #expect(try readFile(table) == before, "\(what): the old table changed", sourceLocation: sourceLocation)
        #expect(listDirectory(mountPoint) == ["t.lmdb"], "\(what): left in the directory: \(listDirectory(mountPoint))",
                sourceLocation: sourceLocation)
        let keys = old.keys.sorted()
        let got = try lookup(["get", table], stdin: Array((keys.joined(separator: "\n") + "\n").utf8))
        expectSuccess(got, "\(what): get from the old table", sourceLocation: sourceLocation)
        expectSameLines(got.outLines, keys.map { old[$0]! }, "\(what): old values", sourceLocation: sourceLocation)
        expectSuccess(try lookup(["check", table]), "\(what): check the old table", sourceLocation: sourceLocation)
    }

    @Test("the disk fills while the table is written: one line saying so, old table intact, no temp files")
    func diskFullWhileWriting() throws {
        let dir = try TempDir("loadin")
        let input = dir.file("big.csv")
        try writeFile(input, generateBigCSV(count: 100_000, seed: UInt64.random(in: 0...UInt64.max)))
        #expect(fileSize(input) > 3 << 20)
        try fillDisk(input: input, options: [], "disk full while loading")
    }

    @Test("the disk fills while sorted runs spill: one line saying so, old table intact, no temp files")
    func diskFullWhileSpilling() throws {
        let dir = try TempDir("spillin")
        let input = dir.file("big.csv")
        try writeFile(input, generateBigCSV(count: 500_000, seed: UInt64.random(in: 0...UInt64.max)))
        #expect(fileSize(input) > 18 << 20)
        try fillDisk(input: input, options: ["--memory", "16M"], "disk full while spilling")
    }
}
