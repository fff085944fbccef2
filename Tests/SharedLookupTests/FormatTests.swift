// FormatTests: unit tests of the record parsers (CSV, TSV, JSON Lines, mdb_dump, cdbmake) and
// the record writers, including round trips against the real `mdb_dump`/`mdb_load` and py-lmdb.
import Foundation
import LookupTestSupport
import Testing
@testable import SharedLookup

/// All the format tests, so `swift test --filter FormatTests` runs them.
@Suite struct FormatTests {}

// MARK: - Helpers

/// Collects what a parser reports.
struct FormatCollector: RecordHandler, FormatTesting {
    struct Record: Equatable, CustomStringConvertible {
        var key: [UInt8]
        var value: [UInt8]
        var line: Int
        var description: String { "\(line): \(String(decoding: key, as: UTF8.self)) => \(String(decoding: value, as: UTF8.self))" }
    }
    var records: [Record] = []
    var bad: [LookupError] = []
    var strict = false
    var keyLimit = 511

    mutating func record(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, line: Int) throws {
        // The contract: keys are 1...maxKeySize bytes.
        #expect(!key.isEmpty && key.count <= keyLimit)
        records.append(Record(key: Array(key), value: Array(value), line: line))
    }

    mutating func badRecord(_ error: LookupError) throws {
        #expect(error.kind == .badRecord)
        bad.append(error)
        if strict { throw error }
    }

    /// Each record as [key, value] text.
    var pairs: [[String]] { records.map { [text($0.key), text($0.value)] } }
    var keys: [String] { records.map { text($0.key) } }
    var lines: [Int] { records.map(\.line) }
    var badLines: [Int?] { bad.map(\.line) }
}

/// The helpers of these tests, as members so they shadow any same-named helper elsewhere.
protocol FormatTesting {}

extension FormatTesting {
    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
    func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

    /// Parses `content` as `format` from a file named `name`.
    func parse(_ format: RecordFormat, _ content: [UInt8], name: String = "input", options: RecordOptions = RecordOptions(),
               strict: Bool = false) throws -> FormatCollector {
        let dir = try TempDir("format")
        let file = try dir.write(name, content)
        return try parseFile(format, file, options: options, strict: strict)
    }

    func parse(_ format: RecordFormat, _ content: String, name: String = "input", options: RecordOptions = RecordOptions(),
               strict: Bool = false) throws -> FormatCollector {
        try parse(format, bytes(content), name: name, options: options, strict: strict)
    }

    func parseFile(_ format: RecordFormat, _ path: String, options: RecordOptions = RecordOptions(),
                   strict: Bool = false) throws -> FormatCollector {
        let input = try InputReader(path: path)
        var collector = FormatCollector(strict: strict, keyLimit: options.maxKeySize)
        try format.parse(input, options: options, into: &collector)
        return collector
    }

    /// Parses in strict mode and returns the error that stopped it (nil if none did).
    func strictError(_ format: RecordFormat, _ content: [UInt8], options: RecordOptions = RecordOptions()) throws -> LookupError? {
        do {
            _ = try parse(format, content, options: options, strict: true)
            return nil
        } catch let error as LookupError {
            return error
        }
    }

    func strictError(_ format: RecordFormat, _ content: String, options: RecordOptions = RecordOptions()) throws -> LookupError? {
        try strictError(format, bytes(content), options: options)
    }

    /// Runs a program found on PATH; returns its exit status and standard output.
    @discardableResult
    func run(_ arguments: [String]) throws -> (status: Int32, output: Data) {
        let result = try runProcess("/usr/bin/env", arguments)
        return (result.status, Data(result.stdout))
    }

    func gzip(_ path: String) throws -> String {
        let result = try run(["gzip", "-kf", path])
        #expect(result.status == 0)
        return path + ".gz"
    }

    func hex(_ data: [UInt8]) -> String { data.map { String(format: "%02x", $0) }.joined() }

    /// Creates an LMDB environment directory with py-lmdb holding `databases`.
    func makeEnvironment(in dir: TempDir, name: String, mapSize: Int = 1 << 20, _ databases: [FormatTestDatabase]) throws -> String {
        let script = """
        import lmdb, sys
        path, mapsize = sys.argv[1], int(sys.argv[2])
        env = lmdb.open(path, max_dbs=8, map_size=mapsize)
        args = sys.argv[3:]
        i = 0
        while i < len(args):
            name, dup, count = args[i], args[i + 1] == "1", int(args[i + 2])
            i += 3
            db = env.open_db(name.encode(), dupsort=dup) if name != "-" else None
            with env.begin(write=True, db=db) as txn:
                for _ in range(count):
                    txn.put(bytes.fromhex(args[i]), bytes.fromhex(args[i + 1]), dupdata=True)
                    i += 2
        env.close()
        """
        let scriptPath = try dir.write("make-env.py", script)
        let envPath = dir.file(name)
        var arguments = ["python3", scriptPath, envPath, String(mapSize)]
        for database in databases {
            arguments += [database.name ?? "-", database.dupsort ? "1" : "0", String(database.records.count)]
            for (key, value) in database.records { arguments += [hex(key), hex(value)] }
        }
        let result = try run(arguments)
        #expect(result.status == 0, "py-lmdb could not create the environment")
        return envPath
    }

    /// Writes records with a writer into a file and returns the file's bytes.
    func written(_ body: (inout OutputBuffer) throws -> Void) throws -> [UInt8] {
        let dir = try TempDir("format")
        let path = dir.file("out")
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(fd >= 0)
        do {
            defer { close(fd) }
            var out = OutputBuffer(fd: fd, name: path, capacity: 64)   // small, so flushing is exercised
            try body(&out)
            try out.flush()
        }
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func withBuffers<R>(_ key: [UInt8], _ value: [UInt8], _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try body(k, v) } }
    }
}

/// Whether the real LMDB tools and py-lmdb are installed (`apt-get install lmdb-utils`,
/// `pip install lmdb`); the tests comparing against them need both.
/// A database for `makeEnvironment`: its name (nil for the main one) and records.
struct FormatTestDatabase {
    var name: String?
    var records: [([UInt8], [UInt8])]
    var dupsort = false
}

