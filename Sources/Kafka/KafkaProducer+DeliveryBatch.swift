import CRdKafka
import Synchronization

/// Outcome slots of one `send` batch. Each message's librdkafka opaque points
/// at its slot; the slot points back at the batch, which the slots keep alive
/// (one retain) until the last report arrives.
final class DeliveryBatch: Sendable {
    struct Slot {
        var batch: UnsafeMutableRawPointer
        var partition: Int32
        var offset: Int64
        var error: Int32
    }

    private struct Completion: ~Copyable {
        var done = false
        var continuation: CheckedContinuation<Void, Never>?
    }

    private let count: Int
    private nonisolated(unsafe) let slots: UnsafeMutablePointer<Slot>  // each slot written once, by one thread, before `remaining` drops
    private let remaining: Atomic<Int>
    private let completion = Mutex(Completion())

    init(count: Int) {
        self.count = count
        self.remaining = Atomic(count)
        self.slots = .allocate(capacity: count)
        let me = Unmanaged.passRetained(self).toOpaque()
        for i in 0..<count {
            (slots + i).initialize(to: Slot(batch: me, partition: -1, offset: -1, error: 0))
        }
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    func slotPointer(_ index: Int) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(slots + index)
    }

    /// A batch that was never handed over: drops the retain its slots hold.
    func abandon() {
        Unmanaged.passUnretained(self).release()
    }

    /// A message that never reached librdkafka.
    func fail(index: Int, error: Int32) {
        DeliveryBatch.record(slot: slotPointer(index), partition: -1, offset: -1, error: error)
    }

    static func record(slot raw: UnsafeMutableRawPointer, partition: Int32, offset: Int64, error: Int32) {
        let slot = raw.assumingMemoryBound(to: Slot.self)
        slot.pointee.partition = partition
        slot.pointee.offset = offset
        slot.pointee.error = error
        let batch = Unmanaged<DeliveryBatch>.fromOpaque(slot.pointee.batch)
        if batch.takeUnretainedValue().remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
            batch.takeUnretainedValue().complete()
            batch.release()
        }
    }

    private func complete() {
        let continuation = completion.withLock { state -> CheckedContinuation<Void, Never>? in
            state.done = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume()
    }

    /// Suspends until every message has a report. Not cancellable: reports
    /// always arrive (at the latest after `message.timeout.ms`).
    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = completion.withLock { state -> Bool in
                if state.done { return true }
                state.continuation = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func reports(for messages: [KafkaOutgoingMessage]) -> [KafkaDeliveryReport] {
        (0..<count).map { i in
            let slot = slots[i]
            let error: KafkaError? =
                slot.error == 0
                ? nil
                : KafkaError.rdkafka(rd_kafka_resp_err_t(rawValue: slot.error), code: .delivery, context: "delivery to \(messages[i].topic)")
            return KafkaDeliveryReport(topic: messages[i].topic, partition: slot.partition, offset: slot.offset, error: error)
        }
    }
}
