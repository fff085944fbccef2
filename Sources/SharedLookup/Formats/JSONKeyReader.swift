// JSONKeyReader: finds the lookup key of one JSON Lines input line (one JSON object) by dotted
// member paths ("id", "user.id"), for jobs that look each input line up in a table. One pass
// over the line with the strict JSONScanner, which validates it whole; no allocation per good
// line: an unescaped string or an integer is a slice of the line, anything else is assembled
// in a reused buffer.

/// Finds the lookup key of a JSON Lines input line by dotted member paths.
///
/// The line must be exactly one JSON object (whitespace around it is fine). Each path names a
/// member by its names from the top object down (`user.id` is the member `id` of the object
/// in the member `user`); array elements cannot be named, nor can a member whose name holds a
/// dot. The value found must be a string (decoded: escapes resolved, UTF-8) or an integer (its
/// text as written: `42`, `-7`); numbers with a fraction or an exponent, booleans, null,
/// objects and arrays are refused. With several paths the key is their parts, in the order of
/// the paths, joined by the byte 0x1F (a part that holds 0x1F is refused). A member on a path
/// that occurs twice in its object makes the line bad.
public final class JSONKeyReader {
    /// The outcome for one line.
    public enum Outcome {
        /// The key (decoded string or integer text; parts joined by 0x1F): a slice of the line or
        /// bytes in the reader's buffer, valid until the next call.
        case key(UnsafeRawBufferPointer)
        /// Why the line is bad (not JSON, not an object, a field missing, of the wrong type,
        /// twice), to follow "file:line: ".
        case bad(String)
    }

    /// The dotted paths, as given.
    public let paths: [String]

    /// The separator of the parts of a composite key.
    public static let partSeparator: UInt8 = 0x1F

    /// One member name of the path tree; node 0 is the top object. A node's children are
    /// contiguous; a node is either a leaf (a key part) or has children.
    private struct Node {
        var nameOffset: Int
        var nameCount: Int
        var firstChild: Int
        var childCount: Int
        /// The index of the path ending here, or -1.
        var part: Int
    }

    /// Where a part's value lies in the line (with the quotes, for a string).
    private struct Part {
        var start: Int
        var end: Int
        var escaped: Bool
    }

    /// What makes an otherwise valid line bad; the first one met is reported.
    private enum Problem {
        case duplicate(node: Int)
        case notObject(node: Int)
        case wrongType(node: Int, JSONScanner.ValueKind)
        case notInteger(node: Int, exponent: Bool)
    }

    private let nodes: UnsafeMutablePointer<Node>
    private let nodeCount: Int
    /// The member names of all nodes, back to back.
    private let names: UnsafeMutableRawPointer
    /// The dotted path of each node, for messages.
    private let labels: [String]
    /// The leaf node of each path.
    private let partNodes: UnsafeMutablePointer<Int>
    /// Per line: whether each node's member has been met.
    private let seen: UnsafeMutablePointer<Bool>
    /// Per line: each path's value.
    private let parts: UnsafeMutablePointer<Part>
    /// A member name with escapes, decoded.
    private let nameScratch = ByteScratch(capacity: 256)
    /// A decoded string key, or the parts of a composite key.
    private let keyScratch = ByteScratch(capacity: 1024)

