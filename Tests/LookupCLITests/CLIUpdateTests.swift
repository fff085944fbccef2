// End-to-end tests of tables that change, through the `lookup` binary: `update --upsert
// --delete` rounds (CSV, gzip, stdin, plain key lists and CSV delete files; a --header table; a
// composite `-k 1,2 --ignore-case` table) checked after each round against a dictionary model
// (dump, get, check, stats, versions); rollback (default, --to N, a missing N), compact,
// --keep; bad change files, a range table and usage errors publishing nothing; an update killed
// (SIGKILL, SIGTERM, SIGINT) while it reads a FIFO; two updates at once (--no-wait, waiting).
// Also what a user may do around them: rebuild the table during an update, change files of
// another format than the table's, a symlink to an updated table, a version file given as the
// table. The full-disk and read-only cases (tmpfs mounts) are in their own serialized suite.
import Foundation
import LookupTestSupport
import Testing

// MARK: - The model

/// One record of the model: how `get` is given its key, its value, and its `dump --format csv` line.
private struct ModelEntry: Equatable {
    var typed: String
    var value: String
    var dumpLine: String
}

/// What a table must hold: stored key -> entry. Dump order is the stored keys' byte order.
private struct Model {
    var entries: [String: ModelEntry] = [:]

    /// A plain (one-column key) CSV table's record `key,value`.
    mutating func set(_ key: String, _ value: String) {
        entries[key] = ModelEntry(typed: key, value: value, dumpLine: key + "," + value)
    }

    /// A composite, case-folded table's record: parts stored lowercased, joined by 0x1F.
    mutating func set(parts: [String], _ value: String) {
        let stored = parts.map { $0.lowercased() }
        entries[stored.joined(separator: "\u{1F}")] = ModelEntry(typed: parts.joined(separator: "\t"), value: value,
                                                                  dumpLine: (stored + [value]).joined(separator: ","))
    }

    mutating func remove(_ key: String) { entries[key] = nil }
    mutating func remove(parts: [String]) { entries[parts.map { $0.lowercased() }.joined(separator: "\u{1F}")] = nil }

    var count: Int { entries.count }

    /// The dump's lines, in stored-key byte order.
    var dumpLines: [String] {
        entries.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }.map { entries[$0]!.dumpLine }
    }
}

// MARK: - Helpers

/// `lookup dump --format csv TABLE`'s lines; expects success.
private func dumpCSV(_ table: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
    let r = try lookup(["dump", "--format", "csv", table])
    expectSuccess(r, "dump --format csv \(table)", sourceLocation: sourceLocation)
    return r.outLines
}

/// The version lines of `lookup versions TABLE`: (number, current, the rest of the line).
private func versions(_ table: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [(number: Int, current: Bool, text: String)] {
    let r = try lookup(["versions", table])
    expectSuccess(r, "versions \(table)", sourceLocation: sourceLocation)
    return r.outLines.compactMap { line in
        let current = line.hasPrefix("*")
        let fields = line.dropFirst(1).split(separator: " ", maxSplits: 1)
        guard let first = fields.first, first.hasPrefix("v"), let n = Int(first.dropFirst()) else {
            Issue.record("versions \(table): cannot read the line \(line)", sourceLocation: sourceLocation)
            return nil
        }
        return (n, current, fields.count > 1 ? String(fields[1]) : "")
    }
}

/// Expects the table to hold exactly `model`: dump (every record, in order), get of every key
/// and of `absent` keys (through stdin, --missing NA), check, stats (entries, the layer lines
/// when `layered`), and `versions` listing `listed` with `current` marked.
private func expectTable(_ table: String, holds model: Model, absent: [String], layered: Bool,
                         listed: [Int], current: Int, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    expectSameLines(try dumpCSV(table, sourceLocation: sourceLocation), model.dumpLines, "\(what): dump --format csv",
                    sourceLocation: sourceLocation)

    let present = model.entries.values.sorted { $0.typed < $1.typed }
    let keys = present.map(\.typed) + absent
    let got = try lookup(["get", table, "--missing", "NA"], stdin: Array((keys.joined(separator: "\n") + "\n").utf8))
    #expect(!got.signaled && got.status == (absent.isEmpty ? 0 : 1), "\(what): get: \(got.summary)", sourceLocation: sourceLocation)
    expectSameLines(got.outLines, present.map(\.value) + absent.map { _ in "NA" }, "\(what): get", sourceLocation: sourceLocation)

    let check = try lookup(["check", table])
    expectSuccess(check, "\(what): check", sourceLocation: sourceLocation)
    #expect((check.out + check.err).contains("\(model.count) records"), "\(what): check: \(check.out)\(check.err)", sourceLocation: sourceLocation)

    let stats = try lookup(["stats", table])
    expectSuccess(stats, "\(what): stats", sourceLocation: sourceLocation)
    let entries = stats.outLines.first { $0.hasPrefix("entries:") }
    #expect(entries?.split(separator: " ").last.flatMap { Int($0) } == model.count,
            "\(what): stats says \(entries ?? "no entries line"), the model holds \(model.count)", sourceLocation: sourceLocation)
    let base = stats.outLines.filter { $0.hasPrefix("layer: base:") }
    let changes = stats.outLines.filter { $0.hasPrefix("layer: changes:") }
    if layered {
        #expect(base.count == 1 && base[0].contains(".versions/v"), "\(what): stats base line: \(stats.out)", sourceLocation: sourceLocation)
        #expect(changes.count == 1 && changes[0].contains(table), "\(what): stats changes line: \(stats.out)", sourceLocation: sourceLocation)
    } else {
        #expect(base.isEmpty && changes.isEmpty && !stats.out.contains("layer:"), "\(what): stats of a table without changes: \(stats.out)",
                sourceLocation: sourceLocation)
    }

    let listing = try versions(table, sourceLocation: sourceLocation)
    #expect(listing.map(\.number) == listed, "\(what): versions \(listing.map(\.number)), expected \(listed)", sourceLocation: sourceLocation)
    #expect(listing.filter(\.current).map(\.number) == [current], "\(what): current version \(listing.filter(\.current).map(\.number)), expected v\(current)",
            sourceLocation: sourceLocation)
    if let line = listing.first(where: \.current) {
        #expect(line.text.contains("\(model.count) records"), "\(what): versions line of the current: \(line.text)", sourceLocation: sourceLocation)
    }
}

