// Lines for people and scripts on standard output, written so that a failed write (a full disk,
// a closed pipe) is an error with exit status 2 instead of being lost as `print` loses it.
import SharedLookup

/// Writes `line` and a newline to standard output and flushes it; throws a `LookupError`
/// naming `<stdout>` when the write fails.
func printOutput(_ line: String) throws(LookupError) {
    let text = line + "\n"
    var out = OutputBuffer(fd: STDOUT_FILENO, name: "<stdout>", capacity: max(text.utf8.count, 1))
    try out.append(text)
    try out.flush()
}
