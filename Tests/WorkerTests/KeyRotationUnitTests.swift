import Contract
import CoreMetrics
import Foundation
import Identity
import Synchronization
import Testing

@testable import Worker

/// The sealer's key ring and the per-key gauge, without I/O.
@Suite("Subject key rotation: key ring and gauge")
struct KeyRotationUnitTests {
    let keyA = Array("subject-ref-key-A-0123456789abcdef".utf8)
    let keyB = Array("subject-ref-key-B-0123456789abcdef".utf8)

    @Test("sealed with A: opens with A, with B and previous A, not with B alone; the seal names its key")
    func keyRing() throws {
        let sealerA = ParkedRequestSealer(subjectRefKey: keyA)
        let (sealed, keyID) = try sealerA.seal(Array("request".utf8), requestKey: "r-1")
        #expect(keyID == SubjectRefKey.keyID(of: keyA) && keyID.count == 16)
        #expect(sealerA.open(sealed, requestKey: "r-1", keyID: keyID) == Array("request".utf8))
        #expect(sealerA.open(sealed, requestKey: "r-2", keyID: keyID) == nil, "the request key is bound")
        let rotated = ParkedRequestSealer(subjectRefKey: keyB, previousKeys: [keyA])
        #expect(rotated.keyIDs == [SubjectRefKey.keyID(of: keyB), keyID])
        #expect(rotated.open(sealed, requestKey: "r-1", keyID: keyID) == Array("request".utf8))
        #expect(rotated.open(sealed, requestKey: "r-1", keyID: nil) == Array("request".utf8), "no recorded id: every key is tried")
        #expect(ParkedRequestSealer(subjectRefKey: keyB).open(sealed, requestKey: "r-1", keyID: keyID) == nil)
    }

    @Test("identity_parked_checks_by_key: one series per configured key id and `unknown`, zero when none left")
    func gauge() {
        let factory = GaugeValues()
        let metrics = WorkerMetrics(factory: factory)
        let a = SubjectRefKey.keyID(of: keyA)
        let b = SubjectRefKey.keyID(of: keyB)
        metrics.trackParkedKeys([b, a])
        metrics.setParkedByKey([a: 3, b: 1, nil: 2, "0000000000000000": 4])
        #expect(factory.value(a) == 3 && factory.value(b) == 1 && factory.value("unknown") == 6)
        metrics.setParkedByKey([b: 1])
        #expect(factory.value(a) == 0, "a key with nothing left reads 0: it can be dropped")
        #expect(factory.value("unknown") == 0)
    }
}

/// Remembers the last value of each `identity_parked_checks_by_key` series.
final class GaugeValues: MetricsFactory, Sendable {
    private let values = Mutex<[String: Int64]>([:])

    func value(_ keyID: String) -> Int64? { values.withLock { $0[keyID] } }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        Handler(key: label == "identity_parked_checks_by_key" ? dimensions.first?.1 : nil, owner: self)
    }
    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { Handler(key: nil, owner: self) }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { Handler(key: nil, owner: self) }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}

    private final class Handler: CounterHandler, RecorderHandler, TimerHandler, Sendable {
        let key: String?
        let owner: GaugeValues
        init(key: String?, owner: GaugeValues) {
            self.key = key
            self.owner = owner
        }
        func increment(by amount: Int64) {}
        func reset() {}
        func record(_ value: Int64) {
            guard let key else { return }
            owner.values.withLock { $0[key] = value }
        }
        func record(_ value: Double) { record(Int64(value)) }
        func recordNanoseconds(_ duration: Int64) {}
    }
}

/// The answer key of registry answer reuse, without I/O.
@Suite("Registry answer keys")
struct AnswerKeyTests {
    static let key = Array("subject-ref-key-A-0123456789abcdef".utf8)

    static func request(name: String, id: String = "030190012345", born: String = "1990-04-12", recipient: AutofillRecipientKey? = nil, channel: Channel = .registration) -> VerificationRequest {
        let details: ChannelDetails = channel == .counter ? .counter(autofillRecipientKey: recipient) : .registration(accountId: "acc-1")
        return VerificationRequest(
            requestUUID: UUID(), occurredAt: Timestamp(Date()), agencyCode: "H23.45.10", actor: Actor(kind: .citizen, id: "acc-1"),
            subject: Subject(fullName: PersonName.normalize(name), idNumber: id, dateOfBirth: PartialDate(born)!), details: details)
    }