/// Expects nothing but the table (and its versions directory, and `also`) in the table's
/// directory, and nothing but version files and `lock` in the versions directory.
private func expectNoStrays(_ table: String, also: [String] = [], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let dir = (table as NSString).deletingLastPathComponent, name = (table as NSString).lastPathComponent
    let beside = listDirectory(dir).filter { !also.contains($0) }
    #expect(beside.allSatisfy { $0 == name || $0 == name + ".versions" }, "\(what): left beside the table: \(beside)",
            sourceLocation: sourceLocation)
    let inside = listDirectory(table + ".versions")
    let strays = inside.filter { $0 != "lock" && !isVersionFile($0) }
    #expect(strays.isEmpty, "\(what): left in \(name).versions: \(strays)", sourceLocation: sourceLocation)
}

/// Whether `name` is a version file's name (`v` six digits `.lmdb`).
private func isVersionFile(_ name: String) -> Bool {
    name.count == 12 && name.hasPrefix("v") && name.hasSuffix(".lmdb") && name.dropFirst().prefix(6).allSatisfy(\.isNumber)
}

/// The version files in the table's versions directory, by number.
private func versionFiles(_ table: String) -> [Int] {
    listDirectory(table + ".versions").filter(isVersionFile).compactMap { Int($0.dropFirst().prefix(6)) }.sorted()
}

/// Runs `lookup update ARGS` expecting success.
private func update(_ arguments: [String], stdin: [UInt8]? = nil, _ what: String,
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> ProcessOutput {
    let r = try lookup(["update"] + arguments, stdin: stdin)
    expectSuccess(r, what, sourceLocation: sourceLocation)
    return r
}

/// A CSV value of a few fields (words, numbers, empty fields, quoted fields with commas and quotes).
private func randomValue(_ rng: inout SeededRNG) -> String {
    (0..<Int.random(in: 1...3, using: &rng)).map { _ in randomCSVField(&rng) }.joined(separator: ",")
}

/// Opens `fifo` for writing once the process `child` opened it for reading (polling with
/// O_NONBLOCK, which fails with ENXIO until then); `nil` when the child ended first or after
/// 60 s. The descriptor is returned blocking.
private func openWriter(_ fifo: String, reader child: LiveChild) -> Int32? {
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline {
        let fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        if fd >= 0 {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            return fd
        }
        if !child.isRunning { return nil }
        usleep(2000)
    }
    return nil
}

/// Writes all of `text` to `fd`.
private func writeAll(_ fd: Int32, _ text: String) throws {
    let bytes = Array(text.utf8)
    var offset = 0
    try withoutSIGPIPE {
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { throw TestFailure("write to the FIFO: \(String(cString: strerror(errno)))") }
            offset += n
        }
    }
}

/// Polls the file `path` until it contains `text` (or `child` ended, or 60 s passed).
private func waitForText(_ text: String, in path: String, while child: LiveChild) -> Bool {
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline {
        if let bytes = try? readFile(path), String(decoding: bytes, as: UTF8.self).contains(text) { return true }
        if !child.isRunning { break }
        usleep(5000)
    }
    return ((try? readFile(path)).map { String(decoding: $0, as: UTF8.self).contains(text) }) ?? false
}

/// Starts `lookup ARGS` as a process the test can signal (stdout to a file, stderr to `errorPath`).
private func startLookup(_ arguments: [String], errorPath: String? = nil) throws -> LiveChild {
    try LiveChild(try TestBinaries.requireLookup(), arguments, pipeStdout: false, errorPath: errorPath)
}

// MARK: - Tests

/// A change option read from a FIFO, and the signal that ends the update meanwhile.
struct KillCase: Sendable, CustomTestStringConvertible {
    var option: String
    var signal: Int32
    var testDescription: String { "\(option) \(signal == SIGKILL ? "SIGKILL" : signal == SIGTERM ? "SIGTERM" : "SIGINT")" }
}

