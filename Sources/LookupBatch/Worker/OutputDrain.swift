// OutputDrain: a thread of the worker that reads a pipe to its end (the pipe command's
// standard output, or the job's output on its way to the compressor) and writes what it reads
// to the task's output file, through an encoder when the output is compressed. It reads on
// after a write failed (discarding), so the writer on the other side never blocks for good.
import SharedLookup

/// Copies a pipe into a file on a thread of its own.
final class OutputDrain: @unchecked Sendable {
    private let source: Int32
    private let destination: Int32
    private let encoder: OutputEncoder?
    private let name: String
    /// The first failure; read only after `join`.
    private var failure: LookupError?
    private var thread = pthread_t()
    private var joined = false

    /// Starts copying `source` (closed when done) to `destination` (named `name`), through
    /// `encoder` when given (finished at the end of the input).
    init(source: Int32, destination: Int32, encoder: OutputEncoder?, name: String) throws(LookupError) {
        self.source = source
        self.destination = destination
        self.encoder = encoder
        self.name = name
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { context in
            let drain = Unmanaged<OutputDrain>.fromOpaque(context!).takeRetainedValue()
            drain.copy()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<OutputDrain>.fromOpaque(context).release()
            close(source)
            joined = true
            throw LookupError(.io, path: name, "cannot start an output thread: \(String(cString: strerror(rc)))")
        }
    }

    deinit { _ = join() }

    /// Waits for the end of the input; returns the first failure, if any.
    func join() -> LookupError? {
        if !joined {
            pthread_join(thread, nil)
            joined = true
        }
        return failure
    }

    /// The thread's body.
    private func copy() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)
        defer {
            buffer.deallocate()
            close(source)
        }
        while true {
            let n = read(source, buffer.baseAddress!, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                if failure == nil { failure = LookupError.system("read failed", path: name) }
                return
            }
            if n == 0 { break }
            guard failure == nil else { continue }
            let bytes = UnsafeRawBufferPointer(start: buffer.baseAddress!, count: n)
            do throws(LookupError) {
                if let encoder {
                    try encoder.write(bytes)
                } else if !writeFully(destination, bytes) {
                    throw LookupError.system("write failed", path: name)
                }
            } catch {
                failure = error
            }
        }
        if failure == nil, let encoder {
            do throws(LookupError) { try encoder.finish() } catch { failure = error }
        }
    }
}
