// InterruptPipe: SIGINT and SIGTERM turned into a readable pipe for the length of a run, so the
// coordinator's poll loop sees them beside its workers' reports and stops between events.

/// Turns SIGINT/SIGTERM into a readable pipe, so the coordinator's poll loop sees them.
final class InterruptPipe {
    /// The end the poll loop watches.
    let readFD: Int32
    /// The end the signal handler writes the signal number to.
    let writeFD: Int32
    /// Where the handler writes (a C handler captures nothing).
    nonisolated(unsafe) static var target: Int32 = -1

    /// Opens the pipe and installs the handlers.
    init() {
        var fds: [Int32] = [0, 0]
        _ = makePipe(&fds, nonBlocking: true)
        readFD = fds[0]
        writeFD = fds[1]
        Self.target = writeFD
        let handler: @convention(c) (Int32) -> Void = { signo in
            var byte = UInt8(truncatingIfNeeded: signo)
            _ = write(InterruptPipe.target, &byte, 1)
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
    }

    /// The signal number written to the pipe (0 if none).
    func signalReceived() -> Int32 {
        var byte: UInt8 = 0
        return read(readFD, &byte, 1) == 1 ? Int32(byte) : 0
    }

    /// Puts the default actions back and closes the pipe.
    func restore() {
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        close(readFD)
        close(writeFD)
    }
}