// MARK: - CSV

extension FormatTests {
    @Suite struct CSVTests: FormatTesting {
        @Test func valueIsTheRestOfTheRecordInRawForm() throws {
            let input = "k,\"a,b\",c\nplain,x,y\n"
            let first = try parse(.csv, input)
            #expect(first.pairs == [["k", "\"a,b\",c"], ["plain", "x,y"]])
            #expect(first.lines == [1, 2])
            #expect(first.bad.isEmpty)

            let second = try parse(.csv, input, options: RecordOptions(keyColumn: 2))
            #expect(second.pairs == [["a,b", "k,c"], ["x", "plain,y"]])

            let third = try parse(.csv, input, options: RecordOptions(keyColumn: 3))
            #expect(third.pairs == [["c", "k,\"a,b\""], ["y", "plain,x"]])
        }

        @Test func quotedKeysAreDecoded() throws {
            let result = try parse(.csv, "\"say \"\"hi\"\"\",1\n\"a,b\",\"x \"\"y\"\"\"\n\"\",z\n\"plain\"\n")
            #expect(result.pairs == [["say \"hi\"", "1"], ["a,b", "\"x \"\"y\"\"\""], ["plain", ""]])
            #expect(result.bad.count == 1)                 // the empty quoted key
            #expect(result.bad.first?.message == "empty key")
            #expect(result.bad.first?.line == 3)
        }

        @Test func keyOnlyRecordsHaveEmptyValues() throws {
            let result = try parse(.csv, "a\nb,\nc,,\n")
            #expect(result.pairs == [["a", ""], ["b", ""], ["c", ","]])
            let second = try parse(.csv, "x,k\ny,k2,\n", options: RecordOptions(keyColumn: 2))
            #expect(second.pairs == [["k", "x"], ["k2", "y,"]])
        }

        @Test func crlfEmptyLinesAndMissingFinalNewline() throws {
            let result = try parse(.csv, "a,1\r\n\r\n\nb,\"2\"\r\n\r\nc,3")
            #expect(result.pairs == [["a", "1"], ["b", "\"2\""], ["c", "3"]])
            #expect(result.lines == [1, 4, 6])
            #expect(result.bad.isEmpty)
        }

        @Test func headerLineIsSkipped() throws {
            let result = try parse(.csv, "key,value\na,1\nb,2\n", options: RecordOptions(header: true))
            #expect(result.keys == ["a", "b"])
            #expect(result.lines == [2, 3])
            let without = try parse(.csv, "key,value\na,1\n")
            #expect(without.keys == ["key", "a"])
        }

        @Test func byteOrderMarkIsDropped() throws {
            let result = try parse(.csv, [0xEF, 0xBB, 0xBF] + bytes("a,1\nb,2\n"))
            #expect(result.keys == ["a", "b"])
        }

        @Test func customDelimiter() throws {
            let result = try parse(.csv, "a;\"x;y\";z\nb;1\n", options: RecordOptions(keyColumn: 1, delimiter: UInt8(ascii: ";")))
            #expect(result.pairs == [["a", "\"x;y\";z"], ["b", "1"]])
            let second = try parse(.csv, "a|b|c\n", options: RecordOptions(keyColumn: 2, delimiter: UInt8(ascii: "|")))
            #expect(second.pairs == [["b", "a|c"]])
        }

        @Test func quotedFieldsSpanLines() throws {
            let input = "a,\"line one\nline two\",x\nb,2\n\"multi\r\nline key\",v\r\nc,\"\n\n\",end\n"
            let result = try parse(.csv, input)
            #expect(result.pairs == [["a", "\"line one\nline two\",x"], ["b", "2"], ["multi\r\nline key", "v"],
                                     ["c", "\"\n\n\",end"]])
            #expect(result.lines == [1, 3, 4, 6])
            #expect(result.bad.isEmpty)

            let keyed = try parse(.csv, "x,\"k\ney\",z\n", options: RecordOptions(keyColumn: 2))
            #expect(keyed.pairs == [["k\ney", "x,z"]])
        }

        @Test func tooFewColumns() throws {
            let result = try parse(.csv, "a,b\nq,\"w\",e\nonly\n", options: RecordOptions(keyColumn: 3))
            #expect(result.pairs == [["e", "q,\"w\""]])
            #expect(result.bad.map(\.message) == ["line has 2 columns, key column is 3", "line has 1 column, key column is 3"])
            #expect(result.badLines == [1, 3])
            #expect(result.bad.allSatisfy { $0.path?.hasSuffix("input") == true })
        }

        @Test func brokenQuoting() throws {
            let input = "a,b\"c,d\ngood,1\n\"ab\"c,d\ngood2,2\nx,\"open\nstill open\n"
            let result = try parse(.csv, input)
            #expect(result.pairs == [["good", "1"], ["good2", "2"]])
            #expect(result.badLines == [1, 3, 5])
            #expect(result.bad[0].message.contains("quote in the middle of unquoted column 2"))
            #expect(result.bad[1].message.contains("text after the closing quote of column 1"))
            #expect(result.bad[2].message.contains("not closed before the end of input"))
            #expect(result.bad[2].description.hasSuffix("input:5: bad quoting: quoted column 2 is not closed before the end of input"))
        }

        @Test func emptyAndLongKeys() throws {
            let long = String(repeating: "k", count: 600)
            let result = try parse(.csv, ",1\n\(long),2\nok,3\n")
            #expect(result.pairs == [["ok", "3"]])
            #expect(result.bad.map(\.message) == ["empty key", "key is 600 bytes; LMDB keys are at most 511 bytes"])
            #expect(result.badLines == [1, 2])

            let limited = try parse(.csv, "abcd,1\nabc,2\n", options: RecordOptions(maxKeySize: 3))
            #expect(limited.keys == ["abc"])
            #expect(limited.bad.first?.message == "key is 4 bytes; LMDB keys are at most 3 bytes")

            let column2 = try parse(.csv, "a,,b\n", options: RecordOptions(keyColumn: 2))
            #expect(column2.bad.first?.message == "empty key")
        }

        @Test func strictModeStopsAtTheFirstBadRecord() throws {
            let error = try strictError(.csv, "a,1\nb\"x,2\nc,3\n")
            #expect(error?.kind == .badRecord)
            #expect(error?.line == 2)
            // Skip mode reads on.
            let skipped = try parse(.csv, "a,1\nb\"x,2\nc,3\n")
            #expect(skipped.keys == ["a", "c"])
        }

        @Test func gzipInput() throws {
            let dir = try TempDir("format")
            let plain = try dir.write("table.csv", "a,\"1\nmore\"\nb,2\n")
            let compressed = try gzip(plain)
            let result = try parseFile(.csv, compressed)
            #expect(result.pairs == [["a", "\"1\nmore\""], ["b", "2"]])
            #expect(result.lines == [1, 3])
        }

        @Test func manyRecordsAcrossBufferRefills() throws {
            // More than one 1 MiB block, with a multi-line record straddling somewhere.
            var input = ""
            for i in 0..<60_000 { input += "key\(i),\"value \(i)\nsecond line\",x\n" }
            let result = try parse(.csv, input)
            #expect(result.records.count == 60_000)
            #expect(result.bad.isEmpty)
            #expect(result.records.last?.line == 119_999)
            #expect(result.pairs[12_345] == ["key12345", "\"value 12345\nsecond line\",x"])
        }
    }
}

