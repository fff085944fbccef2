// RecordPipe: the build's two cores. One thread merges the sorted records, applies the
// duplicate policy and hashes the content; it hands them, packed in chunks of a few MiB, to
// the thread that writes them into LMDB (whose write transaction belongs to that thread).
// A bounded number of chunks are in flight, so memory stays small; either side can stop the
// other (an error, a duplicate key).
import Foundation

/// Records packed back to back: `[u32 key length][u32 value length][key][value]`.
struct PackedRecords {
    var bytes: [UInt8] = []

    /// Appends one record.
    @inline(__always)
    mutating func append(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        withUnsafeBytes(of: UInt32(key.count).littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(value.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: key)
        bytes.append(contentsOf: value)
    }

    /// Calls `body` with each record in order.
    func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) rethrows {
        try bytes.withUnsafeBytes { all in
            var at = 0
            while at < all.count {
                let kl = Int(UInt32(littleEndian: all.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                let vl = Int(UInt32(littleEndian: all.loadUnaligned(fromByteOffset: at + 4, as: UInt32.self)))
                let key = UnsafeRawBufferPointer(rebasing: all[at + 8 ..< at + 8 + kl])
                let value = UnsafeRawBufferPointer(rebasing: all[at + 8 + kl ..< at + 8 + kl + vl])
                try body(key, value)
                at += 8 + kl + vl
            }
        }
    }
}

/// A bounded hand-off of packed chunks from one producer thread to one consumer thread.
final class RecordPipe: @unchecked Sendable {
    /// A chunk is handed over once it holds this many bytes.
    static let chunkSize = 4 << 20
    private let condition = NSCondition()
    private var ready: [PackedRecords] = []
    private var spare: [PackedRecords] = []
    private var finished = false
    private var cancelled = false
    private var failure: Error?
    private let capacity: Int

    /// A pipe holding at most `capacity` chunks waiting for the consumer.
    init(capacity: Int = 3) {
        self.capacity = capacity
    }

    /// Producer: hands `chunk` over (waiting while the pipe is full) and returns an empty one
    /// to fill next; `nil` when the consumer stopped.
    func send(_ chunk: PackedRecords) -> PackedRecords? {
        condition.lock()
        defer { condition.unlock() }
        while ready.count >= capacity && !cancelled { condition.wait() }
        if cancelled { return nil }
        ready.append(chunk)
        condition.broadcast()
        var next = spare.popLast() ?? PackedRecords()
        next.bytes.removeAll(keepingCapacity: true)
        return next
    }

    /// Producer: no more chunks; `error` says why it stopped early.
    func finish(error: Error? = nil) {
        condition.lock()
        finished = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    /// Consumer: the next chunk (waiting for it), or `nil` at the end. Throws the producer's
    /// error. Hand the chunk back with `recycle` when done with it.
    func receive() throws -> PackedRecords? {
        condition.lock()
        defer { condition.unlock() }
        while ready.isEmpty && !finished { condition.wait() }
        if !ready.isEmpty {
            let chunk = ready.removeFirst()
            condition.broadcast()
            return chunk
        }
        if let failure { throw failure }
        return nil
    }

    /// Consumer: gives a used chunk's storage back to the producer.
    func recycle(_ chunk: PackedRecords) {
        condition.lock()
        if spare.count < capacity { spare.append(chunk) }
        condition.unlock()
    }

    /// Consumer: stops the producer (its next `send` returns `nil`).
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    /// Runs `body` on a new thread; returns a function that waits for it to end.
    static func spawn(_ body: @escaping @Sendable () -> Void) -> () -> Void {
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            body()
            done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
        return { done.wait() }
    }
}
