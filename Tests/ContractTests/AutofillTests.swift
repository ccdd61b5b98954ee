import Crypto
import Foundation
import Testing

@testable import Contract

@Suite("Autofill")
struct AutofillTests {
    static let record = CitizenRecord(
        fullName: "Nguyễn Thị Thuỷ",
        dateOfBirth: "1990-04-12",
        gender: "female",
        nationality: "Việt Nam",
        ethnicity: "Kinh",
        religion: "Không",
        placeOfOrigin: "Xã Tân Trường, Huyện Cẩm Giàng, Hải Dương",
        permanentAddress: "Số 12 Ngõ 34, Phường Láng Hạ, Quận Đống Đa, Hà Nội",
        currentAddress: "Số 12 Ngõ 34, Phường Láng Hạ, Quận Đống Đa, Hà Nội",
        personalIdNumber: "030190012345",
        formerIdNumber: nil
    )

    @Test("the default field set leaves out ethnicity and religion")
    func defaultFields() throws {
        #expect(AutofillField.defaultFields == Set(AutofillField.allCases).subtracting([.ethnicity, .religion]))
        let plaintext = String(decoding: AutofillSealer().plaintext(Self.record), as: UTF8.self)
        #expect(!plaintext.contains("ethnicity") && !plaintext.contains("Kinh"))
        #expect(!plaintext.contains("religion"))
        #expect(plaintext.hasPrefix(#"{"fullName":"Nguyễn Thị Thuỷ","dateOfBirth":"1990-04-12","gender":"female""#))
        #expect(plaintext.hasSuffix(#""personalIdNumber":"030190012345","formerIdNumber":null}"#))
        let only = String(decoding: AutofillSealer(fields: [.fullName, .religion]).plaintext(Self.record), as: UTF8.self)
        #expect(only == #"{"fullName":"Nguyễn Thị Thuỷ","religion":"Không"}"#)
        #expect(try AutofillField.parseList("fullName, dateOfBirth").get() == [.fullName, .dateOfBirth])
        #expect(throws: AutofillFieldListError(unknownField: "age")) { try AutofillField.parseList("fullName,age").get() }
        #expect(Self.record.description == "CitizenRecord(redacted)")
    }

    @Test("a HPKE recipient opens the sealed record with the request id as associated data")
    func sealAndOpen() throws {
        let privateKey = Curve25519.KeyAgreement.PrivateKey()
        let recipientKey = try #require(AutofillRecipientKey(rawRepresentation: Array(privateKey.publicKey.rawRepresentation)))
        let requestId = "4f0c9a4e-2b8e-4d59-9a77-0b7d3f1f6a10"
        let sealed = try AutofillSealer().seal(Self.record, to: recipientKey, requestId: requestId)
        let encapsulatedKey = try #require(Base64.decode(sealed.encapsulatedKey))
        let ciphertext = try #require(Base64.decode(sealed.ciphertext))
        #expect(encapsulatedKey.count == 32)

        var recipient = try HPKE.Recipient(
            privateKey: privateKey,
            ciphersuite: .Curve25519_SHA256_ChachaPoly,
            info: Data("tthc.identity.autofill.v1".utf8),
            encapsulatedKey: Data(encapsulatedKey)
        )
        let opened = try recipient.open(ciphertext, authenticating: Array(requestId.utf8))
        #expect(Array(opened) == AutofillSealer().plaintext(Self.record))
        let decoded = try JSONSerialization.jsonObject(with: opened) as? [String: Any]
        #expect(decoded?["fullName"] as? String == "Nguyễn Thị Thuỷ")
        #expect(decoded?["formerIdNumber"] is NSNull)

        // Another request id, or another info, does not open it.
        var wrongAAD = try HPKE.Recipient(privateKey: privateKey, ciphersuite: .Curve25519_SHA256_ChachaPoly, info: Data("tthc.identity.autofill.v1".utf8), encapsulatedKey: Data(encapsulatedKey))
        #expect(throws: (any Error).self) { try wrongAAD.open(ciphertext, authenticating: Array("other".utf8)) }
        var wrongInfo = try HPKE.Recipient(privateKey: privateKey, ciphersuite: .Curve25519_SHA256_ChachaPoly, info: Data("other".utf8), encapsulatedKey: Data(encapsulatedKey))
        #expect(throws: (any Error).self) { try wrongInfo.open(ciphertext, authenticating: Array(requestId.utf8)) }
    }

    @Test("python cryptography's HPKE opens what we seal (same suite and info; it has no associated data, so none is used here)")
    func crossCheckWithPython() throws {
        let privateKey = Curve25519.KeyAgreement.PrivateKey()
        let recipientKey = try #require(AutofillRecipientKey(rawRepresentation: Array(privateKey.publicKey.rawRepresentation)))
        let plaintext = AutofillSealer().plaintext(Self.record)
        let sealed = try AutofillSealer().seal(plaintext, to: recipientKey, associatedData: [])
        let script = """
            import base64, sys
            from cryptography.hazmat.primitives import hpke
            from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
            key = X25519PrivateKey.from_private_bytes(base64.b64decode(sys.argv[1]))
            suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
            message = base64.b64decode(sys.argv[2]) + base64.b64decode(sys.argv[3])
            sys.stdout.write(base64.b64encode(suite.decrypt(message, key, info=b"tthc.identity.autofill.v1")).decode())
            """
        let output = try Python.run(["-c", script, Base64.encode(Array(privateKey.rawRepresentation)), sealed.encapsulatedKey, sealed.ciphertext])
        #expect(output.status == 0, "python3 failed: \(output.stderr)")
        #expect(Base64.decode(output.stdout) == plaintext)
    }
}