// MARK: - TSV

extension FormatTests {
    @Suite struct TSVTests: FormatTesting {
        @Test func splitsOnTabsOnly() throws {
            let result = try parse(.tsv, "a\t\"q\"\tb,c\n\"k\t1\n")
            #expect(result.pairs == [["a", "\"q\"\tb,c"], ["\"k", "1"]])
            #expect(result.bad.isEmpty)
        }

        @Test func keyColumnsAndMissingColumns() throws {
            let input = "1\t2\t3\n4\t5\n6\n\n7\t8\t9\t10\r\n"
            let second = try parse(.tsv, input, options: RecordOptions(keyColumn: 2))
            #expect(second.pairs == [["2", "1\t3"], ["5", "4"], ["8", "7\t9\t10"]])
            #expect(second.bad.map(\.message) == ["line has 1 column, key column is 2"])
            #expect(second.badLines == [3])
            let third = try parse(.tsv, input, options: RecordOptions(keyColumn: 3))
            #expect(third.pairs == [["3", "1\t2"], ["9", "7\t8\t10"]])
            #expect(third.badLines == [2, 3])
        }

        @Test func headerAndCustomDelimiter() throws {
            let result = try parse(.tsv, "k|v\na|b|c\n", options: RecordOptions(delimiter: UInt8(ascii: "|"), header: true))
            #expect(result.pairs == [["a", "b|c"]])
            #expect(result.lines == [2])
        }

        @Test func emptyKeysAndStrictMode() throws {
            let result = try parse(.tsv, "\tv\nk\tv\n")
            #expect(result.keys == ["k"])
            #expect(result.bad.first?.message == "empty key")
            let error = try strictError(.tsv, "a\tb\nc\n", options: RecordOptions(keyColumn: 2))
            #expect(error?.message == "line has 1 column, key column is 2")
            #expect(error?.line == 2)
        }

        @Test func gzipInput() throws {
            let dir = try TempDir("format")
            let compressed = try gzip(try dir.write("t.tsv", "a\t1\nb\t2"))
            #expect(try parseFile(.tsv, compressed).pairs == [["a", "1"], ["b", "2"]])
        }
    }
}

// MARK: - JSON Lines

