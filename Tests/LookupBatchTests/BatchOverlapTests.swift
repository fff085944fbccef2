// Inputs and OUT overlapping: an input inside OUT (a file, a directory, reached through a symlink or `..`, or found under an input directory through a symlink) and OUT inside an input directory are refused with exit 2 before anything is written, for plain runs, --resume and --overwrite.
import Foundation
import LookupTestSupport
import Testing

@Suite("lookup run: inputs inside the output directory")
struct BatchOverlapTests {
    /// One refused run: its INPUT arguments, how OUT is spelled, and the input the message names.
    private struct Case {
        var what: String
        var inputs: [String]
        var output: String
        var named: String
    }

    @Test("an input inside OUT (file, directory, via symlink, via ..) or OUT inside an input: exit 2, one line naming both, nothing written")
    func inputInsideOutput() throws {
        let table = try sharedTable.get()
        let work = try TempDir("overlap")
        let source = work.file("src"), out = work.file("out")
        // An earlier run filled OUT: part-00.csv and part-01.csv (joined) and the job log.
        let files = try makeInputDirectory(source, table: table, count: 2, baseLines: 300, seed: 0x0E1)
        let first = try runLookup(["run", table.lmdb, source, "-o", out, "-j", "1", "--no-progress"])
        expectExit(first, 0, "the first run")
        expectOutputs(out, files, mode: .join, "the first run")
        // Inputs the user put inside OUT, and ways to reach them from outside.
        try writeFile(out + "/sub/y.csv", try readFile(files[0].path))
        symlink(out, work.file("link"))
        let peek = work.file("peek")
        try writeFile(peek + "/own.csv", try readFile(files[1].path))
        symlink(out + "/part-01.csv", peek + "/p.csv")

        let cases = [
            Case(what: "a file in OUT", inputs: [out + "/part-00.csv"], output: out, named: out + "/part-00.csv"),
            Case(what: "a directory in OUT", inputs: [out + "/sub"], output: out, named: out + "/sub"),
            Case(what: "a file in OUT through a symlink to OUT", inputs: [work.file("link") + "/part-00.csv"], output: out,
                 named: work.file("link") + "/part-00.csv"),
            Case(what: "a file in OUT through ..", inputs: [source + "/../out/part-01.csv"], output: out,
                 named: source + "/../out/part-01.csv"),
            Case(what: "a file in OUT, OUT spelled with ..", inputs: [out + "/part-00.csv"], output: source + "/../out",
                 named: out + "/part-00.csv"),
            Case(what: "OUT itself", inputs: [out], output: out, named: out),
            Case(what: "a symlink into OUT inside an input directory", inputs: [source, peek], output: out, named: peek + "/p.csv"),
            Case(what: "an input directory holding OUT", inputs: [work.path], output: out, named: work.path),
        ]
        for c in cases {
            for extra in [[], ["--resume"], ["--overwrite"]] {
                let what = "\(c.what) \(extra.first ?? "(plain)")"
                let before = treeSnapshot(work.path)
                let r = try runLookup(["run", table.lmdb] + c.inputs + ["-o", c.output, "-j", "1", "--no-progress"] + extra)
                expectExit(r, 2, what)
                let lines = r.stderr.split(separator: "\n")
                let named = lines.count == 1 && r.says(c.named, c.output, "inside")
                #expect(named, "\(what): expected one line naming \(c.named) and \(c.output): \(r.err)")
                expectUnchanged(work.path, since: before, what)
            }
        }
        // The inputs inside OUT are still the first run's outputs, byte for byte.
        for f in files { expectFile(out + "/" + f.rel, equals: f.ref.join, "after the refused runs: the input \(f.rel) in OUT") }
        expectFile(out + "/sub/y.csv", equals: try readFile(files[0].path), "the input out/sub/y.csv")
        #expect(readJobLog(out).count == 2, "the job log changed: \(readJobLog(out).map(\.input))")
    }
}
