import Registry
import Testing

@Suite struct FairQueueTests {
    @Test func agenciesTakeTurns() {
        var queue = FairQueue<String>()
        for index in 0..<100 { queue.enqueue("flood-\(index)", for: "FLOOD") }
        queue.enqueue("quiet-0", for: "QUIET")
        queue.enqueue("quiet-1", for: "QUIET")
        var order: [String] = []
        for _ in 0..<6 { order.append(queue.dequeue()!.element) }
        // The quiet agency's calls go out within one round each, not after the flood's hundred.
        #expect(order == ["flood-0", "quiet-0", "flood-1", "quiet-1", "flood-2", "flood-3"])
        #expect(queue.count == 96)
        #expect(queue.activeAgencies == 1)
    }

    @Test func weightsGiveProportionalShares() {
        var queue = FairQueue<Int>(weights: ["BIG": 3])
        for index in 0..<300 {
            queue.enqueue(index, for: "BIG")
            queue.enqueue(index, for: "SMALL")
        }
        var counts: [String: Int] = [:]
        for _ in 0..<200 { counts[queue.dequeue()!.agency, default: 0] += 1 }
        #expect(counts["BIG"] == 150)
        #expect(counts["SMALL"] == 50)
    }

    @Test func drainsCompletelyAndInOrderPerAgency() {
        var queue = FairQueue<Int>()
        for index in 0..<1_000 { queue.enqueue(index, for: "A\(index % 7)") }
        var last: [String: Int] = [:]
        var seen = 0
        while let (agency, element) = queue.dequeue() {
            #expect(element > last[agency, default: -1])
            last[agency] = element
            seen += 1
        }
        #expect(seen == 1_000)
        #expect(queue.isEmpty)
    }
}