extension FormatTests {
    @Suite struct JSONLinesTests: FormatTesting {
        @Test func keyAndOtherMembers() throws {
            let input = """
            {"key":"a","x":1,"y":[1, 2,{"z":null}]}
              { "n" : "v" , "key" : "b" , "t" : true }\u{20}
            {"key":"only"}
            {"first":{"key":"nested"},"key":"c"}

            """
            let result = try parse(.jsonl, input)
            #expect(result.pairs == [["a", "{\"x\":1,\"y\":[1, 2,{\"z\":null}]}"], ["b", "{\"n\":\"v\",\"t\":true}"],
                                     ["only", "{}"], ["c", "{\"first\":{\"key\":\"nested\"}}"]])
            #expect(result.lines == [1, 2, 3, 4])
            #expect(result.bad.isEmpty)
        }

        @Test func numberKeysKeepTheirText() throws {
            let result = try parse(.jsonl, "{\"key\": 12.50, \"v\": 1}\n{\"key\":-0.5e+3}\n{\"v\":2,\"key\":7}\n")
            #expect(result.pairs == [["12.50", "{\"v\":1}"], ["-0.5e+3", "{}"], ["7", "{\"v\":2}"]])
        }

        @Test func stringKeyEscapesAreDecoded() throws {
            let input = #"{"key":"a\"b\\c\/d\b\f\n\r\t|\u00e9\u4e2d\ud83d\ude00\u0041"}"#
            let result = try parse(.jsonl, input)
            #expect(result.records.first?.key == bytes("a\"b\\c/d") + [0x08, 0x0C, 0x0A, 0x0D, 0x09] + bytes("|é中😀A"))
            #expect(result.records.first?.value == bytes("{}"))
            // Values keep their escapes as written.
            let kept = try parse(.jsonl, #"{"v":"\u00e9\n","key":"k"}"#)
            #expect(kept.pairs == [["k", #"{"v":"\u00e9\n"}"#]])
        }

        @Test func customKeyFieldAndEscapedNames() throws {
            let options = RecordOptions(keyField: "id")
            let result = try parse(.jsonl, "{\"key\":\"x\",\"id\":\"1\"}\n{\"i\\u0064\":\"2\",\"key\":\"y\"}\n", options: options)
            #expect(result.pairs == [["1", "{\"key\":\"x\"}"], ["2", "{\"key\":\"y\"}"]])
        }

        @Test func blankLinesCRLFAndBOM() throws {
            let result = try parse(.jsonl, [0xEF, 0xBB, 0xBF] + bytes("{\"key\":\"a\"}\r\n\r\n   \r\n{\"key\":\"b\"}"))
            #expect(result.keys == ["a", "b"])
            #expect(result.lines == [1, 4])
            #expect(result.bad.isEmpty)
        }

        @Test func badRecords() throws {
            let lines = [
                #"{"key":"a",}"#,                 // 1 trailing comma
                #"{key:"a"}"#,                    // 2 unquoted name
                #"{"key":"a"#,                    // 3 unterminated string
                #"["key","a"]"#,                  // 4 not an object
                #"{"v":1}"#,                      // 5 no key
                #"{"key":[1]}"#,                  // 6 key is an array
                #"{"key":null}"#,                 // 7 key is null
                #"{"key":""}"#,                   // 8 empty key
                #"{"key":"a"} x"#,                // 9 text after the object
                #"{"key":"\ud800"}"#,             // 10 lone surrogate
                #"{"key":"a","key":"b"}"#,        // 11 key twice
                #"{"key":01}"#,                   // 12 leading zero
                "{\"key\":\"a\tb\"}",              // 13 raw tab in a string
                #"{"key":"ok"}"#,                 // 14 good
                #"{"key":"x\q"}"#,                // 15 bad escape
                #"{"key":true}"#,                 // 16 key is a boolean
                #"{"key":"a" "v":1}"#,            // 17 missing comma
                #"{"key":"a","v":tru}"#,          // 18 bad literal
            ]
            let result = try parse(.jsonl, lines.joined(separator: "\n") + "\n")
            #expect(result.pairs == [["ok", "{}"]])
            #expect(result.badLines == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 18])
            let messages = result.bad.map(\.message)
            #expect(messages[0].hasPrefix("invalid JSON: expected a member name in quotes at byte 12"))
            #expect(messages[2].contains("string not closed"))
            #expect(messages[3] == "line is a JSON array, not an object")
            #expect(messages[4] == "no \"key\" member in the object")
            #expect(messages[5] == "\"key\" member is an array; the key must be a string or a number")
            #expect(messages[6] == "\"key\" member is a null; the key must be a string or a number")
            #expect(messages[7] == "empty key")
            #expect(messages[8].contains("text after the JSON object"))
            #expect(messages[9].contains("unpaired surrogate"))
            #expect(messages[10].contains("appears twice"))
            #expect(messages[11].contains("leading zero"))
            #expect(messages[12].contains("control character"))
            #expect(messages[13].contains("bad escape"))
            #expect(messages[14].contains("boolean"))
            #expect(messages[15].contains("expected ',' or '}'"))
            #expect(messages[16].contains("unexpected character"))
        }

        @Test func invalidUTF8AndLongKeys() throws {
            var input = bytes("{\"key\":\"a") + [0xC3, 0x28] + bytes("\"}\n")
            input += bytes("{\"key\":\"\(String(repeating: "x", count: 600))\"}\n")
            input += bytes("{\"key\":\"é\"}\n")
            let result = try parse(.jsonl, input)
            #expect(result.keys == ["é"])
            #expect(result.bad.map(\.message).last == "key is 600 bytes; LMDB keys are at most 511 bytes")
            #expect(result.bad.first?.message.contains("invalid UTF-8") == true)
        }

        @Test func deepNestingIsRejectedNotCrashing() throws {
            let deep = "{\"key\":\"k\",\"v\":" + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "}"
            let result = try parse(.jsonl, deep + "\n")
            #expect(result.records.isEmpty)
            #expect(result.bad.first?.message.contains("nested more than") == true)
        }

        @Test func strictModeAndGzip() throws {
            let error = try strictError(.jsonl, "{\"key\":\"a\"}\n{\"nokey\":1}\n")
            #expect(error?.line == 2)
            let dir = try TempDir("format")
            let compressed = try gzip(try dir.write("x.jsonl", "{\"key\":\"a\",\"v\":1}\n"))
            #expect(try parseFile(.jsonl, compressed).pairs == [["a", "{\"v\":1}"]])
        }
    }
}

// MARK: - mdb_dump input

private let bytevalueHeader = "VERSION=3\nformat=bytevalue\ntype=btree\nmapsize=1048576\nmaxreaders=126\ndb_pagesize=4096\nHEADER=END\n"

