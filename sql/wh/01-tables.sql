-- sql/wh/01-tables.sql: Tables: warehouse_info, tenant connections, tenants, templates, the run log, kept dblinks, day state.
-- Created IF NOT EXISTS and widened with ADD COLUMN IF NOT EXISTS: re-running keeps every row.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

CREATE TABLE IF NOT EXISTS _wh.warehouse_info (
    key   text PRIMARY KEY,
    value text
);

-- One row per tenant source database. password is write-only: the trigger moves it
-- into the user mapping of the tenant's foreign server and stores NULL here.
CREATE TABLE IF NOT EXISTS _wh.tenant_connections (
    tenant_name text PRIMARY KEY,
    host        text NOT NULL,
    port        integer NOT NULL DEFAULT 5432,
    dbname      text NOT NULL,
    username    text NOT NULL,
    password    text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz
);
ALTER TABLE _wh.tenant_connections ADD COLUMN IF NOT EXISTS created_at timestamptz DEFAULT now();
ALTER TABLE _wh.tenant_connections ADD COLUMN IF NOT EXISTS updated_at timestamptz;

-- Registered tenants: one warehouse schema fed by one connection. The public views
-- enumerate this table. Rows are added automatically by the update/create functions.
CREATE TABLE IF NOT EXISTS _wh.tenants (
    schema_name     text PRIMARY KEY,
    connection_name text NOT NULL,
    client_name     text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tenants_connection_name_idx ON _wh.tenants (connection_name);
-- The tenant's IANA time zone (pg_timezone_names): its logged_time is local wall-clock time there, so its
-- "today", "yesterday" and "has a day ended" follow that zone. NULL: the warehouse session's TimeZone.
ALTER TABLE _wh.tenants ADD COLUMN IF NOT EXISTS time_zone text;
-- upgrade from < 2.3.0: add column _wh.tenants.freshness_sla (NULL: the warehouse's freshness_sla setting)
-- How long after its day ends (on its clock) a tenant's day must be finished (captured after it ended): past it, an
-- unfinished yesterday is Late (_wh.freshness). NULL: the warehouse's default (_wh.settings() 'freshness_sla').
ALTER TABLE _wh.tenants ADD COLUMN IF NOT EXISTS freshness_sla interval;

CREATE TABLE IF NOT EXISTS _wh.mv_templates (
    template_name      text PRIMARY KEY,
    description        text,
    query_template     text NOT NULL,
    column_definitions text NOT NULL,
    indexes            text,
    created_at         timestamptz DEFAULT now(),
    updated_at         timestamptz
);
-- upgrade from < 2.3.0: templates marked default (is_default) are the ones New-WhTenant gives a tenant without -Template; every template of an older warehouse was given, and stays marked
DO $default$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid = '_wh.mv_templates'::regclass AND a.attname = 'is_default' AND NOT a.attisdropped) THEN
        ALTER TABLE _wh.mv_templates ADD COLUMN is_default boolean NOT NULL DEFAULT false;
        UPDATE _wh.mv_templates SET is_default = true;
    END IF;
END
$default$;

CREATE TABLE IF NOT EXISTS _wh.run_log (
    id               bigserial PRIMARY KEY,
    logged_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    tenant_schema    text,
    connection_name  text,
    template_name    text,
    target_date      date,
    action           text NOT NULL
                     CONSTRAINT run_log_action_check
                     CHECK (action IN ('created', 'refreshed', 'skipped', 'recreated', 'failed', 'dropped', 'retried', 'checked', 'repaired')),
    row_count        bigint,
    duration_ms      numeric,
    error            text,
    run_by           text DEFAULT session_user,
    application_name text DEFAULT current_setting('application_name')
);
-- upgrade from < 2.3.0: add column _wh.run_log.sqlstate (the SQLSTATE of a failure; NULL in older rows)
ALTER TABLE _wh.run_log ADD COLUMN IF NOT EXISTS sqlstate text;
CREATE INDEX IF NOT EXISTS run_log_tenant_template_date_idx ON _wh.run_log (tenant_schema, template_name, target_date);
CREATE INDEX IF NOT EXISTS run_log_logged_at_idx ON _wh.run_log (logged_at);
-- upgrade from < 2.1.1: add the run log's partial indexes of successes and failures (each pair's latest is one probe for _wh.freshness)
-- Whatever the size of the run log, each pair's latest success and latest failure are one index probe each; a row
-- enters at most one of the two. The planner uses them only for a query that names the same actions: the success and
-- failure actions of _wh.freshness (wh/20-freshness.sql) must stay these.
CREATE INDEX IF NOT EXISTS run_log_latest_success_idx ON _wh.run_log (tenant_schema, template_name, logged_at)
    WHERE action IN ('created', 'refreshed', 'recreated');
