/// The contract's topic names by role, for tools and tests that name them one
/// by one. One type: `TopicNames` is `Topics`.
public typealias TopicNames = Topics

extension Topics {
    public var counter: String { requests(.counter) }
    public var registration: String { requests(.registration) }
    public var submission: String { requests(.submission) }
    /// Every topic of the contract.
    public var all: [String] { requestTopics + [verdicts, deadLetter, dossierEvents] }
}
