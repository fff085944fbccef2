// TableWatcher: the background service that notices a newly published table: it checks the
// table path every `checkInterval` and at once on SIGHUP, and lets LiveTable swap the new file in.
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
        // Returning early would stop the whole service group, so wait for shutdown either way.
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                if let hangups {
                    group.addTask {
                        for await _ in hangups { live.check() }
                    }
                }
                if let interval {
                    group.addTask {
                        while (try? await Task.sleep(for: interval)) != nil { live.check() }
                    }
                }
                group.addTask { try? await gracefulShutdown() }
            }
        }
    }
}
