import Crypto
import Foundation

/// One row of the audit trail: a check decided, as `audit_trail` holds it.
///
/// Text from the wire is in its stored form (``StorableText``). The row's hash is SHA-256 over
/// `tthc.audit.v1`, the previous row's hash and every field below in order (``chainHash(previous:)``),
/// so a changed, inserted or deleted row breaks the chain from there on.
public struct AuditEntry: Sendable, Hashable {
    /// Position in the chain, from 1, without gaps.
    public var seq: Int64
    /// The verdict's `decidedAt`, in whole microseconds since 1970 (PostgreSQL's precision).
    public var decidedAtMicros: Int64
    /// The request's idempotency key.
    public var requestID: String
    public var agencyCode: String
    public var channel: String
    public var actorKind: String?
    public var actorID: String?
    public var accountID: String?
    public var subjectRef: String?
    public var idNumberMasked: String?
    public var outcome: String
    /// Released autofill fields, comma-separated, sorted.
    public var autofillFields: String?
    public var recipientFingerprint: String?
    /// The `requestId` (stored form) whose registry answer this verdict reused: it made no registry
    /// call (its `attempts` is 0). Absent for every other verdict.
    public var reusedFrom: String?

    public var decidedAt: Date { Date(timeIntervalSince1970: Double(decidedAtMicros) / 1_000_000) }

    public init(
        seq: Int64, decidedAtMicros: Int64, requestID: String, agencyCode: String, channel: String, actorKind: String? = nil,
        actorID: String? = nil, accountID: String? = nil, subjectRef: String? = nil, idNumberMasked: String? = nil,
        outcome: String, autofillFields: String? = nil, recipientFingerprint: String? = nil, reusedFrom: String? = nil
    ) {
        self.seq = seq
        self.decidedAtMicros = decidedAtMicros
        self.requestID = requestID
        self.agencyCode = agencyCode
        self.channel = channel
        self.actorKind = actorKind
        self.actorID = actorID
        self.accountID = accountID
        self.subjectRef = subjectRef
        self.idNumberMasked = idNumberMasked
        self.outcome = outcome
        self.autofillFields = autofillFields
        self.recipientFingerprint = recipientFingerprint
        self.reusedFrom = reusedFrom
    }

    /// The hash of this row chained to `previous` (32 bytes).
    ///
    /// Encoding: the ASCII tag `tthc.audit.v1`, `previous`, `seq` and `decidedAtMicros` as 8-byte
    /// big-endian integers, then each text field in declaration order as `0x00` when absent or `0x01`,
    /// its UTF-8 length as a 4-byte big-endian integer and its bytes; `reusedFrom` (added by
    /// migration 8) only when present, so rows written before it hash as they did.
    public func chainHash(previous: [UInt8]) -> [UInt8] {
        // Gathered into one buffer and hashed in one update: each of the thirty-odd updates it would
        // otherwise take paid the digest's copy-on-write check and a call into BoringSSL, more than
        // hashing the bytes (this runs once per verdict, on the group commit's serial path).
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.tag.count + previous.count + 16 + 12 * 5 + 256)
        bytes.append(contentsOf: Self.tag)
        bytes.append(contentsOf: previous)
        func integer(_ value: Int64) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
        func text(_ value: String?) {
            guard var value else {
                bytes.append(0)
                return
            }
            value.withUTF8 { utf8 in
                bytes.append(1)
                withUnsafeBytes(of: UInt32(utf8.count).bigEndian) { bytes.append(contentsOf: $0) }
                bytes.append(contentsOf: utf8)
            }
        }
        integer(seq)
        integer(decidedAtMicros)
        text(requestID)
        text(agencyCode)
        text(channel)
        text(actorKind)
        text(actorID)
        text(accountID)
        text(subjectRef)
        text(idNumberMasked)
        text(outcome)
        text(autofillFields)
        text(recipientFingerprint)
        if reusedFrom != nil { text(reusedFrom) }
        return Array(SHA256.hash(data: bytes))
    }

    private static let tag = Array("tthc.audit.v1".utf8)

    /// Optional text that is empty becomes absent: it is stored as NULL, and the hash must say the same.
    mutating func dropEmptyOptionals() {
        func drop(_ value: inout String?) { if value?.isEmpty == true { value = nil } }
        drop(&actorKind)
        drop(&actorID)
        drop(&accountID)
        drop(&subjectRef)
        drop(&idNumberMasked)
        drop(&autofillFields)
        drop(&recipientFingerprint)
        drop(&reusedFrom)
    }

    /// The hash before the first row of a chain: 32 zero bytes.
    public static let genesis = [UInt8](repeating: 0, count: 32)
}

extension AuditFacts {
    /// The fingerprint of an autofill recipient key: lowercase hex SHA-256 of its raw 32 bytes
    /// (the bytes the request's `recipientKey` carries in base64).
    public static func fingerprint(recipientKey: [UInt8]) -> String {
        // Hex by hand: `String(format:)` per byte cost about 1 % of the worker's CPU in a burst.
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: recipientKey) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }
}