@Suite("lookup update, versions, rollback, compact")
struct CLIUpdateTests {
    @Test("rounds of upserts and deletes (CSV, gzip, stdin, key lists, CSV delete files) match a dictionary model; rollback and compact")
    func roundsAgainstModel() throws {
        let dir = try TempDir("upd")
        let inputs = try TempDir("upd-in")
        let tables = dir.path
        let table = tables + "/t.lmdb"
        var rng = SeededRNG(seed: 0x0D_0A7E)
        var model = Model()
        var csv = ""
        for i in 0..<300 {
            let key = String(format: "key-%04d", i), value = randomValue(&rng)
            model.set(key, value)
            csv += key + "," + value + "\n"
        }
        try inputs.write("t.csv", csv)
        expectSuccess(try lookup(["build", inputs.file("t.csv"), "-o", table, "-q"]), "build")
        try expectTable(table, holds: model, absent: ["new-0000", "zzz"], layered: false, listed: [0], current: 0, "as built")
        var snapshots: [Int: Model] = [1: model]

        // Round 1: changed and new keys; deletes as a plain key list (one absent key).
        var text = ""
        for i in 0..<40 { let k = String(format: "key-%04d", i), v = randomValue(&rng); model.set(k, v); text += "\(k),\(v)\n" }
        for i in 0..<20 { let k = String(format: "new-%04d", i), v = randomValue(&rng); model.set(k, v); text += "\(k),\(v)\n" }
        try inputs.write("u1.csv", text)
        let deleted1 = (100..<115).map { String(format: "key-%04d", $0) }
        deleted1.forEach { model.remove($0) }
        try inputs.write("d1.txt", (deleted1 + ["absent-1"]).joined(separator: "\n") + "\n")
        let r1 = try update([table, "--upsert", inputs.file("u1.csv"), "--delete", inputs.file("d1.txt")], "round 1")
        #expect(r1.err.contains("version 2") && r1.err.contains("60 upserted (20 new), 15 deleted"), "round 1 report: \(r1.err)")
        try expectTable(table, holds: model, absent: deleted1 + ["absent-1"], layered: true, listed: [1, 2], current: 2, "round 1")
        expectNoStrays(table, "round 1")
        snapshots[2] = model

        // Round 2: deleted keys upserted again, new keys changed; a CSV delete file (key in
        // column 1, other columns too), one key both upserted and deleted (the upsert wins).
        text = ""
        for k in deleted1.prefix(5) + (0..<5).map({ String(format: "new-%04d", $0) }) + ["key-0200"] {
            let v = randomValue(&rng)
            model.set(k, v)
            text += "\(k),\(v)\n"
        }
        try inputs.write("u2.csv", text)
        let deleted2 = (0..<5).map { String(format: "key-%04d", $0) } + (10..<15).map { String(format: "new-%04d", $0) }
        deleted2.forEach { model.remove($0) }
        try inputs.write("d2.csv", (deleted2 + ["key-0200", "absent-2"]).map { "\($0),\"ignored, text\",1\n" }.joined())
        let r2 = try update([table, "--upsert", inputs.file("u2.csv"), "--delete", inputs.file("d2.csv")], "round 2")
        #expect(r2.err.contains("version 3 (from 2)") && r2.err.contains("11 upserted (5 new), 10 deleted"), "round 2 report: \(r2.err)")
        #expect(model.entries["key-0200"] != nil)
        try expectTable(table, holds: model, absent: deleted2 + ["absent-2"], layered: true, listed: [1, 2, 3], current: 3, "round 2")
        snapshots[3] = model

        // Round 3: a gzipped upsert file and standard input (--format csv), two delete files.
        text = ""
        for i in 300..<330 { let k = String(format: "key-%04d", i), v = randomValue(&rng); model.set(k, v); text += "\(k),\(v)\n" }
        try inputs.write("u3.csv", text)
        expectSuccess(try runProcess(try TestBinaries.tool("gzip"), [inputs.file("u3.csv")]), "gzip")
        var stdinText = ""
        for i in 150..<160 { let k = String(format: "key-%04d", i), v = randomValue(&rng); model.set(k, v); stdinText += "\(k),\(v)\n" }
        try inputs.write("d3a.txt", "key-0250\nkey-0251\n")
        try inputs.write("d3b.txt", "new-0019\n")
        ["key-0250", "key-0251", "new-0019"].forEach { model.remove($0) }
        _ = try update([table, "--upsert", inputs.file("u3.csv.gz"), "-", "--delete", inputs.file("d3a.txt"), inputs.file("d3b.txt"),
                        "--format", "csv"], stdin: Array(stdinText.utf8), "round 3")
        try expectTable(table, holds: model, absent: ["key-0250", "new-0019"], layered: true, listed: [1, 2, 3, 4], current: 4, "round 3")
        snapshots[4] = model
        expectNoStrays(table, "round 3")

        // Rollback: the previous version, then --to 1, then a version that is not there.
        let back = try lookup(["rollback", table])
        expectSuccess(back, "rollback")
        #expect(back.err.contains("version 3"), "rollback: \(back.err)")
        try expectTable(table, holds: snapshots[3]!, absent: [], layered: true, listed: [1, 2, 3, 4], current: 3, "rolled back to v3")
        expectSuccess(try lookup(["rollback", table, "--to", "1"]), "rollback --to 1")
        try expectTable(table, holds: snapshots[1]!, absent: [], layered: false, listed: [1, 2, 3, 4], current: 1, "rolled back to v1")
        let before = try readFile(table)
        let missing = try lookup(["rollback", table, "--to", "99"])
        expectCleanError(missing, status: 2, mentions: [table, "99"], "rollback --to 99")
        #expect(try readFile(table) == before, "rollback --to 99 changed the table")
        #expect(try versions(table).filter(\.current).map(\.number) == [1])
        let oldest = try lookup(["rollback", table])
        expectCleanError(oldest, status: 2, mentions: [table, "older"], "rollback from the oldest version")
        #expect(try readFile(table) == before, "a refused rollback changed the table")

        // An update of a rolled-back version applies to it, as the next version.
        expectSuccess(try lookup(["rollback", table, "--to", "2"]), "rollback --to 2")
        model = snapshots[2]!
        model.set("after-rollback", "1")
        try inputs.write("u4.csv", "after-rollback,1\n")
        let r4 = try update([table, "--upsert", inputs.file("u4.csv")], "update after a rollback")
        #expect(r4.err.contains("version 5 (from 2)"), "update after a rollback: \(r4.err)")
        // --keep 2: v5 (current), v4 and v3 kept, v1 the base of them all; v2 pruned.
        try expectTable(table, holds: model, absent: ["key-0300"], layered: true, listed: [1, 3, 4, 5], current: 5, "after rollback and update")
        #expect(try versions(table).last?.text.contains("update of v2") == true)

        // Compact: the same records in a new base; no layer lines; a later update layers on it.
        let compacted = try lookup(["compact", table])
        expectSuccess(compacted, "compact")
        #expect(compacted.err.contains("version 6 (from 5)"), "compact: \(compacted.err)")
        try expectTable(table, holds: model, absent: ["key-0300"], layered: false, listed: [1, 4, 5, 6], current: 6, "compacted")
        #expect(try versions(table).last?.text.contains("compaction of v5") == true)
        let again = try lookup(["compact", table])
        expectSuccess(again, "compact without changes")
        #expect(again.err.contains("no changes"), "compact of a compacted table: \(again.err)")
        model.remove("after-rollback")
        _ = try update([table, "--delete", "-"], stdin: Array("after-rollback\n".utf8), "update after compaction")
        try expectTable(table, holds: model, absent: ["after-rollback"], layered: true, listed: [1, 5, 6, 7], current: 7,
                        "update after compaction")
        let stats = try lookup(["stats", table]).out
        #expect(stats.contains("layer: base:") && stats.contains("v000006.lmdb"), "the new base is the compacted version: \(stats)")
        expectNoStrays(table, "after compaction")
    }

    @Test("a table built with --header: upserts and deletes with --header; the header names the columns of run --columns")
    func headerTable() throws {
        let dir = try TempDir("updh")
        let inputs = try TempDir("updh-in")
        let table = dir.file("h.lmdb")
        var model = Model()
        var text = "id,name,qty\n"
        for i in 0..<200 {
            let key = String(format: "id%03d", i)
            model.set(key, "name \(i),\(i)")
            text += "\(key),name \(i),\(i)\n"
        }
        try inputs.write("h.csv", text)
        expectSuccess(try lookup(["build", inputs.file("h.csv"), "--header", "-o", table, "-q"]), "build --header")
        try inputs.write("u.csv", "id,name,qty\nid005,renamed,500\nid900,added,900\n")
        try inputs.write("d.csv", "id,whatever\nid010,x\nid011,y\n")
        model.set("id005", "renamed,500")
        model.set("id900", "added,900")
        model.remove("id010")
        model.remove("id011")
        _ = try update([table, "--header", "--upsert", inputs.file("u.csv"), "--delete", inputs.file("d.csv")], "update --header")
        try expectTable(table, holds: model, absent: ["id", "id010"], layered: true, listed: [1, 2], current: 2, "header table")
        let stats = try lookup(["stats", table])
        #expect(stats.outLines.contains { $0.hasPrefix("columns:") && $0.contains("id, name, qty") }, "stats columns: \(stats.out)")
        try inputs.write("in/a.csv", "id005\nid900\nid010\nid001\n")
        let run = try lookup(["run", table, inputs.file("in/a.csv"), "-o", "-", "--columns", "qty,name"])
        expectSuccess(run, "run --columns on the updated header table")
        #expect(run.outLines == ["id005,500,renamed", "id900,900,added", "id001,1,name 1"], "run --columns: \(run.outLines)")
    }

