import Crypto
import Foundation

/// Seals the raw request of a parked check before it goes to PostgreSQL, so
/// that the database never holds names, numbers or birth dates in clear.
/// ChaCha20-Poly1305 under a key derived from the subject-ref key (HKDF,
/// info `tthc.parked-request.v1`), with the request key as associated data.
struct ParkedRequestSealer: Sendable {
    /// The derived key's bytes (`SymmetricKey` is not `Sendable`).
    private let keyBytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    init(subjectRefKey: [UInt8]) {
        let derived = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: subjectRefKey), info: Data("tthc.parked-request.v1".utf8),
            outputByteCount: 32)
        keyBytes = derived.withUnsafeBytes { Array($0) }
    }

    func seal(_ value: [UInt8], requestKey: String) throws -> [UInt8] {
        let box = try ChaChaPoly.seal(value, using: key, authenticating: Data(requestKey.utf8))
        return Array(box.combined)
    }

    func open(_ sealed: [UInt8], requestKey: String) throws -> [UInt8] {
        let box = try ChaChaPoly.SealedBox(combined: sealed)
        return Array(try ChaChaPoly.open(box, using: key, authenticating: Data(requestKey.utf8)))
    }
}
