/// When the consumer's buffer holds too many messages, the assigned partitions
/// are paused; when the caller has drained it to the low mark, they resume.
/// A plain state machine: the caller performs the returned action.
struct ConsumerFlowControl: Sendable {
    enum State: Sendable {
        case flowing
        case paused
    }

    enum Action: Equatable, Sendable {
        case none
        case pause
        case resume
    }

    private(set) var state: State = .flowing
    let highMark: Int
    let lowMark: Int

    init(maxBufferedMessages: Int) {
        highMark = max(maxBufferedMessages, 1)
        lowMark = highMark / 2
    }

    /// The buffer now holds `buffered` messages after the poll thread added some.
    mutating func added(buffered: Int) -> Action {
        switch state {
        case .flowing where buffered >= highMark:
            state = .paused
            return .pause
        case .flowing, .paused:
            return .none
        }
    }

    /// The buffer now holds `buffered` messages after the caller took some.
    mutating func taken(buffered: Int) -> Action {
        switch state {
        case .paused where buffered <= lowMark:
            state = .flowing
            return .resume
        case .flowing, .paused:
            return .none
        }
    }
}
