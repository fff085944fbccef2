// `lookup run` and `lookup map` on updated tables (`lookup update`: a change layer over a base):
// the same bytes as through a freshly built table of the same contents in every mode (join,
// filter, anti, left --missing, --columns on a header table); a map reading an open pipe and a
// run -j 2 keep the version they started with while updates are published (every output line
// of one version); `--resume` refuses a run over another version and accepts a rollback to the
// one it started with.
import Foundation
import LookupTestSupport
import Testing

/// Builds `table` from the CSV `text` (written beside it) with `options`; fails on error.
private func buildFrom(_ dir: TempDir, _ name: String, _ text: String, _ options: [String] = []) throws -> String {
    let input = try dir.write(name + ".csv", text)
    let table = dir.file(name + ".lmdb")
    let r = try runLookup(["build", input, "-o", table, "-q"] + options)
    guard r.status == 0 && !r.signaled else { throw TestFailure("build \(name): \(r.summary)") }
    return table
}

/// Runs `lookup update ARGS`; expects success.
private func updateTable(_ arguments: [String], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let r = try runLookup(["update", "-q"] + arguments)
    expectExit(r, 0, what, sourceLocation: sourceLocation)
}

/// Kills `child` if it is still running after `seconds` (a safety net against a hung test, not
/// a synchronization).
private func watchdog(_ child: LiveChild, seconds: Double = 120) {
    let pid = child.pid
    DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [weak child] in
        if child?.isRunning == true { kill(pid, SIGKILL) }
    }
}

/// The version in the last field of an output line `key,n,vN`.
private func lineVersion(_ line: String) -> String { String(line.split(separator: ",").last ?? "") }

/// A table of `count` keys `kNNNNN` whose every value is `vN` (N = `version`), as CSV.
private func versionCSV(_ keys: [String], version: Int) -> String { keys.map { "\($0),v\(version)\n" }.joined() }

@Suite("run and map on updated tables")
struct BatchUpdateTests {
    /// An updated table, a freshly built table of the same contents, the table as first built
    /// (to show the updates change the outputs), and input files whose keys hit all three.
    private struct Fixture {
        let dir: TempDir
        let updated: String, fresh: String, original: String
        let inputs: String
    }

    private func makeFixture(header: Bool) throws -> Fixture {
        let dir = try TempDir(header ? "bupdh" : "bupd")
        var rng = SeededRNG(seed: header ? 0xB0_0D1 : 0xB0_0D2)
        var model: [String: String] = [:]
        for i in 0..<400 { model[String(format: "k%04d", i)] = "a\(i),\(Int.random(in: 0...9999, using: &rng)),\"q, \(i)\"" }
        let head = header ? "id,name,qty,note\n" : ""
        func csv(_ m: [String: String]) -> String { head + m.keys.sorted().map { "\($0),\(m[$0]!)\n" }.joined() }
        let options = header ? ["--header"] : []
        let original = try buildFrom(dir, "original", csv(model), options)
        let updated = dir.file("updated.lmdb")
        #expect(copyTable(original, updated))

        // Two rounds of changes: values changed, keys added, deleted, deleted then added again.
        var up1 = head, del1 = ""
        for i in 0..<60 { let k = String(format: "k%04d", i), v = "b\(i),\(i * 7),\"r, \(i)\""; model[k] = v; up1 += "\(k),\(v)\n" }
        for i in 0..<40 { let k = String(format: "n%04d", i), v = "new\(i),\(i),"; model[k] = v; up1 += "\(k),\(v)\n" }
        for i in 100..<180 { let k = String(format: "k%04d", i); model[k] = nil; del1 += "\(k)\n" }
        try updateTable([updated, "--upsert", try dir.write("up1.csv", up1), "--delete", try dir.write("del1.txt", del1)]
                        + options, "update 1")
        var up2 = head, del2 = header ? "id,x\n" : ""
        for i in 100..<120 { let k = String(format: "k%04d", i), v = "c\(i),\(i),again"; model[k] = v; up2 += "\(k),\(v)\n" }
        for i in 0..<10 { let k = String(format: "n%04d", i); model[k] = nil; del2 += "\(k),x\n" }
        for i in 390..<400 { let k = String(format: "k%04d", i); model[k] = nil; del2 += "\(k),x\n" }
        try updateTable([updated, "--upsert", try dir.write("up2.csv", up2), "--delete", try dir.write("del2.csv", del2)]
                        + options, "update 2")
        let fresh = try buildFrom(dir, "fresh", csv(model), options)

        // Inputs: every key ever in a table, and keys never there, in three files.
        var keys = (0..<420).map { String(format: "k%04d", $0) } + (0..<50).map { String(format: "n%04d", $0) }
        keys.shuffle(using: &rng)
        let inputs = dir.file("in")
        for f in 0..<3 {
            let part = keys.enumerated().filter { $0.offset % 3 == f }.map(\.element)
            let lines = part.enumerated().map { "\($0.element),line\(f)-\($0.offset)" }
            try writeFile(inputs + "/f\(f).csv", (header ? "key,line\n" : "") + lines.joined(separator: "\n") + "\n")
        }
        return Fixture(dir: dir, updated: updated, fresh: fresh, original: original, inputs: inputs)
    }

