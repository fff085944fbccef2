// `lookup run --pipe CMD`: each task's output streamed through `sh -c CMD` in its worker
// (awk and Python transforming the lines, a task of no lines still running CMD, CMD's stderr
// reaching the run's, no descriptor of the worker leaking into CMD), with --compress, and the
// failures of CMD (a status other than 0, killed by a signal, stopped reading early) failing
// the task, retried and then reported with the input's name.
import Foundation
import LookupTestSupport
import Testing

@Suite("lookup run --pipe")
struct BatchPipeTests {
    /// Two inputs of generated lines and an empty one, with their reference outputs.
    private func inputs(_ dir: String, table: TableFixture) throws -> [InputSpec] {
        var specs: [InputSpec] = []
        for (i, name) in ["a.csv", "sub/b.csv", "empty.csv"].enumerated() {
            let (bytes, ref) = generatedInput(lines: name == "empty.csv" ? 0 : 2500 + 500 * i, seed: UInt64(300 + i), table: table)
            try writeFile(dir + "/" + name, bytes)
            specs.append(InputSpec(path: dir + "/" + name, rel: name, gz: false, ref: ref))
        }
        return specs
    }

    /// `lines` each prefixed with its 1-based number and ": " (what `awk '{print NR ": " $0}'` prints).
    private func numbered(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for (i, line) in splitLines(bytes).enumerated() { out += Array("\(i + 1): ".utf8) + line + [10] }
        return out
    }

    @Test("awk numbers the lines, python counts them (a file of no lines still runs it), CMD's stderr reaches the run's; with --compress gz too")
    func transforms() throws {
        let table = try sharedTable.get()
        let work = try TempDir("pipe")
        let input = work.file("in")
        let specs = try inputs(input, table: table)

        let awk = #"awk '{print NR ": " $0}'; echo pipe-stderr-marker >&2"#
        let (r, s) = try runWithSummary(table, [input, "-j", "2", "--pipe", awk], out: work.file("awk"), work)
        expectExit(r, 0, "--pipe awk")
        #expect(s?.files == specs.count, "summary: \(String(describing: s))")
        let markers = r.stderr.components(separatedBy: "pipe-stderr-marker").count - 1
        #expect(markers == specs.count, "CMD's stderr reached the run's \(markers) times, expected \(specs.count): \(r.err)")
        for spec in specs {
            expectFile(work.file("awk") + "/" + spec.rel, equals: numbered(spec.ref.output(.join)), "--pipe awk \(spec.rel)")
        }

        let python = #"python3 -c 'import sys; n = sum(1 for _ in sys.stdin.buffer); print("lines", n)'"#
        let (p, _) = try runWithSummary(table, [input, "-j", "2", "--mode", "filter", "--pipe", python], out: work.file("py"), work)
        expectExit(p, 0, "--pipe python")
        for spec in specs {
            let count = splitLines(spec.ref.output(.filter)).count
            expectFile(work.file("py") + "/" + spec.rel, equals: Array("lines \(count)\n".utf8), "--pipe python \(spec.rel)")
        }

        // --pipe with --compress gz: CMD's output compressed.
        let (g, _) = try runWithSummary(table, [input, "-j", "2", "--pipe", #"awk '{print NR ": " $0}'"#, "--compress", "gz"],
                                        out: work.file("gz"), work)
        expectExit(g, 0, "--pipe awk --compress gz")
        for spec in specs {
            let got = try decompressed(work.file("gz") + "/" + spec.rel + ".gz", tool: "gzip")
            let want = numbered(spec.ref.output(.join))
            #expect(sameBytes(got, want), "--pipe --compress gz \(spec.rel): \(describeDifference(got, want))")
        }
    }

    @Test("CMD sees descriptors 0, 1 and 2 only, default SIGPIPE, and no worker settings in its environment")
    func cleanChild() throws {
        let table = try sharedTable.get()
        let work = try TempDir("pipe-clean")
        let (bytes, _) = generatedInput(lines: 100, seed: 400, table: table)
        try writeFile(work.file("in.csv"), bytes)
        // The shell's signal mask and environment, then its descriptors, listed by the program
        // it execs last (a shell listing its own /proc/$$/fd races with the pipes and saved
        // descriptors of its own pipelines and redirections). fstat opens nothing.
        let lister = work.file("fds.py")
        try writeFile(lister, "import os\ndef ok(f):\n    try:\n        os.fstat(f)\n        return True\n    except OSError:\n        return False\nprint(' '.join(str(f) for f in range(256) if ok(f)) + ' ')\n")
        let probe = #"cat >/dev/null; grep SigIgn /proc/$$/status; env | grep -c -e LOOKUP_BATCH_WORKER -e LOOKUP_BATCH_TABLE; exec python3 "# + lister
        for start in ["spawn", "fork"] {
            let out = work.file("out-\(start)")
            let (r, _) = try runWithSummary(table, [work.file("in.csv"), "--start", start, "--pipe", probe], out: out, work)
            expectExit(r, 0, "--pipe probe (\(start))")
            let lines = splitLines(try readFile(out + "/in.csv")).map { String(decoding: $0, as: UTF8.self) }
            #expect(lines.count == 3 && lines.last == "0 1 2 ", "\(start): CMD's descriptors: \(lines)")
            // SIGPIPE is signal 13: bit 12 of the ignored mask must be clear.
            let ignored = lines.first.flatMap { UInt64($0.split(separator: "\t").last ?? "", radix: 16) }
            #expect(ignored.map { $0 & (1 << 12) == 0 } == true, "\(start): CMD ignores SIGPIPE: \(lines)")
            #expect(lines.count == 3 && lines[1] == "0", "\(start): the worker settings reached CMD: \(lines)")
        }
    }

    @Test("CMD exits 1, is killed by signal 9, stops reading early: the task fails after its retries, the run names the file and what happened; exit 1; no crash")
    func failures() throws {
        let table = try sharedTable.get()
        let work = try TempDir("pipe-fail")
        // Output of far more than a pipe holds, so a CMD that stops reading leaves the worker writing.
        let (bytes, ref) = generatedInput(lines: 20_000, seed: 500, table: table)
        #expect(ref.output(.join).count > 256 << 10)
        let path = work.file("in.csv")
        try writeFile(path, bytes)
        let cases: [(command: String, what: String, retries: Int)] = [
            ("exit 1", "pipe command exited with status 1", 1),
            ("kill -9 $$", "pipe command was killed by signal 9", 0),
            ("head -c 10", "pipe command exited before reading all its input", 0),
        ]
        for (command, what, retries) in cases {
            let out = work.file("out-\(UUID().uuidString.prefix(6))")
            let (r, s) = try runWithSummary(table, [path, "--pipe", command, "--retries", "\(retries)"], out: out, work)
            expectExit(r, 1, "--pipe '\(command)'")
            expectNoCrash(r, "--pipe '\(command)'")
            let named = r.says(path, what)
            #expect(named, "--pipe '\(command)': no line names \(path) and \"\(what)\": \(r.err)")
            #expect(s?.filesFailed == 1 && s?.files == 0 && s?.retries == retries, "--pipe '\(command)': \(String(describing: s))")
            let retried = r.stderr.components(separatedBy: "retrying its task").count - 1
            #expect(retried == retries, "--pipe '\(command)': \(retried) retry messages, expected \(retries): \(r.err)")
            #expect(listFiles(out) == [".lookup-joblog.jsonl"], "--pipe '\(command)': outputs left: \(listFiles(out))")
        }
    }
}