extension FormatTests {
    @Suite struct MDBDumpTests: FormatTesting {
        @Test func bytevalueRecords() throws {
            let dump = bytevalueHeader + " 6b31\n 76616c7565\n 6B32\n \n 00ff\n 0a0D\nDATA=END\n"
            let result = try parse(.mdbDump, dump)
            #expect(result.records == [
                .init(key: bytes("k1"), value: bytes("value"), line: 8),
                .init(key: bytes("k2"), value: [], line: 10),
                .init(key: [0x00, 0xFF], value: [0x0A, 0x0D], line: 12),
            ])
            #expect(result.bad.isEmpty)
        }

        @Test func printRecords() throws {
            let dump = "VERSION=3\nformat=print\ntype=btree\nHEADER=END\n a\\\\b\n x\\00\\ffy\\0a\n key 2\n \\5c\\5C\nDATA=END\n"
            let result = try parse(.mdbDump, dump)
            #expect(result.records == [
                .init(key: bytes("a\\b"), value: [0x78, 0x00, 0xFF, 0x79, 0x0A], line: 5),
                .init(key: bytes("key 2"), value: bytes("\\\\"), line: 7),
            ])
        }

        @Test func crlfAndGzip() throws {
            let dump = bytevalueHeader + " 61\n 62\nDATA=END\n"
            let crlf = try parse(.mdbDump, dump.replacingOccurrences(of: "\n", with: "\r\n"))
            #expect(crlf.pairs == [["a", "b"]])
            let dir = try TempDir("format")
            let compressed = try gzip(try dir.write("d.dump", dump))
            #expect(try parseFile(.mdbDump, compressed).pairs == [["a", "b"]])
        }

        func section(_ name: String?, _ pairs: [(String, String)], end: Bool = true) -> String {
            var text = "VERSION=3\nformat=print\n" + (name.map { "database=\($0)\n" } ?? "") + "type=btree\nHEADER=END\n"
            for (key, value) in pairs { text += " \(key)\n \(value)\n" }
            return text + (end ? "DATA=END\n" : "")
        }

        @Test func sectionChoice() throws {
            let named = section("x", [("x1", "1")])
            let data = section("data", [("d1", "1"), ("d2", "2")])
            let main = section(nil, [("m1", "1")])
            let other = section("y", [("y1", "1")])

            #expect(try parse(.mdbDump, named + data + main + other).keys == ["m1"])   // main wins, even last-but-one
            #expect(try parse(.mdbDump, named + main).keys == ["m1"])
            #expect(try parse(.mdbDump, named + data + other).keys == ["d1", "d2"])   // then "data"
            #expect(try parse(.mdbDump, named + other).keys == ["x1"])                // then the first
            #expect(try parse(.mdbDump, other + named).keys == ["y1"])
            #expect(try parse(.mdbDump, main + section(nil, [("m2", "2")])).keys == ["m1"])
            // An explicit database.
            #expect(try parse(.mdbDump, named + data + main + other, options: RecordOptions(database: "y")).keys == ["y1"])
            #expect(try parse(.mdbDump, named + data + main, options: RecordOptions(database: "data")).keys == ["d1", "d2"])
            do {
                _ = try parse(.mdbDump, named + main, options: RecordOptions(database: "nope"))
                Issue.record("a missing database must throw")
            } catch let error as LookupError {
                #expect(error.kind == .badRecord)
                #expect(error.message == "no database named \"nope\" in the dump; it holds \"x\", the main database")
            }
        }

        @Test func badRecordsOfSkippedSectionsAreNotReported() throws {
            let broken = "VERSION=3\nformat=bytevalue\ndatabase=x\nHEADER=END\n zz\n 61\nDATA=END\n"
            let main = section(nil, [("m1", "1")])
            let result = try parse(.mdbDump, broken + main)
            #expect(result.keys == ["m1"])
            #expect(result.bad.isEmpty)
            // Held sections report theirs when they win, at their own lines.
            let held = try parse(.mdbDump, broken + section("y", [("y1", "1")]))
            #expect(held.records.isEmpty)
            #expect(held.badLines == [5])
            #expect(held.bad.first?.message.contains("bad hex digit") == true)
            #expect(held.bad.first?.path?.hasSuffix("input") == true)
            // Held records keep their line numbers.
            let lines = try parse(.mdbDump, section("a", [("k1", "1"), ("k2", "2")]))
            #expect(lines.lines == [6, 8])
        }

        @Test func badDataLines() throws {
            let dump = bytevalueHeader + [
                " 61", " 31",          // 8 good
                "62", " 32",           // 10 key without the leading space
                " 63", "33",           // 12 value without the leading space
                " 6g", " 34",          // 14 bad hex
                " 616", " 35",         // 16 odd number of digits
                " ", " 36",            // 18 empty key
                " 64", " 37",          // 20 good
                " 65",                 // 22 key without a value
                "DATA=END",
            ].joined(separator: "\n") + "\n"
            let result = try parse(.mdbDump, dump)
            #expect(result.pairs == [["a", "1"], ["d", "7"]])
            #expect(result.badLines == [10, 13, 14, 16, 18, 22])
            let messages = result.bad.map(\.message)
            #expect(messages[0].contains("does not start with a space"))
            #expect(messages[1].hasPrefix("value line:"))
            #expect(messages[2].contains("bad hex digit \"g\" at column 3"))
            #expect(messages[3].contains("odd number of hex digits"))
            #expect(messages[4] == "empty key")
            #expect(messages[5] == "key line without a value line")
        }

        @Test func bareBackslashesAndLongKeys() throws {
            // A backslash that starts no escape stands for itself (as mdb_dump 0.9.24 writes it).
            let long = String(repeating: "k", count: 600)
            let dump = "VERSION=3\nformat=print\nHEADER=END\n a\\zz\n 1\n \(long)\n 2\n ok\n \\0\nDATA=END\n"
            let result = try parse(.mdbDump, dump)
            #expect(result.pairs == [["a\\zz", "1"], ["ok", "\\0"]])
            #expect(result.badLines == [6])
            #expect(result.bad[0].message == "key is 600 bytes; LMDB keys are at most 511 bytes")
        }

        @Test func truncatedDumps() throws {
            let noHeaderEnd = try parse(.mdbDump, "VERSION=3\nformat=bytevalue\n")
            #expect(noHeaderEnd.bad.map(\.message) == ["dump ends inside a header (no HEADER=END): truncated?"])
            let noDataEnd = try parse(.mdbDump, bytevalueHeader + " 61\n 62\n 63\n")
            #expect(noDataEnd.pairs == [["a", "b"]])
            #expect(noDataEnd.bad.map(\.message) == ["key line without a value line", "dump ends without DATA=END: truncated?"])
            let missingHeaderEnd = try parse(.mdbDump, "VERSION=3\nformat=bytevalue\n 61\n 62\nDATA=END\n" + section(nil, [("m", "1")]))
            #expect(missingHeaderEnd.keys == ["m"])
            #expect(missingHeaderEnd.bad.map(\.message) == ["data line before HEADER=END"])
            // A section cut short by the next one's header.
            let cut = try parse(.mdbDump, section(nil, [("m", "1")], end: false) + section("x", [("a", "1")]))
            #expect(cut.keys == ["m"])
            #expect(cut.badLines == [7])
            #expect(cut.bad.first?.message == "section ends without DATA=END before a new header")
            // ... which is not reported when that section is not the one loaded.
            let skipped = try parse(.mdbDump, section("x", [("a", "1")], end: false) + section(nil, [("m", "1")]))
            #expect(skipped.keys == ["m"])
            #expect(skipped.bad.isEmpty)
        }

        @Test func badHeadersAndOrphanLines() throws {
            let result = try parse(.mdbDump, "VERSION=2\nHEADER=END\n 61\n 62\nDATA=END\n" + " 61\n 62\n" +
                                             "VERSION=3\nformat=base64\nHEADER=END\nDATA=END\n" + section(nil, [("ok", "1")]))
            #expect(result.keys == ["ok"])
            #expect(result.bad.count == 3)
            #expect(result.bad[0].message.contains("VERSION=2"))
            #expect(result.bad[1].message.contains("outside a section"))
            #expect(result.bad[2].message.contains("format=base64"))
        #expect(result.badLines == [1, 6, 9])
        // Not a dump at all.
        let csv = try parse(.mdbDump, "a,b\nc,d\n")
        #expect(csv.records.isEmpty)
        #expect(csv.bad.map(\.message) == ["bad header line \"a,b\" (expected name=value), and the input ends before HEADER=END"])
        }

        @Test func strictMode() throws {
            let error = try strictError(.mdbDump, bytevalueHeader + " 61\n 6\nDATA=END\n")
            #expect(error?.line == 9)
            #expect(error?.message.contains("odd number") == true)
            #expect(try strictError(.mdbDump, bytevalueHeader + " 61\n 62\nDATA=END\n") == nil)
        }

        @Test func emptyInputHasNoRecords() throws {
            let result = try parse(.mdbDump, "")
            #expect(result.records.isEmpty && result.bad.isEmpty)
        }
    }
}

