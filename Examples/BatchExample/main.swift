// batch-example: a batch run with custom per-line logic. The job below runs inside the worker
// processes, with zero-copy access to the table's values: for each input line whose key is in
// the table, it writes the line's key and the first `|`-separated field of the value (for the
// reference workload: a country code), and for a miss the key and "-".
//
//   batch-example TABLE INPUT_DIR OUT_DIR [WORKERS]
import Foundation
import LookupBatch
import SharedLookup

/// Writes `key,<first field of the value>` (or `key,-` for a miss) for every line.
struct FirstFieldJob: LineJob {
    let separator: UInt8

    init(context: JobContext) {
        // Parameters reach every worker through the run's options.
        separator = context.options.parameters["separator"]?.utf8.first ?? UInt8(ascii: "|")
    }

    mutating func process(line: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer,
                          value: UnsafeRawBufferPointer?, output: inout OutputBuffer) throws {
        try output.append(key)
        try output.append(UInt8(ascii: ","))
        if let value {
            // The value is borrowed from the shared map: slice it, do not copy it.
            let end = value.firstIndex(of: separator) ?? value.count
            try output.append(UnsafeRawBufferPointer(rebasing: value[..<end]))
        } else {
            try output.append(UInt8(ascii: "-"))
        }
        try output.append(10)
    }
}

// A spawned worker process starts here too: it serves tasks and exits.
BatchWorker.runIfWorker(FirstFieldJob.self)

let arguments = CommandLine.arguments
guard arguments.count >= 4 else {
    FileHandle.standardError.write(Data("usage: batch-example TABLE INPUT_DIR OUT_DIR [WORKERS]\n".utf8))
    exit(2)
}
var options = RunOptions(table: arguments[1], inputs: [arguments[2]], output: arguments[3])
options.workers = arguments.count > 4 ? Int(arguments[4]) ?? 2 : 2
options.parameters = ["separator": "|"]
options.overwrite = true
do {
    let runner = BatchRunner(options: options)
    runner.showProgress = false
    let summary = try runner.run(job: FirstFieldJob.self)
    print(summary.line)
    exit(summary.errors.isEmpty ? 0 : 1)
} catch {
    FileHandle.standardError.write(Data("batch-example: \(error)\n".utf8))
    exit(2)
}
