import Crypto
import Foundation

extension UUID {
    /// Parses the 36-character hyphenated form (`8-4-4-4-12` hex digits, either case): the only
    /// form the contract accepts, and the one JSON Schema's `uuid` format checks.
    init?(contractString text: String) {
        let parsed: uuid_t? = text.withUTF8Bytes { bytes -> uuid_t? in
            guard bytes.count == 36 else { return nil }
            var output = [UInt8](repeating: 0, count: 16)
            var outputIndex = 0
            var index = 0
            while index < 36 {
                if index == 8 || index == 13 || index == 18 || index == 23 {
                    guard bytes[index] == UInt8(ascii: "-") else { return nil }
                    index += 1
                    continue
                }
                guard let high = UUID.hexValue(bytes[index]), let low = UUID.hexValue(bytes[index + 1]) else {
                    return nil
                }
                output[outputIndex] = high << 4 | low
                outputIndex += 1
                index += 2
            }
            return (
                output[0], output[1], output[2], output[3], output[4], output[5], output[6], output[7],
                output[8], output[9], output[10], output[11], output[12], output[13], output[14], output[15]
            )
        }
        guard let parsed else { return nil }
        self.init(uuid: parsed)
    }

    /// The lowercase hyphenated form (RFC 9562 section 4 recommends lowercase on output).
    var lowercaseString: String {
        self.uuidString.lowercased()
    }

    /// A name-based UUID, version 5 (SHA-1), RFC 9562 section 5.5.
    static func nameBased(namespace: UUID, name: some Sequence<UInt8>) -> UUID {
        var hasher = Insecure.SHA1()
        withUnsafeBytes(of: namespace.uuid) { hasher.update(bufferPointer: $0) }
        hasher.update(data: Array(name))
        var bytes = Array(hasher.finalize().prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50  // version 5
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // variant 10
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            )
        )
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
