/// What the audit trail keeps about a check beyond its verdict: who asked, for which account,
/// and for a counter autofill which fields went to which recipient key. Never personal data:
/// actor and account ids are the portal's or the agency's own ids.
public struct AuditFacts: Sendable, Hashable {
    /// `actor.kind` (`officer`, `citizen`), when the request carried a valid one.
    public var actorKind: String?
    /// `actor.id`, when valid.
    public var actorID: String?
    /// `accountId` (registration and submission), when valid.
    public var accountID: String?
    /// The autofill fields released (their contract names), for a counter verdict that carries autofill.
    public var autofillFields: [String]?
    /// ``AuditFacts/fingerprint(recipientKey:)`` of the key the autofill was sealed to.
    public var recipientFingerprint: String?

    public init(
        actorKind: String? = nil, actorID: String? = nil, accountID: String? = nil, autofillFields: [String]? = nil,
        recipientFingerprint: String? = nil
    ) {
        self.actorKind = actorKind
        self.actorID = actorID
        self.accountID = accountID
        self.autofillFields = autofillFields
        self.recipientFingerprint = recipientFingerprint
    }
}