    /// A reader for `paths`: one or more dotted paths (`"user.id"`). Throws
    /// `LookupError(.usage, ...)` for no path, an empty path or segment, a path given twice,
    /// or a path that runs through another (`user` and `user.id`).
    public init(paths: [String]) throws(LookupError) {
        guard !paths.isEmpty else { throw LookupError(.usage, "no key field given") }
        // Build the tree with child lists, then lay it out breadth first so that each node's
        // children are contiguous.
        var children: [[Int]] = [[]]
        var segmentNames: [[UInt8]] = [[]]
        var nodeLabels: [String] = [""]
        var nodePart: [Int] = [-1]
        for (index, path) in paths.enumerated() {
            guard !path.isEmpty else { throw LookupError(.usage, "empty key field") }
            let segments = path.split(separator: ".", omittingEmptySubsequences: false)
            if segments.contains(where: \.isEmpty) {
                throw LookupError(.usage, "key field \"\(path)\" has an empty member name (paths are names joined by '.')")
            }
            var node = 0
            for (depth, segment) in segments.enumerated() {
                if nodePart[node] >= 0 {
                    throw LookupError(.usage, "key fields \"\(paths[nodePart[node]])\" and \"\(path)\" overlap: a key field cannot hold another")
                }
                let name = Array(segment.utf8)
                if let child = children[node].first(where: { segmentNames[$0] == name }) {
                    node = child
                } else {
                    let child = segmentNames.count
                    children.append([])
                    segmentNames.append(name)
                    nodeLabels.append(segments[...depth].joined(separator: "."))
                    nodePart.append(-1)
                    children[node].append(child)
                    node = child
                }
            }
            if nodePart[node] >= 0 { throw LookupError(.usage, "key field \"\(path)\" is given twice") }
            if !children[node].isEmpty {
                let other = paths.first { $0.hasPrefix(path + ".") } ?? path
                throw LookupError(.usage, "key fields \"\(path)\" and \"\(other)\" overlap: a key field cannot hold another")
            }
            nodePart[node] = index
        }

        var order = [0]
        var next = 0
        while next < order.count {
            order += children[order[next]]
            next += 1
        }
        var position = [Int](repeating: 0, count: order.count)
        for (newIndex, oldIndex) in order.enumerated() { position[oldIndex] = newIndex }

        self.paths = paths
        nodeCount = order.count
        nodes = .allocate(capacity: nodeCount)
        let nameBase = UnsafeMutableRawPointer.allocate(byteCount: max(segmentNames.reduce(0) { $0 + $1.count }, 1), alignment: 8)
        names = nameBase
        partNodes = .allocate(capacity: paths.count)
        seen = .allocate(capacity: nodeCount)
        seen.initialize(repeating: false, count: nodeCount)
        parts = .allocate(capacity: paths.count)
        parts.initialize(repeating: Part(start: 0, end: 0, escaped: false), count: paths.count)
        var offset = 0
        var orderedLabels: [String] = []
        for (newIndex, oldIndex) in order.enumerated() {
            let name = segmentNames[oldIndex]
            name.withUnsafeBytes { if !$0.isEmpty { (nameBase + offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
            let kids = children[oldIndex]
            nodes[newIndex] = Node(nameOffset: offset, nameCount: name.count,
                                   firstChild: kids.first.map { position[$0] } ?? 0, childCount: kids.count,
                                   part: nodePart[oldIndex])
            if nodePart[oldIndex] >= 0 { partNodes[nodePart[oldIndex]] = newIndex }
            orderedLabels.append(nodeLabels[oldIndex])
            offset += name.count
        }
        labels = orderedLabels
    }

    deinit {
        nodes.deallocate()
        names.deallocate()
        partNodes.deallocate()
        seen.deallocate()
        parts.deallocate()
    }

    /// The key of `line` (which holds no line end), or why the line is bad.
    public func key(in line: UnsafeRawBufferPointer) -> Outcome {
        var scanner = JSONScanner(line)
        scanner.skipWhitespace()
        if scanner.atEnd { return .bad("empty line") }
        seen.update(repeating: false, count: nodeCount)
        var problem: Problem?
        do throws(JSONSyntaxError) {
            if let notObject = try scanner.notAnObject() { return .bad(notObject) }
            try walkObject(0, depth: 1, &scanner, &problem)
            scanner.skipWhitespace()
            if !scanner.atEnd { throw scanner.fail("text after the JSON object") }
        } catch {
            return .bad("invalid JSON: \(error.message) at byte \(error.offset + 1)")
        }
        if let problem { return .bad(message(for: problem)) }

        let count = paths.count
        for index in 0..<count where !seen[partNodes[index]] {
            return .bad("no \"\(paths[index])\" in the object")
        }
        if count == 1 {
            let part = parts[0]
            let value = line.slice(part.start, part.end)
            if line[part.start] != UInt8(ascii: "\"") { return .key(value) }
            let content = value.slice(1, value.count - 1)
            if !part.escaped { return .key(content) }
            keyScratch.removeAll()
            if let trouble = JSONScanner.decodeString(content, into: keyScratch) {
                return .bad("\"\(paths[0])\": \(trouble)")
            }
            return .key(keyScratch.bytes)
        }
        keyScratch.removeAll()
        for index in 0..<count {
            if index > 0 { keyScratch.append(Self.partSeparator) }
            let part = parts[index]
            let value = line.slice(part.start, part.end)
            if line[part.start] != UInt8(ascii: "\"") {
                keyScratch.append(value)
                continue
            }
            let content = value.slice(1, value.count - 1)
            if !part.escaped {
                // Unescaped string text holds no control characters, so no separator.
                keyScratch.append(content)
                continue
            }
            let partStart = keyScratch.count
            if let trouble = JSONScanner.decodeString(content, into: keyScratch) {
                return .bad("\"\(paths[index])\": \(trouble)")
            }
            if memchr(keyScratch.base + partStart, Int32(Self.partSeparator), keyScratch.count - partStart) != nil {
                return .bad("\"\(paths[index])\" holds the byte 0x1F, which separates the parts of a composite key")
            }
        }
        return .key(keyScratch.bytes)
    }

    /// Steps over the object at the scanner (at its `{`), whose members are the children of
    /// `node`, recording the parts found and the first problem met.
    private func walkObject(_ node: Int, depth: Int, _ scanner: inout JSONScanner,
                            _ problem: inout Problem?) throws(JSONSyntaxError) {
        if depth > JSONScanner.maxDepth { throw scanner.fail("nested more than \(JSONScanner.maxDepth) levels deep") }
        let line = scanner.bytes
        let parent = nodes[node]
        scanner.index += 1
        scanner.skipWhitespace()
        if scanner.peek == UInt8(ascii: "}") { scanner.index += 1; return }
        while true {
            guard scanner.peek == UInt8(ascii: "\"") else { throw scanner.fail("expected a member name in quotes") }
            let nameStart = scanner.index
            let nameEscaped = try scanner.scanString()
            let child = member(line.slice(nameStart + 1, scanner.index - 1), escaped: nameEscaped, of: parent)
            scanner.skipWhitespace()
            guard scanner.peek == UInt8(ascii: ":") else { throw scanner.fail("expected ':' after a member name") }
            scanner.index += 1
            scanner.skipWhitespace()
            if child < 0 {
                _ = try scanner.scanValue(depth: depth)
            } else if seen[child] {
                if problem == nil { problem = .duplicate(node: child) }
                _ = try scanner.scanValue(depth: depth)
            } else {
                seen[child] = true
                let target = nodes[child]
                if target.part >= 0 {
                    let valueStart = scanner.index
                    let kind = try scanner.scanValue(depth: depth)
                    switch kind {
                    case .string(let escaped):
                        parts[target.part] = Part(start: valueStart, end: scanner.index, escaped: escaped)
                    case .number:
                        parts[target.part] = Part(start: valueStart, end: scanner.index, escaped: false)
                        if problem == nil, let exponent = Self.nonInteger(line.slice(valueStart, scanner.index)) {
                            problem = .notInteger(node: child, exponent: exponent)
                        }
                    default:
                        if problem == nil { problem = .wrongType(node: child, kind) }
                    }
                } else if scanner.peek == UInt8(ascii: "{") {
                    try walkObject(child, depth: depth + 1, &scanner, &problem)
                } else {
                    _ = try scanner.scanValue(depth: depth)
                    if problem == nil { problem = .notObject(node: child) }
                }
            }
            scanner.skipWhitespace()
            guard let next = scanner.peek else { throw scanner.fail("object not closed") }
            if next == UInt8(ascii: "}") { scanner.index += 1; return }
            guard next == UInt8(ascii: ",") else { throw scanner.fail("expected ',' or '}'") }
            scanner.index += 1
            scanner.skipWhitespace()
        }
    }

    /// The child of `parent` named `name` (the text between the quotes), or -1.
    @inline(__always)
    private func member(_ content: UnsafeRawBufferPointer, escaped: Bool, of parent: Node) -> Int {
        var name = content
        if _slowPath(escaped) {
            nameScratch.removeAll()
            if JSONScanner.decodeString(content, into: nameScratch) != nil { return -1 }
            name = nameScratch.bytes
        }
        let count = name.count
        guard count > 0 else { return -1 }   // path segments are never empty
        var child = parent.firstChild
        let end = child + parent.childCount
        while child < end {
            let candidate = nodes[child]
            if candidate.nameCount == count && memcmp(names + candidate.nameOffset, name.baseAddress!, count) == 0 {
                return child
            }
            child += 1
        }
        return -1
    }

    /// For a scanned number: `nil` if it is an integer, else whether it has an exponent
    /// (`false`: a fraction).
    @inline(__always)
    private static func nonInteger(_ number: UnsafeRawBufferPointer) -> Bool? {
        for byte in number {
            switch byte {
            case UInt8(ascii: "."): return false
            case UInt8(ascii: "e"), UInt8(ascii: "E"): return true
            default: continue
            }
        }
        return nil
    }

    /// The message for a problem.
    private func message(for problem: Problem) -> String {
        let keyTypes = "keys are strings or integers"
        switch problem {
        case .duplicate(let node):
            return "\"\(labels[node])\" appears twice in the object"
        case .notObject(let node):
            return "\"\(labels[node])\" is not an object"
        case .notInteger(let node, let exponent):
            return "\"\(labels[node])\" is a number with \(exponent ? "an exponent" : "a fraction"); \(keyTypes)"
        case .wrongType(let node, let kind):
            let what: String
            switch kind {
            case .null: what = "null"
            default: what = "\(kind.article) \(kind.name)"
            }
            return "\"\(labels[node])\" is \(what); \(keyTypes)"
        }
    }
}
