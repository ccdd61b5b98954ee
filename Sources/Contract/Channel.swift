/// Which front end a request came from. The topic decides it, never the body.
public enum Channel: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// `tthc.identity.counter`: an officer's check at the one-stop counter, optionally with autofill.
    case counter
    /// `tthc.identity.registration`: the check before a citizen's account is created.
    case registration
    /// `tthc.identity.submission`: the check when a citizen submits a dossier online.
    case submission

    public var description: String { self.rawValue }
}

/// The topic names of contract section 1, under a configurable prefix.
public struct Topics: Sendable, Hashable {
    /// Default: `tthc.` (environment variable `TOPIC_PREFIX`).
    public var prefix: String

    public init(prefix: String = "tthc.") {
        self.prefix = prefix
    }

    /// The request topic of a channel (`tthc.identity.counter`, ...).
    public func requests(_ channel: Channel) -> String {
        self.prefix + "identity." + channel.rawValue
    }

    /// All three request topics.
    public var requestTopics: [String] { Channel.allCases.map(self.requests) }

    /// `tthc.identity.verdicts`.
    public var verdicts: String { self.prefix + "identity.verdicts" }

    /// `tthc.identity.dead-letter`.
    public var deadLetter: String { self.prefix + "identity.dead-letter" }

    /// `tthc.dossier.events`.
    public var dossierEvents: String { self.prefix + "dossier.events" }

    /// The channel a request topic carries, or `nil` for any other topic.
    public func channel(ofTopic topic: String) -> Channel? {
        Channel.allCases.first { self.requests($0) == topic }
    }
}
