-- sql/wh/20-freshness.sql: THE freshness engine (_wh.freshness), over the catalog of daily views.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- THE freshness engine (Get-WhMvFreshness and Get-WhHealth both read it): per registered tenant and template
-- (that has a tenant view, a daily view or a run-log row) over the window_days days ending on the tenant's today.
-- missing: days without a view from the later of the window start and the first day up to today; partial: closed
-- days (before yesterday: the job no longer refreshes them) last captured before they ended; changed: days whose
-- last check found them different from the source (cleared when they are loaded again); unresolved: a day of the
-- window whose latest failure is newer than its latest success and that has no view. Status, first rule that holds:
-- Empty (no day), Failing (unresolved, or the latest run failed), Stale (latest day before yesterday), Late, Changed,
-- Partial, Gaps (a missing day before the latest), Fresh. A tenant with no template at all: one row, template
-- NULL, Empty (when template_names is NULL).
-- Late (after Stale): yesterday (the tenant's) is not finished, i.e. has no view captured after it ended, although its
-- freshness SLA (_wh.tenants.freshness_sla, else the setting freshness_sla) has passed since it ended; seconds_late
-- says by how much (0 when not late, whatever the status), for any pair whose first day is yesterday or earlier.
-- failed: days of the window whose latest failure is newer than their latest success; last_capture: the latest
-- capture of any of its days (_wh.day_state); last_sqlstate: the SQLSTATE of the latest failure (NULL before 2.3.0).
-- (Dropped first: its columns grew in 2.3.0, and CREATE OR REPLACE cannot change them.)
DROP FUNCTION IF EXISTS _wh.freshness(integer, text[], text[]);
CREATE OR REPLACE FUNCTION _wh.freshness(window_days integer DEFAULT 30, tenant_names text[] DEFAULT NULL, template_names text[] DEFAULT NULL)
RETURNS TABLE (tenant text, template text, today date, window_start date, first_day date, latest_day date,
               daily_views integer, compacted_views integer, missing date[], partial date[], changed date[],
               last_success timestamptz, last_failure timestamptz, last_error text, unresolved boolean,
               last_verified timestamptz, status text, failed date[], last_capture timestamptz, freshness_sla interval,
               seconds_late numeric, last_sqlstate text)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off  -- its estimates over pg_class are large enough to trigger JIT, whose compilation costs more than the query
AS $$
    WITH ten AS MATERIALIZED (
        SELECT t.schema_name, t.time_zone, d.today, d.today - ($1 - 1) AS window_start,
               coalesce(t.freshness_sla, (SELECT _wh.setting('freshness_sla')::interval)) AS sla
        FROM _wh.tenants t
        CROSS JOIN LATERAL (SELECT _wh.today_in(t.time_zone) AS today) d
        WHERE $2 IS NULL OR t.schema_name = ANY ($2)),
    tpl AS MATERIALIZED (SELECT m.template_name FROM _wh.mv_templates m WHERE $3 IS NULL OR m.template_name = ANY ($3)),
    -- ONE pass over the daily names, aggregated per schema and template BEFORE any join (a few hundred groups): so no
    -- estimate of a join over every daily name can choose this plan (one did: a nested loop over 36,500 names x 50
    -- tenants, 430 ms instead of 70). Joined to the asked tenants and templates, it is _wh.daily_views' set of days.
    stats AS MATERIALIZED (
        SELECT n.nspname::text AS schema_name, g.template_name, g.first_day, g.latest_day, g.views, g.compacted
        FROM (SELECT r.relnamespace, r.template_name, min(r.day) AS first_day, max(r.day) AS latest_day,
                     count(*)::integer AS views, count(*) FILTER (WHERE r.kind IN ('v', 't'))::integer AS compacted
              FROM _wh.daily_relations r
              GROUP BY 1, 2) g
        JOIN pg_catalog.pg_namespace n ON n.oid = g.relnamespace
        JOIN ten ON ten.schema_name = n.nspname
        JOIN tpl ON tpl.template_name = g.template_name),
    -- The latest verification per pair: one pass over the day state, aggregated before any join.
    verified AS MATERIALIZED (
        SELECT s.schema_name, s.template_name, max(s.verified_at) AS last_verified, max(s.captured_at) AS last_capture
        FROM _wh.day_state s
        WHERE ($2 IS NULL OR s.schema_name = ANY ($2)) AND ($3 IS NULL OR s.template_name = ANY ($3))
        GROUP BY 1, 2),
    -- Every asked tenant and template, with the run log's latest success and latest failure: one probe each of a
    -- partial index (run_log_latest_success_idx, run_log_latest_failure_idx), whatever the size of the log.
    candidates AS MATERIALIZED (
        SELECT ten.schema_name AS tenant, tpl.template_name AS template, ten.time_zone, ten.today, ten.window_start, ten.sla,
               (SELECT max(r.logged_at) FROM _wh.run_log r
                WHERE r.tenant_schema = ten.schema_name AND r.template_name = tpl.template_name
                  AND r.action IN ('created', 'refreshed', 'recreated')) AS last_success,
               (SELECT max(r.logged_at) FROM _wh.run_log r
                WHERE r.tenant_schema = ten.schema_name AND r.template_name = tpl.template_name AND r.action = 'failed') AS last_failure
        FROM ten CROSS JOIN tpl),
    -- The pairs reported: those with a tenant view, a daily view or any run-log row.
    pairs AS MATERIALIZED (
        SELECT c.tenant, c.template, c.time_zone, c.today, c.window_start, c.sla, c.last_success, c.last_failure
        FROM candidates c
        WHERE to_regclass(format('%I.%I', c.tenant, c.template)) IS NOT NULL
           OR EXISTS (SELECT 1 FROM stats s WHERE s.schema_name = c.tenant AND s.template_name = c.template)
           OR EXISTS (SELECT 1 FROM _wh.run_log r WHERE r.tenant_schema = c.tenant AND r.template_name = c.template)),
    -- Each day of each pair's window, looked up by name (pg_class's index), with its state and its run log: the cost
    -- follows pairs x window_days, not the number of days the warehouse holds.
    window_days AS MATERIALIZED (
        SELECT p.tenant, p.template, g.day, c.present,
               p.today, s.captured_at < _wh.day_end(g.day, p.time_zone) AS incomplete, s.check_status,
               (SELECT max(r.logged_at) FILTER (WHERE r.action = 'failed')
                       > coalesce(max(r.logged_at) FILTER (WHERE r.action IN ('created', 'refreshed', 'recreated')), '-infinity')
                FROM _wh.run_log r
                WHERE r.tenant_schema = p.tenant AND r.template_name = p.template AND r.target_date = g.day) AS failing
        FROM pairs p
        CROSS JOIN LATERAL (SELECT d::date AS day FROM generate_series(p.window_start, p.today, interval '1 day') d) g
        -- (LIMIT 1: not flattened into joins, so each is an index lookup whatever the estimates say)
        CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                                           WHERE c.oid = to_regclass(format('%I.%I', p.tenant, _wh.create_mv_name(p.template, g.day)))
                                             AND c.relkind IN ('m', 'v')) AS present LIMIT 1) c
        LEFT JOIN LATERAL (SELECT s.captured_at, s.check_status FROM _wh.day_state s
                           WHERE s.schema_name = p.tenant AND s.template_name = p.template AND s.day = g.day LIMIT 1) s ON true),
    -- The window's days per pair, in one pass.
    window_sets AS (
        SELECT w.tenant, w.template,
               coalesce(array_agg(w.day ORDER BY w.day) FILTER (WHERE NOT w.present), '{}') AS absent,
               coalesce(array_agg(w.day ORDER BY w.day) FILTER (WHERE w.present AND w.day <= w.today - 2 AND w.incomplete), '{}') AS partial,
               coalesce(array_agg(w.day ORDER BY w.day) FILTER (WHERE w.present AND w.check_status = 'Changed'), '{}') AS changed,
               coalesce(bool_or(NOT w.present AND w.failing), false) AS unresolved,
               coalesce(array_agg(w.day ORDER BY w.day) FILTER (WHERE w.failing), '{}') AS failed
        FROM window_days w
        GROUP BY 1, 2),
    facts AS (
        SELECT p.tenant, p.template, p.today, p.window_start, s.first_day, s.latest_day,
               coalesce(s.views, 0) AS views, coalesce(s.compacted, 0) AS compacted,
               ARRAY(SELECT x FROM unnest(ws.absent) x WHERE x >= s.first_day ORDER BY 1) AS missing,
               ws.partial,
               ws.changed,
               p.last_success, p.last_failure,
               lf.error AS last_error, lf.sqlstate AS last_sqlstate,
               ws.unresolved,
               vf.last_verified,
               ws.failed, vf.last_capture, p.sla,
               -- Yesterday's deadline passed, and yesterday has no view captured after it ended (one index lookup each).
               CASE WHEN s.first_day <= p.today - 1
                         AND _wh.now() > _wh.day_end(p.today - 1, p.time_zone) + p.sla
                         AND NOT EXISTS (SELECT 1 FROM _wh.day_state y
                                         WHERE y.schema_name = p.tenant AND y.template_name = p.template AND y.day = p.today - 1
                                           AND y.captured_at >= _wh.day_end(p.today - 1, p.time_zone)
                                           AND to_regclass(format('%I.%I', p.tenant, _wh.create_mv_name(p.template, p.today - 1))) IS NOT NULL)
                    THEN round(extract(epoch FROM _wh.now() - (_wh.day_end(p.today - 1, p.time_zone) + p.sla)), 3)
                    ELSE 0 END AS seconds_late
        FROM pairs p
        LEFT JOIN stats s ON s.schema_name = p.tenant AND s.template_name = p.template
        LEFT JOIN verified vf ON vf.schema_name = p.tenant AND vf.template_name = p.template
        LEFT JOIN LATERAL (SELECT r.error, r.sqlstate FROM _wh.run_log r
                           WHERE r.tenant_schema = p.tenant AND r.template_name = p.template AND r.action = 'failed' AND r.logged_at = p.last_failure
                           ORDER BY r.id DESC LIMIT 1) lf ON true
        JOIN window_sets ws ON ws.tenant = p.tenant AND ws.template = p.template)
    SELECT f.tenant, f.template, f.today, f.window_start, f.first_day, f.latest_day, f.views, f.compacted,
           f.missing, f.partial, f.changed, f.last_success, f.last_failure, f.last_error, f.unresolved, f.last_verified,
           CASE WHEN f.latest_day IS NULL THEN 'Empty'
                WHEN f.unresolved OR f.last_failure > coalesce(f.last_success, '-infinity') THEN 'Failing'
                WHEN f.today - f.latest_day > 1 THEN 'Stale'
                WHEN f.seconds_late > 0 THEN 'Late'
                WHEN cardinality(f.changed) > 0 THEN 'Changed'
                WHEN cardinality(f.partial) > 0 THEN 'Partial'
                WHEN EXISTS (SELECT 1 FROM unnest(f.missing) m WHERE m < f.latest_day) THEN 'Gaps'
                ELSE 'Fresh' END,
           f.failed, f.last_capture, f.sla, f.seconds_late, f.last_sqlstate
    FROM facts f
    UNION ALL
    SELECT ten.schema_name, NULL, ten.today, ten.window_start, NULL, NULL, 0, 0, '{}', '{}', '{}',
           NULL, NULL, NULL, false, NULL, 'Empty', '{}', NULL, ten.sla, 0, NULL
    FROM ten
    WHERE $3 IS NULL AND NOT EXISTS (SELECT 1 FROM pairs p WHERE p.tenant = ten.schema_name)
    ORDER BY 1, 2 NULLS FIRST
$$;
