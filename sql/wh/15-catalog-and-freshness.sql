-- sql/wh/15-catalog-and-freshness.sql: Day state, THE catalog of daily views (_wh.daily_views) and THE freshness engine (_wh.freshness).
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Records that a day's rows were just read from its source (called in the same transaction as the create,
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

-- The daily names, before anything is joined: every materialized view or view named <template>_YYYY_MM_DD in any
-- schema, with the relation's namespace oid, its template (the name without the suffix) and its day. The one place in
-- SQL that says which relations are daily views (with _wh.daily_name_day, the spelling of the suffix). The suffix is
-- parsed in a fenced LATERAL subquery (OFFSET 0), once per relation (flattened, the planner would repeat the parse in
-- the filter, the output and the join keys), and the planner may memoize it by name (tenants share their names: 731
-- parses for 36,500 days, measured). _wh.freshness aggregates this view before joining anything, so that no estimate
-- of a join over 36,500 rows can pick its plan.
DROP VIEW IF EXISTS _wh.daily_views;
DROP VIEW IF EXISTS _wh.daily_relations;
DROP FUNCTION IF EXISTS _wh.daily_name_pattern(text);  -- release 2.0.0's matcher, replaced by _wh.daily_name_day
CREATE VIEW _wh.daily_relations AS
SELECT c.relnamespace,
       c.oid AS relid,
       c.relname,
       pg_catalog.left(c.relname, -11) AS template_name,
       d.day,
       c.relkind AS kind
FROM pg_catalog.pg_class c
CROSS JOIN LATERAL (SELECT _wh.daily_name_day(c.relname) AS day OFFSET 0) d
WHERE c.relkind IN ('m', 'v') AND d.day IS NOT NULL;

-- THE catalog of daily views: every <template>_YYYY_MM_DD of a registered tenant and template, a materialized view
-- (kind 'm') or a compacted closed day (kind 'v', a view over <template>_closed), with what _wh.day_state knows of it.
-- complete: captured at or after the day ended on the tenant's clock (NULL: capture time unknown, loaded by an
-- earlier release). Get-WhMv, Get-WhTenant, Get-WhHealth, compaction and retention read this view.
-- One pass over pg_class, linear in the number of relations: only relations of registered tenants' schemas are kept;
-- the template is matched by equality (a hash join, not one regular expression per template and relation). A filter
-- on schema_name or kind reaches the pg_class scan, so one tenant's days cost that tenant's relations only. Measured
-- at 50 tenants x 730 days: docs/performance.md, rows j1-j4.
CREATE VIEW _wh.daily_views AS
SELECT n.nspname::text AS schema_name,
       m.template_name,
       r.day,
       r.relname::text AS relation,
       r.relid,
       r.kind,
       r.kind = 'v' AS compacted,
       s.captured_at,
       s.captured_rows,
       s.captured_at >= _wh.day_end(r.day, t.time_zone) AS complete,
       s.last_checked_at,
       s.check_status,
       s.warehouse_rows,
       s.source_rows,
       s.verified_at,
       t.time_zone
FROM _wh.daily_relations r
JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
JOIN _wh.tenants t ON t.schema_name = n.nspname
JOIN _wh.mv_templates m ON m.template_name = r.template_name
LEFT JOIN _wh.day_state s ON s.schema_name = n.nspname AND s.template_name = m.template_name AND s.day = r.day;