// MARK: - mdb_dump against the real LMDB tools

/// Records with binary bytes, newlines, spaces and high bytes, but no backslash (mdb_dump
/// 0.9.24 prints a backslash unescaped in -p mode).
private let sampleRecords: [([UInt8], [UInt8])] = [
    (Array("alpha".utf8), Array("first value".utf8)),
    (Array("beta key".utf8), [0x00, 0x01, 0x7F, 0x80, 0xFF, 0x0A, 0x0D, 0x09]),
    ([0x00], Array("zero key".utf8)),
    ([0xFF, 0xFE], []),
    (Array("tilde~".utf8), Array("{\"json\": [1, 2]}".utf8)),
    (Array(repeating: 0x61, count: 511), Array(repeating: 0x62, count: 700)),
]

private func sortedByKey(_ records: [([UInt8], [UInt8])]) -> [([UInt8], [UInt8])] {
    records.sorted { $0.0.lexicographicallyPrecedes($1.0) }
}

extension FormatTests {
    struct RealMDBDumpTests: FormatTesting {
        @Test(arguments: [false, true])
        func parsesRealDumps(printable: Bool) throws {
            let dir = try TempDir("format")
            let env = try makeEnvironment(in: dir, name: "env", [FormatTestDatabase(name: nil, records: sampleRecords)])
            let dump = try run(["mdb_dump"] + (printable ? ["-p"] : []) + [env])
            #expect(dump.status == 0)
            let result = try parse(.mdbDump, Array(dump.output))
            #expect(result.bad.isEmpty)
            let expected = sortedByKey(sampleRecords)
            #expect(result.records.map(\.key) == expected.map(\.0))
            #expect(result.records.map(\.value) == expected.map(\.1))
            #expect(result.lines == Array(stride(from: 8, to: 8 + 2 * expected.count, by: 2)))
        }

        @Test func backslashesInRealPrintDumps() throws {
            let dir = try TempDir("format")
            let records = [(bytes("back\\slash"), bytes("v\\w")), (bytes("plain"), bytes("1"))]
            let env = try makeEnvironment(in: dir, name: "env", [FormatTestDatabase(name: nil, records: records)])
            let dump = try run(["mdb_dump", "-p", env])
            let result = try parse(.mdbDump, Array(dump.output))
            // LMDB 0.9.25+ escapes backslashes; 0.9.24 prints them bare. Both read back exactly.
            #expect(result.pairs == [["back\\slash", "v\\w"], ["plain", "1"]])
            #expect(result.bad.isEmpty)
            // The bytevalue dump of the same data reads back exactly either way.
            let bytevalue = try parse(.mdbDump, Array(try run(["mdb_dump", env]).output))
            #expect(bytevalue.pairs == [["back\\slash", "v\\w"], ["plain", "1"]])
        }

        @Test func allDatabasesDumpAndDuplicates() throws {
            let dir = try TempDir("format")
            let env = try makeEnvironment(in: dir, name: "env", [
                FormatTestDatabase(name: "zeta", records: [(bytes("z"), bytes("1"))]),
                FormatTestDatabase(name: "data", records: [(bytes("k"), bytes("v1")), (bytes("k"), bytes("v2")), (bytes("j"), bytes("v0"))],
                             dupsort: true),
                FormatTestDatabase(name: "alpha", records: [(bytes("a"), bytes("1"))]),
            ])
            let dump = try run(["mdb_dump", "-a", env])
            #expect(dump.status == 0)
            let all = Array(dump.output)
            let result = try parse(.mdbDump, all)
            #expect(result.pairs == [["j", "v0"], ["k", "v1"], ["k", "v2"]])   // "data", duplicates kept
            #expect(result.bad.isEmpty)
            #expect(try parse(.mdbDump, all, options: RecordOptions(database: "zeta")).pairs == [["z", "1"]])
            let single = try run(["mdb_dump", "-p", "-s", "alpha", env])
            #expect(try parse(.mdbDump, Array(single.output)).pairs == [["a", "1"]])
        }

