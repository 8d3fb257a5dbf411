-- sql/wh/15-catalog-and-freshness.sql: Day state, THE catalog of daily views (_wh.daily_views) and THE freshness engine (_wh.freshness).
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- refresh, load or force of the day). The last check's result is cleared: it was about the rows replaced.
CREATE OR REPLACE FUNCTION _wh.record_capture(target_schema text, template_name text, target_date date, row_count bigint)
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO _wh.day_state AS s (schema_name, template_name, day, captured_at, captured_rows)
    VALUES ($1, $2, $3, _wh.now(), $4)
    ON CONFLICT (schema_name, template_name, day) DO UPDATE
    SET captured_at = EXCLUDED.captured_at, captured_rows = EXCLUDED.captured_rows, check_status = NULL, verified_at = NULL
$$;

-- Records the result of checking one day against its source.
CREATE OR REPLACE FUNCTION _wh.record_check(target_schema text, template_name text, target_date date, status text,
                                            warehouse_rows bigint, source_rows bigint, checked_at timestamptz)
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO _wh.day_state AS s (schema_name, template_name, day, last_checked_at, check_status, warehouse_rows, source_rows, verified_at)
    VALUES ($1, $2, $3, $7, $4, $5, $6, CASE WHEN $4 = 'Match' THEN $7 END)
    ON CONFLICT (schema_name, template_name, day) DO UPDATE
    SET last_checked_at = EXCLUDED.last_checked_at, check_status = EXCLUDED.check_status,
        warehouse_rows = EXCLUDED.warehouse_rows, source_rows = EXCLUDED.source_rows,
        verified_at = coalesce(EXCLUDED.verified_at, s.verified_at)
$$;

-- THE catalog of daily views: every <template>_YYYY_MM_DD of a registered tenant, a materialized view (kind 'm')
-- or a compacted closed day (kind 'v', a view over <template>_closed), with what _wh.day_state knows of it.
-- complete: captured at or after the day ended on the tenant's clock (NULL: capture time unknown, loaded by an
-- earlier release). Get-WhMv, Get-WhMvFreshness, Get-WhHealth and _wh.freshness read this view.
CREATE OR REPLACE VIEW _wh.daily_views AS
SELECT n.nspname::text AS schema_name,
       m.template_name,
       d.day,
       c.relname::text AS relation,
       c.relkind AS kind,
       c.relkind = 'v' AS compacted,
       s.captured_at,
       s.captured_rows,
       s.captured_at >= _wh.day_end(d.day, t.time_zone) AS complete,
       s.last_checked_at,
       s.check_status,
       s.warehouse_rows,
       s.source_rows,
       s.verified_at,
       t.time_zone
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN _wh.tenants t ON t.schema_name = n.nspname
JOIN _wh.mv_templates m ON c.relname ~ _wh.daily_name_pattern(m.template_name)
-- Guarded: the planner may read the date of a relation before the template join has rejected it.
CROSS JOIN LATERAL (SELECT CASE WHEN c.relname ~ '_[0-9]{4}_[0-9]{2}_[0-9]{2}$'
                                THEN pg_catalog.to_date(pg_catalog.right(c.relname, 10), 'YYYY_MM_DD') END AS day) d
LEFT JOIN _wh.day_state s ON s.schema_name = n.nspname AND s.template_name = m.template_name AND s.day = d.day
WHERE c.relkind IN ('m', 'v');

