// JSONKeyReaderTests: unit tests of the reader of the lookup key in a JSON Lines input line
// (dotted member paths, strings and integers, composite keys, strict validation of the line).
import Testing
@testable import SharedLookup

@Suite struct JSONKeyReaderTests {
    /// What the reader said about a line, copied out of its buffers.
    enum Got: Equatable, CustomStringConvertible {
        case key([UInt8])
        case bad(String)

        /// A key given as text.
        static func text(_ key: String) -> Got { .key(Array(key.utf8)) }

        var description: String {
            switch self {
            case .key(let bytes): return "key(\(Array(bytes)) \"\(String(decoding: bytes, as: UTF8.self))\")"
            case .bad(let message): return "bad(\(message))"
            }
        }
    }

    func read(_ reader: JSONKeyReader, _ line: String) -> Got { read(reader, bytes: Array(line.utf8)) }

    func read(_ reader: JSONKeyReader, bytes: [UInt8]) -> Got {
        bytes.withUnsafeBytes { buffer in
            switch reader.key(in: buffer) {
            case .key(let key): return .key(Array(key))
            case .bad(let message): return .bad(message)
            }
        }
    }

    func reader(_ paths: String...) throws -> JSONKeyReader { try JSONKeyReader(paths: paths) }

    @Test func topLevelAndNestedPaths() throws {
        let id = try reader("id")
        #expect(read(id, #"{"id":"abc","x":1}"#) == .text("abc"))
        #expect(read(id, #"{"x":{"id":"inner"},"id":"top"}"#) == .text("top"))
        let userID = try reader("user.id")
        #expect(read(userID, #"{"id":"top","user":{"name":"n","id":"u1"}}"#) == .text("u1"))
        #expect(read(userID, #"{"user":{"user":{"id":"deeper"},"id":"u2"}}"#) == .text("u2"))
        let deep = try reader("a.b.c")
        #expect(read(deep, #"{"a":{"x":1,"b":{"c":"abc","d":[]}}}"#) == .text("abc"))
        #expect(deep.paths == ["a.b.c"])
    }

    @Test func memberOrderIsIrrelevant() throws {
        let r = try reader("user.id", "region")
        let expected = Got.key(Array("7".utf8) + [0x1F] + Array("eu".utf8))
        #expect(read(r, #"{"region":"eu","user":{"id":7}}"#) == expected)
        #expect(read(r, #"{"user":{"id":7},"region":"eu"}"#) == expected)
        #expect(read(r, #"{"a":[1,{"region":"no"}],"user":{"x":null,"id":7,"y":{}},"b":"c","region":"eu"}"#) == expected)
    }

    @Test func stringEscapesAreDecoded() throws {
        let r = try reader("id")
        let line = #"{"id":"a\"b\\c\nd\u00e9\ud83d\ude00\/"}"#
        #expect(read(r, line) == .key(Array("a\"b\\c".utf8) + [0x0A] + Array("dé😀/".utf8)))
        // A member name with escapes matches its decoded text.
        #expect(read(r, #"{"\u0069d":"x"}"#) == .text("x"))
        #expect(read(try reader("user.id"), #"{"us\u0065r":{"i\u0064":"y"}}"#) == .text("y"))
        // A name that does not decode matches nothing.
        #expect(read(r, #"{"\ud800":"x","id":"z"}"#) == .text("z"))
    }

