extension Migration {
    /// Version 6: the processing board's rollup, kept up to date as dossier events arrive, so that
    /// `/v1/stats` and the status page read a few rows instead of scanning `dossier_events`.
    ///
    /// - `dossier_closings`: one row per closed dossier, its closing as section 6 counts it (the
    ///   latest `resolved`/`returned` event by `occurred_at`, then event id; the due date in force
    ///   then; the Asia/Ho_Chi_Minh month; late or not);
    /// - `dossier_monthly_figures`: per month and agency, the dossiers resolved, returned and late
    ///   (handled = resolved + returned, on time = handled − late);
    /// - `dossier_events_record(...)`: inserts events (idempotent by event id) and, in the same
    ///   transaction, refreshes the closings of the dossiers whose new events can matter, moving
    ///   each changed closing from its old (agency, month) figures to its new ones;
    /// - `dossier_rollup_refresh(codes)` and `dossier_rollup_rebuild()`: the refresh alone, and a
    ///   rebuild of both tables from every stored event (the backfill below; `idverify stats
    ///   --rebuild-rollup`).
    ///
    /// Every writer takes one transaction-level advisory lock first, so refreshes run one at a
    /// time across the fleet: each reads the events committed before it, and figure rows never
    /// deadlock. Dossier events are a few per second at most, so the lock is never contended long.
    public static let dossierRollup = Migration(
        version: 6,
        name: "dossier_rollup",
        statements: [
            """
            CREATE TABLE dossier_closings (
                dossier_code text PRIMARY KEY,
                event_id uuid NOT NULL,
                agency_code text NOT NULL,
                type text NOT NULL,
                occurred_at timestamptz NOT NULL,
                due_at timestamptz,
                month date NOT NULL,
                late boolean NOT NULL
            )
            """,
            """
            CREATE TABLE dossier_monthly_figures (
                month date NOT NULL,
                agency_code text NOT NULL,
                resolved bigint NOT NULL DEFAULT 0,
                returned bigint NOT NULL DEFAULT 0,
                late bigint NOT NULL DEFAULT 0,
                PRIMARY KEY (month, agency_code)
            )
            """,
            #"""
            CREATE FUNCTION dossier_rollup_refresh(p_codes text[]) RETURNS integer
            LANGUAGE plpgsql AS $$
            DECLARE
                v_changed integer;
            BEGIN
                PERFORM pg_advisory_xact_lock(7306202606);
                WITH latest AS (
                    SELECT DISTINCT ON (e.dossier_code) e.dossier_code, e.event_id, e.agency_code, e.type, e.occurred_at
                    FROM dossier_events e
                    WHERE e.dossier_code = ANY (p_codes) AND e.type IN ('resolved', 'returned')
                    ORDER BY e.dossier_code, e.occurred_at DESC, e.event_id DESC
                ),
                computed AS (
                    SELECT l.dossier_code, l.event_id, l.agency_code, l.type, l.occurred_at, due.due_at,
                           date_trunc('month', l.occurred_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS month,
                           (due.due_at IS NOT NULL AND l.occurred_at > due.due_at) AS late
                    FROM latest l
                    LEFT JOIN LATERAL (
                        SELECT d.due_at FROM dossier_events d
                        WHERE d.dossier_code = l.dossier_code AND d.due_at IS NOT NULL AND d.occurred_at <= l.occurred_at
                        ORDER BY d.occurred_at DESC, d.event_id DESC LIMIT 1
                    ) due ON true
                ),
                moved AS (
                    SELECT n.*, o.dossier_code IS NOT NULL AS had_old,
                           o.agency_code AS old_agency, o.month AS old_month, o.type AS old_type, o.late AS old_late
                    FROM computed n
                    LEFT JOIN dossier_closings o ON o.dossier_code = n.dossier_code
                    WHERE o.dossier_code IS NULL
                       OR ROW(o.event_id, o.agency_code, o.type, o.occurred_at, o.due_at, o.month, o.late)
                          IS DISTINCT FROM ROW(n.event_id, n.agency_code, n.type, n.occurred_at, n.due_at, n.month, n.late)
                ),
                upserted AS (
                    INSERT INTO dossier_closings AS c (dossier_code, event_id, agency_code, type, occurred_at, due_at, month, late)
                    SELECT m.dossier_code, m.event_id, m.agency_code, m.type, m.occurred_at, m.due_at, m.month, m.late FROM moved m
                    ON CONFLICT (dossier_code) DO UPDATE SET
                        event_id = excluded.event_id, agency_code = excluded.agency_code, type = excluded.type,
                        occurred_at = excluded.occurred_at, due_at = excluded.due_at, month = excluded.month, late = excluded.late
                    RETURNING 1
                ),
                deltas AS (
                    SELECT x.month, x.agency_code, sum(x.resolved) AS resolved, sum(x.returned) AS returned, sum(x.late) AS late
                    FROM (
                        SELECT m.month, m.agency_code, (m.type = 'resolved')::int AS resolved,
                               (m.type = 'returned')::int AS returned, m.late::int AS late
                        FROM moved m
                        UNION ALL
                        SELECT m.old_month, m.old_agency, -((m.old_type = 'resolved')::int),
                               -((m.old_type = 'returned')::int), -(m.old_late::int)
                        FROM moved m WHERE m.had_old
                    ) x
                    GROUP BY x.month, x.agency_code
                    HAVING sum(x.resolved) <> 0 OR sum(x.returned) <> 0 OR sum(x.late) <> 0
                ),
                applied AS (
                    INSERT INTO dossier_monthly_figures AS f (month, agency_code, resolved, returned, late)
                    SELECT d.month, d.agency_code, d.resolved, d.returned, d.late FROM deltas d ORDER BY d.month, d.agency_code
                    ON CONFLICT (month, agency_code) DO UPDATE SET
                        resolved = f.resolved + excluded.resolved, returned = f.returned + excluded.returned,
                        late = f.late + excluded.late
                    RETURNING 1
                )
                SELECT count(*) INTO v_changed FROM upserted;
                RETURN v_changed;
            END
            $$
            """#,
            #"""
            CREATE FUNCTION dossier_events_record(
                p_ids uuid[], p_codes text[], p_agencies text[], p_types text[],
                p_occurred timestamptz[], p_due timestamptz[], p_has_due boolean[]
            ) RETURNS integer
            LANGUAGE plpgsql AS $$
            DECLARE
                v_inserted integer;
                v_refresh text[];
            BEGIN
                PERFORM pg_advisory_xact_lock(7306202606);
                WITH inserted AS (
                    INSERT INTO dossier_events (event_id, dossier_code, agency_code, type, occurred_at, due_at)
                    SELECT e.event_id, e.dossier_code, e.agency_code, e.type, e.occurred_at,
                           CASE WHEN e.has_due THEN e.due_at END
                    FROM unnest(p_ids, p_codes, p_agencies, p_types, p_occurred, p_due, p_has_due)
                         AS e(event_id, dossier_code, agency_code, type, occurred_at, due_at, has_due)
                    ON CONFLICT (event_id) DO NOTHING
                    RETURNING dossier_code, type, due_at
                )
                SELECT count(*)::int,
                       array_agg(DISTINCT dossier_code) FILTER (WHERE type IN ('resolved', 'returned') OR due_at IS NOT NULL)
                INTO v_inserted, v_refresh
                FROM inserted;
                IF v_refresh IS NOT NULL THEN
                    PERFORM dossier_rollup_refresh(v_refresh);
                END IF;
                RETURN v_inserted;
            END
            $$
            """#,
            #"""
            CREATE FUNCTION dossier_rollup_rebuild() RETURNS integer
            LANGUAGE plpgsql AS $$
            DECLARE
                v_closings integer;
            BEGIN
                PERFORM pg_advisory_xact_lock(7306202606);
                TRUNCATE dossier_closings, dossier_monthly_figures;
                INSERT INTO dossier_closings (dossier_code, event_id, agency_code, type, occurred_at, due_at, month, late)
                SELECT l.dossier_code, l.event_id, l.agency_code, l.type, l.occurred_at, due.due_at,
                       date_trunc('month', l.occurred_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date,
                       (due.due_at IS NOT NULL AND l.occurred_at > due.due_at)
                FROM (
                    SELECT DISTINCT ON (e.dossier_code) e.dossier_code, e.event_id, e.agency_code, e.type, e.occurred_at
                    FROM dossier_events e
                    WHERE e.type IN ('resolved', 'returned')
                    ORDER BY e.dossier_code, e.occurred_at DESC, e.event_id DESC
                ) l
                LEFT JOIN LATERAL (
                    SELECT d.due_at FROM dossier_events d
                    WHERE d.dossier_code = l.dossier_code AND d.due_at IS NOT NULL AND d.occurred_at <= l.occurred_at
                    ORDER BY d.occurred_at DESC, d.event_id DESC LIMIT 1
                ) due ON true;
                GET DIAGNOSTICS v_closings = ROW_COUNT;
                INSERT INTO dossier_monthly_figures (month, agency_code, resolved, returned, late)
                SELECT month, agency_code, count(*) FILTER (WHERE type = 'resolved'),
                       count(*) FILTER (WHERE type = 'returned'), count(*) FILTER (WHERE late)
                FROM dossier_closings
                GROUP BY month, agency_code;
                RETURN v_closings;
            END
            $$
            """#,
            // The backfill: figures for every event stored before this version.
            "SELECT dossier_rollup_rebuild()",
        ]
    )
}