        @Test(arguments: [false, true])
        func writerMatchesRealMDBDump(printable: Bool) throws {
            let dir = try TempDir("format")
            let mapSize = 4 << 20
            let env = try makeEnvironment(in: dir, name: "env", mapSize: mapSize,
                                          [FormatTestDatabase(name: nil, records: sampleRecords),
                                           FormatTestDatabase(name: "named", records: [(bytes("n"), [0x00, 0x5B])])])
            // The main database holds the sub-database's record too.
            let real = try run(["mdb_dump"] + (printable ? ["-p"] : []) + [env])
            #expect(real.status == 0)
            let mainRecords = try parse(.mdbDump, Array(try run(["mdb_dump", env]).output)).records
            #expect(mainRecords.count == sampleRecords.count + 1)
            let writer = MDBDumpWriter(printable: printable)
            let ours = try written { out in
                try writer.writeHeader(to: &out, mapSize: mapSize)
                for record in mainRecords {
                    try withBuffers(record.key, record.value) { key, value in try writer.write(key: key, value: value, to: &out) }
                }
                try writer.writeFooter(to: &out)
            }
            #expect(text(ours) == text(Array(real.output)))
            #expect(ours == Array(real.output))

            // A named database: the database= line.
            let realNamed = try run(["mdb_dump"] + (printable ? ["-p"] : []) + ["-s", "named", env])
            let namedWriter = MDBDumpWriter(printable: printable, database: "named")
            let oursNamed = try written { out in
                try namedWriter.writeHeader(to: &out, mapSize: mapSize)
                try withBuffers(bytes("n"), [0x00, 0x5B]) { key, value in try namedWriter.write(key: key, value: value, to: &out) }
                try namedWriter.writeFooter(to: &out)
            }
            #expect(oursNamed == Array(realNamed.output))
        }

        @Test(arguments: [false, true])
        func writerOutputLoadsWithRealMDBLoad(printable: Bool) throws {
            let dir = try TempDir("format")
            // mdb_load 0.9.24 decodes "\\" in place without writing the backslash, so a "\\"
            // after an earlier escape on the same line comes out wrong there: that value is only
            // loaded from the bytevalue format.
            var records = sampleRecords + [(bytes("back\\slash"), bytes("1\\")), (bytes("\\"), bytes("\\"))]
            if !printable { records.append((bytes("two"), bytes("\\\\ and \\5c"))) }
            records = sortedByKey(records)
            let writer = MDBDumpWriter(printable: printable)
            let ours = try written { out in
                try writer.writeHeader(to: &out, mapSize: 1 << 20)
                for (key, value) in records {
                    try withBuffers(key, value) { k, v in try writer.write(key: k, value: v, to: &out) }
                }
                try writer.writeFooter(to: &out)
            }
            let dumpFile = try dir.write("ours.dump", ours)
            let loaded = dir.file("loaded")
            try FileManager.default.createDirectory(atPath: loaded, withIntermediateDirectories: true)
            #expect(try run(["mdb_load", "-f", dumpFile, loaded]).status == 0)
            let back = try parse(.mdbDump, Array(try run(["mdb_dump", loaded]).output))
            #expect(back.records.map(\.key) == records.map(\.0))
            #expect(back.records.map(\.value) == records.map(\.1))
        }
    }
}

// MARK: - MDBDumpWriter without the real tools

extension FormatTests {
    @Suite struct MDBDumpWriterTests: FormatTesting {
        @Test func headerAndEscapes() throws {
            let printWriter = MDBDumpWriter(printable: true, database: "data")
            let output = try written { out in
                try printWriter.writeHeader(to: &out, mapSize: 123)
                try withBuffers(bytes("a\\b c"), [0x00, 0x7E, 0x7F, 0x20, 0xAB]) { k, v in try printWriter.write(key: k, value: v, to: &out) }
                try printWriter.writeFooter(to: &out)
            }
            #expect(text(output) == "VERSION=3\nformat=print\ndatabase=data\ntype=btree\nmapsize=123\nmaxreaders=126\ndb_pagesize=4096\nHEADER=END\n a\\\\b c\n \\00~\\7f \\ab\nDATA=END\n")

            let hexWriter = MDBDumpWriter(printable: false)
            let hexOutput = try written { out in
                try withBuffers(bytes("A"), []) { k, v in try hexWriter.write(key: k, value: v, to: &out) }
            }
            #expect(text(hexOutput) == " 41\n \n")
        }

