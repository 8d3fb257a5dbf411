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
SELECT n.oid, NULL::oid, _wh.create_mv_name(s.template_name, s.day)::name, s.template_name, s.day, 't'::"char"
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
