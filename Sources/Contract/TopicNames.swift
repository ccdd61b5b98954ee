/// The contract's topic names (section 1) under a configurable prefix.
public struct TopicNames: Sendable, Hashable {
    /// Default: `tthc.`; set by `TOPIC_PREFIX`.
    public var prefix: String

    public init(prefix: String = "tthc.") {
        self.prefix = prefix
    }

    public var counter: String { prefix + "identity.counter" }
    public var registration: String { prefix + "identity.registration" }
    public var submission: String { prefix + "identity.submission" }
    public var verdicts: String { prefix + "identity.verdicts" }
    public var deadLetter: String { prefix + "identity.dead-letter" }
    public var dossierEvents: String { prefix + "dossier.events" }

    /// The three request topics the worker consumes.
    public var requestTopics: [String] { [counter, registration, submission] }
    /// Every topic of the contract.
    public var all: [String] { requestTopics + [verdicts, deadLetter, dossierEvents] }
}
