extension Migration {
    /// Version 1: the fleet-wide registry quota (see `FleetRateLimiter`).
    ///
    /// One row per quota holds the next free slot (µs since the Unix epoch, database clock).
    /// `registry_quota_lease` hands out up to `p_count` consecutive slots spaced by `p_interval_us`,
    /// never further ahead than `p_max_ahead_us`, and reports them relative to the database clock
    /// read after the row lock is held, so waiting for the lock cannot age the answer.
    public static let registryQuota = Migration(
        version: 1,
        name: "registry_quota",
        statements: [
            """
            CREATE TABLE IF NOT EXISTS registry_quota (
                name text PRIMARY KEY,
                next_slot_us bigint NOT NULL DEFAULT 0,
                updated_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            #"""
            CREATE OR REPLACE FUNCTION registry_quota_lease(
                p_name text,
                p_count integer,
                p_interval_us bigint,
                p_max_ahead_us bigint,
                OUT granted integer,
                OUT first_offset_us bigint,
                OUT retry_in_us bigint
            )
            LANGUAGE plpgsql AS $$
            DECLARE
                v_next bigint;
                v_now bigint;
                v_first bigint;
            BEGIN
                SELECT next_slot_us INTO v_next FROM registry_quota WHERE name = p_name FOR UPDATE;
                IF NOT FOUND THEN
                    INSERT INTO registry_quota (name) VALUES (p_name) ON CONFLICT (name) DO NOTHING;
                    SELECT next_slot_us INTO v_next FROM registry_quota WHERE name = p_name FOR UPDATE;
                END IF;
                v_now := (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
                v_first := GREATEST(v_next, v_now);
                IF v_first - v_now > p_max_ahead_us THEN
                    granted := 0;
                    first_offset_us := 0;
                    retry_in_us := v_first - v_now - p_max_ahead_us;
                    RETURN;
                END IF;
                granted := LEAST(p_count, ((v_now + p_max_ahead_us - v_first) / p_interval_us)::integer + 1);
                UPDATE registry_quota
                    SET next_slot_us = v_first + granted * p_interval_us, updated_at = now()
                    WHERE name = p_name;
                first_offset_us := v_first - v_now;
                retry_in_us := 0;
            END
            $$
            """#,
        ]
    )
}
