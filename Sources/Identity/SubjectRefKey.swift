import Crypto

/// The service's subject key: turns an id number into `subject.ref`, the base64url (no padding)
/// HMAC-SHA256 of the normalised digits, so auditors can correlate one person's checks without
/// seeing the number. `description` never prints the key.
public struct SubjectRefKey: Sendable, CustomStringConvertible {
    private let keyBytes: [UInt8]
    private let keyed: KeyedHMAC

    public init(keyBytes: [UInt8]) {
        self.keyBytes = keyBytes
        self.keyed = KeyedHMAC(key: keyBytes)
    }

    /// `subject.ref` for a normalised id number (see ``IDNumber/normalize(_:)``).
    public func ref(for normalizedIDNumber: String) -> String {
        Base64URL.encode(self.keyed.authenticationCode(for: Array(normalizedIDNumber.utf8)))
    }

    /// The key's public name: lowercase hex of the first 8 bytes of SHA-256 of its bytes. Parked
    /// checks record it, so that a check sealed with an older key is opened with that key.
    public var keyID: String { Self.keyID(of: self.keyBytes) }

    public static func keyID(of keyBytes: [UInt8]) -> String {
        SHA256.hash(data: keyBytes).prefix(8).map { byte in
            let hex = Array("0123456789abcdef".utf8)
            return String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
        }.joined()
    }

    public var description: String { "SubjectRefKey(\(self.keyBytes.count) bytes, redacted)" }
}

/// An HMAC-SHA256 keyed once. Keying hashes two blocks and allocates, about as much as the MAC of a
/// short message: once per verdict it was 1 % of the worker's CPU in a burst. Each code is computed
/// on a copy; the hashers copy their state on first update (copy on write), so the keyed original
/// is never mutated and may be shared between threads.
public final class KeyedHMAC: @unchecked Sendable {
    private let keyed: HMAC<SHA256>

    public init(key: [UInt8]) {
        self.keyed = HMAC<SHA256>(key: SymmetricKey(data: key))
    }

    public func authenticationCode(for message: [UInt8]) -> [UInt8] {
        var mac = self.keyed
        mac.update(data: message)
        return Array(mac.finalize())
    }
}

/// Base64url without padding (RFC 4648 section 5).
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index + 3 <= bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            output.append(alphabet[Int(chunk >> 18 & 63)])
            output.append(alphabet[Int(chunk >> 12 & 63)])
            output.append(alphabet[Int(chunk >> 6 & 63)])
            output.append(alphabet[Int(chunk & 63)])
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            let chunk = UInt32(bytes[index]) << 16 | (rest == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
            output.append(alphabet[Int(chunk >> 18 & 63)])
            output.append(alphabet[Int(chunk >> 12 & 63)])
            if rest == 2 { output.append(alphabet[Int(chunk >> 6 & 63)]) }
        }
        return String(decoding: output, as: UTF8.self)
    }
}
