@testable import Kafka
import Testing

@Suite("Consumer flow control state machine")
struct ConsumerFlowControlTests {
    @Test("pauses at the high mark and resumes at the low mark, once each")
    func transitions() {
        var flow = ConsumerFlowControl(maxBufferedMessages: 100)
        #expect(flow.added(buffered: 99) == .none)
        #expect(flow.added(buffered: 100) == .pause)
        #expect(flow.added(buffered: 150) == .none, "already paused")
        #expect(flow.taken(buffered: 51) == .none, "above the low mark")
        #expect(flow.taken(buffered: 50) == .resume)
        #expect(flow.taken(buffered: 0) == .none, "already flowing")
        #expect(flow.state == .flowing)
    }
}
