/// Writes JSON in a fixed field order, so the same value always gives the same bytes (a stored
/// verdict is re-emitted byte for byte). Non-ASCII text is written as UTF-8, not escaped. Shared
/// within the package: the registry client writes its query with it too.
package struct JSONWriter {
    package private(set) var bytes: [UInt8] = []
    private var needsComma = false

    package init(capacity: Int = 256) {
        self.bytes.reserveCapacity(capacity)
    }

    package mutating func beginObject() {
        self.separator()
        self.bytes.append(UInt8(ascii: "{"))
        self.needsComma = false
    }

    package mutating func endObject() {
        self.bytes.append(UInt8(ascii: "}"))
        self.needsComma = true
    }

    package mutating func beginArray() {
        self.separator()
        self.bytes.append(UInt8(ascii: "["))
        self.needsComma = false
    }

    package mutating func endArray() {
        self.bytes.append(UInt8(ascii: "]"))
        self.needsComma = true
    }

    /// A member name; the value written next belongs to it.
    package mutating func key(_ name: String) {
        self.separator()
        self.appendQuoted(name)
        self.bytes.append(UInt8(ascii: ":"))
        self.needsComma = false
    }

    package mutating func string(_ value: String) {
        self.separator()
        self.appendQuoted(value)
        self.needsComma = true
    }

    package mutating func int(_ value: Int) {
        self.separator()
        self.bytes.append(contentsOf: String(value).utf8)
        self.needsComma = true
    }

    package mutating func bool(_ value: Bool) {
        self.separator()
        self.bytes.append(contentsOf: (value ? "true" : "false").utf8)
        self.needsComma = true
    }

    package mutating func null() {
        self.separator()
        self.bytes.append(contentsOf: "null".utf8)
        self.needsComma = true
    }

    package mutating func field(_ name: String, _ value: String) {
        self.key(name)
        self.string(value)
    }

    package mutating func field(_ name: String, _ value: Int) {
        self.key(name)
        self.int(value)
    }

    package mutating func field(_ name: String, _ value: Bool) {
        self.key(name)
        self.bool(value)
    }

    private mutating func separator() {
        if self.needsComma {
            self.bytes.append(UInt8(ascii: ","))
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private mutating func appendQuoted(_ text: String) {
        self.bytes.append(UInt8(ascii: "\""))
        // Most values need no escaping: checked over the string's bytes in place and copied in one
        // go (byte by byte was the writer's main cost; scanning through the UTF-8 view's iterator
        // was the next).
        func needsEscape(_ byte: UInt8) -> Bool { byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") }
        let plain = text.utf8.withContiguousStorageIfAvailable { !$0.contains(where: needsEscape) } ?? !text.utf8.contains(where: needsEscape)
        if plain {
            self.bytes.append(contentsOf: text.utf8)
            self.bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x00..<0x20:
                self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                self.bytes.append(JSONWriter.hexDigits[Int(byte >> 4)])
                self.bytes.append(JSONWriter.hexDigits[Int(byte & 0x0F)])
            default:
                self.bytes.append(byte)
            }
        }
        self.bytes.append(UInt8(ascii: "\""))
    }
}