    @Test func unescapedKeysAreSlicesOfTheLine() throws {
        let r = try reader("id")
        let line = Array(#"{"id":"plain","n":1}"#.utf8)
        line.withUnsafeBytes { buffer in
            guard case .key(let key) = r.key(in: buffer) else { Issue.record("no key"); return }
            #expect(key.baseAddress == buffer.baseAddress! + 7)
            #expect(key.count == 5)
        }
    }

    @Test func loneSurrogateInTheKeyIsBad() throws {
        let r = try reader("id")
        #expect(read(r, #"{"id":"a\ud800"}"#) == .bad(#""id": unpaired surrogate \uD800"#))
        #expect(read(r, #"{"id":"\udc00b"}"#) == .bad(#""id": unpaired surrogate \uDC00"#))
    }

    @Test func integersKeepTheirText() throws {
        let r = try reader("n")
        #expect(read(r, #"{"n":42}"#) == .text("42"))
        #expect(read(r, #"{"n":-7}"#) == .text("-7"))
        #expect(read(r, #"{"n":0}"#) == .text("0"))
        #expect(read(r, #"{"n":-0}"#) == .text("-0"))
        #expect(read(r, #"{"n":123456789012345678901234567890}"#) == .text("123456789012345678901234567890"))
        #expect(read(r, #"{"n" : 5 }"#) == .text("5"))
    }

    @Test func otherValueTypesAreRefused() throws {
        let r = try reader("n")
        let tail = "; keys are strings or integers"
        #expect(read(r, #"{"n":1.5}"#) == .bad(#""n" is a number with a fraction"# + tail))
        #expect(read(r, #"{"n":1.5e3}"#) == .bad(#""n" is a number with a fraction"# + tail))
        #expect(read(r, #"{"n":1e5}"#) == .bad(#""n" is a number with an exponent"# + tail))
        #expect(read(r, #"{"n":-2E+3}"#) == .bad(#""n" is a number with an exponent"# + tail))
        #expect(read(r, #"{"n":true}"#) == .bad(#""n" is a boolean"# + tail))
        #expect(read(r, #"{"n":false}"#) == .bad(#""n" is a boolean"# + tail))
        #expect(read(r, #"{"n":null}"#) == .bad(#""n" is null"# + tail))
        #expect(read(r, #"{"n":{"a":1}}"#) == .bad(#""n" is an object"# + tail))
        #expect(read(r, #"{"n":[1]}"#) == .bad(#""n" is an array"# + tail))
        #expect(read(try reader("u.n"), #"{"u":{"n":0.0}}"#) == .bad(#""u.n" is a number with a fraction"# + tail))
    }

    @Test func missingMembers() throws {
        #expect(read(try reader("id"), #"{"ID":"x","Id":1}"#) == .bad(#"no "id" in the object"#))
        #expect(read(try reader("id"), "{}") == .bad(#"no "id" in the object"#))
        let nested = try reader("user.id")
        #expect(read(nested, #"{"user":{}}"#) == .bad(#"no "user.id" in the object"#))
        #expect(read(nested, #"{"id":1,"user":{"name":"x"}}"#) == .bad(#"no "user.id" in the object"#))
        #expect(read(nested, #"{"x":{"user":{"id":1}}}"#) == .bad(#"no "user.id" in the object"#))
    }

    @Test func intermediateMembersMustBeObjects() throws {
        let r = try reader("user.id")
        for value in [#""x""#, "1", "null", "true", #"[{"id":1}]"#] {
            #expect(read(r, #"{"user":"# + value + "}") == .bad(#""user" is not an object"#))
        }
        #expect(read(try reader("a.b.c"), #"{"a":{"b":[]}}"#) == .bad(#""a.b" is not an object"#))
    }

    @Test func membersOnThePathMayNotRepeat() throws {
        let id = try reader("id")
        #expect(read(id, #"{"id":1,"id":2}"#) == .bad(#""id" appears twice in the object"#))
        #expect(read(id, #"{"id":1,"\u0069d":1}"#) == .bad(#""id" appears twice in the object"#))
        // Repeats off the path are not looked at.
        #expect(read(id, #"{"x":1,"x":2,"id":3,"y":{"id":1,"id":2}}"#) == .text("3"))
        let nested = try reader("user.id")
        #expect(read(nested, #"{"user":{"id":1},"user":{"id":2}}"#) == .bad(#""user" appears twice in the object"#))
        #expect(read(nested, #"{"user":{"id":1},"user":3}"#) == .bad(#""user" appears twice in the object"#))
        #expect(read(nested, #"{"user":{"id":1,"id":1}}"#) == .bad(#""user.id" appears twice in the object"#))
    }

    @Test func compositeKeysAreJoinedBy0x1F() throws {
        let r = try reader("user.id", "user.name", "region")
        let line = #"{"region":"e\u0075","user":{"name":"Zo\u00eb","id":-3}}"#
        #expect(read(r, line) == .key(Array("-3".utf8) + [0x1F] + Array("Zoë".utf8) + [0x1F] + Array("eu".utf8)))
        #expect(read(r, #"{"region":"eu","user":{"id":1}}"#) == .bad(#"no "user.name" in the object"#))
        #expect(read(r, #"{"region":1.0,"user":{"id":1,"name":"n"}}"#)
                == .bad(#""region" is a number with a fraction; keys are strings or integers"#))
        // A part holding the separator would make keys ambiguous.
        #expect(read(r, #"{"region":"a\u001fb","user":{"id":1,"name":"n"}}"#)
                == .bad(#""region" holds the byte 0x1F, which separates the parts of a composite key"#))
        // Empty parts are kept (the caller judges the whole key).
        #expect(read(try reader("a", "b"), #"{"a":"","b":""}"#) == .key([0x1F]))
        // The order of the paths is the order of the parts.
        #expect(read(try reader("b", "a"), #"{"a":"1","b":"2"}"#) == .text("2\u{1F}1"))
        // With one path a 0x1F is just a byte of the key.
        #expect(read(try reader("a"), #"{"a":"x\u001f"}"#) == .key([0x78, 0x1F]))
    }

    @Test func invalidJSON() throws {
        let r = try reader("id")
        let cases: [(String, String)] = [
            (#"{"id":"x""#, "invalid JSON: object not closed at byte 10"),
            (#"{"id":"x"#, "invalid JSON: string not closed at byte 9"),
            (#"{"id":"#, "invalid JSON: expected a value, found the end of the line at byte 7"),
            ("{", "invalid JSON: expected a member name in quotes at byte 2"),
            (#"{"id":"x",}"#, "invalid JSON: expected a member name in quotes at byte 11"),
            (#"{"id":"x"} x"#, "invalid JSON: text after the JSON object at byte 12"),
            (#"{"id":"x"}{}"#, "invalid JSON: text after the JSON object at byte 11"),
            (#"{"id":"x" "y":1}"#, "invalid JSON: expected ',' or '}' at byte 11"),
            (#"{"id" "x"}"#, "invalid JSON: expected ':' after a member name at byte 7"),
            (#"{id:"x"}"#, "invalid JSON: expected a member name in quotes at byte 2"),
            (#"{"id":"x\q"}"#, #"invalid JSON: bad escape \q at byte 10"#),
            ("{\"id\":\"a\tb\"}", "invalid JSON: control character 0x09 in a string at byte 9"),
            (#"{"id":01}"#, "invalid JSON: bad number: leading zero at byte 8"),
            (#"{"id":"x","y":[1,}"#, "invalid JSON: unexpected character '}' at byte 18"),
            (#"{"id":"x","y":tru}"#, "invalid JSON: unexpected character 't' at byte 15"),
            // The line is checked whole: a syntax error after a problem with the key wins.
            (#"{"id":true,"#, "invalid JSON: expected a member name in quotes at byte 12"),
            (#"{"id":1,"id":2"#, "invalid JSON: object not closed at byte 15"),
            // Not an object.
            (#"[1,2]"#, "line is a JSON array, not an object"),
            (#""id""#, "line is a JSON string, not an object"),
            (" 12 ", "line is a JSON number, not an object"),
            ("null", "line is a JSON null, not an object"),
            (#""id"#, "invalid JSON: string not closed at byte 4"),
            (#"[1] 2"#, "invalid JSON: text after the JSON value at byte 5"),
            ("id", "invalid JSON: unexpected character 'i' at byte 1"),
        ]
        for (line, message) in cases {
            #expect(read(r, line) == .bad(message), "\(line)")
        }
        // Invalid UTF-8 in a member name, and in a value off the path.
        #expect(read(r, bytes: Array(#"{"i"#.utf8) + [0xC3, 0x28] + Array(#"":1,"id":2}"#.utf8))
                == .bad("invalid JSON: invalid UTF-8 at byte 4"))
        #expect(read(r, bytes: Array(#"{"id":2,"v":""#.utf8) + [0xFF] + Array(#""}"#.utf8))
                == .bad("invalid JSON: invalid UTF-8 at byte 14"))
    }

    @Test func whitespaceAndEmptyLines() throws {
        let r = try reader("user.id")
        #expect(read(r, " \t{ \"user\" :\t{ \"id\" : \"x\" } , \"a\" : [ 1 , 2 ] }  \r") == .text("x"))
        #expect(read(r, "") == .bad("empty line"))
        #expect(read(r, " \t\r") == .bad("empty line"))
    }

    @Test func deepNestingOffThePathIsSkipped() throws {
        let r = try reader("id")
        let deep = String(repeating: "[{\"a\":", count: 200) + "1" + String(repeating: "}]", count: 200)
        #expect(read(r, #"{"skip":"# + deep + #","id":"k"}"#) == .text("k"))
        // The scanner's nesting limit still holds.
        let tooDeep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        guard case .bad(let message) = read(r, #"{"id":"k","x":"# + tooDeep + "}") else {
            Issue.record("too deep a line was taken")
            return
        }
        #expect(message.hasPrefix("invalid JSON: nested more than \(JSONScanner.maxDepth) levels deep"))
    }

    @Test func eachLineStartsAfresh() throws {
        let r = try reader("user.id", "k")
        #expect(read(r, #"{"user":{"id":"a"},"k":"b"}"#) == .text("a\u{1F}b"))
        // Members met on the line before count neither as found nor as repeated.
        #expect(read(r, #"{"k":"c"}"#) == .bad(#"no "user.id" in the object"#))
        #expect(read(r, #"{"user":{"id":"d"},"k":"e"}"#) == .text("d\u{1F}e"))
        #expect(read(r, #"{"user":{"id":"d"},"k":"e"}"#) == .text("d\u{1F}e"))
    }

    @Test func badPathsAreUsageErrors() throws {
        let cases: [[String]: String] = [
            []: "no key field given",
            [""]: "empty key field",
            ["id", ""]: "empty key field",
            ["user..id"]: "key field \"user..id\" has an empty member name (paths are names joined by '.')",
            [".id"]: "key field \".id\" has an empty member name (paths are names joined by '.')",
            ["id."]: "key field \"id.\" has an empty member name (paths are names joined by '.')",
            ["id", "id"]: "key field \"id\" is given twice",
            ["user", "user.id"]: "key fields \"user\" and \"user.id\" overlap: a key field cannot hold another",
            ["user.id", "user"]: "key fields \"user\" and \"user.id\" overlap: a key field cannot hold another",
        ]
        for (paths, message) in cases {
            #expect(throws: LookupError(.usage, message), "\(paths)") { try JSONKeyReader(paths: paths) }
        }
        // Paths sharing a prefix, and names with odd bytes, are fine.
        #expect(throws: Never.self) { try JSONKeyReader(paths: ["a.b", "a.c", "é", "a b"]) }
        #expect(read(try reader("é", "a b"), #"{"a b":1,"é":2}"#) == .text("2\u{1F}1"))
    }
}
