extension Migration {
    /// Version 7: the audit trail, retention indexes and the key a parked check was sealed with.
    ///
    /// - `audit_trail`: one row per check decided (never a raw id number, name or birth date),
    ///   append-only; each row's `row_hash` is SHA-256 over its fields and the previous row's hash
    ///   (see ``AuditEntry``). `seq` is gapless, assigned under the chain head's row lock.
    /// - `audit_chain_head`: one row: the last row of the chain (`last_seq`, `last_hash`) and the
    ///   anchor retention leaves behind (`anchor_seq`, `anchor_hash`: the last deleted row). Writers
    ///   update it in their result transaction, which serialises appends across instances.
    /// - `parked_checks.sealed_key_id`: which `SUBJECT_REF_KEY` sealed the request (NULL: sealed
    ///   before this migration, by an unknown key); `dossier_code` and `dossier_occurred_at` let a
    ///   check that no key opens still get its `unavailable` verdict with its dossier.
    /// - `dossier_events (recorded_at)`: retention deletes by it.
    public static let auditTrail = Migration(
        version: 7,
        name: "audit_trail",
        statements: [
            """
            CREATE TABLE audit_trail (
                seq bigint PRIMARY KEY,
                decided_at timestamptz NOT NULL,
                request_id text NOT NULL,
                agency_code text NOT NULL,
                channel text NOT NULL,
                actor_kind text,
                actor_id text,
                account_id text,
                subject_ref text,
                id_number_masked text,
                outcome text NOT NULL,
                autofill_fields text,
                recipient_fingerprint text,
                prev_hash bytea NOT NULL,
                row_hash bytea NOT NULL
            )
            """,
            "CREATE INDEX audit_trail_decided_at ON audit_trail (decided_at)",
            "CREATE INDEX audit_trail_subject_ref ON audit_trail (subject_ref, decided_at) WHERE subject_ref IS NOT NULL",
            "CREATE INDEX audit_trail_actor ON audit_trail (actor_id, decided_at) WHERE actor_id IS NOT NULL",
            "CREATE INDEX audit_trail_agency ON audit_trail (agency_code, decided_at)",
            """
            CREATE TABLE audit_chain_head (
                id integer PRIMARY KEY CHECK (id = 1),
                last_seq bigint NOT NULL,
                last_hash bytea NOT NULL,
                anchor_seq bigint NOT NULL,
                anchor_hash bytea NOT NULL
            )
            """,
            "INSERT INTO audit_chain_head VALUES (1, 0, decode(repeat('00', 32), 'hex'), 0, decode(repeat('00', 32), 'hex'))",
            "ALTER TABLE parked_checks ADD COLUMN sealed_key_id text, ADD COLUMN dossier_code text, ADD COLUMN dossier_occurred_at timestamptz",
            "CREATE INDEX IF NOT EXISTS dossier_events_recorded_at ON dossier_events (recorded_at)",
        ]
    )
}