    @Test("a composite, case-folded table (-k 1,2 --ignore-case): upserts in other case, deletes as tab-joined keys and as CSV columns")
    func compositeFoldedTable() throws {
        let dir = try TempDir("updk")
        let inputs = try TempDir("updk-in")
        let table = dir.file("k.lmdb")
        var rng = SeededRNG(seed: 0xC0_4D05)
        var model = Model()
        var text = ""
        let countries = ["FR", "DE", "us", "Jp"]
        for i in 0..<100 {
            for c in countries.prefix(1 + i % 3) {
                let user = "User\(i)", value = "plan\(i % 5),\(Int.random(in: 0...999, using: &rng))"
                model.set(parts: [user, c], value)
                text += "\(user),\(c),\(value)\n"
            }
        }
        try inputs.write("k.csv", text)
        expectSuccess(try lookup(["build", inputs.file("k.csv"), "-k", "1,2", "--ignore-case", "-o", table, "-q"]), "build -k 1,2 --ignore-case")
        try expectTable(table, holds: model, absent: ["user1\tus", "user0"], layered: false, listed: [0], current: 0, "composite as built")

        // Upserts in another case replace the folded keys; a new key; deletes typed with a tab.
        model.set(parts: ["USER1", "fr"], "gold,1")
        model.set(parts: ["user2", "De"], "silver,2")
        model.set(parts: ["Newbie", "IT"], "trial,0")
        try inputs.write("u.csv", "USER1,fr,gold,1\nuser2,De,silver,2\nNewbie,IT,trial,0\n")
        model.remove(parts: ["user4", "fr"])
        model.remove(parts: ["user5", "de"])
        try inputs.write("d.txt", "USER4\tFR\nuser5\tDe\nnobody\tfr\n")
        _ = try update([table, "--upsert", inputs.file("u.csv"), "--delete", inputs.file("d.txt")], "composite round 1")
        try expectTable(table, holds: model, absent: ["user4\tfr", "USER5\tDE"], layered: true, listed: [1, 2], current: 2, "composite round 1")

        // A CSV delete file: the key columns (1,2 by default), other columns ignored.
        model.remove(parts: ["user7", "fr"])
        model.remove(parts: ["newbie", "it"])
        try inputs.write("d2.csv", "User7,fr,anything\nNEWBIE,it,\"x, y\"\n")
        _ = try update([table, "--delete", inputs.file("d2.csv")], "composite round 2")
        try expectTable(table, holds: model, absent: ["user7\tFR", "newbie\tit"], layered: true, listed: [1, 2, 3], current: 3,
                        "composite round 2")
        // The same deletes from other columns with -k.
        model.remove(parts: ["user8", "de"])
        try inputs.write("d3.csv", "x,USER8,De\n")
        _ = try update([table, "--delete", inputs.file("d3.csv"), "-k", "2,3"], "composite round 3 (-k 2,3)")
        try expectTable(table, holds: model, absent: ["user8\tde"], layered: true, listed: [1, 2, 3, 4], current: 4, "composite round 3")
    }

    @Test("--keep N: older versions pruned, the bases of kept versions stay")
    func keepPrunes() throws {
        let dir = try TempDir("updkeep")
        let inputs = try TempDir("updkeep-in")
        let table = dir.file("t.lmdb")
        try inputs.write("t.csv", (0..<50).map { "k\($0),v\($0)\n" }.joined())
        expectSuccess(try lookup(["build", inputs.file("t.csv"), "-o", table, "-q"]), "build")
        for round in 1...3 {
            try inputs.write("u\(round).csv", "k\(round),round\(round)\n")
            _ = try update([table, "--keep", "1", "--upsert", inputs.file("u\(round).csv")], "update \(round) --keep 1")
        }
        // v4 current, v3 the one kept, v1 the base of both; v2 pruned.
        #expect(versionFiles(table) == [1, 3, 4], "after three updates with --keep 1: \(listDirectory(table + ".versions"))")
        #expect(listDirectory(table + ".versions").count == 4, "version files and the lock: \(listDirectory(table + ".versions"))")
        #expect(try versions(table).map(\.number) == [1, 3, 4])
        expectSuccess(try lookup(["rollback", table]), "rollback to the kept version")
        #expect(try lookup(["get", table, "k3"]).outLines == ["v3"])
        #expect(try lookup(["get", table, "k2"]).outLines == ["round2"])
        expectSuccess(try lookup(["rollback", table, "--to", "4"]), "rollback --to 4")

        expectSuccess(try lookup(["compact", table, "--keep", "1"]), "compact --keep 1")
        #expect(versionFiles(table) == [1, 4, 5], "after compact --keep 1: \(listDirectory(table + ".versions"))")
        try inputs.write("u9.csv", "k9,round9\n")
        _ = try update([table, "--keep", "0", "--upsert", inputs.file("u9.csv")], "update --keep 0")
        #expect(versionFiles(table) == [5, 6], "after --keep 0: only the current version and its base: \(listDirectory(table + ".versions"))")
        let dump = try dumpCSV(table)
        #expect(dump.count == 50 && dump.contains("k9,round9") && dump.contains("k3,round3") && dump.contains("k2,round2"), "dump: \(dump)")
        expectSuccess(try lookup(["check", table]), "check after pruning")
        let rejected = try lookup(["update", table, "--keep", "-1", "--upsert", inputs.file("u9.csv")])
        #expect(!rejected.signaled && rejected.status == 64, "--keep -1: \(rejected.summary)")
        expectNoStrays(table, "after pruning")
    }