        @Test(arguments: [false, true])
        func roundTripsThroughTheParser(printable: Bool) throws {
            var generator = SeededRNG()  // LOOKUP_TEST_SEED=<seed> repeats a failing run
            var records: [([UInt8], [UInt8])] = []
            for i in 0..<300 {
                let key = bytes("k\(i)") + (0..<Int.random(in: 0...20, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let value = (0..<Int.random(in: 0...600, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                records.append((key, value))
            }
            let writer = MDBDumpWriter(printable: printable)
            let output = try written { out in
                try writer.writeHeader(to: &out, mapSize: 1 << 20)
                for (key, value) in records {
                    try withBuffers(key, value) { k, v in try writer.write(key: k, value: v, to: &out) }
                }
                try writer.writeFooter(to: &out)
            }
            let result = try parse(.mdbDump, output)
            #expect(result.bad.isEmpty, "seed \(generator.seed)")
            #expect(result.records.map(\.key) == records.map(\.0), "seed \(generator.seed)")
            #expect(result.records.map(\.value) == records.map(\.1), "seed \(generator.seed)")
        }
    }
}

// MARK: - cdbmake

extension FormatTests {
    @Suite struct CDBTests: FormatTesting {
        @Test func records() throws {
            let input = bytes("+3,5:one->Hello\n+3,7:two->Goodbye\n+1,0:e->\n+4,6:a\nb\n->x\ny\nz\n\n+1,1:k->v\n\n")
            let result = try parse(.cdb, input)
            #expect(result.pairs == [["one", "Hello"], ["two", "Goodbye"], ["e", ""], ["a\nb\n", "x\ny\nz\n"], ["k", "v"]])
            #expect(result.lines == [1, 2, 3, 4, 10])
            #expect(result.bad.isEmpty)
        }

        @Test func binaryBytesAndNoFinalEmptyLine() throws {
            let input = bytes("+2,3:") + [0x00, 0xFF] + bytes("->") + [0x2B, 0x0A, 0x3A] + bytes("\n+1,1:x->y\n")
            let result = try parse(.cdb, input)
            #expect(result.records.map(\.key) == [[0x00, 0xFF], bytes("x")])
            #expect(result.records.map(\.value) == [[0x2B, 0x0A, 0x3A], bytes("y")])
            #expect(result.lines == [1, 3])
            #expect(result.bad.isEmpty)
        }

        @Test func malformedHeadersResync() throws {
            let input = bytes("+3x5:one->Hello\n+3,3:two->abc\n+,1:a->b\n+1,1;a->b\nxyz\n+1,1:c->d\n\n")
            let result = try parse(.cdb, input)
            #expect(result.pairs == [["two", "abc"], ["c", "d"]])
            #expect(result.badLines == [1, 3, 4])
            #expect(result.bad.allSatisfy { $0.message.hasPrefix("malformed record header") })
            #expect(result.bad[0].message.contains("expected ','"))
        }

        @Test func wrongSeparatorsAndMissingNewline() throws {
            let result = try parse(.cdb, bytes("+3,2:one=>hi\n+1,1:a->b\n+2,1:ab->cd\n+1,1:e->f\n\n"))
            #expect(result.pairs == [["a", "b"], ["e", "f"]])
            #expect(result.badLines == [1, 3])
            #expect(result.bad[0].message.contains("expected '->'"))
            #expect(result.bad[1].message.contains("expected a newline after the 1-byte data"))
        }

        @Test func recordNotStartingWithPlus() throws {
            let result = try parse(.cdb, bytes("junk\n+1,1:a->b\n\n"))
            #expect(result.pairs == [["a", "b"]])
            #expect(result.bad.first?.message.contains("does not start with '+'") == true)
            #expect(result.badLines == [1])
        }

        @Test func emptyAndLongKeys() throws {
            let long = String(repeating: "k", count: 600)
            let result = try parse(.cdb, bytes("+0,1:->x\n+600,1:\(long)->y\n+2,1:ok->z\n\n"))
            #expect(result.pairs == [["ok", "z"]])
            #expect(result.bad.map(\.message) == ["empty key", "key is 600 bytes; LMDB keys are at most 511 bytes"])
            #expect(result.badLines == [1, 2])
        }

        @Test func truncatedRecordEndsTheParse() throws {
            let result = try parse(.cdb, bytes("+1,1:a->b\n+5,10:short->abc"))
            #expect(result.pairs == [["a", "b"]])
            #expect(result.badLines == [2])
            #expect(result.bad.first?.message.contains("truncated") == true)
            let header = try parse(.cdb, bytes("+1,1:a->b\n+12"))
            #expect(header.pairs == [["a", "b"]])
            #expect(header.bad.first?.message.contains("truncated") == true)
            let missingNewline = try parse(.cdb, bytes("+1,1:a->b"))
            #expect(missingNewline.records.isEmpty)
            #expect(missingNewline.bad.count == 1)
        }

        @Test func dataAfterTheEndLine() throws {
            let result = try parse(.cdb, bytes("+1,1:a->b\n\n+1,1:c->d\n"))
            #expect(result.pairs == [["a", "b"]])
            #expect(result.badLines == [3])
        }

        @Test func strictModeAndGzip() throws {
            let error = try strictError(.cdb, bytes("+1,1:a->b\n+1,1:c=>d\n\n"))
            #expect(error?.line == 2)
            let dir = try TempDir("format")
            let compressed = try gzip(try dir.write("x.cdb", "+1,3:k->a\nb\n\n"))
            let result = try parseFile(.cdb, compressed)
            #expect(result.pairs == [["k", "a\nb"]])
        }
    }
}

// MARK: - DelimitedWriter

extension FormatTests {
    @Suite struct DelimitedWriterTests: FormatTesting {
        func line(_ writer: DelimitedWriter, _ key: String, _ value: String) throws -> String {
            text(try written { out in
                try withBuffers(bytes(key), bytes(value)) { k, v in try writer.write(key: k, value: v, to: &out) }
            })
        }

        @Test func csvQuotesWhenNeeded() throws {
            let writer = DelimitedWriter(delimiter: UInt8(ascii: ","), quoting: true, rawValue: false)
            #expect(try line(writer, "plain", "value") == "plain,value\n")
            #expect(try line(writer, "a,b", "x") == "\"a,b\",x\n")
            #expect(try line(writer, "say \"hi\"", "q\"") == "\"say \"\"hi\"\"\",\"q\"\"\"\n")
            #expect(try line(writer, "two\nlines", "cr\r") == "\"two\nlines\",\"cr\r\"\n")
            #expect(try line(writer, "k", "") == "k,\n")
        }

        @Test func csvRawValuesAreWrittenAsTheyAre() throws {
            let writer = DelimitedWriter(delimiter: UInt8(ascii: ","), quoting: true, rawValue: true)
            #expect(try line(writer, "a,b", "\"x,y\",z") == "\"a,b\",\"x,y\",z\n")
        }

        @Test func csvRoundTripsThroughTheParser() throws {
            let writer = DelimitedWriter(delimiter: UInt8(ascii: ","), quoting: true, rawValue: true)
            let rows = [["a,b", "\"x,y\",z"], ["q\"uote", "1"], ["multi\nline", "\"v\nw\""], ["plain", ""]]
            let output = try written { out in
                for row in rows {
                    try withBuffers(bytes(row[0]), bytes(row[1])) { k, v in try writer.write(key: k, value: v, to: &out) }
                }
            }
            #expect(try parse(.csv, output).pairs == rows)
        }

        @Test func tsvRejectsWhatItCannotWrite() throws {
            let writer = DelimitedWriter(delimiter: 9, quoting: false, rawValue: false)
            #expect(try line(writer, "k", "a\tb") == "k\ta\tb\n")
            #expect(try line(writer, "k\"", "\"v") == "k\"\t\"v\n")
            for (key, value) in [("a\tb", "v"), ("a\nb", "v"), ("a\rb", "v"), ("k", "line\nbreak"), ("k", "cr\r")] {
                do {
                    _ = try line(writer, key, value)
                    Issue.record("\(key) / \(value) must not be written as TSV")
                } catch let error as LookupError {
                    #expect(error.kind == .usage)
                    #expect(error.message.hasSuffix("cannot be written as TSV; use --format mdb-dump"))
                }
            }
        }
    }
}
