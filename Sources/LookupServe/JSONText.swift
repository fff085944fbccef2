// JSONText: JSON written straight into a response buffer (strings escaped, invalid UTF-8
// repaired), so a batch of many keys is answered without building an object tree.
import NIOCore

/// JSON text being written into a `ByteBuffer`.
struct JSONText {
    /// The text written so far.
    var buffer: ByteBuffer

    init(capacity: Int = 256) {
        buffer = ByteBuffer()
        buffer.reserveCapacity(capacity)
    }

    /// Appends text as is (punctuation, keys known to need no escaping).
    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { _ = buffer.writeBytes($0) }
    }

    /// Appends a decimal integer.
    mutating func int(_ value: Int) {
        buffer.writeString(String(value))
    }

    /// Appends `text` as a JSON string literal.
    mutating func string(_ text: String) {
        var copy = text
        copy.withUTF8 { string(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Appends `bytes` as a JSON string literal. Bytes that are not valid UTF-8 become U+FFFD.
    mutating func string(bytes: UnsafeRawBufferPointer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        // Fast path: printable ASCII with nothing to escape is copied as is.
        if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x80 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            buffer.writeBytes(bytes)
        } else {
            for unit in String(decoding: bytes, as: UTF8.self).utf8 {
                switch unit {
                case UInt8(ascii: "\""): raw("\\\"")
                case UInt8(ascii: "\\"): raw("\\\\")
                case 0x0A: raw("\\n")
                case 0x0D: raw("\\r")
                case 0x09: raw("\\t")
                case 0..<0x20:
                    raw("\\u00")
                    buffer.writeInteger(Self.hexDigits[Int(unit >> 4)])
                    buffer.writeInteger(Self.hexDigits[Int(unit & 15)])
                default: buffer.writeInteger(unit)
                }
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// `{"error": message}` and a newline: the body of every error response.
    static func errorBody(_ message: String, key: UnsafeRawBufferPointer? = nil) -> ByteBuffer {
        var json = JSONText()
        json.raw("{\"error\":")
        json.string(message)
        if let key {
            json.raw(",\"key\":")
            json.string(bytes: key)
        }
        json.raw("}\n")
        return json.buffer
    }
}