    @Test("run and map through an updated table give the bytes of a freshly built table of the same contents",
          arguments: ["join", "filter", "anti", "left"])
    func sameAsFreshTable(mode: String) throws {
        let f = try makeFixture(header: false)
        let extra = mode == "left" ? ["--missing", "NA"] : []
        func run(_ table: String, _ out: String) throws {
            let r = try runLookup(["run", table, f.inputs, "-o", f.dir.file(out), "--mode", mode, "-j", "2", "--no-progress"] + extra)
            expectExit(r, 0, "run --mode \(mode) on \(table)")
        }
        try run(f.updated, "out-updated")
        try run(f.fresh, "out-fresh")
        try run(f.original, "out-original")
        var differFromOriginal = 0
        for name in ["f0.csv", "f1.csv", "f2.csv"] {
            let updated = try readFile(f.dir.file("out-updated/" + name))
            let fresh = try readFile(f.dir.file("out-fresh/" + name))
            #expect(!updated.isEmpty, "\(mode) \(name): no output")
            #expect(sameBytes(updated, fresh), "\(mode) \(name): updated and fresh tables differ: \(describeDifference(updated, fresh))")
            if !sameBytes(updated, try readFile(f.dir.file("out-original/" + name))) { differFromOriginal += 1 }

            let input = try readFile(f.inputs + "/" + name)
            let mapUpdated = try lookupWithInput(["map", f.updated, "--mode", mode] + extra, input)
            let mapFresh = try lookupWithInput(["map", f.fresh, "--mode", mode] + extra, input)
            expectExit(mapUpdated, 0, "map --mode \(mode) on the updated table")
            #expect(sameBytes(mapUpdated.stdout, mapFresh.stdout), "\(mode) \(name): map differs: \(describeDifference(mapUpdated.stdout, mapFresh.stdout))")
            #expect(sameBytes(mapUpdated.stdout, updated), "\(mode) \(name): map and run differ")
        }
        #expect(differFromOriginal == 3, "\(mode): the updates changed only \(differFromOriginal) of 3 outputs: the case is not tested")
        if mode == "left" {
            #expect(try readFile(f.dir.file("out-updated/f0.csv")).count > 0)
            #expect(String(decoding: try readFile(f.dir.file("out-updated/f1.csv")), as: UTF8.self).contains(",NA\n"), "left: no NA")
        }
    }