    @Test("bad change files, a missing file, a range table and usage errors: one line, nothing published, no temp files")
    func badInputPublishesNothing() throws {
        let dir = try TempDir("updbad")
        let inputs = try TempDir("updbad-in")
        let table = dir.file("t.lmdb")
        try inputs.write("t.csv", (0..<100).map { "k\($0),v\($0)\n" }.joined())
        expectSuccess(try lookup(["build", inputs.file("t.csv"), "-o", table, "-q"]), "build")
        try inputs.write("ok.csv", "k1,changed\n")
        _ = try update([table, "--upsert", inputs.file("ok.csv")], "a first update")
        let before = try readFile(table)
        let dumpBefore = try dumpCSV(table)

        func expectRefused(_ arguments: [String], status: Int32 = 2, mentions: [String], _ what: String,
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
            let r = try lookup(["update", table] + arguments)
            if status == 64 {
                #expect(!r.signaled && r.status == 64, "\(what): \(r.summary)", sourceLocation: sourceLocation)
                for m in mentions { #expect(r.err.contains(m), "\(what): \(r.err)", sourceLocation: sourceLocation) }
            } else {
                expectCleanError(r, status: status, mentions: mentions, what, sourceLocation: sourceLocation)
            }
            #expect(try readFile(table) == before, "\(what): the table changed", sourceLocation: sourceLocation)
            expectSameLines(try dumpCSV(table), dumpBefore, "\(what): dump", sourceLocation: sourceLocation)
            #expect(versionFiles(table) == [1, 2], "\(what): version files \(listDirectory(table + ".versions"))", sourceLocation: sourceLocation)
            expectNoStrays(table, what, sourceLocation: sourceLocation)
        }

        let emptyKey = try inputs.write("empty.csv", "k1,a\nk2,b\n,c\nk3,d\n")
        try expectRefused(["--upsert", emptyKey], mentions: [emptyKey + ":3", "empty key"], "an upsert with an empty key on line 3")
        let goodThenBad = try inputs.write("good.csv", "k5,five\n")
        try expectRefused(["--upsert", goodThenBad, emptyKey], mentions: [emptyKey + ":3"], "a good upsert file, then a bad one")
        let blankLine = try inputs.write("blank.txt", "k1\nk2\n\nk3\n")
        try expectRefused(["--delete", blankLine], mentions: [blankLine + ":3", "empty key"], "a delete list with an empty line 3")
        try expectRefused(["--upsert", inputs.file("ok.csv"), "--delete", blankLine], mentions: [blankLine + ":3"],
                          "a good upsert with a bad delete list")
        let shortRow = try inputs.write("short.csv", "k1,x\nk2,y\n\"k3,z\n")
        try expectRefused(["--delete", shortRow], mentions: [shortRow + ":3"], "a CSV delete file with broken quoting on line 3")
        let duplicate = try inputs.write("dup.csv", "k1,a\nk2,b\nk1,c\n")
        try expectRefused(["--upsert", duplicate], mentions: [duplicate], "an upsert file with a duplicate key")
        try expectRefused(["--upsert", inputs.file("nope.csv")], mentions: [inputs.file("nope.csv")], "a missing upsert file")
        try expectRefused(["--delete", inputs.file("nope.txt")], mentions: [inputs.file("nope.txt")], "a missing delete file")
        try expectRefused(["--upsert", inputs.file("ok.txt")], mentions: ["--format"], "an upsert file of no known format")
        try expectRefused([], status: 64, mentions: ["--upsert", "--delete"], "neither --upsert nor --delete")
        try expectRefused(["--upsert", "-", "--delete", "-"], status: 64, mentions: ["standard input"], "standard input twice")

        // A missing table: one line, nothing created.
        let none = try lookup(["update", dir.file("none.lmdb"), "--upsert", inputs.file("ok.csv")])
        expectCleanError(none, status: 2, mentions: [dir.file("none.lmdb")], "update of a missing table")
        #expect(!FileManager.default.fileExists(atPath: dir.file("none.lmdb.versions")), "a versions directory for a missing table")

        // A range table: refused in one line before anything is written beside it.
        let ranges = dir.file("r.lmdb")
        try inputs.write("r.csv", "10.0.0.0/8,ten\n192.168.0.0/16,home\n")
        expectSuccess(try lookup(["build", "--cidr", inputs.file("r.csv"), "-o", ranges, "-q"]), "build --cidr")
        let rangeBytes = try readFile(ranges)
        try inputs.write("r-up.csv", "172.16.0.0/12,private\n")
        let refused = try lookup(["update", ranges, "--upsert", inputs.file("r-up.csv")])
        expectCleanError(refused, status: 2, mentions: [ranges, "cidr", "rebuild"], "update of a range table")
        #expect(try readFile(ranges) == rangeBytes, "the range table changed")
        #expect(!FileManager.default.fileExists(atPath: ranges + ".versions"), "a versions directory for a range table")
        for command in ["compact", "rollback"] {
            let r = try lookup([command, ranges])
            #expect(!r.signaled && r.status != 0 && r.errLines.count == 1, "\(command) of a range table: \(r.summary)")
            #expect(try readFile(ranges) == rangeBytes, "\(command) changed the range table")
        }
    }

    @Test("an update killed while it reads a FIFO of changes publishes nothing; the next update succeeds, no stale files",
          arguments: [KillCase(option: "--upsert", signal: SIGKILL), KillCase(option: "--delete", signal: SIGKILL),
                      KillCase(option: "--upsert", signal: SIGTERM), KillCase(option: "--delete", signal: SIGINT)])
    func killedUpdate(_ c: KillCase) throws {
        let option = c.option
        let dir = try TempDir("updkill")
        let inputs = try TempDir("updkill-in")
        let table = dir.file("t.lmdb")
        try inputs.write("t.csv", (0..<500).map { "k\($0),v\($0)\n" }.joined())
        expectSuccess(try lookup(["build", inputs.file("t.csv"), "-o", table, "-q"]), "build")
        try inputs.write("first.csv", "k0,first\n")
        _ = try update([table, "--upsert", inputs.file("first.csv")], "a first update")
        let before = try readFile(table)
        let dumpBefore = try dumpCSV(table)
        let fifo = inputs.file(option == "--upsert" ? "changes.csv" : "changes.txt")
        #expect(mkfifo(fifo, 0o600) == 0, "mkfifo: \(errno)")

        let child = try startLookup(["update", table, option, fifo])
        guard let writer = openWriter(fifo, reader: child) else {
            let r = try child.wait()
            Issue.record("the update never opened the FIFO: \(r.summary)")
            return
        }
        // Part of the changes, then the signal while the update waits for the rest.
        let lines = (0..<2000).map { option == "--upsert" ? "k\($0),killed\($0)\n" : "k\($0)\n" }
        try writeAll(writer, lines.prefix(1000).joined())
        child.send(c.signal)
        let r = try child.wait()
        close(writer)
        if c.signal == SIGKILL {
            #expect(r.signaled && r.status == SIGKILL, "the update was not killed: \(r.summary)")
        } else {
            // SIGINT and SIGTERM: the temp files removed, exit 128 + the signal.
            #expect(!r.signaled && r.status == 128 + c.signal, "\(c): \(r.summary)")
        }
        #expect(try readFile(table) == before, "a killed update changed the table")
        expectSameLines(try dumpCSV(table), dumpBefore, "dump after a killed update")
        #expect(versionFiles(table) == [1, 2], "version files after a killed update: \(listDirectory(table + ".versions"))")
        expectSuccess(try lookup(["check", table]), "check after a killed update")

        // The lock died with it: the next update runs at once and leaves nothing behind.
        try inputs.write("next.csv", "k1,next\n")
        let next = try update([table, "--no-wait", "--upsert", inputs.file("next.csv")], "the update after the killed one")
        #expect(next.err.contains("version 3 (from 2)"), "next update: \(next.err)")
        #expect(try lookup(["get", table, "k0", "k1", "k2"]).outLines == ["first", "next", "v2"])
        #expect(versionFiles(table) == [1, 2, 3])
        expectNoStrays(table, "after a killed update and the next")
    }

    @Test("two updates at once: --no-wait fails at once in one line; a second update waits and both changes are kept")
    func concurrentUpdates() throws {
        let dir = try TempDir("updcon")
        let inputs = try TempDir("updcon-in")
        let table = dir.file("t.lmdb")
        try inputs.write("t.csv", (0..<300).map { "k\($0),v\($0)\n" }.joined())
        expectSuccess(try lookup(["build", inputs.file("t.csv"), "-o", table, "-q"]), "build")
        let fifo = inputs.file("slow.csv")
        #expect(mkfifo(fifo, 0o600) == 0, "mkfifo: \(errno)")

        let first = try startLookup(["update", table, "--upsert", fifo])
        guard let writer = openWriter(fifo, reader: first) else {
            Issue.record("the first update never opened the FIFO: \(try first.wait().summary)")
            return
        }
        // The first holds the lock now (it opens its inputs only after taking it).
        let before = try readFile(table)
        try inputs.write("second.csv", "k2,second\nk301,second\n")
        try inputs.write("second-del.txt", "k3\n")
        let noWait = try lookup(["update", table, "--no-wait", "--upsert", inputs.file("second.csv")])
        expectCleanError(noWait, status: 2, mentions: [table, "another update"], "update --no-wait while another runs")
        for command in [["rollback", table, "--no-wait"], ["compact", table, "--no-wait"]] {
            let r = try lookup(command)
            expectCleanError(r, status: 2, mentions: ["another update"], "\(command[0]) --no-wait while an update runs")
        }
        #expect(try readFile(table) == before, "refused writers changed the table")

        let secondErr = inputs.file("second.err")
        let second = try startLookup(["update", table, "--upsert", inputs.file("second.csv"), "--delete", inputs.file("second-del.txt")],
                                     errorPath: secondErr)
        let waiting = waitForText("waiting for another update", in: secondErr, while: second)
        #expect(waiting, "the second update did not say it waits: \((try? readFile(secondErr)).map { String(decoding: $0, as: UTF8.self) } ?? "")")
        #expect(second.isRunning, "the second update did not wait")
        #expect(try readFile(table) == before, "the table changed while the first update was reading")

        try writeAll(writer, "k1,first\nk300,first\n")
        close(writer)
        let r1 = try first.wait()
        let r2 = try second.wait()
        #expect(!r1.signaled && r1.status == 0, "first update: \(r1.summary)")
        #expect(!r2.signaled && r2.status == 0, "second update: \(r2.summary)")
        #expect(r2.errLines.count == 2 && r2.errLines[0].contains("waiting") && r2.errLines[1].contains("version 3 (from 2)"),
                "second update's lines: \(r2.err)")

        var want = (0..<300).map { "k\($0),v\($0)" }
        want[1] = "k1,first"
        want[2] = "k2,second"
        want.remove(at: 3)
        want += ["k300,first", "k301,second"]
        expectSameLines(try dumpCSV(table), want.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) },
                        "both updates' changes")
        let listing = try versions(table)
        #expect(listing.map(\.number) == [1, 2, 3] && listing.last?.current == true, "versions: \(listing)")
        #expect(listing.last?.text.contains("update of v2") == true, "the second update applies to the first's version: \(listing)")
        expectNoStrays(table, "after two updates")
    }

    @Test("a table rebuilt with lookup build while an update reads its changes is not silently replaced by that update")
    func rebuildDuringUpdate() throws {
        let dir = try TempDir("updrb")
        let inputs = try TempDir("updrb-in")
        let table = dir.file("t.lmdb")
        try inputs.write("old.csv", (0..<100).map { "k\($0),old\($0)\n" }.joined())
        try inputs.write("new.csv", (0..<120).map { "k\($0),new\($0)\n" }.joined())
        expectSuccess(try lookup(["build", inputs.file("old.csv"), "-o", table, "-q"]), "build")
        let fifo = inputs.file("slow.csv")
        #expect(mkfifo(fifo, 0o600) == 0, "mkfifo: \(errno)")
        let updating = try startLookup(["update", table, "--upsert", fifo])
        guard let writer = openWriter(fifo, reader: updating) else {
            Issue.record("the update never opened the FIFO: \(try updating.wait().summary)")
            return
        }
        // The rebuild is published while the update reads; then the update ends.
        expectSuccess(try lookup(["build", inputs.file("new.csv"), "-o", table, "-q"]), "rebuild during the update")
        try writeAll(writer, "k5,updated\n")
        close(writer)
        let r = try updating.wait()
        #expect(!r.signaled, "update: \(r.summary)")
        // Either the update refused (the table changed under it) or it applied to the rebuilt
        // table; the rebuilt records must not be lost either way.
        let dump = try dumpCSV(table)
        let rebuilt = (0..<120).filter { $0 != 5 }.map { "k\($0),new\($0)" }
        let lost = rebuilt.filter { !dump.contains($0) }
        #expect(lost.isEmpty, "the rebuild was lost: \(lost.count) of its records missing (update: \(r.summary); dump starts \(dump.prefix(3)))")
    }

    @Test("change files in another format than the table's are read in their own format, as build reads them (TSV into a CSV table and back)")
    func changeFilesInTheirOwnFormat() throws {
        let dir = try TempDir("updfmt")
        let inputs = try TempDir("updfmt-in")
        // A CSV table updated from TSV files.
        let csvTable = dir.file("c.lmdb")
        try inputs.write("c.csv", "a,1,x\nb,2,y\nc,3,z\n")
        expectSuccess(try lookup(["build", inputs.file("c.csv"), "-o", csvTable, "-q"]), "build csv")
        try inputs.write("u.tsv", "d\t4\tw\n")
        try inputs.write("del.tsv", "b\tanything\n")
        _ = try update([csvTable, "--upsert", inputs.file("u.tsv"), "--delete", inputs.file("del.tsv")], "TSV changes of a CSV table")
        let csvKeys = try lookup(["get", csvTable, "--missing", "NA"], stdin: Array("a\nb\nd\n".utf8))
        #expect(csvKeys.outLines.count == 3 && csvKeys.outLines[0] == "1,x" && csvKeys.outLines[1] == "NA" && csvKeys.outLines[2] != "NA",
                "a CSV table after TSV changes: get a, b (deleted), d (upserted) gave \(csvKeys.outLines)")
        let csvDump = try dumpCSV(csvTable)
        #expect(!csvDump.contains { $0.contains("\t") && $0.hasPrefix("d") && !$0.hasPrefix("d,") },
                "a TSV line stored whole as a key: \(csvDump)")

        // A TSV table updated from a CSV file.
        let tsvTable = dir.file("t.lmdb")
        try inputs.write("t.tsv", "a\t1\nb\t2\n")
        expectSuccess(try lookup(["build", inputs.file("t.tsv"), "-o", tsvTable, "-q"]), "build tsv")
        try inputs.write("u.csv", "c,3\n")
        _ = try update([tsvTable, "--upsert", inputs.file("u.csv")], "CSV changes of a TSV table")
        let tsvKeys = try lookup(["get", tsvTable, "--missing", "NA"], stdin: Array("c\nc,3\n".utf8))
        #expect(tsvKeys.outLines == ["3", "NA"], "a TSV table after a CSV upsert: get c, \"c,3\" gave \(tsvKeys.outLines)")
    }

    @Test("an updated table read through a symbolic link to it: get, map, dump, check and stats work as through its path")
    func symlinkedTable() throws {
        let dir = try TempDir("updsym")
        let inputs = try TempDir("updsym-in")
        let table = dir.file("data/t.lmdb")
        try inputs.write("t.csv", "a,1\nb,2\n")
        try FileManager.default.createDirectory(atPath: dir.file("data"), withIntermediateDirectories: true)
        expectSuccess(try lookup(["build", inputs.file("t.csv"), "-o", table, "-q"]), "build")
        let link = dir.file("current.lmdb")
        #expect(symlink("data/t.lmdb", link) == 0)
        #expect(try lookup(["get", link, "a"]).outLines == ["1"], "get through the link before any update")
        try inputs.write("u.csv", "a,9\n")
        _ = try update([table, "--upsert", inputs.file("u.csv")], "update")
        let get = try lookup(["get", link, "a", "b"])
        #expect(get.status == 0 && get.outLines == ["9", "2"], "get through a symlink to an updated table: \(get.summary)")
        let map = try lookup(["map", link], stdin: Array("a,x\n".utf8))
        #expect(map.status == 0 && map.outLines == ["a,x,9"], "map through the symlink: \(map.summary)")
        #expect(try lookup(["dump", "--format", "csv", link]).outLines == ["a,9", "b,2"], "dump through the symlink")
        expectSuccess(try lookup(["check", link]), "check through the symlink")
        expectSuccess(try lookup(["stats", link]), "stats through the symlink")
    }

    @Test("update, compact and rollback given a version file (TABLE.versions/vN.lmdb) as the table are refused; no version is overwritten",
          arguments: ["update", "compact", "rollback"])
    func versionFileAsTable(command: String) throws {
        let dir = try TempDir("updvf")
        let inputs = try TempDir("updvf-in")
        let table = dir.file("t.lmdb")
        try inputs.write("t.csv", "a,1\nb,2\nc,3\n")
        expectSuccess(try lookup(["build", inputs.file("t.csv"), "-o", table, "-q"]), "build")
        try inputs.write("u1.csv", "a,9\n")
        _ = try update([table, "--upsert", inputs.file("u1.csv")], "update 1")
        try inputs.write("u2.csv", "b,8\n")
        _ = try update([table, "--upsert", inputs.file("u2.csv")], "update 2")
        let dumpBefore = try dumpCSV(table)
        let files = listDirectory(table + ".versions")
        let contents = try files.map { try readFile(table + ".versions/" + $0) }
        // The base of every version, and a layer.
        let target = table + ".versions/" + (command == "update" ? "v000001.lmdb" : "v000002.lmdb")
        let args: [String] = switch command {
        case "update": ["update", target, "--upsert", inputs.file("u2.csv")]
        case "compact": ["compact", target]
        default: ["rollback", target, "--to", "3"]
        }
        let r = try lookup(args)
        #expect(!r.signaled && r.status != 0, "\(command) of a version file: \(r.summary)")
        #expect(listDirectory(table + ".versions") == files, "\(command) of a version file: \(listDirectory(table + ".versions"))")
        for (name, bytes) in zip(files, contents) {
            #expect(try readFile(table + ".versions/" + name) == bytes, "\(command) of a version file changed \(name)")
        }
        expectSameLines(try dumpCSV(table), dumpBefore, "\(command) of a version file: the table")
        expectSuccess(try lookup(["check", table]), "\(command) of a version file: check the table")
    }
}

