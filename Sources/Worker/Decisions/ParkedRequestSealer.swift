import Crypto
import Foundation
import Identity

/// Seals the raw request of a parked check before it goes to PostgreSQL, so
/// that the database never holds names, numbers or birth dates in clear.
/// ChaCha20-Poly1305 under a key derived from the subject-ref key (HKDF,
/// info `tthc.parked-request.v1`), with the request key as associated data.
///
/// Sealing uses the current `SUBJECT_REF_KEY` and names it (``SubjectRefKey/keyID``); opening
/// tries the key the check names, among the current and `SUBJECT_REF_KEY_PREVIOUS` keys, and
/// every key when the check names none (sealed before key ids were recorded) or an unknown one.
struct ParkedRequestSealer: Sendable {
    /// One key: its id and the derived key's bytes (`SymmetricKey` is not `Sendable`).
    private struct Key: Sendable {
        var id: String
        var bytes: [UInt8]
        var symmetric: SymmetricKey { SymmetricKey(data: bytes) }
    }

    /// The current key first, then the previous ones in the order configured.
    private let keys: [Key]

    /// The ids of the keys this sealer holds, the current one first.
    var keyIDs: [String] { keys.map(\.id) }

    /// The id of the key new checks are sealed with.
    var currentKeyID: String { keys[0].id }

    init(subjectRefKey: [UInt8], previousKeys: [[UInt8]] = []) {
        keys = ([subjectRefKey] + previousKeys).map { raw in
            let derived = HKDF<SHA256>.deriveKey(
                inputKeyMaterial: SymmetricKey(data: raw), info: Data("tthc.parked-request.v1".utf8), outputByteCount: 32)
            return Key(id: SubjectRefKey.keyID(of: raw), bytes: derived.withUnsafeBytes { Array($0) })
        }
    }

    /// The sealed request and the id of the key that sealed it.
    func seal(_ value: [UInt8], requestKey: String) throws -> (sealed: [UInt8], keyID: String) {
        let box = try ChaChaPoly.seal(value, using: keys[0].symmetric, authenticating: Data(requestKey.utf8))
        return (Array(box.combined), keys[0].id)
    }

    /// The request, or `nil` when no key held opens it.
    func open(_ sealed: [UInt8], requestKey: String, keyID: String?) -> [UInt8]? {
        guard let box = try? ChaChaPoly.SealedBox(combined: sealed) else { return nil }
        let named = keys.filter { $0.id == keyID }
        for key in named + keys.filter({ $0.id != keyID }) {
            if let value = try? ChaChaPoly.open(box, using: key.symmetric, authenticating: Data(requestKey.utf8)) {
                return Array(value)
            }
        }
        return nil
    }
}
