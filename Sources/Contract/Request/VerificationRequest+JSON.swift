extension VerificationRequest {
    /// The request as a front end would publish it (contract section 2), fields in the order of
    /// the contract. Reading these bytes back on the request's channel gives this request again.
    /// Personal data: for producers, simulators and tests only.
    public func encodedJSON() -> [UInt8] {
        var writer = JSONWriter(capacity: 512)
        writer.beginObject()
        writer.field("requestId", self.requestId)
        writer.field("occurredAt", self.occurredAt.text)
        writer.field("agencyCode", self.agencyCode)
        writer.key("actor")
        writer.beginObject()
        writer.field("kind", self.actor.kind.rawValue)
        writer.field("id", self.actor.id)
        writer.endObject()
        writer.key("subject")
        writer.beginObject()
        writer.field("fullName", self.subject.fullName)
        writer.field("idNumber", self.subject.idNumber)
        writer.field("dateOfBirth", self.subject.dateOfBirth.description)
        writer.endObject()
        switch self.details {
        case .counter(let key):
            writer.field("autofill", key != nil)
            if let key { writer.field("recipientKey", key.base64) }
        case .registration(let accountId):
            writer.field("accountId", accountId)
        case .submission(let accountId, let dossier):
            writer.field("accountId", accountId)
            writer.key("dossier")
            writer.beginObject()
            writer.field("code", dossier.code)
            writer.field("procedureCode", dossier.procedureCode)
            writer.field("receivedAt", dossier.receivedAt.text)
            if let dueAt = dossier.dueAt { writer.field("dueAt", dueAt.text) }
            writer.endObject()
        }
        writer.endObject()
        return writer.bytes
    }
}