-- THE freshness engine (Get-WhMvFreshness and Get-WhHealth both read it): per registered tenant and template
-- (that has a tenant view, a daily view or a run-log row) over the window_days days ending on the tenant's today.
-- missing: days without a view from the later of the window start and the first day up to today; partial: closed
-- days (before yesterday: the job no longer refreshes them) last captured before they ended; changed: days whose
-- last check found them different from the source (cleared when they are loaded again); unresolved: a day of the
-- window whose latest failure is newer than its latest success and that has no view. Status, first rule that holds:
-- Empty (no day), Failing (unresolved, or the latest run failed), Stale (latest day before yesterday), Changed,
-- Partial, Gaps (a missing day before the latest), Fresh. A tenant with no template at all: one row, template
-- NULL, Empty (when template_names is NULL).
CREATE OR REPLACE FUNCTION _wh.freshness(window_days integer DEFAULT 30, tenant_names text[] DEFAULT NULL, template_names text[] DEFAULT NULL)
RETURNS TABLE (tenant text, template text, today date, window_start date, first_day date, latest_day date,
               daily_views integer, compacted_views integer, missing date[], partial date[], changed date[],
               last_success timestamptz, last_failure timestamptz, last_error text, unresolved boolean,
               last_verified timestamptz, status text)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH ten AS (
        SELECT t.schema_name, _wh.today_in(t.time_zone) AS today
        FROM _wh.tenants t
        WHERE $2 IS NULL OR t.schema_name = ANY ($2)),
    tpl AS (SELECT m.template_name FROM _wh.mv_templates m WHERE $3 IS NULL OR m.template_name = ANY ($3)),
    days AS (
        SELECT v.schema_name, v.template_name, v.day, v.compacted, v.complete, v.check_status, v.verified_at,
               ten.today, ten.today - ($1 - 1) AS window_start
        FROM _wh.daily_views v
        JOIN ten ON ten.schema_name = v.schema_name
        JOIN tpl ON tpl.template_name = v.template_name),
    -- One pass over every day (first, latest, counts), one over the window's days (partial, changed, present).
    stats AS (
        SELECT d.schema_name, d.template_name, min(d.day) AS first_day, max(d.day) AS latest_day, count(*)::integer AS views,
               count(*) FILTER (WHERE d.compacted)::integer AS compacted, max(d.verified_at) AS last_verified,
               coalesce(array_agg(d.day ORDER BY d.day) FILTER (WHERE d.day BETWEEN d.window_start AND d.today), '{}') AS present,
               coalesce(array_agg(d.day ORDER BY d.day) FILTER (WHERE d.day BETWEEN d.window_start AND d.today - 2 AND d.complete IS FALSE), '{}') AS partial,
               coalesce(array_agg(d.day ORDER BY d.day) FILTER (WHERE d.day BETWEEN d.window_start AND d.today AND d.check_status = 'Changed'), '{}') AS changed
        FROM days d
        GROUP BY 1, 2),
    log AS (
        SELECT r.tenant_schema AS tenant, r.template_name AS template, r.target_date AS day,
               max(r.logged_at) FILTER (WHERE r.action IN ('created', 'refreshed', 'recreated')) AS success,
               max(r.logged_at) FILTER (WHERE r.action = 'failed') AS failure,
               (array_agg(r.error ORDER BY r.logged_at DESC) FILTER (WHERE r.action = 'failed'))[1] AS error
        FROM _wh.run_log r
        JOIN ten ON ten.schema_name = r.tenant_schema
        JOIN tpl ON tpl.template_name = r.template_name
        GROUP BY 1, 2, 3),
    pairs AS (
        SELECT ten.schema_name AS tenant, tpl.template_name AS template, ten.today, ten.today - ($1 - 1) AS window_start
        FROM ten CROSS JOIN tpl
        WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                      WHERE n.nspname = ten.schema_name AND c.relname = tpl.template_name)
           OR EXISTS (SELECT 1 FROM stats s WHERE s.schema_name = ten.schema_name AND s.template_name = tpl.template_name)
           OR EXISTS (SELECT 1 FROM log l WHERE l.tenant = ten.schema_name AND l.template = tpl.template_name)),
    facts AS (
        SELECT p.tenant, p.template, p.today, p.window_start, s.first_day, s.latest_day,
               coalesce(s.views, 0) AS views, coalesce(s.compacted, 0) AS compacted,
               ARRAY(SELECT g::date FROM generate_series(greatest(p.window_start, s.first_day), p.today, interval '1 day') g
                     WHERE NOT (g::date = ANY (s.present))
                     ORDER BY 1) AS missing,
               coalesce(s.partial, '{}') AS partial,
               coalesce(s.changed, '{}') AS changed,
               l.last_success, l.last_failure, l.last_error,
               EXISTS (SELECT 1 FROM log f
                       WHERE f.tenant = p.tenant AND f.template = p.template AND f.day BETWEEN p.window_start AND p.today
                         AND f.failure > coalesce(f.success, '-infinity')
                         AND NOT (f.day = ANY (coalesce(s.present, '{}'))))
               AS unresolved,
               s.last_verified
        FROM pairs p
        LEFT JOIN stats s ON s.schema_name = p.tenant AND s.template_name = p.template
        LEFT JOIN LATERAL (SELECT max(log.success) AS last_success, max(log.failure) AS last_failure,
                                  (array_agg(log.error ORDER BY log.failure DESC NULLS LAST))[1] AS last_error
                           FROM log WHERE log.tenant = p.tenant AND log.template = p.template) l ON true)
    SELECT f.tenant, f.template, f.today, f.window_start, f.first_day, f.latest_day, f.views, f.compacted,
           f.missing, f.partial, f.changed, f.last_success, f.last_failure, f.last_error, f.unresolved, f.last_verified,
           CASE WHEN f.latest_day IS NULL THEN 'Empty'
                WHEN f.unresolved OR f.last_failure > coalesce(f.last_success, '-infinity') THEN 'Failing'
                WHEN f.today - f.latest_day > 1 THEN 'Stale'
                WHEN cardinality(f.changed) > 0 THEN 'Changed'
                WHEN cardinality(f.partial) > 0 THEN 'Partial'
                WHEN EXISTS (SELECT 1 FROM unnest(f.missing) m WHERE m < f.latest_day) THEN 'Gaps'
                ELSE 'Fresh' END
    FROM facts f
    UNION ALL
    SELECT ten.schema_name, NULL, ten.today, ten.today - ($1 - 1), NULL, NULL, 0, 0, '{}', '{}', '{}',
           NULL, NULL, NULL, false, NULL, 'Empty'
    FROM ten
    WHERE $3 IS NULL AND NOT EXISTS (SELECT 1 FROM pairs p WHERE p.tenant = ten.schema_name)
    ORDER BY 1, 2 NULLS FIRST
$$;

-- The text of one row of a template's declared columns, over alias r: ROW(...)::text, in which NULL is empty and ''
-- is "" (distinct), every value in its type's text form. On the source each column is cast to its declared type
-- (a no-op when the source has that type), as the day's load reads it; timestamptz is rendered in UTC; the sessions
-- of both sides pin DateStyle, IntervalStyle and extra_float_digits, so equal values give equal text.
