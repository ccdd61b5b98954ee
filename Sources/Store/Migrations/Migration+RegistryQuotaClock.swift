extension Migration {
    /// Version 3: the fleet quota's lease in absolute database time (see `FleetRateLimiter`).
    ///
    /// `registry_quota_lease_at` grants slots exactly like `registry_quota_lease` (version 1) but
    /// also returns the database clock reading and the first slot as absolute times (µs since the
    /// Unix epoch), so that a worker can map slots onto its own clock with the offset measured by its
    /// fastest recent round trip instead of each lease's own. Version 1's function stays for workers
    /// of the previous release during a rolling upgrade.
    public static let registryQuotaClock = Migration(
        version: 3,
        name: "registry_quota_clock",
        statements: [
            #"""
            CREATE OR REPLACE FUNCTION registry_quota_lease_at(
                p_name text,
                p_count integer,
                p_interval_us bigint,
                p_max_ahead_us bigint,
                OUT granted integer,
                OUT first_slot_us bigint,
                OUT db_now_us bigint,
                OUT retry_in_us bigint
            )
            LANGUAGE plpgsql AS $$
            DECLARE
                v_next bigint;
                v_first bigint;
            BEGIN
                SELECT next_slot_us INTO v_next FROM registry_quota WHERE name = p_name FOR UPDATE;
                IF NOT FOUND THEN
                    INSERT INTO registry_quota (name) VALUES (p_name) ON CONFLICT (name) DO NOTHING;
                    SELECT next_slot_us INTO v_next FROM registry_quota WHERE name = p_name FOR UPDATE;
                END IF;
                -- The clock is read once the row is ours, so waiting for the lock cannot age it.
                db_now_us := (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
                v_first := GREATEST(v_next, db_now_us);
                IF v_first - db_now_us > p_max_ahead_us THEN
                    granted := 0;
                    first_slot_us := 0;
                    retry_in_us := v_first - db_now_us - p_max_ahead_us;
                    RETURN;
                END IF;
                granted := LEAST(p_count, ((db_now_us + p_max_ahead_us - v_first) / p_interval_us)::integer + 1);
                UPDATE registry_quota
                    SET next_slot_us = v_first + granted * p_interval_us, updated_at = now()
                    WHERE name = p_name;
                first_slot_us := v_first;
                retry_in_us := 0;
            END
            $$
            """#,
        ]
    )
}
