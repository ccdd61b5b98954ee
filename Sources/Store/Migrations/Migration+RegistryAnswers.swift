extension Migration {
    /// Version 8: registry answers kept for reuse, and the audit trail's record of a reused answer.
    ///
    /// - `registry_answers`: one row per person asked recently, keyed by `answer_key`, an
    ///   HMAC-SHA256 of the normalised (id number, name comparison key, birth date) under a key
    ///   derived from `SUBJECT_REF_KEY` (never a raw value). `outcome` is `verified` or `mismatch`;
    ///   `source_request_id` is the `requestId` of the verdict that called the registry; a row is
    ///   reusable until `expires_at` and deleted by retention after it (index `registry_answers_expires_at`).
    /// - `audit_trail.reused_from`: the `requestId` whose answer a verdict reused (NULL otherwise):
    ///   such a verdict made no registry call.
    public static let registryAnswers = Migration(
        version: 8,
        name: "registry_answers",
        statements: [
            """
            CREATE TABLE registry_answers (
                answer_key bytea PRIMARY KEY,
                outcome text NOT NULL CHECK (outcome IN ('verified', 'mismatch')),
                source_request_id text NOT NULL,
                answered_at timestamptz NOT NULL,
                expires_at timestamptz NOT NULL
            )
            """,
            "CREATE INDEX registry_answers_expires_at ON registry_answers (expires_at)",
            "ALTER TABLE audit_trail ADD COLUMN reused_from text",
        ]
    )
}
