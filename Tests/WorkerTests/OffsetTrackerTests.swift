import Kafka
import Testing
@testable import Worker

@Suite("Offset tracking: what is in flight, what may be committed")
struct OffsetTrackerTests {
    let partition = TopicPartition(topic: "t", partition: 0)

    /// A revocation waits until the partition's in-flight requests are only those handed back
    /// unfinished: requests finished after a handed-back one are not in flight (issue 13: counting
    /// them held a rebalance for the 25-s revocation cap).
    @Test("offsets done above an unfinished one are not in flight; the commit stays below the unfinished one")
    func doneAboveUnfinished() {
        var tracker = OffsetTracker()
        for offset in Int64(10)..<15 { tracker.received(partition, offset: offset) }
        #expect(tracker.inFlight([partition]) == 5)
        for offset in Int64(11)..<15 { tracker.completed(partition, offset: offset) }
        #expect(tracker.inFlight([partition]) == 1, "only offset 10 is unfinished")
        #expect(tracker.inFlight() == 1)
        #expect(tracker.takeCommittable() == [TopicPartitionOffset(partition, offset: 10)])
        tracker.completed(partition, offset: 10)
        #expect(tracker.inFlight() == 0)
        #expect(tracker.takeCommittable() == [TopicPartitionOffset(partition, offset: 15)])
    }
}
