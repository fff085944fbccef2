// JoinWriter: the output rows of the join jobs (join, left). A delimited line gets the value's
// chosen columns after the line's delimiter, one row per value of a one-to-many table; a JSON
// Lines line gets the value as a member of its object. Misses of a left join get empty fields
// (or --missing) or null.
import SharedLookup

/// Writes a join's rows for one worker's lines.
struct JoinWriter {
    let keyed: Bool
    let left: Bool
    let choice: ColumnChoice
    let kind: ValuesPerKey
    /// `--missing` as bytes (empty: an empty field).
    let missing: [UInt8]
    let missingGiven: Bool
    /// `"value":` ready to write, from `--value-field`.
    let memberPrefix: [UInt8]
    var delimiter = UInt8(ascii: ",")
    var json = false

    init(context: JobContext, left: Bool) throws {
        let options = context.options
        keyed = options.outputKey
        self.left = left
        choice = try ColumnChoice(list: options.columns, metadata: context.table.metadata)
        kind = context.table.valuesPerKey
        missing = Array((options.missing ?? "").utf8)
        missingGiven = options.missing != nil
        memberPrefix = ColumnChoice.jsonLiteral(Array(options.valueField.utf8), quoted: false) + [UInt8(ascii: ":")]
    }

    mutating func begin(file: FileContext) {
        delimiter = file.delimiter
        json = file.isJSONLines
    }

    /// The input's header, then the chosen table columns' names (delimited lines).
    func header(line: UnsafeRawBufferPointer, output: inout OutputBuffer) throws {
        try output.append(line)
        if !json {
            for name in choice.names {
                try output.append(delimiter)
                try output.append(name)
            }
        }
        try output.append(10)
    }

    /// The rows of a line whose key has the stored value `stored`.
    @inline(__always)
    func hit(line: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, stored: UnsafeRawBufferPointer,
             output: inout OutputBuffer) throws {
        if kind == .one {
            try row(line: line, key: key, value: stored, output: &output)
        } else {
            for value in ValueList(stored) { try row(line: line, key: key, value: value, output: &output) }
        }
    }

    @inline(__always)
    private func row(line: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                     output: inout OutputBuffer) throws {
        try writeKeyPrefix(key, keyed, &output)
        if json {
            try openObject(line, output: &output)
            try choice.appendJSON(key: key, value: value, to: &output)
            try output.append(UInt8(ascii: "}"))
        } else {
            try output.append(line)
            try choice.appendFields(key: key, value: value, delimiter: delimiter, to: &output)
        }
        try output.append(10)
    }

    /// The row of a line whose key is missing (left join).
    func miss(line: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, output: inout OutputBuffer) throws {
        try writeKeyPrefix(key, keyed, &output)
        if json {
            try openObject(line, output: &output)
            if missingGiven {
                try ColumnChoice.appendJSONString(missing, quoted: false, to: &output)
            } else {
                try output.append("null")
            }
            try output.append(UInt8(ascii: "}"))
        } else {
            try output.append(line)
            try missing.withUnsafeBytes { try choice.appendMissingFields($0, delimiter: delimiter, to: &output) }
        }
        try output.append(10)
    }

    /// Writes the object `line` without its closing brace, then the value member's name (after a
    /// comma unless the object is empty). The line was validated as one object when its key
    /// was read.
    private func openObject(_ line: UnsafeRawBufferPointer, output: inout OutputBuffer) throws {
        var end = line.count
        while end > 0 && line[end - 1] != UInt8(ascii: "}") { end -= 1 }
        var before = end - 2
        while before >= 0 && (line[before] == 0x20 || line[before] == 0x09) { before -= 1 }
        let empty = before < 0 || line[before] == UInt8(ascii: "{")
        try output.append(UnsafeRawBufferPointer(rebasing: line[0..<max(0, end - 1)]))
        if !empty { try output.append(UInt8(ascii: ",")) }
        try memberPrefix.withUnsafeBytes { try output.append($0) }
    }
}