    @Test("--header table and --columns by name: run and map on the updated table match the fresh one")
    func columnsOnHeaderTable() throws {
        let f = try makeFixture(header: true)
        for columns in ["qty,name", "note", "2"] {
            let updated = try runLookup(["run", f.updated, f.inputs, "-o", "-", "--header", "--columns", columns, "--mode", "left",
                                         "--missing", "NA", "-j", "2"])
            let fresh = try runLookup(["run", f.fresh, f.inputs, "-o", "-", "--header", "--columns", columns, "--mode", "left",
                                       "--missing", "NA", "-j", "2"])
            expectExit(updated, 0, "run --columns \(columns) on the updated table")
            expectExit(fresh, 0, "run --columns \(columns) on the fresh table")
            #expect(!updated.stdout.isEmpty && sameBytes(updated.stdout, fresh.stdout),
                    "--columns \(columns): \(describeDifference(updated.stdout, fresh.stdout))")
            let input = try readFile(f.inputs + "/f2.csv")
            let map = try lookupWithInput(["map", f.updated, "--header", "--columns", columns], input)
            let mapFresh = try lookupWithInput(["map", f.fresh, "--header", "--columns", columns], input)
            expectExit(map, 0, "map --columns \(columns)")
            #expect(sameBytes(map.stdout, mapFresh.stdout), "map --columns \(columns): \(describeDifference(map.stdout, mapFresh.stdout))")
        }
        // The selected columns of an upserted row come from the upsert.
        let one = try lookupWithInput(["map", f.updated, "--columns", "note,qty"], Array("k0005,x\nk0110,y\nn0020,z\n".utf8))
        expectExit(one, 0, "map --columns note,qty")
        #expect(textLines(one.stdout) == ["k0005,x,\"r, 5\",35", "k0110,y,again,110", "n0020,z,,20"], "map: \(textLines(one.stdout))")
    }

    @Test("a map reading an open pipe keeps its version while an update changes every value: every line of one version")
    func mapKeepsItsVersion() throws {
        let dir = try TempDir("bupdmap")
        let keys = (0..<2000).map { String(format: "k%05d", $0) }
        let table = try buildFrom(dir, "t", versionCSV(keys, version: 1))
        let map = try LiveChild(try TestBinaries.requireLookup(), ["map", table])
        watchdog(map)
        let lines = keys.map { "\($0),n" }
        try map.write(lines.prefix(1000).joined(separator: "\n") + "\n")
        // The first half answered: the map has the table open (version 1).
        let first = map.readLines(1000)
        #expect(first.count == 1000 && first.allSatisfy { lineVersion($0) == "v1" }, "first half: \(Set(first.map(lineVersion)))")

        try updateTable([table, "--upsert", try dir.write("v2.csv", versionCSV(keys, version: 2))], "update to v2")
        let get = try runLookup(["get", table, "k00000"])
        #expect(get.status == 0, "get after the update: \(get.summary)")
        try updateTable([table, "--upsert", try dir.write("v3.csv", versionCSV(keys, version: 3))], "update to v3")

        try map.write(lines.dropFirst(1000).joined(separator: "\n") + "\n")
        map.closeInput()
        let rest = textLines(map.readAll())
        let end = try map.wait()
        #expect(!end.signaled && end.status == 0, "map: \(end.summary)")
        #expect(rest.count == 1000, "second half: \(rest.count) lines")
        let seen = Set((first + rest).map(lineVersion))
        #expect(seen == ["v1"], "one map saw versions \(seen.sorted())")

        // A map started now reads the newest version.
        let after = try lookupWithInput(["map", table], Array(lines.prefix(50).joined(separator: "\n").utf8))
        #expect(Set(textLines(after.stdout).map(lineVersion)) == ["v3"], "a new map: \(textLines(after.stdout).prefix(3))")
    }

    /// Runs `run -j 2` over six files of `table` (at version 2 of its values, itself an update
    /// over version 1) while `publish` runs in the middle of the run: at the moment a worker
    /// about to die (LOOKUP_FAULT_KILL_TASK) waits at the gate, so its task runs again on a new
    /// worker afterwards. Expects every output line of every file to carry v2.
    private func runWhilePublishing(_ tag: String, _ publish: @escaping (String, TempDir, [String]) throws -> Void,
                                    sourceLocation: SourceLocation = #_sourceLocation) throws {
        let dir = try TempDir(tag)
        let keys = (0..<3000).map { String(format: "k%05d", $0) }
        let table = try buildFrom(dir, "t", versionCSV(keys, version: 1))
        try updateTable([table, "--upsert", try dir.write("v2.csv", versionCSV(keys, version: 2))], "update to v2",
                        sourceLocation: sourceLocation)
        let input = dir.file("in")
        for f in 0..<6 {
            let part = keys.enumerated().filter { $0.offset % 6 == f }.map { "\($0.element),\(f)" }
            // Sizes differ, so the largest-first order is fixed: f0 first.
            try writeFile(input + "/f\(f).csv", (part + part.prefix(50 * (6 - f))).joined(separator: "\n") + "\n")
        }
        let gate = dir.file("gate")
        #expect(mkfifo(gate, 0o600) == 0, sourceLocation: sourceLocation)
        let process = try LookupProcess(["run", table, input, "-o", dir.file("out"), "-j", "2", "--no-progress"],
                                        environment: ["LOOKUP_FAULT_KILL_TASK": "3", "LOOKUP_FAULT_KILL_GATE": gate])
        var published = false
        var problem: String?
        let r = try process.wait(sampleEvery: 0.002) { _ in
            guard !published else { return }
            let fd = open(gate, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { return }
            published = true
            do { try publish(table, dir, keys) } catch { problem = "\(error)" }
            close(fd)
        }
        #expect(published, "the run never reached the gate: \(r.summary)", sourceLocation: sourceLocation)
        #expect(problem == nil, "publishing during the run: \(problem ?? "")", sourceLocation: sourceLocation)
        expectExit(r, 0, "run -j 2 while versions are published", sourceLocation: sourceLocation)
        #expect(r.stderr.contains("retrying"), "no task was retried: \(r.err)", sourceLocation: sourceLocation)
        for f in 0..<6 {
            let name = "out/f\(f).csv"
            guard let bytes = try? readFile(dir.file(name)) else {
                Issue.record("no output \(name)", sourceLocation: sourceLocation)
                continue
            }
            let lines = textLines(bytes)
            let versions = Set(lines.map(lineVersion))
            #expect(lines.count == 500 + 50 * (6 - f) && versions == ["v2"],
                    "\(name): \(lines.count) lines of versions \(versions.sorted())", sourceLocation: sourceLocation)
        }
        let now = try lookupWithInput(["get", table, "k00001"], [])
        #expect(textLines(now.stdout) != ["v2"], "the publishing did not change the table: \(now.summary)", sourceLocation: sourceLocation)
    }

    @Test("run -j 2 keeps the version it started with while two updates are published mid-run (a worker restarted after them)")
    func runKeepsItsVersion() throws {
        try runWhilePublishing("bupdrun") { table, dir, keys in
            for version in 3...4 {
                let r = try runLookup(["update", table, "-q", "--upsert", try dir.write("v\(version).csv", versionCSV(keys, version: version))])
                guard r.status == 0 else { throw TestFailure("update to v\(version): \(r.summary)") }
            }
        }
    }

    @Test("run -j 2 keeps the version it started with while a compaction and updates prune that version's base mid-run")
    func runKeepsItsVersionWhenItsBaseIsPruned() throws {
        // With the default --keep 2: compact (v3), then updates v4 and v5 prune v2 and its base v1.
        try runWhilePublishing("bupdprune") { table, dir, keys in
            let c = try runLookup(["compact", table, "-q"])
            guard c.status == 0 else { throw TestFailure("compact: \(c.summary)") }
            for version in 4...5 {
                let r = try runLookup(["update", table, "-q", "--upsert", try dir.write("v\(version).csv", versionCSV(keys, version: version))])
                guard r.status == 0 else { throw TestFailure("update to v\(version): \(r.summary)") }
            }
            let left = listFiles(table + ".versions")
            if left.contains("v000001.lmdb") { throw TestFailure("the base v1 was not pruned: \(left); the case is not tested") }
        }
    }

    @Test("--resume refuses a run over another version of the table, and accepts it again after a rollback")
    func resumeAcrossVersions() throws {
        let dir = try TempDir("bupdres")
        let keys = (0..<1200).map { String(format: "k%05d", $0) }
        let table = try buildFrom(dir, "t", versionCSV(keys, version: 1))
        try updateTable([table, "--upsert", try dir.write("v2.csv", versionCSV(Array(keys.prefix(600)), version: 2))], "update to v2")
        let input = dir.file("in"), out = dir.file("out")
        for f in 0..<4 {
            try writeFile(input + "/f\(f).csv", keys.enumerated().filter { $0.offset % 4 == f }.map { "\($0.element),\(f)" }
                .joined(separator: "\n") + "\n")
        }
        let stopped = try runLookup(["run", table, input, "-o", out, "-j", "1", "--no-progress"],
                                    environment: ["LOOKUP_FAULT_STOP_AFTER_FILES": "2"])
        expectExit(stopped, 143, "stopped run")
        try updateTable([table, "--upsert", try dir.write("v3.csv", versionCSV(keys, version: 3))], "update to v3")
        let before = treeSnapshot(out)
        let refused = try runLookup(["run", table, input, "-o", out, "--resume", "--no-progress"])
        expectExit(refused, 2, "--resume over another version")
        #expect(refused.says(out, "--resume", "content hash"), "--resume refusal: \(refused.err)")
        expectUnchanged(out, since: before, "--resume over another version")

        let back = try runLookup(["rollback", table, "-q"])
        expectExit(back, 0, "rollback to v2")
        let resumed = try runLookup(["run", table, input, "-o", out, "--resume", "--no-progress"])
        expectExit(resumed, 0, "--resume after the rollback")
        for f in 0..<4 {
            let lines = textLines(try readFile(out + "/f\(f).csv"))
            let want = keys.enumerated().filter { $0.offset % 4 == f }.map { "\($0.element),\(f),v\($0.offset < 600 ? 2 : 1)" }
            expectLines(lines, want, "f\(f).csv after --resume")
        }
    }
}

/// Copies `from` to `to` (a new file); true on success.
private func copyTable(_ from: String, _ to: String) -> Bool {
    (try? FileManager.default.copyItem(atPath: from, toPath: to)) != nil
}