// MARK: - Full disk

/// Mounts a tmpfs of `size` on a new directory; calls `body` with it, then unmounts.
private func withSmallDisk(_ size: String, _ body: (String) throws -> Void) throws {
    let dir = try TempDir("updfull")
    let mountPoint = dir.file("small")
    try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
    try mountTmpfs(mountPoint, options: "size=\(size)")
    defer { unmount(mountPoint) }
    try body(mountPoint)
}

/// Shrinks the tmpfs at `mount` (remounted) to what it holds now and `free` bytes more.
private func shrinkDisk(_ mount: String, leaving free: Int) throws {
    var fs = statvfs()
    guard statvfs(mount, &fs) == 0 else { throw TestFailure("statvfs \(mount): \(errno)") }
    let used = (Int(fs.f_blocks) - Int(fs.f_bfree)) * Int(fs.f_frsize)
    let size = (used + free + 4095) / 4096 * 4096
    let r = try runProcess("/usr/bin/env", ["mount", "-o", "remount,size=\(size)", mount])
    guard r.status == 0 else { throw TestFailure("remount \(mount) with size=\(size): \(r.summary)") }
}

/// Expects `result` to be the one-line full-disk failure, and the table to be as before.
private func expectFullDisk(_ result: ProcessOutput, table: String, before: [UInt8], dump: [String], versions: [Int],
                            _ what: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let dir = (table as NSString).deletingLastPathComponent
    expectCleanError(result, status: 2, mentions: [dir + "/"], what, sourceLocation: sourceLocation)
    let words = result.err.components(separatedBy: " ").filter { !$0.contains("/") }.joined(separator: " ").lowercased()
    #expect(words.contains("full") || words.contains("no space"), "\(what): the message should say the disk is full: \(result.err)",
            sourceLocation: sourceLocation)
    #expect(try readFile(table) == before, "\(what): the table changed", sourceLocation: sourceLocation)
    expectSameLines(try dumpCSV(table, sourceLocation: sourceLocation), dump, "\(what): dump", sourceLocation: sourceLocation)
    #expect(versionFiles(table) == versions, "\(what): version files \(listDirectory(table + ".versions"))", sourceLocation: sourceLocation)
    expectNoStrays(table, what, sourceLocation: sourceLocation)
    expectSuccess(try lookup(["check", table]), "\(what): check", sourceLocation: sourceLocation)
}

