// TableWatcher: the background service that notices a newly published table: it checks the
// table path every `checkInterval` and at once on SIGHUP, and lets LiveTable verify and swap
// the new file in. Checks run one after another; requests that come while one runs (a slow
// verification of a big table) are merged into one more check after it, so the newest file
// published is always looked at last.
import Foundation
import ServiceLifecycle
import UnixSignals

/// Checks the served table's path on a timer and on SIGHUP until the service shuts down.
struct TableWatcher: Service {
    let live: LiveTable
    /// Time between checks; `nil` checks only on SIGHUP.
    let interval: Duration?
    /// SIGHUP deliveries, when the process handles signals.
    let hangups: UnixSignalsSequence?

    func run() async throws {
        let requests = CheckRequests()
        // Returning early would stop the whole service group, so wait for shutdown either way.
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    // One check at a time; the table is verified off the event loops.
                    for await _ in requests.stream { await live.check(force: requests.takeForce()) }
                }
                if let hangups {
                    group.addTask {
                        // SIGHUP also retries a file refused before.
                        for await _ in hangups { requests.request(force: true) }
                    }
                }
                if let interval {
                    group.addTask {
                        while (try? await Task.sleep(for: interval)) != nil { requests.request(force: false) }
                    }
                }
                group.addTask {
                    try? await gracefulShutdown()
                    requests.finish()
                }
            }
        }
    }
}

/// Pending check requests: at most one waits while a check runs, and a forced request is
/// never lost by being merged with a plain one.
private final class CheckRequests: @unchecked Sendable {
    /// One element for each check to run.
    let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation
    private let lock = NSLock()
    private var forcePending = false

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks for a check; `force` retries a file refused before.
    func request(force: Bool) {
        lock.lock()
        forcePending = forcePending || force
        lock.unlock()
        continuation.yield()
    }

    /// Whether the check about to run was forced by a request since the last one.
    func takeForce() -> Bool {
        lock.lock()
        defer { forcePending = false; lock.unlock() }
        return forcePending
    }

    /// No more checks.
    func finish() { continuation.finish() }
}