CREATE INDEX IF NOT EXISTS run_log_latest_failure_idx ON _wh.run_log (tenant_schema, template_name, logged_at)
    WHERE action = 'failed';
-- Actions: 'retried' (a transient error that update_mv_day_isolated waited out), 'checked' (a day compared with its
-- source), 'repaired' (a day re-loaded because it differed).
-- upgrade from < 2.0.0: widen the run log's actions to retried, checked and repaired (existing rows already fit)
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c
                   WHERE c.conrelid = '_wh.run_log'::regclass AND c.conname = 'run_log_action_check'
                     AND pg_catalog.pg_get_constraintdef(c.oid) LIKE '%repaired%' AND pg_catalog.pg_get_constraintdef(c.oid) LIKE '%retried%') THEN
        ALTER TABLE _wh.run_log DROP CONSTRAINT IF EXISTS run_log_action_check;
        ALTER TABLE _wh.run_log ADD CONSTRAINT run_log_action_check
            CHECK (action IN ('created', 'refreshed', 'skipped', 'recreated', 'failed', 'dropped', 'retried', 'checked', 'repaired'));
    END IF;
END
$$;

-- The dblink connection each warehouse session keeps to a source (wh/08-kept-source-connection.sql, _wh.session_dblink): at most
-- one per session, so this has at most one row per backend. Lets Get-WhHealth count the source connections
-- that idle pooled sessions still hold; rows of ended backends are ignored (pid, and backend_start where
-- readable, no longer match pg_stat_activity) and cleared by the next connect. Unlogged: it describes live
-- sessions only. backend_start is NULL when the session's login is not whadmin's to see (a superuser session).
CREATE UNLOGGED TABLE IF NOT EXISTS _wh.kept_dblinks (
    pid             integer PRIMARY KEY,
    backend_start   timestamptz,
    server_name     text NOT NULL,
    connection_name text NOT NULL,
    connected_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- upgrade from < 2.0.0: add table _wh.day_state (days loaded before have no row: capture time unknown, verified by the first check)
-- What the warehouse knows about each day it holds, written in the same transaction as the day's rows:
-- captured_at: when its rows were last read from the source (_wh.now(), the warehouse's clock);
-- captured_rows: how many; the last check against the source (check_mv_window_by_template): when, its status
-- (Match / Changed / Missing) and both row counts; verified_at: when a check last found it equal to its source.
-- A new capture clears the check (its result was about the rows it replaced). A day without a row here was
-- loaded by an earlier release: its capture time is unknown (NULL) and the first check verifies it.
CREATE TABLE IF NOT EXISTS _wh.day_state (
    schema_name     text NOT NULL,
    template_name   text NOT NULL,
    day             date NOT NULL,
    captured_at     timestamptz,
    captured_rows   bigint,
    last_checked_at timestamptz,
    check_status    text CONSTRAINT day_state_check_status_check CHECK (check_status IN ('Match', 'Changed', 'Missing')),
    source_rows     bigint,
    warehouse_rows  bigint,
    verified_at     timestamptz,
    PRIMARY KEY (schema_name, template_name, day)
);
-- upgrade from < 2.4.0: add column _wh.day_state.table_only (a closed day kept as its rows in <template>_closed, without a view of its own: older than the setting day_relation_days)
-- table_only: the day has no relation of its own; the catalog (_wh.daily_relations) lists it from here, kind 't'.
ALTER TABLE _wh.day_state ADD COLUMN IF NOT EXISTS table_only boolean NOT NULL DEFAULT false;
