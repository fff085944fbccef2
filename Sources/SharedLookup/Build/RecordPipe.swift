// RecordPipe: the build's two cores. One thread merges the sorted records, applies the
// duplicate policy and hashes the content; it hands them, packed in chunks of a few MiB, to
// the thread that writes them into LMDB (whose write transaction belongs to that thread).
// A bounded number of chunks are in flight, so memory stays small; either side can stop the
// other (an error, a duplicate key).
import Foundation

/// Records packed back to back: `[u32 key length][u32 value length][key][value]`, in memory
/// of its own that grows as needed (a chunk moves between threads by reference).
final class PackedRecords: @unchecked Sendable {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    /// Bytes used.
    private(set) var count = 0

    /// An empty chunk with room for `capacity` bytes.
    init(capacity: Int = RecordPipe.chunkSize + (64 << 10)) {
        self.capacity = capacity
        base = .allocate(byteCount: capacity, alignment: 8)
    }

    deinit { base.deallocate() }

    /// Appends one record; returns where it starts.
    @inline(__always) @discardableResult
    func append(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Int {
        let start = count, size = 8 + key.count + value.count
        if count + size > capacity { grow(to: count + size) }
        base.storeBytes(of: UInt32(key.count).littleEndian, toByteOffset: start, as: UInt32.self)
        base.storeBytes(of: UInt32(value.count).littleEndian, toByteOffset: start + 4, as: UInt32.self)
        if let k = key.baseAddress { (base + start + 8).copyMemory(from: k, byteCount: key.count) }
        if let v = value.baseAddress { (base + start + 8 + key.count).copyMemory(from: v, byteCount: value.count) }
        count += size
        return start
    }

    /// The record that starts at byte `start`.
    @inline(__always)
    func record(at start: Int) -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, end: Int) {
        let kl = Int(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: start, as: UInt32.self)))
        let vl = Int(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: start + 4, as: UInt32.self)))
        return (UnsafeRawBufferPointer(start: base + start + 8, count: kl),
                UnsafeRawBufferPointer(start: base + start + 8 + kl, count: vl), start + 8 + kl + vl)
    }

    /// Drops the records from byte `start` on.
    func truncate(to start: Int) { count = start }

    /// Calls `body` with each record in order.
    func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) rethrows {
        var at = 0
        while at < count {
            let r = record(at: at)
            try body(r.key, r.value)
            at = r.end
        }
    }

    private func grow(to needed: Int) {
        let bigger = max(needed, capacity * 2)
        let new = UnsafeMutableRawPointer.allocate(byteCount: bigger, alignment: 8)
        new.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = new
        capacity = bigger
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
        let next = spare.popLast() ?? PackedRecords()
        next.truncate(to: 0)
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

/// The merging side of a build: records packed into chunks, counted and hashed once settled,
/// each full chunk handed to the pipe.
struct MergedRecords {
    /// The chunk being filled.
    private(set) var chunk = PackedRecords()
    /// The digest of the settled records, in order.
    private(set) var hash = ContentHash()
    /// Records settled.
    private(set) var written = 0
    let pipe: RecordPipe

    init(pipe: RecordPipe) { self.pipe = pipe }

    /// Appends a record that may still change (`truncate`); returns where it starts.
    @inline(__always)
    mutating func appendPending(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Int {
        chunk.append(key: key, value: value)
    }

    /// The record that starts at byte `start` of the chunk.
    @inline(__always)
    func record(at start: Int) -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, end: Int) {
        chunk.record(at: start)
    }

    /// Drops the records from byte `start` of the chunk on.
    mutating func truncate(to start: Int) { chunk.truncate(to: start) }

    /// The record at byte `start` is final: counted, hashed, and the chunk handed over once
    /// full. `false` when the writer stopped.
    @inline(__always)
    mutating func settle(at start: Int) -> Bool {
        let r = chunk.record(at: start)
        hash.add(key: r.key, value: r.value)
        written += 1
        if chunk.count >= RecordPipe.chunkSize {
            guard let empty = pipe.send(chunk) else { return false }
            chunk = empty
        }
        return true
    }

    /// Appends a final record; `false` when the writer stopped.
    @inline(__always)
    mutating func add(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Bool {
        settle(at: chunk.append(key: key, value: value))
    }

    /// Hands the last chunk over; `false` when the writer stopped.
    func flush() -> Bool { chunk.count == 0 || pipe.send(chunk) != nil }
}
