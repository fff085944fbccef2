// HumanSize: byte counts for people (1536 -> "1.5 KiB"), one format for every message.

/// `bytes` in binary units with one decimal: 1536 -> "1.5 KiB", 100 -> "100 B".
public func humanSize(_ bytes: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
    if unit == 0 { return "\(bytes) B" }
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(tenths % 10) \(units[unit])"
}
