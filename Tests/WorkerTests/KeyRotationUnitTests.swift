import CoreMetrics
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