    @Test("spellings the registry treats as one name share a key; a different number, date, diacritic or subject key does not")
    func keys() throws {
        let reuse = AnswerReuse(subjectRefKey: Self.key, verifiedFor: .seconds(60), mismatchFor: .seconds(5))
        let key = try #require(reuse.key(for: Self.request(name: "Nguyễn Thị Hoà")))
        #expect(key.count == 32)
        #expect(reuse.key(for: Self.request(name: "nguyễn  thị HÒA")) == key, "case, white space and tone placement")
        #expect(reuse.key(for: Self.request(name: "Nguyen Thi Hoa")) != key, "other diacritics count")
        #expect(reuse.key(for: Self.request(name: "Nguyễn Thị Hoà", id: "030190012346")) != key)
        #expect(reuse.key(for: Self.request(name: "Nguyễn Thị Hoà", born: "1990")) != key, "a year alone is another question")
        let other = AnswerReuse(subjectRefKey: Array("subject-ref-key-B-0123456789abcdef".utf8), verifiedFor: .seconds(60), mismatchFor: .zero)
        #expect(other.key(for: Self.request(name: "Nguyễn Thị Hoà")) != key, "a new SUBJECT_REF_KEY starts fresh")
        // Not the subject ref's HMAC: a distinct derived key.
        #expect(Array(SubjectRefKey(keyBytes: Self.key).ref(for: "030190012345").utf8) != key)
        let off = AnswerReuse(subjectRefKey: Self.key, verifiedFor: .zero, mismatchFor: .zero)
        #expect(off.key(for: Self.request(name: "Nguyễn Thị Hoà")) == nil)
    }

    @Test("only verified and mismatch answers that called are kept, each with its expiry; autofill counters never reuse")
    func keeping() throws {
        let reuse = AnswerReuse(subjectRefKey: Self.key, verifiedFor: .seconds(60), mismatchFor: .seconds(5))
        let request = Self.request(name: "Nguyễn Thị Hoà")
        let refKey = SubjectRefKey(keyBytes: Self.key)
        func verdict(_ outcome: Verdict.Outcome, attempts: Int) -> Verdict {
            Verdict(request: request, outcome: outcome, attempts: attempts, decidedAt: Timestamp(Date()), subjectRefKey: refKey)
        }
        let kept = try #require(reuse.answerToKeep(verdict(.verified, attempts: 1), key: [1]))
        #expect(kept.answer.outcome == .verified && kept.answer.sourceRequestID == request.requestId)
        #expect(abs(kept.answer.expiresAt.timeIntervalSince(kept.answeredAt) - 60) < 0.001)
        let mismatch = try #require(reuse.answerToKeep(verdict(.mismatch, attempts: 2), key: [1]))
        #expect(abs(mismatch.answer.expiresAt.timeIntervalSince(mismatch.answeredAt) - 5) < 0.001)
        #expect(reuse.answerToKeep(verdict(.invalid, attempts: 1), key: [1]) == nil, "registry_rejected")
        #expect(reuse.answerToKeep(verdict(.unavailable, attempts: 3), key: [1]) == nil)
        #expect(reuse.answerToKeep(verdict(.verified, attempts: 0), key: [1]) == nil, "no call made")
        let reused = reuse.verdict(request, reusing: kept.answer, subjectRefKey: refKey)
        #expect(reused.attempts == 0 && reused.reusedFrom == request.requestId && reused.outcome == .verified)
        #expect(reuse.answerToKeep(reused, key: [1]) == nil, "a reused answer is not kept again")
        let noMismatch = AnswerReuse(subjectRefKey: Self.key, verifiedFor: .seconds(60), mismatchFor: .zero)
        #expect(noMismatch.answerToKeep(verdict(.mismatch, attempts: 1), key: [1]) == nil)
        let privateKey = Array(repeating: UInt8(9), count: 32)
        #expect(!AnswerReuse.mayReuse(Self.request(name: "A B", recipient: AutofillRecipientKey(rawRepresentation: privateKey)!, channel: .counter)))
        #expect(AnswerReuse.mayReuse(Self.request(name: "A B", channel: .counter)))
        #expect(AnswerReuse.mayReuse(request))
    }
}
