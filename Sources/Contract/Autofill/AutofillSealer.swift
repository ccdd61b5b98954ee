import Crypto
import Foundation

/// Seals the citizen record of a `verified` counter verdict for the officer's front end:
/// HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305,
/// info `tthc.identity.autofill.v1`, associated data = the request id's UTF-8 bytes.
///
/// The plaintext is a JSON object of the configured fields only, in the order of
/// ``AutofillField`` (`formerIdNumber` is `null` when the record has none).
public struct AutofillSealer: Sendable {
    /// The HPKE `info` string.
    public static let info = Array("tthc.identity.autofill.v1".utf8)
    public static var ciphersuite: HPKE.Ciphersuite { .Curve25519_SHA256_ChachaPoly }

    /// The fields sealed. Default: ``AutofillField/defaultFields``.
    public var fields: Set<AutofillField>

    public init(fields: Set<AutofillField> = AutofillField.defaultFields) {
        self.fields = fields
    }

    /// The JSON object sealed (personal data: never log it).
    public func plaintext(_ record: CitizenRecord) -> [UInt8] {
        var writer = JSONWriter(capacity: 512)
        writer.beginObject()
        for field in AutofillField.allCases where self.fields.contains(field) {
            writer.key(field.rawValue)
            if let value = record[field] {
                writer.string(value)
            } else {
                writer.null()
            }
        }
        writer.endObject()
        return writer.bytes
    }

    /// Seals `record` to the front end's key.
    public func seal(_ record: CitizenRecord, to recipientKey: AutofillRecipientKey, requestId: String) throws -> SealedAutofill {
        try self.seal(self.plaintext(record), to: recipientKey, associatedData: Array(requestId.utf8))
    }

    /// The sealing step itself (tests use it with other associated data).
    func seal(_ plaintext: [UInt8], to recipientKey: AutofillRecipientKey, associatedData: [UInt8]) throws -> SealedAutofill {
        let publicKey = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: recipientKey.rawRepresentation)
        var sender = try HPKE.Sender(recipientKey: publicKey, ciphersuite: Self.ciphersuite, info: Data(Self.info))
        let ciphertext = try sender.seal(plaintext, authenticating: associatedData)
        return SealedAutofill(encapsulatedKey: Base64.encode(sender.encapsulatedKey), ciphertext: Base64.encode(ciphertext))
    }
}