@Suite("lookup update on a full disk", .serialized)
struct CLIUpdateFullDiskTests {
    @Test("a table on a read-only filesystem: update, compact and rollback refused in one line; an updated table stays readable")
    func readOnlyFilesystem() throws {
        let inputs = try TempDir("updro-in")
        try writeFile(inputs.file("t.csv"), (0..<100).map { "k\($0),v\($0)\n" }.joined())
        try writeFile(inputs.file("u.csv"), "k1,changed\nnew,1\n")
        try withSmallDisk("8m") { mount in
            let table = mount + "/t.lmdb", plain = mount + "/plain.lmdb"
            expectSuccess(try lookup(["build", inputs.file("t.csv"), "-o", table, "-q"]), "build")
            expectSuccess(try lookup(["build", inputs.file("t.csv"), "-o", plain, "-q"]), "build")
            _ = try update([table, "--upsert", inputs.file("u.csv")], "update before the remount")
            let remount = try runProcess("/usr/bin/env", ["mount", "-o", "remount,ro", mount])
            #expect(remount.status == 0, "remount ro: \(remount.summary)")
            for args in [["update", plain, "--upsert", inputs.file("u.csv")], ["update", table, "--upsert", inputs.file("u.csv")],
                         ["compact", table], ["rollback", table]] {
                let r = try lookup(args)
                expectCleanError(r, status: 2, mentions: [args[1]], "\(args[0]) on a read-only filesystem")
            }
            #expect(try lookup(["get", table, "k1", "new", "k2"]).outLines == ["changed", "1", "v2"], "get on a read-only filesystem")
            #expect(try dumpCSV(table).count == 101)
            expectSuccess(try lookup(["check", table]), "check on a read-only filesystem")
            #expect(try versions(table).map(\.number) == [1, 2])
            #expect(listDirectory(mount) == ["plain.lmdb", "t.lmdb", "t.lmdb.versions"])
        }
    }

