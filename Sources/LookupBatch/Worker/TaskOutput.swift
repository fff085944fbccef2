// TaskOutput: where one task's output goes. The job writes to `fd`: the output file itself;
// or a pipe to a thread that compresses into the file (`--compress`); or the standard input of
// the task's pipe command (`--pipe`), whose standard output a thread copies into the file,
// compressed or not. `finish` ends it all in order and says how the pipe command ended.
import SharedLookup

/// The output side of one task.
final class TaskOutput {
    /// Where the job writes; -1 for a job without output.
    private(set) var fd: Int32 = -1
    /// The output file (the task's part).
    let path: String
    /// The task's input (named in the pipe command's failures).
    let input: String
    private var file: Int32 = -1
    private var drain: OutputDrain?
    private var command: PipeCommand?

    /// Creates the output file `path` for the task reading `input` (nothing when the job
    /// writes no output) and starts the compressor and the pipe command that `options` ask for.
    init(path: String, input: String, writesOutput: Bool, options: RunOptions) throws {
        self.path = path
        self.input = input
        guard writesOutput else { return }
        file = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if file < 0 { throw LookupError.system("cannot create output", path: path) }
        let encoder = try options.compress.flatMap { compression throws(LookupError) in
            try compression.encoder(fd: file, name: path)
        }
        if let pipe = options.pipe {
            let command = try PipeCommand(pipe, input: input)
            self.command = command
            drain = try OutputDrain(source: command.outputFD, destination: file, encoder: encoder, name: path)
            fd = command.inputFD
        } else if let encoder {
            var ends: [Int32] = [0, 0]
            guard makePipe(&ends) else { throw LookupError.system("cannot create a pipe", path: path) }
            fd = ends[1]
            drain = try OutputDrain(source: ends[0], destination: file, encoder: encoder, name: path)
        } else {
            fd = file
        }
    }

    deinit {
        // Given up before `finish` or `failure(after:)`: the command is not waited for.
        if let command, !command.hasEnded { kill(command.pid, SIGKILL) }
        closeWriteEnd()
        _ = drain?.join()
        if file >= 0 { close(file) }
    }

    /// Closes what the job writes to, when that is a pipe (the file is closed at the end).
    private func closeWriteEnd() {
        if let command {
            command.closeInput()
        } else if fd >= 0 && fd != file {
            close(fd)
        }
        fd = -1
    }

    /// Ends the output once the job has written (and flushed) everything: the pipe command
    /// and the compressor see the end of their input, their output is written, and the file
    /// is synced. Throws `PipeCommandFailure` when the pipe command did not exit with 0.
    func finish() throws {
        closeWriteEnd()
        let copyFailure = drain?.join()
        if let command {
            let exit = command.wait()
            if exit.signal != 0 || exit.exitStatus != 0 { throw PipeCommandFailure(input: input, what: Self.describe(exit)) }
        }
        if let copyFailure { throw copyFailure }
        if file >= 0 && fsync(file) != 0 { throw LookupError.system("cannot sync output", path: path) }
    }

    /// The error to report for `error`, thrown while the job ran. With a pipe command, which
    /// is let end first: when writing to it failed, what became of it (it failed, or exited
    /// before reading all its input); any other error (a broken input, say) as it is.
    func failure(after error: Error) -> Error {
        guard let command else { return error }
        closeWriteEnd()
        _ = drain?.join()
        let exit = command.wait()
        guard let failure = error as? LookupError, failure.path == path else { return error }
        if exit.signal != 0 || exit.exitStatus != 0 { return PipeCommandFailure(input: input, what: Self.describe(exit)) }
        return PipeCommandFailure(input: input, what: "exited before reading all its input")
    }

    /// "exited with status N" or "was killed by signal N".
    private static func describe(_ exit: WorkerExit) -> String {
        exit.signal != 0 ? "was killed by signal \(exit.signal)" : "exited with status \(exit.exitStatus)"
    }
}
