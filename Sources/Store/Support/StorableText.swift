import Crypto
import Foundation

/// Text that came off the wire, made safe for PostgreSQL `text` columns and their indexes.
///
/// PostgreSQL refuses NUL in `text` (SQLSTATE 22021), and a btree index row holds at most about
/// 2.7 kB (SQLSTATE 54000). A request id, dossier code, agency code or message key carrying either
/// would otherwise fail every write of its batch, for ever. Ordinary text is stored as it is, so
/// rows written before this mapping existed keep matching; anything else becomes `U+0001` followed
/// by the base64url SHA-256 of its bytes. Ordinary text never contains `U+0001`, so the two forms
/// cannot meet, and distinct inputs stay distinct (up to SHA-256 collisions).
public enum StorableText {
    /// The longest text, in UTF-8 bytes, stored as it is.
    public static let maximumPlainBytes = 512

    /// The storable form of `text`.
    public static func encode(_ text: String) -> String {
        isPlain(text.utf8) ? text : digest(Array(text.utf8))
    }

    /// The storable form of raw bytes, such as a Kafka message key (which need not be UTF-8).
    public static func encode(bytes: [UInt8]) -> String {
        if bytes.count <= maximumPlainBytes, !bytes.contains(where: { $0 < 2 }),
            let text = String(validating: bytes, as: UTF8.self)
        {
            return text
        }
        return digest(bytes)
    }

    /// A storable name that no encoded text can take: `U+0001`, `~`, then `name` (which must be
    /// plain). For lanes of their own, such as a keyless message's.
    public static func reserved(_ name: String) -> String {
        "\u{1}~" + name
    }

    private static func isPlain(_ utf8: String.UTF8View) -> Bool {
        utf8.count <= maximumPlainBytes && !utf8.contains(where: { $0 < 2 })
    }

    private static func digest(_ bytes: [UInt8]) -> String {
        let hash = Data(SHA256.hash(data: bytes)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return "\u{1}" + hash
    }
}
