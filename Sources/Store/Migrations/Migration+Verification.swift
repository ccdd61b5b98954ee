extension Migration {
    /// Version 2: request results (the idempotency record), dossiers, the
    /// verdict outbox, parked checks and dossier events.
    ///
    /// No citizen record and no raw identity data is stored in clear: results
    /// hold outcomes, masked numbers and subject refs; a parked check holds its
    /// request sealed with the service's key (deleted once decided).
    /// `request_id` columns hold the idempotency key (a UUID in lowercase).
    public static let verification = Migration(
        version: 2,
        name: "verification",
        statements: [
            """
            CREATE TABLE verification_results (
                request_id text PRIMARY KEY,
                verdict_id uuid NOT NULL,
                channel text NOT NULL,
                agency_code text NOT NULL,
                outcome text NOT NULL,
                attempts integer NOT NULL,
                id_number_masked text,
                subject_ref text,
                dossier_code text,
                dossier_state text,
                source_topic text NOT NULL,
                source_partition integer NOT NULL,
                source_offset bigint NOT NULL,
                consumed_at timestamptz NOT NULL,
                decided_at timestamptz NOT NULL,
                message_key bytea,
                verdict bytea NOT NULL,
                verdict_headers jsonb NOT NULL
            )
            """,
            "CREATE INDEX verification_results_decided_at ON verification_results (decided_at)",
            "CREATE INDEX verification_results_dossier ON verification_results (dossier_code) WHERE dossier_code IS NOT NULL",
            """
            CREATE TABLE dossiers (
                code text PRIMARY KEY,
                agency_code text NOT NULL,
                state text NOT NULL,
                state_occurred_at timestamptz NOT NULL,
                last_request_id text NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE verdict_outbox (
                id bigserial PRIMARY KEY,
                request_id text NOT NULL,
                topic text NOT NULL,
                message_key bytea,
                verdict bytea NOT NULL,
                verdict_headers jsonb NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE parked_checks (
                request_id text PRIMARY KEY,
                sequence bigserial NOT NULL,
                lane_key text NOT NULL,
                message_key bytea,
                traceparent text,
                channel text NOT NULL,
                agency_code text NOT NULL,
                sealed_request bytea NOT NULL,
                source_topic text NOT NULL,
                source_partition integer NOT NULL,
                source_offset bigint NOT NULL,
                consumed_at timestamptz NOT NULL,
                deadline_at timestamptz NOT NULL,
                next_attempt_at timestamptz NOT NULL,
                attempts integer NOT NULL,
                lease_until timestamptz
            )
            """,
            "CREATE INDEX parked_checks_due ON parked_checks (next_attempt_at)",
            "CREATE INDEX parked_checks_lane ON parked_checks (lane_key, sequence)",
            """
            CREATE TABLE dossier_events (
                event_id uuid PRIMARY KEY,
                dossier_code text NOT NULL,
                agency_code text NOT NULL,
                type text NOT NULL,
                occurred_at timestamptz NOT NULL,
                due_at timestamptz,
                recorded_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX dossier_events_dossier ON dossier_events (dossier_code, occurred_at)",
            "CREATE INDEX dossier_events_closing ON dossier_events (agency_code, occurred_at) WHERE type IN ('resolved', 'returned')",
        ]
    )
}
