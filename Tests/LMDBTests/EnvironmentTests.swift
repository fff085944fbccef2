// Tests of the LMDB wrapper against the real liblmdb: environments, transactions, named
// databases, put flags, cursors (seek, ranges, prefixes), stat/info, copies, errors, fork guard.
import Foundation
import LookupTestSupport
import Testing
@testable import LMDB

#if canImport(Glibc)
import Glibc
#endif

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
func text(_ b: UnsafeRawBufferPointer?) -> String? { b.map { String(decoding: $0, as: UTF8.self) } }

func openWritable(_ path: String, maxDatabases: Int = 4) throws -> Environment {
    try Environment(path: path, options: EnvironmentOptions(
        flags: [.noSubdirectory], mapSize: 64 << 20, maxReaders: 500, maxDatabases: maxDatabases))
}

@Suite("LMDB environment")
struct EnvironmentTests {
    @Test func putGetDeleteInMainDatabase() throws {
        let dir = try TempDir("lmdb")
        let env = try openWritable(dir.file("a.lmdb"))
        let db = try env.openDatabase()
        try env.write { txn in
            try txn.put(db, "apple", "red")
            try txn.put(db, bytes("pear"), bytes("green"))
        }
        let (apple, pear, plum) = try env.read { txn in
            (text(try txn.get(db, "apple")), text(try txn.get(db, "pear")), try txn.get(db, "plum"))
        }
        #expect(apple == "red")
        #expect(pear == "green")
        #expect(plum == nil)
        let deleted = try env.write { txn in try txn.delete(db, "apple") }
        #expect(deleted)
        let deletedAgain = try env.write { txn in try txn.delete(db, "apple") }
        #expect(!deletedAgain)
        #expect(try env.stat().entries == 1)
    }

