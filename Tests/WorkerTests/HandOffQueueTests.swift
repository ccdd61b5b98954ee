import Synchronization
import Testing
@testable import Worker

@Suite("The queue the worker's fixed set of job runners take from")
struct HandOffQueueTests {
    final class Taken: Sendable {
        let items = Mutex<[Int]>([])
    }

    @Test("items pushed with nobody waiting are kept, in order")
    func keptInOrder() async {
        let queue = HandOffQueue<Int>()
        for item in 1...3 { #expect(queue.push(item) == .kept) }
        #expect(queue.count == 3)
        #expect(await queue.take() == 1)
        #expect(await queue.take() == 2)
        #expect(await queue.take() == 3)
        #expect(queue.count == 0)
    }

    @Test("many takers waiting: each push goes to one of them, every item exactly once")
    func eachItemToOneTaker() async {
        let queue = HandOffQueue<Int>()
        let taken = Taken()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    while let item = await queue.take() { taken.items.withLock { $0.append(item) } }
                }
            }
            // Let the takers wait first, so that pushes hand items over rather than keep them.
            try? await Task.sleep(for: .milliseconds(50))
            for item in 0..<1_000 { _ = queue.push(item) }
            while taken.items.withLock({ $0.count }) < 1_000 { try? await Task.sleep(for: .milliseconds(5)) }
            queue.finish()
        }
        #expect(taken.items.withLock { $0.sorted() } == Array(0..<1_000))
    }

    @Test("a push finds the waiting taker and says so; with nobody waiting it keeps the item")
    func handedOverOrKept() async {
        let queue = HandOffQueue<Int>()
        async let waiting = queue.take()
        while queue.waiting == 0 { try? await Task.sleep(for: .milliseconds(5)) }
        #expect(queue.push(7) == .handedOver)
        #expect(queue.waiting == 0)
        #expect(await waiting == 7)
        #expect(queue.push(8) == .kept)
        #expect(queue.count == 1)
    }

    @Test("finish: waiting takers get nil, what is left is still taken, later pushes are refused")
    func finish() async {
        let queue = HandOffQueue<String>()
        async let waiting = queue.take()
        try? await Task.sleep(for: .milliseconds(50))
        queue.finish()
        #expect(await waiting == nil)

        let other = HandOffQueue<String>()
        #expect(other.push("left") == .kept)
        other.finish()
        #expect(other.push("late") == .refused)
        #expect(await other.take() == "left")
        #expect(await other.take() == nil)
    }
}
