// The `lookup` command: builds, queries, inspects and dumps LMDB-backed lookup tables.
// Each subcommand lives in its own file; shared option parsing and error reporting in Support.
import ArgumentParser
import LookupBatch
import SharedLookup

@main
struct Lookup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lookup",
        abstract: "Build a big key -> value table once, then look keys up in it from many processes.",
        discussion: """
        A table is one LMDB file (a memory-mapped B+tree). Every process that opens it maps the \
        same file, so the operating system's page cache holds one copy however many workers run.

        Exit status: 0 success; 1 a key was not found (get) or the table failed its check; \
        2 an error (the message names the file and line).

        Examples:
          lookup build table.csv -o table.lmdb
          lookup get table.lmdb 00a1b2c3d4e5f607
          lookup run table.lmdb input/ -o out/ -j 4
          cut -d, -f1 input.csv | lookup get table.lmdb --missing -
          lookup stats table.lmdb
          lookup serve table.lmdb --port 8080
          lookup update table.lmdb --upsert changed.csv --delete removed.txt
        """,
        version: "0.1.0",
        subcommands: [BuildCommand.self, GetCommand.self, RunCommand.self, MapCommand.self, ServeCommand.self, StatsCommand.self, DumpCommand.self, CheckCommand.self,
                      UpdateCommand.self, VersionsCommand.self, RollbackCommand.self, CompactCommand.self])

    /// Entry point: a process started as a batch worker serves tasks instead of parsing
    /// arguments (first, before anything else runs). `serve` is async; the other subcommands
    /// run synchronously on the main thread as before.
    static func main() async {
        BatchWorker.runBuiltinIfWorker()
        // A closed output pipe is a write error (EPIPE) that each command handles, not a death.
        signal(SIGPIPE, SIG_IGN)
        await main(nil)
    }
}