    @Test func writeIsAbortedWhenBodyThrows() throws {
        let dir = try TempDir("lmdb")
        let env = try openWritable(dir.file("a.lmdb"))
        let db = try env.openDatabase()
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try env.write { txn in
                try txn.put(db, "k", "v")
                throw Boom()
            }
        }
        #expect(try env.read { txn in try txn.get(db, "k") } == nil)
    }

    @Test func noOverwriteAndAppendFlags() throws {
        let dir = try TempDir("lmdb")
        let env = try openWritable(dir.file("a.lmdb"))
        let db = try env.openDatabase()
        try env.write { txn in
            #expect(try txn.put(db, "b", "1", flags: .noOverwrite))
            #expect(try !txn.put(db, "b", "2", flags: .noOverwrite))
            try txn.put(db, "c", "3", flags: .append)
            // Appending a key smaller than the last one is refused by LMDB (MDB_KEYEXIST).
            #expect(throws: LMDBError.self) { try txn.put(db, "a", "0", flags: .append) }
        }
        #expect(try env.read { txn in text(try txn.get(db, "b")) } == "1")
    }

    @Test func namedDatabasesAreSeparate() throws {
        let dir = try TempDir("lmdb")
        let env = try openWritable(dir.file("a.lmdb"))
        let one = try env.openDatabase("one", flags: .create)
        let two = try env.openDatabase("two", flags: .create)
        try env.write { txn in
            try txn.put(one, "k", "from one")
            try txn.put(two, "k", "from two")
        }
        let (a, b, n) = try env.read { txn in
            (text(try txn.get(one, "k")), text(try txn.get(two, "k")), try txn.stat(one).entries)
        }
        #expect(a == "from one")
        #expect(b == "from two")
        #expect(n == 1)
        // The main database lists the named ones.
        #expect(try env.stat().entries == 2)
        // Opening a missing named database without .create fails with MDB_NOTFOUND.
        let error = #expect(throws: LMDBError.self) { _ = try env.openDatabase("three") }
        #expect(error?.isNotFound == true)
    }

    @Test func cursorOrderSeekRangeAndPrefix() throws {
        let dir = try TempDir("lmdb")
        let env = try openWritable(dir.file("a.lmdb"))
        let db = try env.openDatabase()
        let keys = ["a", "ab", "abc", "abd", "b", "ba", "c"]
        try env.write { txn in
            for k in keys.shuffled() { try txn.put(db, k, k.uppercased()) }
        }
        try env.read { txn in
            try txn.withCursor(db) { cursor in
                var seen: [String] = []
                var entry = try cursor.first()
                while let e = entry { seen.append(text(e.key)!); entry = try cursor.next() }
                #expect(seen == keys)
                #expect(text(try cursor.last()?.key) == "c")
                #expect(text(try cursor.previous()?.key) == "ba")
                #expect(text(try bytes("abe").withUnsafeBytes { try cursor.seek($0) }?.key) == "b")
                #expect(try bytes("abe").withUnsafeBytes { try cursor.find($0) } == nil)
                #expect(text(try bytes("abd").withUnsafeBytes { try cursor.find($0) }?.value) == "ABD")

                var prefixed: [String] = []
                try bytes("ab").withUnsafeBytes { p in
                    try cursor.forEach(prefix: p) { prefixed.append(text($0.key)!); return true }
                }
                #expect(prefixed == ["ab", "abc", "abd"])

                var ranged: [String] = []
                try bytes("abc").withUnsafeBytes { lo in
                    try bytes("ba").withUnsafeBytes { hi in
                        try cursor.forEach(from: lo, to: hi) { ranged.append(text($0.key)!); return true }
                    }
                }
                #expect(ranged == ["abc", "abd", "b"])

                var stopped = 0
                let visited = try cursor.forEach { _ in stopped += 1; return stopped < 3 }
                #expect(visited == 3)
            }
        }
    }

    @Test func statInfoAndCompactingCopy() throws {
        let dir = try TempDir("lmdb")
        let env = try openWritable(dir.file("a.lmdb"))
        let db = try env.openDatabase()
        try env.write { txn in
            for i in 0..<5000 { try txn.put(db, String(format: "key%06d", i), String(repeating: "v", count: 100)) }
        }
        try env.write { txn in
            for i in stride(from: 0, to: 5000, by: 2) { try txn.delete(db, String(format: "key%06d", i)) }
        }
        let stat = try env.stat()
        #expect(stat.entries == 2500)
        #expect(stat.depth >= 2)
        #expect(stat.leafPages > 0)
        let info = try env.info()
        #expect(info.mapSize == 64 << 20)
        #expect(info.maxReaders == 500)
        #expect(env.maxKeySize == 511)

        try env.copy(to: dir.file("compact.lmdb"), compact: true)
        let copy = try Environment(path: dir.file("compact.lmdb"), options: EnvironmentOptions(flags: [.noSubdirectory, .readOnly, .noLock]))
        #expect(try copy.stat().entries == 2500)
        let copyDB = try copy.openDatabase()
        #expect(try copy.read { txn in text(try txn.get(copyDB, "key000001")) } == String(repeating: "v", count: 100))
        let original = try FileManager.default.attributesOfItem(atPath: dir.file("a.lmdb"))[.size] as! Int
        let compacted = try FileManager.default.attributesOfItem(atPath: dir.file("compact.lmdb"))[.size] as! Int
        #expect(compacted < original)
    }

    @Test func errorsCarryCodeMessageAndPath() throws {
        let dir = try TempDir("lmdb")
        let missing = dir.file("nope/x.lmdb")
        let error = #expect(throws: LMDBError.self) {
            _ = try Environment(path: missing, options: EnvironmentOptions(flags: [.noSubdirectory, .readOnly]))
        }
        #expect(error?.code == ENOENT)
        #expect(error?.path == missing)
        #expect(error?.description.contains("No such file") == true)
        #expect(error?.description.contains(missing) == true)
    }

    @Test func emptyAndTooLongKeysAreRejected() throws {
        let dir = try TempDir("lmdb")
        let env = try openWritable(dir.file("a.lmdb"))
        let db = try env.openDatabase()
        try env.write { txn in
            #expect(throws: LMDBError.self) { try txn.put(db, "", "v") }
            #expect(throws: LMDBError.self) { try txn.put(db, String(repeating: "k", count: 512), "v") }
            try txn.put(db, String(repeating: "k", count: 511), "v")
        }
    }

    @Test func readOnlyEnvironmentRefusesWrites() throws {
        let dir = try TempDir("lmdb")
        let path = dir.file("a.lmdb")
        do {
            let env = try openWritable(path)
            let db = try env.openDatabase()
            try env.write { txn in try txn.put(db, "k", "v") }
        }
        let ro = try Environment(path: path, options: EnvironmentOptions(flags: [.noSubdirectory, .readOnly, .noLock]))
        let db = try ro.openDatabase()
        #expect(try ro.read { txn in text(try txn.get(db, "k")) } == "v")
        #expect(throws: LMDBError.self) { try ro.write { txn in try txn.put(db, "k2", "v") } }
        #expect(try ro.clearStaleReaders() == 0)
    }

    @Test func handleUsedAfterForkFailsClearly() throws {
        let dir = try TempDir("lmdb")
        let env = try openWritable(dir.file("a.lmdb"))
        let db = try env.openDatabase()
        try env.write { txn in try txn.put(db, "k", "v") }
        let pid = fork()
        if pid == 0 {
            // Child: the inherited handle must refuse to work, with the fork error code.
            var status: Int32 = 3
            do {
                _ = try env.read { txn in try txn.get(db, "k") }
                status = 1
            } catch let error as LMDBError {
                status = error.code == LMDBError.usedAfterForkCode ? 0 : 2
            } catch {
                status = 4
            }
            _exit(status)
        }
        #expect(pid > 0)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        #expect((status >> 8) & 0xff == 0, "child exit status \((status >> 8) & 0xff)")
        // The parent's handle still works.
        #expect(try env.read { txn in text(try txn.get(db, "k")) } == "v")
    }
}
