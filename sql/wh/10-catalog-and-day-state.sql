-- sql/wh/10-catalog-and-day-state.sql: THE catalog of daily views (_wh.daily_relations, _wh.daily_views) and the day state's writes (captures, checks).
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- The daily names, before anything is joined: every materialized view or view named <template>_YYYY_MM_DD in any
-- schema, and every closed day kept without a relation (_wh.day_state.table_only, kind 't'), with the relation's namespace oid, its template (the name without the suffix) and its day. The one place in
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
       _wh.daily_name_template(c.relname) AS template_name,
       d.day,
       c.relkind AS kind
FROM pg_catalog.pg_class c
CROSS JOIN LATERAL (SELECT _wh.daily_name_day(c.relname) AS day OFFSET 0) d
WHERE c.relkind IN ('m', 'v') AND d.day IS NOT NULL
UNION ALL
-- Closed days older than day_relation_days: no relation, their rows in <template>_closed (kind 't', relid NULL).
SELECT n.oid, NULL::oid, _wh.daily_name(s.template_name, s.day)::name, s.template_name, s.day, 't'::"char"
FROM _wh.day_state s
JOIN pg_catalog.pg_namespace n ON n.nspname = s.schema_name
WHERE s.table_only;

-- THE catalog of daily views: every <template>_YYYY_MM_DD of a registered tenant and template, a materialized view
-- (kind 'm') or a compacted closed day (kind 'v', a view over <template>_closed; kind 't', older than day_relation_days:
-- its rows in that table and no relation, relid NULL), with what _wh.day_state knows of it.
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
       r.kind IN ('v', 't') AS compacted,
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

-- Records that days' rows were just read from their source (called in the same transaction as the create, refresh,
-- load or force of the days; row_counts in the order of days). The last check's result is cleared: it was about the
-- rows replaced.
CREATE OR REPLACE FUNCTION _wh.record_captures(target_schema text, template_name text, days date[], row_counts bigint[])
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO _wh.day_state AS s (schema_name, template_name, day, captured_at, captured_rows)
    SELECT $1, $2, u.d, _wh.now(), u.n FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4)) AS u(d, n)
    ON CONFLICT (schema_name, template_name, day) DO UPDATE
    SET captured_at = EXCLUDED.captured_at, captured_rows = EXCLUDED.captured_rows, check_status = NULL, verified_at = NULL
$$;

-- Records that a day's rows were just read from its source (record_captures of one day).
CREATE OR REPLACE FUNCTION _wh.record_capture(target_schema text, template_name text, target_date date, row_count bigint)
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _wh.record_captures(target_schema, template_name, ARRAY[target_date], ARRAY[row_count])
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