    @Test("the upserts fill the disk: one line saying so, the table unchanged, no temp files; a small update then succeeds")
    func upsertsFillDisk() throws {
        let inputs = try TempDir("updfull-in")
        try writeFile(inputs.file("small.csv"), (0..<200).map { "old-\($0),value \($0)\n" }.joined())
        try writeFile(inputs.file("big.csv"), generateBigCSV(count: 100_000, seed: 0xF011))
        #expect(fileSize(inputs.file("big.csv")) > 3 << 20)
        try withSmallDisk("2m") { mount in
            let table = mount + "/t.lmdb"
            expectSuccess(try lookup(["build", inputs.file("small.csv"), "-o", table, "-q"]), "build")
            let before = try readFile(table), dump = try dumpCSV(table)
            let r = try lookup(["update", table, "--upsert", inputs.file("big.csv")])
            try expectFullDisk(r, table: table, before: before, dump: dump, versions: [1], "upserts larger than the disk")
            try writeFile(inputs.file("few.csv"), "old-1,changed\n")
            _ = try update([table, "--upsert", inputs.file("few.csv")], "a small update after the full disk")
            #expect(try lookup(["get", table, "old-1"]).outLines == ["changed"])
        }
    }

    @Test("the new change layer fills the disk (it carries the previous changes): the previous version stays")
    func layerFillsDisk() throws {
        let inputs = try TempDir("updfull2-in")
        try writeFile(inputs.file("small.csv"), (0..<200).map { "old-\($0),value \($0)\n" }.joined())
        try writeFile(inputs.file("m1.csv"), generateBigCSV(count: 30_000, seed: 0xF021))
        try writeFile(inputs.file("m2.csv"), generateBigCSV(count: 30_000, seed: 0xF022))
        try withSmallDisk("32m") { mount in
            let table = mount + "/t.lmdb"
            expectSuccess(try lookup(["build", inputs.file("small.csv"), "-o", table, "-q"]), "build")
            _ = try update([table, "--upsert", inputs.file("m1.csv")], "the first large update")
            let before = try readFile(table), dump = try dumpCSV(table)
            // Room for the second update's upserts (as many as the first's), not for its layer
            // (the first's changes and its own).
            try shrinkDisk(mount, leaving: fileSize(table) * 3 / 2)
            let r = try lookup(["update", table, "--upsert", inputs.file("m2.csv")])
            try expectFullDisk(r, table: table, before: before, dump: dump, versions: [1, 2], "a layer larger than the space left")
            #expect(r.err.contains("v000003.lmdb"), "the disk should fill while the layer is written: \(r.err)")
        }
    }

    @Test("compaction fills the disk: one line, the updated table unchanged")
    func compactionFillsDisk() throws {
        let inputs = try TempDir("updfull3-in")
        try writeFile(inputs.file("small.csv"), (0..<200).map { "old-\($0),value \($0)\n" }.joined())
        try writeFile(inputs.file("m1.csv"), generateBigCSV(count: 30_000, seed: 0xF031))
        try withSmallDisk("32m") { mount in
            let table = mount + "/t.lmdb"
            expectSuccess(try lookup(["build", inputs.file("small.csv"), "-o", table, "-q"]), "build")
            _ = try update([table, "--upsert", inputs.file("m1.csv")], "a large update")
            let before = try readFile(table), dump = try dumpCSV(table)
            try shrinkDisk(mount, leaving: fileSize(table) / 2)
            let r = try lookup(["compact", table])
            try expectFullDisk(r, table: table, before: before, dump: dump, versions: [1, 2], "compaction larger than the space left")
        }
    }
}
