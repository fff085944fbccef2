// LiveProgress: the progress line a run shows on stderr while it works (bytes, files, lines per
// second, hits, ETA), redrawn in place at most four times a second.
import Foundation

/// Formats the live progress line.
struct ProgressLine {
    let totalBytes: Int
    let totalFiles: Int
    let started: Date

    func text(bytes: Int, files: Int, lines: Int, hits: Int) -> String {
        let elapsed = max(Date().timeIntervalSince(started), 0.001)
        let fraction = totalBytes > 0 ? Double(bytes) / Double(totalBytes) : 1
        var eta = "--"
        if fraction > 0.01 && fraction < 1 {
            let remaining = elapsed * (1 - fraction) / fraction
            eta = remaining >= 60 ? String(format: "%dm%02ds", Int(remaining) / 60, Int(remaining) % 60) : String(format: "%.0fs", remaining)
        }
        return String(format: "%.1f/%.1f MiB (%.0f%%), %d/%d files, %.0f lines/s, %d hits, ETA %@",
                      Double(bytes) / 1_048_576, Double(totalBytes) / 1_048_576, fraction * 100,
                      files, totalFiles, Double(lines) / elapsed, hits, eta)
    }
}

/// The progress line on stderr, when shown: redrawn in place, at most every quarter second.
struct LiveProgress {
    /// Whether the line is shown at all.
    let isOn: Bool
    private let line: ProgressLine
    private var lastShown = Date.distantPast

    /// A progress line for a run of `totalFiles` files of `totalBytes` bytes that `started`.
    init(isOn: Bool, totalBytes: Int, totalFiles: Int, started: Date) {
        self.isOn = isOn
        line = ProgressLine(totalBytes: totalBytes, totalFiles: totalFiles, started: started)
    }

    /// Redraws the line (unless it was drawn less than a quarter second ago and not `force`d).
    mutating func update(bytes: Int, files: Int, counts: TaskCounts, force: Bool = false) {
        guard isOn else { return }
        let now = Date()
        if !force && now.timeIntervalSince(lastShown) < 0.25 { return }
        lastShown = now
        let text = line.text(bytes: bytes, files: files, lines: counts.lines, hits: counts.hits)
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
    }

    /// Ends the line after a last redraw (the run finished).
    mutating func finish(bytes: Int, files: Int, counts: TaskCounts) {
        guard isOn else { return }
        update(bytes: bytes, files: files, counts: counts, force: true)
        FileHandle.standardError.write(Data("\n".utf8))
    }

    /// Clears the line (the run failed; its error follows).
    func clear() {
        if isOn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
