// Unit tests of the coordinator's bookkeeping (TaskScheduler, FileProgress, WorkerExit), with
// workers that are no processes: tasks handed out in order, retried at the front of the queue
// until their retries are spent, files finished only when every part is, bad lines numbered
// within the whole file.
import Foundation
import Testing
@testable import LookupBatch

@Suite("coordinator: task scheduler")
struct TaskSchedulerTests {
    /// A worker without a process (its pipes are never touched by the scheduler).
    private func worker() -> WorkerProcess { WorkerProcess(pid: 0, taskFD: -1, reportFD: -1) }

    /// File 0 (300 bytes) in three parts, file 1 (50 bytes) whole; tasks largest first.
    private func scheduler(retries: Int = 1, maxWorkers: Int = 2) -> TaskScheduler {
        let tasks = [
            PlannedTask(id: 0, file: 0, part: 0, start: 0, end: 100),
            PlannedTask(id: 1, file: 0, part: 1, start: 100, end: 200),
            PlannedTask(id: 2, file: 0, part: 2, start: 200, end: nil),
            PlannedTask(id: 3, file: 1, part: 0, start: 0, end: nil),
        ]
        return TaskScheduler(tasks: tasks, parts: [0: 3, 1: 1], sizes: [0: 300, 1: 50], maxWorkers: maxWorkers, retries: retries)
    }

    private func counts(lines: Int, bad: Int = 0) -> TaskCounts {
        var c = TaskCounts()
        c.lines = lines
        c.hits = lines - bad
        c.badLines = bad
        return c
    }

    /// Starts `w` and reports it ready.
    private func join(_ s: TaskScheduler, _ w: WorkerProcess) {
        s.started(w)
        s.ready(w)
    }

    @Test("tasks go out in queue order; a file finishes only once all its parts are done, in any order")
    func ordering() {
        let s = scheduler()
        #expect(s.workersWanted == 2)
        let a = worker(), b = worker()
        join(s, a)
        join(s, b)
        #expect(s.idleWorkers.count == 2)
        #expect(s.assign(to: a)?.id == 0)
        #expect(s.assign(to: b)?.id == 1)
        #expect(s.idleWorkers.isEmpty && s.busyWorkers == 2)
        // The second part finishes first: the file is not finished yet.
        #expect(s.done(b, task: 1, counts: counts(lines: 10), badLines: []).isEmpty)
        #expect(s.assign(to: b)?.id == 2)
        #expect(s.done(b, task: 2, counts: counts(lines: 5), badLines: []).isEmpty)
        #expect(s.assign(to: b)?.id == 3)
        #expect(s.done(b, task: 3, counts: counts(lines: 1), badLines: []) == [.fileFinished(file: 1)])
        #expect(s.done(a, task: 0, counts: counts(lines: 7), badLines: []) == [.fileFinished(file: 0)])
        #expect(s.files[0]?.total.lines == 22 && s.files[0]?.finished == true)
        #expect(s.doneFiles == 2 && s.doneBytes == 350 && s.doneCounts.lines == 23)
        #expect(s.isDone)
        // No task left: the idle worker is let go (no longer ready).
        #expect(s.assign(to: a) == nil)
        #expect(!a.ready)
    }

    @Test("a report for another task than the worker's is ignored")
    func staleReport() {
        let s = scheduler()
        let a = worker()
        join(s, a)
        _ = s.assign(to: a)
        #expect(s.done(a, task: 3, counts: counts(lines: 1), badLines: []).isEmpty)
        #expect(a.task?.id == 0 && s.doneBytes == 0)
    }

    @Test("a dead worker's task is retried first, then fails the file once its retries are spent")
    func retries() throws {
        let s = scheduler(retries: 1)
        let a = worker()
        join(s, a)
        let first = try #require(s.assign(to: a))
        a.progressBytes = 40
        #expect(s.ended(a) == first)
        #expect(s.workers.isEmpty)
        let events = s.lost(first, how: "killed by signal 9", wasReady: true)
        var retried = first
        retried.attempts = 1
        #expect(events == [.retrying(task: retried, how: "killed by signal 9")])
        #expect(s.queue.map(\.id) == [0, 1, 2, 3])
        #expect(s.consecutiveEarlyDeaths == 0)

        // The retried task goes to the next worker, and its second death fails the file.
        let b = worker()
        join(s, b)
        #expect(s.assign(to: b) == retried)
        s.ended(b)
        let failed = s.lost(retried, how: "killed by signal 9", wasReady: true)
        #expect(failed == [.fileFailing(file: 0, message: "worker killed by signal 9 on each of 2 attempts")])
        #expect(s.files[0]?.failure == "worker killed by signal 9 on each of 2 attempts")
        #expect(s.doneBytes == 100 && s.queue.map(\.id) == [1, 2, 3])

        // The file's other parts still run; it finishes (failed) with the last of them, and its
        // first failure alone names why.
        let c = worker()
        join(s, c)
        _ = s.assign(to: c)
        #expect(s.failed(c, message: "cannot read").isEmpty)
        _ = s.assign(to: c)
        #expect(s.done(c, task: 2, counts: counts(lines: 3), badLines: []) == [.fileFinished(file: 0)])
        #expect(s.files[0]?.failure == "worker killed by signal 9 on each of 2 attempts")
    }

