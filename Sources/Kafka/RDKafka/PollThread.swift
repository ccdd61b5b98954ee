import Dispatch
import Foundation
import Synchronization

/// A dedicated OS thread that runs a librdkafka poll loop, so that blocking
/// polls and the callbacks they serve never occupy the cooperative pool.
final class PollThread: Sendable {
    private let running = Atomic<Bool>(true)
    private let exited = DispatchSemaphore(value: 0)

    /// Starts the thread; `body` is called repeatedly while the thread runs and
    /// should block for at most about 100 ms. `final` runs once, on the thread,
    /// after the loop ends.
    init(name: String, body: @escaping @Sendable () -> Void, final: @escaping @Sendable () -> Void = {}) {
        let state = self
        let thread = Thread {
            while state.running.load(ordering: .acquiring) {
                body()
            }
            final()
            state.exited.signal()
        }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    var isRunning: Bool { running.load(ordering: .acquiring) }

    /// Asks the loop to stop after its current iteration.
    func stop() {
        running.store(false, ordering: .releasing)
    }

    /// Waits (off the cooperative pool) until the loop and `final` have finished.
    func join(on blocking: BlockingCalls) async {
        _ = try? await blocking.run { [exited] in
            exited.wait()
            exited.signal()
        }
    }
}