-- THE plan of days (the module's DayPlanner; psql): for each asked tenant (in the order asked) its connection, its
-- today (_wh.tenant_today, read once per tenant) and the templates it uses (a tenant view or a daily view of them);
-- one row per asked template (template_names NULL: per template it uses) saying whether the template exists and which
-- of its days exist from from_day to to_day (NULL: the tenant's today on either end), as the catalog (_wh.daily_views)
-- lists them: one pass over it for all the asked tenants. An unknown tenant: connection_name and today NULL; a
-- tenant without a row of templates: one row, template_name NULL; no tenant asked: one row per asked template, the
-- tenant's columns NULL. Reads only: the callers raise (TenantNotFound, TemplateNotFound, a range in the future).
CREATE OR REPLACE FUNCTION _wh.plan_days(tenant_names text[], template_names text[] DEFAULT NULL,
                                         from_day date DEFAULT NULL, to_day date DEFAULT NULL)
RETURNS TABLE (schema_name text, connection_name text, today date, templates_in_use text[], template_name text,
               template_exists boolean, days date[])
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off  -- as _wh.freshness: estimates over pg_class cross the JIT threshold, and compiling costs more than the query
AS $$
    -- ONE pass over the catalog for the asked tenants, aggregated per schema and template before anything is joined.
    WITH stored AS MATERIALIZED (
        SELECT v.schema_name, v.template_name, pg_catalog.array_agg(v.day ORDER BY v.day) AS days
        FROM _wh.daily_views v WHERE v.schema_name = ANY ($1)
        GROUP BY 1, 2),
    ten AS MATERIALIZED (
        SELECT a.name, a.ord, t.connection_name,
               CASE WHEN t.schema_name IS NOT NULL THEN _wh.tenant_today(a.name) END AS today,
               ARRAY(SELECT m.template_name FROM _wh.mv_templates m
                     WHERE t.schema_name IS NOT NULL
                       AND (pg_catalog.to_regclass(pg_catalog.format('%I.%I', a.name, m.template_name)) IS NOT NULL
                            OR EXISTS (SELECT 1 FROM stored s WHERE s.schema_name = a.name AND s.template_name = m.template_name))
                     ORDER BY 1) AS templates
        FROM (SELECT u.name, pg_catalog.min(u.ord) AS ord FROM pg_catalog.unnest($1) WITH ORDINALITY u(name, ord) GROUP BY u.name) a
        LEFT JOIN _wh.tenants t ON t.schema_name = a.name),
    asked AS MATERIALIZED (
        SELECT u.name, pg_catalog.min(u.ord) AS ord, EXISTS (SELECT 1 FROM _wh.mv_templates m WHERE m.template_name = u.name) AS known
        FROM pg_catalog.unnest($2) WITH ORDINALITY u(name, ord) GROUP BY u.name),
    pairs AS (
        SELECT ten.name, a.name AS template_name, a.ord AS template_ord, a.known FROM ten CROSS JOIN asked a
        UNION ALL
        SELECT ten.name, u.name, u.ord, true FROM ten CROSS JOIN LATERAL pg_catalog.unnest(ten.templates) WITH ORDINALITY u(name, ord)
        WHERE $2 IS NULL
        UNION ALL
        SELECT ten.name, NULL, NULL, NULL FROM ten
        WHERE pg_catalog.cardinality(coalesce($2, ten.templates)) = 0
        UNION ALL
        SELECT NULL, a.name, a.ord, a.known FROM asked a
        WHERE NOT EXISTS (SELECT 1 FROM ten))
    SELECT p.name, ten.connection_name, ten.today, ten.templates, p.template_name, p.known,
           coalesce(ARRAY(SELECT d FROM pg_catalog.unnest(s.days) d
                          WHERE d >= coalesce($3, ten.today) AND d <= coalesce($4, ten.today) ORDER BY d), '{}'::date[])
    FROM pairs p
    LEFT JOIN ten ON ten.name = p.name
    LEFT JOIN stored s ON s.schema_name = p.name AND s.template_name = p.template_name
    ORDER BY ten.ord, p.template_ord
$$;

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
               coalesce(t.freshness_sla,
                        (SELECT nullif(btrim(i.value), '')::interval FROM _wh.warehouse_info i WHERE i.key = 'freshness_sla'),
                        (SELECT s.default_value::interval FROM _wh.settings() s WHERE s.key = 'freshness_sla')) AS sla
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
                     count(*)::integer AS views, count(*) FILTER (WHERE r.kind = 'v')::integer AS compacted
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