    @Test("no retries: the first death fails the file")
    func noRetries() {
        let s = scheduler(retries: 0)
        let whole = PlannedTask(id: 3, file: 1, part: 0, start: 0, end: nil)
        #expect(s.lost(whole, how: "exited with status 1", wasReady: true) == [
            .fileFailing(file: 1, message: "worker exited with status 1 on each of 1 attempts"), .fileFinished(file: 1),
        ])
        #expect(s.doneBytes == 50 && s.doneFiles == 1)
    }

    @Test("workers dying before they report ready are counted until one is ready")
    func earlyDeaths() throws {
        let s = scheduler()
        let a = worker()
        s.started(a)
        let task = PlannedTask(id: 0, file: 0, part: 0, start: 0, end: 100)
        _ = s.lost(task, how: "killed by signal 9", wasReady: false)
        _ = s.lost(task, how: "killed by signal 9", wasReady: false)
        #expect(s.consecutiveEarlyDeaths == 2)
        s.ready(a)
        #expect(s.consecutiveEarlyDeaths == 0)
    }

    @Test("a retryable failure (a --pipe command's) goes back to the front of the queue, then fails the file; a plain failure is not retried")
    func retryableFailures() throws {
        let s = scheduler(retries: 1)
        let a = worker()
        join(s, a)
        let first = try #require(s.assign(to: a))
        let message = "in.csv: pipe command exited with status 1"
        var retried = first
        retried.attempts = 1
        #expect(s.failed(a, message: message, retryable: true) == [.retryingFailed(task: retried, message: message)])
        #expect(a.task == nil && s.queue.map(\.id) == [0, 1, 2, 3] && s.doneBytes == 0)
        // The worker lives on and takes the retried task; its second failure fails the file.
        #expect(s.assign(to: a) == retried)
        #expect(s.failed(a, message: message, retryable: true) == [.fileFailing(file: 0, message: message + " (on each of 2 attempts)")])
        #expect(s.doneBytes == 100 && s.queue.map(\.id) == [1, 2, 3])
        // A failure that is not retryable (a broken input) fails its file at once.
        let last = try #require(s.queue.last)
        while let task = s.assign(to: a), task.id != last.id { _ = s.done(a, task: task.id, counts: counts(lines: 1), badLines: []) }
        #expect(s.failed(a, message: "broken .zst", retryable: false) == [.fileFailing(file: 1, message: "broken .zst"), .fileFinished(file: 1)])
    }

    @Test("workers wanted: never more than the work left, nor than the run's maximum")
    func workersWanted() {
        let s = scheduler(maxWorkers: 8)
        #expect(s.workersWanted == 4)
        let a = worker()
        join(s, a)
        _ = s.assign(to: a)
        #expect(s.workersWanted == 4)
        _ = s.done(a, task: 0, counts: counts(lines: 1), badLines: [])
        #expect(s.workersWanted == 3)
    }

    @Test("a signal stops the run")
    func signal() {
        let s = scheduler()
        s.interrupted(by: 0)
        #expect(s.interruptedBy == 0)
        s.interrupted(by: SIGTERM)
        #expect(s.interruptedBy == SIGTERM)
    }

    @Test("bad lines are numbered within the whole file, at most the samples, then one line for the rest")
    func badLineNumbers() {
        var file = FileProgress(parts: 2)
        file.partCounts = [counts(lines: 100, bad: 2), counts(lines: 50, bad: 3)]
        file.partBad = [[BadLine(line: 4, message: "no key"), BadLine(line: 9, message: "too long")],
                        [BadLine(line: 1, message: "no key"), BadLine(line: 2, message: "no key"), BadLine(line: 7, message: "no key")]]
        #expect(file.badLineMessages(path: "in.csv", samples: 10) == [
            "in.csv:4: no key", "in.csv:9: too long", "in.csv:101: no key", "in.csv:102: no key", "in.csv:107: no key",
        ])
        #expect(file.badLineMessages(path: "in.csv", samples: 3) == [
            "in.csv:4: no key", "in.csv:9: too long", "in.csv:101: no key", "in.csv: 2 more bad lines not shown (5 in all)",
        ])
    }

    @Test("how a worker ended, from its wait status")
    func workerExit() {
        #expect(WorkerExit(status: 9).description == "killed by signal 9")
        #expect(WorkerExit(status: 1 << 8).description == "exited with status 1")
        #expect(WorkerExit(status: BatchWorker.damagedTableStatus << 8).isDamagedTable)
        #expect(!WorkerExit(status: 9).isDamagedTable)
    }
}
