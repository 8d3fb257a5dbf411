-- PhoodWarehouse: the _wh schema (tables, functions, triggers).
--
-- Run as whadmin in the warehouse database:
--     \c phood_warehouse whadmin
--     \i sql/functions.sql
-- over a session authenticated as whadmin (Install-WhWarehouse executes this file as one
-- script). Never from a superuser session, not even after SET ROLE whadmin: whadmin owns
-- this code, and it would run with the superuser's rights (docs/security.md).
-- Plain SQL in one transaction (BEGIN after the guard, COMMIT at the end); the one psql meta-command is \ir, which
-- includes the parts below (sql/wh/*.sql, one file per concern). Install-WhWarehouse expands the same lines
-- (SqlScripts.Read) and runs them in its own transaction (SqlScripts.WithoutOwnTransaction).
--
-- Re-running upgrades in place and keeps all data: tables use IF NOT EXISTS and
-- ADD COLUMN IF NOT EXISTS, functions CREATE OR REPLACE, triggers CREATE OR REPLACE.
--
-- Conventions (see docs/sql-layer.md):
--   * every function: SET search_path = pg_catalog, pg_temp; everything schema-qualified;
--   * every dynamic identifier through %I, every literal through %L;
--   * object-creating functions are SECURITY DEFINER owned by whadmin, so every object
--     they create is owned by whadmin whoever calls them (postgres or whadmin);
--   * errors are raised, never swallowed; the run log records what happened;
--   * lock order: daily view (advisory) -> tenant view (advisory) -> public view (advisory).

DO $guard$
BEGIN
    -- session_user, not only current_user: SET ROLE whadmin in an admin's session is no boundary (whadmin's code
    -- could RESET ROLE), and the admin needs no membership in whadmin at all.
    IF session_user OPERATOR(pg_catalog.<>) 'whadmin' OR current_user OPERATOR(pg_catalog.<>) 'whadmin' THEN
        RAISE EXCEPTION 'functions.sql must run over a session authenticated as whadmin (session user %, current user %)', session_user, current_user
            USING HINT = 'Connect as whadmin: \c phood_warehouse whadmin (SET ROLE is no boundary: whadmin''s code could RESET ROLE, docs/security.md)';
    END IF;
    IF NOT pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE')
       OR pg_catalog.to_regprocedure('public.dblink_connect(text,text)') IS NULL
       OR NOT pg_catalog.has_function_privilege(pg_catalog.to_regprocedure('public.dblink_connect(text,text)'), 'EXECUTE') THEN
        RAISE EXCEPTION 'the admin''s part of the install is missing in database % (dblink, whadmin''s CREATE on the database)', pg_catalog.current_database()
            USING HINT = 'Run sql/create.sql (or sql/setup-database.sql) as a superuser or the managed server''s admin first.';
    END IF;
END
$guard$;

-- One transaction: an upgrade that fails or is interrupted midway (an error, a crash, Ctrl+C) leaves the old release
-- whole, and a run again finishes it. psql runs the parts in it (an error aborts it, and the COMMIT at the end then
-- rolls it back); Install-WhWarehouse runs this text inside a transaction of its own, without these two lines.
BEGIN;

-- whadmin's own schema (setup-database.sql gives it CREATE on the database: the admin needs no membership in whadmin).
CREATE SCHEMA IF NOT EXISTS _wh;



-- The parts, one file per concern, in dependency order (psql includes them relative to this file; Install-WhWarehouse
-- expands the same \ir lines, so both run the same text):
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
-- sql/wh/02-names-and-validation.sql: Names and validation: the one spelling of a daily name, the clock (_wh.now), tenants' days, input checks.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Foreign server name of a connection: 'wh_' || tenant_name (at most 63 bytes).
CREATE OR REPLACE FUNCTION _wh.server_name(tenant_name text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 'wh_' || tenant_name $$;

-- Daily view name: base_view_name || '_YYYY_MM_DD'. Errors when the result exceeds 63 bytes
-- (PostgreSQL would silently truncate it).
CREATE OR REPLACE FUNCTION _wh.create_mv_name(base_view_name text, target_date date)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result text;
BEGIN
    IF base_view_name IS NULL OR base_view_name = '' OR target_date IS NULL THEN
        RAISE EXCEPTION 'create_mv_name: base_view_name and target_date are required'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    result := base_view_name || '_' || to_char(target_date, 'YYYY_MM_DD');
    IF octet_length(result) > 63 THEN
        RAISE EXCEPTION 'view name % is longer than 63 bytes', result
            USING ERRCODE = 'name_too_long';
    END IF;
    RETURN result;
END
$$;

-- The day of a daily name (<template>_YYYY_MM_DD), NULL for any other name: the one spelling of the suffix in SQL
-- (its template is the name without its last 11 characters). No SET clause and only immutable parts (make_date, not
-- the stable to_date), so that it is inlined into _wh.daily_views (see _wh.day_end below); a call per relation
-- costs 5 us, 0.2 s at 36,500 daily names, and a regular expression 2 us (measured): LIKE places the underscores,
-- translate proves the other eight characters digits.
CREATE OR REPLACE FUNCTION _wh.daily_name_day(relation_name text)
RETURNS date
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN relation_name LIKE '%\_____\___\___'
                      AND pg_catalog.translate(pg_catalog.right(relation_name, 10), '0123456789', '') = '__'
                THEN pg_catalog.make_date(pg_catalog.substr(pg_catalog.right(relation_name, 10), 1, 4)::integer,
                                          pg_catalog.substr(pg_catalog.right(relation_name, 10), 6, 2)::integer,
                                          pg_catalog.substr(pg_catalog.right(relation_name, 10), 9, 2)::integer) END
$$;

-- The template of a daily name (<template>_YYYY_MM_DD): the name without its suffix, its last 11 characters (the one
-- spelling of that in SQL; a name is a daily name when _wh.daily_name_day gives it a day). No SET clause and immutable,
-- like _wh.daily_name_day, so that it is inlined into _wh.daily_relations.
CREATE OR REPLACE FUNCTION _wh.daily_name_template(relation_name text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $$ SELECT pg_catalog.left(relation_name, -11) $$;

-- The daily name of a template's day (<template>_YYYY_MM_DD), as create_mv_name spells it but without its checks: for
-- days already held (the catalog's days without a relation). No SET clause, so that it is inlined: create_mv_name is
-- PL/pgSQL, and a call per day cost 0.15 s of Get-WhMv at 100 tenants x 5 years.
CREATE OR REPLACE FUNCTION _wh.daily_name(template_name text, day date)
RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT template_name OPERATOR(pg_catalog.||) '_' OPERATOR(pg_catalog.||) pg_catalog.to_char(day, 'YYYY_MM_DD') $$;

-- Name of the compacted table of a template: <template>_closed (at most 59 bytes).
CREATE OR REPLACE FUNCTION _wh.closed_table_name(template_name text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT template_name || '_closed' $$;

-- Name of the table holding a copy of the rows of a tenant's daily materialized views of a
-- template: <template>_recent (at most 59 bytes). The tenant view reads it, not the daily views,
-- so that a new, refreshed, re-created or dropped day changes rows, never the view's definition.
CREATE OR REPLACE FUNCTION _wh.recent_table_name(template_name text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT template_name || '_recent' $$;

-- The kind of a daily name: 'm' (materialized view), 'v' (day view over the compacted table), 't' (a closed day older
-- than day_relation_days: its rows in <template>_closed, no relation of its own; _wh.day_state.table_only) or NULL.
CREATE OR REPLACE FUNCTION _wh.daily_relkind(target_schema text, view_name text)
RETURNS "char"
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(
        (SELECT c.relkind
         FROM pg_catalog.pg_class c
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = target_schema AND c.relname = view_name AND c.relkind IN ('m', 'v')),
        (SELECT 't'::"char" FROM _wh.day_state s
         WHERE s.schema_name = target_schema AND s.template_name = _wh.daily_name_template(view_name)
           AND s.day = _wh.daily_name_day(view_name) AND s.table_only))
$$;

-- True when the daily view target_schema.view_name exists: a materialized view, or (a closed day
-- compacted into <template>_closed, see wh/14-compaction.sql) a plain view named <name>_YYYY_MM_DD, or
-- a closed day older than day_relation_days kept in that table without a view (_wh.daily_relkind 't').
-- Reads pg_class with the statement's snapshot, so after an advisory lock wait it sees what the other
-- session committed.
CREATE OR REPLACE FUNCTION _wh.does_mv_exist(target_schema text, view_name text)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (
        SELECT 1
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = target_schema AND c.relname = view_name
          AND (c.relkind = 'm' OR (c.relkind = 'v' AND _wh.daily_name_day(c.relname) IS NOT NULL)))
        OR coalesce(_wh.daily_relkind(target_schema, view_name) = 't', false)
$$;

-- True when a (non-materialized) view target_schema.view_name exists.
CREATE OR REPLACE FUNCTION _wh.does_view_exist(target_schema text, view_name text)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (
        SELECT 1
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = target_schema AND c.relname = view_name AND c.relkind = 'v')
$$;

-- True when view view_schema.view_name references relation ref_schema.ref_name directly.
CREATE OR REPLACE FUNCTION _wh.view_references(view_schema text, view_name text, ref_schema text, ref_name text)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (
        SELECT 1
        FROM pg_catalog.pg_class v
        JOIN pg_catalog.pg_namespace vn ON vn.oid = v.relnamespace
        JOIN pg_catalog.pg_rewrite r ON r.ev_class = v.oid
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid
        JOIN pg_catalog.pg_class t ON t.oid = d.refobjid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
        JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
        WHERE vn.nspname = view_schema AND v.relname = view_name
          AND tn.nspname = ref_schema AND t.relname = ref_name)
$$;

-- Raises unless value is a name of lower-case letters, digits and underscores that starts with a letter or an
-- underscore and has at most max_length characters: THE rule for tenant schemas, connections and templates (each
-- with its own length, so that the names built from it fit PostgreSQL's 63 bytes). kind names the input in the
-- message ('tenant schema', 'connection', 'template'); sqlstate is the error's condition name.
CREATE OR REPLACE FUNCTION _wh.assert_lower_name(kind text, value text, max_length integer, sqlstate text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF value IS NULL OR value !~ ('^[a-z_][a-z0-9_]{0,' || (max_length - 1) || '}$') THEN
        RAISE EXCEPTION 'invalid % name %', kind, coalesce(quote_literal(value), 'NULL')
            USING ERRCODE = sqlstate,
                  HINT = format('Use lower-case letters, digits and underscores, starting with a letter or underscore, at most %s characters.', max_length);
    END IF;
END
$$;

-- Raises when a NEW tenant schema, connection or template would take a name that shadows or needs quoting: an SQL
-- keyword that must be quoted (select, user, ...: every query would need "..."), the name of a role (a schema named
-- after a role is what "$user" in a search_path finds first: phood_ro's foodlogstats would read one tenant), or a name
-- of this product's or PostgreSQL's schemas. Names in use already are left alone (their objects exist).
CREATE OR REPLACE FUNCTION _wh.assert_new_name(kind text, value text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF quote_ident(value) <> value THEN
        RAISE EXCEPTION '% name % is an SQL keyword: every query would have to quote it', kind, quote_literal(value)
            USING ERRCODE = 'reserved_name', HINT = 'Choose another name (add a prefix or suffix, e.g. ' || value || '_site).';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = value) THEN
        RAISE EXCEPTION '% name % is the name of a role: a schema of that name is what "$user" in its search_path finds first', kind, quote_literal(value)
            USING ERRCODE = 'reserved_name', HINT = 'Choose another name.';
    END IF;
    IF value IN ('_wh', 'public', 'cron', 'information_schema') OR value LIKE 'pg\_%' THEN
        RAISE EXCEPTION '% name % is reserved', kind, quote_literal(value)
            USING ERRCODE = 'reserved_name', HINT = 'Choose another name.';
    END IF;
END
$$;

-- Raises unless target_schema is a valid, non-reserved tenant schema name.
CREATE OR REPLACE FUNCTION _wh.assert_tenant_schema(target_schema text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _wh.assert_lower_name('tenant schema', target_schema, 63, 'invalid_schema_name');
    IF target_schema IN ('_wh', 'public', 'cron', 'information_schema') OR target_schema LIKE 'pg\_%' THEN
        RAISE EXCEPTION 'schema % is reserved and cannot hold tenant data', target_schema
            USING ERRCODE = 'reserved_name';
    END IF;
END
$$;

-- Raises unless tenant_name is a valid connection name (the server name must fit 63 bytes).
CREATE OR REPLACE FUNCTION _wh.assert_connection_name(tenant_name text)
RETURNS void
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT _wh.assert_lower_name('connection', tenant_name, 60, 'invalid_parameter_value') $$;

-- Raises unless template_name is a valid template name (name_YYYY_MM_DD must fit 63 bytes).
CREATE OR REPLACE FUNCTION _wh.assert_template_name(template_name text)
RETURNS void
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT _wh.assert_lower_name('template', template_name, 52, 'invalid_parameter_value') $$;

-- Raises unless template_name names an existing template.
CREATE OR REPLACE FUNCTION _wh.assert_template_exists(template_name text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _wh.assert_template_name(template_name);
    IF NOT EXISTS (SELECT 1 FROM _wh.mv_templates t WHERE t.template_name = assert_template_exists.template_name) THEN
        RAISE EXCEPTION 'template % does not exist', template_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'Load it with sql/template-<name>.sql; SELECT template_name FROM _wh.mv_templates lists the known ones.';
    END IF;
END
$$;

-- THE clock of the SQL layer: now(), unless the session sets phood.now (SET phood.now = '2026-12-02 00:30',
-- read as a timestamptz in the session's TimeZone) in a warehouse its installer marked for tests (ALTER DATABASE
-- ... SET phood.test_clock = 'on', which only the database's owner or a superuser can do: whadmin cannot mark a
-- production warehouse, and there SET phood.now changes nothing). Every "now", "today", "yesterday" and "has this
-- day ended" of the _wh functions goes through it, so a test can stand on either side of midnight (moving TimeZone
-- moves CURRENT_DATE, not now()). The marker is read only when phood.now is set.
CREATE OR REPLACE FUNCTION _wh.now()
RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN nullif(current_setting('phood.now', true), '') IS NULL THEN now()
        WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_db_role_setting s
                     WHERE s.setrole = 0
                       AND s.setdatabase = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = current_database())
                       AND 'phood.test_clock=on' = ANY (s.setconfig))
            THEN current_setting('phood.now', true)::timestamptz
        ELSE now()
    END
$$;

-- Raises unless time_zone is a name PostgreSQL knows (pg_timezone_names), e.g. 'America/Los_Angeles'.
CREATE OR REPLACE FUNCTION _wh.assert_time_zone(time_zone text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF time_zone IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names z WHERE z.name = time_zone) THEN
        RAISE EXCEPTION 'unknown time zone %', coalesce(quote_literal(time_zone), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give an IANA name such as ''America/Los_Angeles'' or ''Europe/Berlin'': SELECT name FROM pg_timezone_names lists them (names are case-sensitive).';
    END IF;
END
$$;

-- The time zone of a tenant's days (NULL: the session's TimeZone, i.e. CURRENT_DATE's).
CREATE OR REPLACE FUNCTION _wh.tenant_time_zone(target_schema text)
RETURNS text
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT t.time_zone FROM _wh.tenants t WHERE t.schema_name = target_schema $$;

-- The day it is now (_wh.now()) in a zone; without a zone, in the session's TimeZone (= CURRENT_DATE).
CREATE OR REPLACE FUNCTION _wh.today_in(time_zone text)
RETURNS date
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT CASE WHEN time_zone IS NULL THEN _wh.now()::date ELSE (_wh.now() AT TIME ZONE time_zone)::date END $$;

-- A tenant's today: the day it is now on the tenant's clock (its time_zone), else the session's CURRENT_DATE.
-- Its yesterday is tenant_today - 1; its closed days (no longer refreshed) are those before yesterday.
CREATE OR REPLACE FUNCTION _wh.tenant_today(target_schema text)
RETURNS date
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT _wh.today_in(_wh.tenant_time_zone(target_schema)) $$;

-- The instant a day ends (midnight after it) in a zone; without a zone, in the session's TimeZone. A day whose
-- rows were captured at or after this instant is complete (unless its source changes afterwards).
-- No SET clause (unlike every other function): a function with one is never inlined, and _wh.daily_views evaluates
-- this once per daily name. It uses only built-in operators and casts, which resolve in pg_catalog (always searched
-- first), so no search_path can change what it means.
CREATE OR REPLACE FUNCTION _wh.day_end(day date, time_zone text)
RETURNS timestamptz
LANGUAGE sql STABLE
AS $$ SELECT CASE WHEN time_zone IS NULL THEN (day + 1)::timestamp::timestamptz ELSE (day + 1)::timestamp AT TIME ZONE time_zone END $$;

-- Raises unless target_date is a day the warehouse can hold: not null, finite, not before 2000-01-01 (there is no
-- food-waste data that old, and a window from -infinity or a BC date would build days without end: the module refuses
-- the same), and not after today (_wh.now() in the session's TimeZone).
CREATE OR REPLACE FUNCTION _wh.assert_target_date(target_date date)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF target_date IS NULL THEN
        RAISE EXCEPTION 'target date is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT isfinite(target_date) OR target_date < DATE '2000-01-01' THEN
        RAISE EXCEPTION 'target date % is before 2000-01-01 (or not a finite date): there is no data that old', target_date
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give a date from 2000-01-01 to today, as YYYY-MM-DD.';
    END IF;
    IF target_date > _wh.today_in(NULL) THEN
        RAISE EXCEPTION 'target date % is in the future (today is %)', target_date, _wh.today_in(NULL)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- Raises unless target_date is a day the warehouse can hold (not null, finite, not before 2000-01-01) and not after
-- the tenant's today (_wh.tenant_today).
CREATE OR REPLACE FUNCTION _wh.assert_target_date(target_date date, target_schema text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    today date := _wh.tenant_today(target_schema);
BEGIN
    IF target_date IS NULL THEN
        RAISE EXCEPTION 'target date is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT isfinite(target_date) OR target_date < DATE '2000-01-01' THEN
        RAISE EXCEPTION 'target date % is before 2000-01-01 (or not a finite date): there is no data that old', target_date
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give a date from 2000-01-01 to today, as YYYY-MM-DD.';
    END IF;
    IF target_date > today THEN
        RAISE EXCEPTION 'target date % is in the future (today is % for tenant %)', target_date, today, target_schema
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
-- sql/wh/03-templates.sql: Templates: parsing and validation of column and index definitions, rendering, the template trigger.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Parses a column list "name type, name type, ..." (commas inside parentheses or double
-- quotes do not split). Unquoted names are folded to lower case. Each type must resolve
-- with to_regtype. data_type is the canonical type name, or the declared text (lower-cased)
-- when it carries a modifier such as numeric(10,3). Raises naming the bad piece.
CREATE OR REPLACE FUNCTION _wh.parse_column_definitions(column_definitions text)
RETURNS TABLE (ordinal integer, column_name text, data_type text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pieces   text[] := '{}'::text[];
    cur      text := '';
    depth    integer := 0;
    in_quote boolean := false;
    ch       text;
    piece    text;
    m        text[];
    typ      text;
    typ_oid  regtype;
    seen     text[] := '{}'::text[];
    n        integer := 0;
BEGIN
    IF column_definitions IS NULL OR btrim(column_definitions) = '' THEN
        RAISE EXCEPTION 'column_definitions is empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 1 .. length(column_definitions) LOOP
        ch := substr(column_definitions, i, 1);
        IF ch = '"' THEN
            in_quote := NOT in_quote;
        ELSIF NOT in_quote AND ch = '(' THEN
            depth := depth + 1;
        ELSIF NOT in_quote AND ch = ')' THEN
            depth := depth - 1;
        ELSIF NOT in_quote AND depth = 0 AND ch = ',' THEN
            pieces := pieces || cur;
            cur := '';
            CONTINUE;
        END IF;
        cur := cur || ch;
    END LOOP;
    pieces := pieces || cur;

    FOREACH piece IN ARRAY pieces LOOP
        piece := btrim(regexp_replace(piece, '\s+', ' ', 'g'));
        IF piece = '' THEN
            RAISE EXCEPTION 'column_definitions: empty column definition (stray comma?)'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        m := regexp_match(piece, '^("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*) (.+)$');
        IF m IS NULL THEN
            RAISE EXCEPTION 'column_definitions: % is not "name type"', quote_literal(piece)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        typ := m[2];
        IF typ ~ '(--|/\*|;)' THEN
            RAISE EXCEPTION 'column_definitions: % contains a comment or semicolon', quote_literal(piece)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        BEGIN
            typ_oid := to_regtype(typ);
        EXCEPTION WHEN OTHERS THEN
            typ_oid := NULL;
        END;
        IF typ_oid IS NULL THEN
            RAISE EXCEPTION 'column_definitions: unknown type in %', quote_literal(piece)
                USING ERRCODE = 'undefined_object';
        END IF;
        n := n + 1;
        ordinal := n;
        column_name := CASE WHEN left(m[1], 1) = '"'
                            THEN replace(substr(m[1], 2, length(m[1]) - 2), '""', '"')
                            ELSE lower(m[1]) END;
        IF column_name = ANY (seen) THEN
            RAISE EXCEPTION 'column_definitions: column % is declared twice', column_name
                USING ERRCODE = 'duplicate_column';
        END IF;
        seen := seen || column_name;
        data_type := CASE WHEN typ ~ '\(' AND typ !~ '"' THEN lower(typ)
                          WHEN typ ~ '\(' THEN typ
                          ELSE format_type(typ_oid, NULL) END;
        RETURN NEXT;
    END LOOP;
END
$$;

-- Parses a template's index statements (separated by ';'). Each must read
-- CREATE [UNIQUE] INDEX [name] ON {SCHEMA}.{VIEW_NAME} <rest>. The name is discarded
-- (PostgreSQL picks unique names); rest is kept as written, e.g. "(id)" or "USING btree (x)".
CREATE OR REPLACE FUNCTION _wh.parse_index_definitions(indexes text)
RETURNS TABLE (ordinal integer, is_unique boolean, index_rest text)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stmt text;
    m    text[];
    n    integer := 0;
BEGIN
    IF indexes IS NULL THEN
        RETURN;
    END IF;
    FOREACH stmt IN ARRAY string_to_array(indexes, ';') LOOP
        stmt := btrim(stmt, E' \t\r\n');
        CONTINUE WHEN stmt = '';
        m := regexp_match(stmt,
            '^create\s+(unique\s+)?index\s+(?:if\s+not\s+exists\s+)?(?:("[^"]+"|[A-Za-z0-9_{}$]+)\s+)?on\s+\{SCHEMA\}\.\{VIEW_NAME\}\s*(\S.*)$',
            'i');
        IF m IS NULL THEN
            RAISE EXCEPTION 'index definition % must read CREATE [UNIQUE] INDEX [name] ON {SCHEMA}.{VIEW_NAME} (...)', quote_literal(stmt)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        n := n + 1;
        ordinal := n;
        is_unique := m[1] IS NOT NULL;
        index_rest := m[3];
        RETURN NEXT;
    END LOOP;
END
$$;

-- Substitutes the template placeholders. Schema and view names are validated identifiers
-- ([a-z0-9_]) and the date is formatted YYYY-MM-DD, so the substitution cannot inject SQL.
CREATE OR REPLACE FUNCTION _wh.render_template_text(template_text text, target_schema text, view_name text, target_date date)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _wh.assert_tenant_schema(target_schema);
    IF view_name !~ '^[a-z_][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid view name %', quote_literal(view_name) USING ERRCODE = 'invalid_name';
    END IF;
    RETURN replace(replace(replace(template_text,
        '{TARGET_DATE}', to_char(target_date, 'YYYY-MM-DD')),
        '{SCHEMA}', target_schema),
        '{VIEW_NAME}', view_name);
END
$$;

-- The columns of every daily, tenant and public view of a template, in order: the
-- template's declared columns, then client (text) unless the template declares it.
-- data_type is valid in a cast (NULL::<data_type>).
CREATE OR REPLACE FUNCTION _wh.template_columns(template_name text)
RETURNS TABLE (ordinal integer, column_name text, data_type text)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    defs text;
    n    integer := 0;
    has_client boolean := false;
BEGIN
    SELECT t.column_definitions INTO defs FROM _wh.mv_templates t WHERE t.template_name = template_columns.template_name;
    IF NOT FOUND THEN
        PERFORM _wh.assert_template_exists(template_name);
    END IF;
    FOR ordinal, column_name, data_type IN SELECT * FROM _wh.parse_column_definitions(defs) LOOP
        n := ordinal;
        has_client := has_client OR column_name = 'client';
        RETURN NEXT;
    END LOOP;
    IF NOT has_client THEN
        ordinal := n + 1;
        column_name := 'client';
        data_type := 'text';
        RETURN NEXT;
    END IF;
END
$$;

-- Raises, naming the template, when a day's load met columns that do not match the template's column list (dblink:
-- "remote query result rowtype does not match the specified FROM clause rowtype"): the template is what to fix, not
-- the day. Called from the day paths' exception handlers (a view, a closed day).
CREATE OR REPLACE FUNCTION _wh.raise_template_columns_mismatch(template_name text, detail text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'template %: its query does not return the columns its column list declares (%)', template_name, detail
        USING ERRCODE = 'datatype_mismatch',
              HINT = format('Test-WhTemplate %s <tenant> shows which; fix the query or the column list (Set-WhTemplate %s), then load the day again.', template_name, template_name);
END
$$;

-- The keys a template declares unique (its CREATE UNIQUE INDEX definitions), as the expression list to group a day's
-- rows by (ASC/DESC/NULLS and INCLUDE dropped) and the index's WHERE condition (NULL when none): the one rule for
-- duplicate keys checks a closed day's rows against these before they are kept (load_closed_day), as the unique index
-- does for a daily materialized view. A definition that is not a parenthesised list is not returned.
CREATE OR REPLACE FUNCTION _wh.template_unique_keys(template_name text)
RETURNS TABLE (key_list text, key_condition text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    idx record;
    body text;
    m text[];
BEGIN
    FOR idx IN
        SELECT d.index_rest FROM _wh.mv_templates t CROSS JOIN LATERAL _wh.parse_index_definitions(t.indexes) d
        WHERE t.template_name = template_unique_keys.template_name AND d.is_unique ORDER BY d.ordinal
    LOOP
        m := regexp_match(idx.index_rest, '^(.*?)\s+where\s+(.*)$', 'is');
        body := coalesce(m[1], idx.index_rest);
        key_condition := m[2];
        body := regexp_replace(body, '\s+include\s*\([^()]*\)\s*$', '', 'i');
        body := regexp_replace(btrim(body), '^using\s+\w+\s*', '', 'i');
        m := regexp_match(body, '^\((.*)\)$', 's');
        CONTINUE WHEN m IS NULL;
        key_list := btrim(regexp_replace(m[1], '\s+(asc|desc|nulls\s+first|nulls\s+last)\M', '', 'gi'));
        RETURN NEXT;
    END LOOP;
END
$$;

-- An expression over the rows of a relation named src: the first key the template declares unique that two of those
-- rows share, as "(id)=(42)", else NULL (a hash of the day's keys per unique index, no index needed). NULL when the
-- template declares no unique key. Used by load_closed_day (in the statement that inserts the day) and by
-- refresh_daily_view (over the view's query, once a refresh failed on a repeated key).
CREATE OR REPLACE FUNCTION _wh.repeated_key_sql(template_name text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'coalesce(' || string_agg(
               format('(SELECT pg_catalog.format(%L, ROW(%s)::text) FROM src%s GROUP BY %s HAVING pg_catalog.count(*) > 1 LIMIT 1)',
                      '(' || k.key_list || ')=%s', k.key_list,
                      CASE WHEN k.key_condition IS NULL THEN '' ELSE ' WHERE ' || k.key_condition END, k.key_list),
               ', ') || ')'
    FROM _wh.template_unique_keys(template_name) k
$$;

-- Raises the one error of a day whose source rows repeat a key the template declares unique (key: "(id)=(42)", or the
-- key's columns when the value is not known): the same for a daily materialized view (its unique index, at creation
-- and refresh) and a closed day loaded into <template>_closed (load_closed_day's check). The day is not kept.
CREATE OR REPLACE FUNCTION _wh.raise_duplicate_key(template_name text, target_date date, key text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'day % has more than one row with the key % at the source, and template % declares that key unique',
                    target_date, key, template_name
        USING ERRCODE = 'unique_violation',
              HINT = format('Fix the rows of that day at the source, or declare the index without UNIQUE (Set-WhTemplate %s -Indexes ...), then load the day again (docs/reliability.md: duplicate keys).', template_name);
END
$$;

-- True when ch continues an identifier for the server's lexer (ident_cont: letters, digits, _, $, and every non-ASCII
-- character), so that a $ after it is part of the name (é$a$), not the start of a dollar quote.
CREATE OR REPLACE FUNCTION _wh.is_identifier_char(ch text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ch ~ '^[A-Za-z0-9_$]$' OR ascii(ch) > 127 $$;

-- Raises unless query is ONE statement that reads: SELECT, WITH, VALUES or TABLE (after
-- leading comments and parentheses), with nothing after its end but whitespace, comments and
-- semicolons. Quotes, double quotes, dollar quotes, E'' strings and comments are skipped, so a
-- ';' inside them does not count. A query_template runs at the source on every refresh: a
-- second statement would run there too (docs/security.md, finding 4).
CREATE OR REPLACE FUNCTION _wh.assert_single_select(query text, what text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n        integer := length(coalesce(query, ''));
    i        integer := 1;
    ch       text;
    nxt      text;
    tag      text;
    depth    integer;
    ended    boolean := false;
    body     text := '';
    close_at integer;
    e_string boolean;
    parens   integer := 0;
BEGIN
    WHILE i <= n LOOP
        ch := substr(query, i, 1);
        nxt := substr(query, i + 1, 1);
        IF ch = '-' AND nxt = '-' THEN
            close_at := strpos(substr(query, i), E'\n');
            i := CASE WHEN close_at = 0 THEN n + 1 ELSE i + close_at END;
            body := body || ' ';
            CONTINUE;
        ELSIF ch = '/' AND nxt = '*' THEN
            depth := 1;
            i := i + 2;
            WHILE i <= n AND depth > 0 LOOP
                IF substr(query, i, 2) = '/*' THEN depth := depth + 1; i := i + 2;
                ELSIF substr(query, i, 2) = '*/' THEN depth := depth - 1; i := i + 2;
                ELSE i := i + 1;
                END IF;
            END LOOP;
            body := body || ' ';
            CONTINUE;
        ELSIF ch = ';' THEN
            ended := true;
            i := i + 1;
            CONTINUE;
        ELSIF ch ~ '\s' THEN
            body := body || ' ';
            i := i + 1;
            CONTINUE;
        END IF;
        IF ended THEN
            RAISE EXCEPTION '% holds more than one statement: % follows a semicolon', what, quote_literal(left(substr(query, i), 40))
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'A template''s query is one SELECT: it runs at the source on every refresh, so a second statement would run there too. Remove everything after the first statement.';
        END IF;
        IF ch = '''' THEN
            -- E'...' strings know backslash escapes; other strings only ''.
            e_string := i > 1 AND lower(substr(query, i - 1, 1)) = 'e' AND (i = 2 OR NOT _wh.is_identifier_char(substr(query, i - 2, 1)));
            i := i + 1;
            LOOP
                EXIT WHEN i > n;
                IF e_string AND substr(query, i, 1) = '\' THEN
                    i := i + 2;
                ELSIF substr(query, i, 1) = '''' THEN
                    EXIT WHEN substr(query, i + 1, 1) <> '''';
                    i := i + 2;
                ELSE
                    i := i + 1;
                END IF;
            END LOOP;
            i := i + 1;
            body := body || ' ''s'' ';
            CONTINUE;
        ELSIF ch = '"' THEN
            i := i + 1;
            LOOP
                EXIT WHEN i > n;
                IF substr(query, i, 1) = '"' THEN
                    EXIT WHEN substr(query, i + 1, 1) <> '"';
                    i := i + 2;
                ELSE
                    i := i + 1;
                END IF;
            END LOOP;
            i := i + 1;
            body := body || ' "q" ';
            CONTINUE;
        ELSIF ch = '$' AND (i = 1 OR NOT _wh.is_identifier_char(substr(query, i - 1, 1))) THEN
            -- A tag is empty or a name as the server's lexer reads one (its letters include every non-ASCII character).
            tag := substring(substr(query, i) FROM '^(\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$)');
            IF tag IS NOT NULL THEN
                close_at := strpos(substr(query, i + length(tag)), tag);
                i := CASE WHEN close_at = 0 THEN n + 1 ELSE i + length(tag) + close_at - 1 + length(tag) END;
                body := body || ' ''s'' ';
                CONTINUE;
            END IF;
        END IF;
        IF ch = '(' THEN
            parens := parens + 1;
        ELSIF ch = ')' THEN
            parens := parens - 1;
            IF parens < 0 THEN
                RAISE EXCEPTION '% closes a parenthesis it did not open (at %)', what, quote_literal(left(substr(query, i), 40))
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'A template''s query runs inside the warehouse''s own parentheses at the source: it must be one SELECT with balanced parentheses.';
            END IF;
        END IF;
        body := body || ch;
        i := i + 1;
    END LOOP;
    IF parens <> 0 THEN
        RAISE EXCEPTION '% leaves % parenthesis(es) open', what, parens
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A template''s query is one SELECT with balanced parentheses.';
    END IF;
    -- A data-modifying WITH (WITH d AS (DELETE ...) SELECT ...) is one statement that writes: refused, not left to the
    -- source's grants and read-only session.
    IF body ~* '\mas\s*(not\s+)?(materialized\s+)?\(\s*(insert|update|delete|merge)\M' THEN
        RAISE EXCEPTION '% holds a data-modifying WITH (INSERT, UPDATE, DELETE or MERGE): a template only reads', what
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A template''s query runs at the source on every refresh: it must read only.';
    END IF;
    -- A SELECT can still change its session (set_config): at the source it could turn the read-only default off for the
    -- kept connection's next statements. Refused.
    IF body ~* '\mset_config\s*\(' THEN
        RAISE EXCEPTION '% calls set_config: a template may not change the settings of its source session', what
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A template''s query runs at the source in a read-only session that it must leave as it is.';
    END IF;
    IF ltrim(btrim(body), '( ') !~* '^(select|with|values|table)\M' THEN
        RAISE EXCEPTION '% must be a query (SELECT, WITH, VALUES or TABLE), not %', what, quote_literal(left(btrim(body), 40))
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A template reads the source: its query_template is one SELECT with {TARGET_DATE} in its WHERE clause.';
    END IF;
END
$$;

-- Trigger: validates a template row (name, one read-only statement, placeholders, columns, indexes) and stamps times.
CREATE OR REPLACE FUNCTION _wh.mv_templates_validate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    unknown text;
BEGIN
    PERFORM _wh.assert_template_name(NEW.template_name);
    IF TG_OP = 'INSERT' AND NOT EXISTS (SELECT 1 FROM _wh.mv_templates t WHERE t.template_name = NEW.template_name) THEN
        PERFORM _wh.assert_new_name('template', NEW.template_name);
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.template_name <> OLD.template_name THEN
        RAISE EXCEPTION 'a template cannot be renamed (% -> %): insert a new one', OLD.template_name, NEW.template_name
            USING ERRCODE = 'feature_not_supported';
    END IF;
    SELECT string_agg(DISTINCT '{' || m[1] || '}', ', ') INTO unknown
    FROM regexp_matches(NEW.query_template || ' ' || coalesce(NEW.indexes, ''), '\{([A-Za-z_][A-Za-z0-9_]*)\}', 'g') AS m
    WHERE m[1] NOT IN ('TARGET_DATE', 'SCHEMA', 'VIEW_NAME');
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'template %: unknown placeholder %', NEW.template_name, unknown
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Known placeholders: {TARGET_DATE}, {SCHEMA}, {VIEW_NAME}.';
    END IF;
    PERFORM _wh.assert_single_select(NEW.query_template, format('template %s: query_template', NEW.template_name));
    IF position('{TARGET_DATE}' IN NEW.query_template) = 0 THEN
        RAISE WARNING 'template %: query_template has no {TARGET_DATE}: every daily view will hold the same rows', NEW.template_name;
    END IF;
    PERFORM count(*) FROM _wh.parse_column_definitions(NEW.column_definitions);
    PERFORM count(*) FROM _wh.parse_index_definitions(NEW.indexes);
    IF TG_OP = 'INSERT' THEN
        NEW.created_at := coalesce(NEW.created_at, now());
    ELSE
        NEW.created_at := OLD.created_at;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER mv_templates_validate
    BEFORE INSERT OR UPDATE ON _wh.mv_templates
    FOR EACH ROW EXECUTE FUNCTION _wh.mv_templates_validate();
-- sql/wh/04-settings.sql: The warehouse's settings: their defaults (_wh.settings), the value in force (_wh.setting), durations (_wh.timeout_ms).
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- The warehouse's settings: the _wh.warehouse_info keys a DBA may set (the one list: Export-WhConfiguration carries
-- exactly these, Import-WhConfiguration and _wh.set_setting accept exactly these), with their defaults.
CREATE OR REPLACE FUNCTION _wh.settings()
RETURNS TABLE (key text, default_value text)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    VALUES ('check_statement_timeout', '10min'), ('compact_after_days', '31'), ('day_relation_days', '400'), ('freshness_sla', '02:00:00'), ('job_lock_timeout', '10s'),
           ('lock_timeout', '10s'), ('run_log_retention_days', '90'), ('source_connect_timeout', '10s'),
           ('source_statement_timeout', '10min'), ('source_tcp_user_timeout', '60s')
$$;

-- The value in force of one of _wh.settings(): the one _wh.warehouse_info holds (trimmed; blank counts as unset), else
-- its default (NULL for a key that is no setting). Every routine reads a setting through it: a default is written once.
CREATE OR REPLACE FUNCTION _wh.setting(setting_key text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT nullif(btrim(i.value), '') FROM _wh.warehouse_info i WHERE i.key = setting_key),
                    (SELECT s.default_value FROM _wh.settings() s WHERE s.key = setting_key))
$$;

-- Bounded waits (docs/security.md, finding 3). An existing value (set by a DBA) is kept.
--   source_statement_timeout: how long one statement may run at a source (every foreign
--     server's options; after a change run SELECT _wh.sync_foreign_servers();). A day of
--     200,000 rows loads in about 1 s here (docs/security.md): 10 min is many times over.
--   lock_timeout: how long tenant removal and view changes wait for a lock (a BI query or a
--     refresh holding the view) before they give up with nothing changed. Those functions
--     declare SET lock_timeout FROM CURRENT, so the setting ends when they return.
--   source_connect_timeout: how long opening a session at a source may take (libpq's connect_timeout, whole seconds,
--     at least 2): a source that stops answering is given up after it, named, and the other tenants go on.
--   source_tcp_user_timeout: how long sent data may stay unacknowledged before the connection is dropped (libpq's
--     tcp_user_timeout): a network path that is gone ends the wait, which dblink on PostgreSQL 15 cannot interrupt.
--   compact_after_days: closed days are compacted once a tenant has more than this many closed daily materialized
--     views of a template (wh/14-compaction.sql).
--   day_relation_days: a compacted closed day keeps a view of its own (its daily name) for this many days back from
--     the tenant's today (at least 7); older ones are their rows in <template>_closed only (wh/14-compaction.sql).
--   run_log_retention_days: the run log keeps this many days (pruned once a day by _wh.refresh_recent_by_template).
-- Stored with their defaults from _wh.settings() (the other settings are stored only when a DBA sets them).
INSERT INTO _wh.warehouse_info (key, value)
SELECT s.key, s.default_value FROM _wh.settings() s
WHERE s.key IN ('source_statement_timeout', 'lock_timeout', 'source_connect_timeout', 'source_tcp_user_timeout',
                'compact_after_days', 'run_log_retention_days')
ON CONFLICT (key) DO NOTHING;

-- A duration setting in milliseconds (_wh.setting: its value, else its default), e.g. '10min' -> 600000; fallback
-- only for a key that is no setting. Raises naming the key when the value is not a duration.
CREATE OR REPLACE FUNCTION _wh.timeout_ms(setting_key text, fallback text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v  text;
    ms bigint;
BEGIN
    v := coalesce(_wh.setting(setting_key), fallback);
    BEGIN
        ms := (extract(epoch FROM v::interval) * 1000)::bigint;
    EXCEPTION WHEN OTHERS THEN
        ms := NULL;
    END;
    IF ms IS NULL OR ms < 0 THEN
        RAISE EXCEPTION '_wh.warehouse_info %: % is not a duration', setting_key, quote_literal(v)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Write it like ''10min'' or ''30s'': UPDATE _wh.warehouse_info SET value = ''10min'' WHERE key = %L;', setting_key);
    END IF;
    RETURN ms;
END
$$;
-- sql/wh/05-locks-and-run-log.sql: Locks (transaction-scoped advisory locks; order: daily -> tenant view -> public view) and the run log.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Waits for, then holds to the end of the transaction, the advisory lock of one daily view: every path that creates,
-- refreshes, re-creates, compacts or drops a day takes it first, so that two sessions never work on the same day.
CREATE OR REPLACE FUNCTION _wh.lock_daily_view(target_schema text, view_name text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_advisory_xact_lock(hashtext('_wh.daily_view'), hashtext(target_schema || '.' || view_name)) $$;

-- The same lock without waiting: true when this transaction now holds it.
CREATE OR REPLACE FUNCTION _wh.try_lock_daily_view(target_schema text, view_name text)
RETURNS boolean
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_try_advisory_xact_lock(hashtext('_wh.daily_view'), hashtext(target_schema || '.' || view_name)) $$;

-- Waits for, then holds to the end of the transaction, the advisory lock of a tenant's view of a template (taken
-- after any daily view lock, before the public view's): its definition is rebuilt by one session at a time.
CREATE OR REPLACE FUNCTION _wh.lock_tenant_view(target_schema text, template_name text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_advisory_xact_lock(hashtext('_wh.tenant_view'), hashtext(target_schema || '.' || template_name)) $$;

-- Waits for, then holds to the end of the transaction, the advisory lock of a template's public view (the last lock
-- of the order daily -> tenant view -> public view): its definition is rebuilt by one session at a time.
CREATE OR REPLACE FUNCTION _wh.lock_public_view(template_name text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_advisory_xact_lock(hashtext('_wh.public_view'), hashtext(template_name)) $$;

-- ============================================================================
-- 7. Run log
-- ============================================================================

-- Appends one run_log row (in the caller's transaction) and returns its id; sqlstate: a failure's SQLSTATE.
-- (The 2.2 signature, without sqlstate, is dropped first: with both, a call of 8 arguments would be ambiguous.)
DROP FUNCTION IF EXISTS _wh.log_run(text, text, text, date, text, bigint, numeric, text);
CREATE OR REPLACE FUNCTION _wh.log_run(target_schema text, tenant_connection_name text, template_name text,
                                       target_date date, action text, row_count bigint, duration_ms numeric, error text DEFAULT NULL,
                                       sqlstate text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO _wh.run_log (tenant_schema, connection_name, template_name, target_date, action, row_count, duration_ms, error, sqlstate)
    VALUES (target_schema, tenant_connection_name, template_name, target_date, action, row_count, round(duration_ms, 1), error, sqlstate)
    RETURNING id
$$;

-- For callers (the C# client) that caught an error from an update function and want it
-- recorded (with its SQLSTATE when it has one): call this in a fresh transaction. Returns the run_log id.
DROP FUNCTION IF EXISTS _wh.log_failure(text, text, text, date, text);
CREATE OR REPLACE FUNCTION _wh.log_failure(template_name text, connection_name text, target_schema text, target_date date, error text,
                                           sqlstate text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT _wh.log_run(target_schema, connection_name, template_name, target_date, 'failed', NULL, NULL, error, sqlstate) $$;
-- sql/wh/06-public-views.sql: Views BI reads: their atomic rebuild (apply_view), and the public view of a template over every tenant's.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- True when view rel already has the definition select_sql: the candidate is created as a
-- temporary view and both are deparsed (pg_get_viewdef), so no lock stronger than readers'
-- AccessShareLock is taken on anything BI reads.
CREATE OR REPLACE FUNCTION _wh.view_definition_is(rel regclass, select_sql text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- The probe's DROP … IF EXISTS says "schema pg_temp does not exist, skipping" to a psql user: internal, not news.
SET client_min_messages = warning
AS $$
DECLARE
    probe text := '_wh_probe_' || pg_catalog.pg_backend_pid();
    same boolean;
BEGIN
    EXECUTE format('DROP VIEW IF EXISTS pg_temp.%I', probe);
    EXECUTE format('CREATE TEMPORARY VIEW %I AS %s', probe, select_sql);
    same := pg_catalog.pg_get_viewdef(format('pg_temp.%I', probe)::regclass) = pg_catalog.pg_get_viewdef(rel);
    EXECUTE format('DROP VIEW pg_temp.%I', probe);
    RETURN same;
END
$$;

-- Creates or replaces view target_schema.view_name AS select_sql, granting SELECT to
-- phood_ro. Nothing is re-created when the definition is unchanged (no lock on the view: BI
-- never waits for it). A change takes the view's AccessExclusiveLock in short attempts
-- (200 ms of lock_timeout each, with growing pauses between them), so that BI queries queue
-- behind it for at most one attempt, until the setting lock_timeout (_wh.setting) has
-- passed; then it fails with lock_not_available and the caller's transaction changes nothing.
-- When the column list changed (CREATE OR REPLACE refuses), the view is dropped with its
-- dependents and created again, the public view of the same name locked first (readers lock
-- the public view before the tenant view: the same order cannot deadlock); returns true in
-- that case (the caller must rebuild what depended on it, i.e. the public view).
CREATE OR REPLACE FUNCTION _wh.apply_view(target_schema text, view_name text, select_sql text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout FROM CURRENT
AS $$
DECLARE
    replaced boolean := false;
    rel regclass := pg_catalog.to_regclass(format('%I.%I', target_schema, view_name));
    budget_ms bigint := _wh.timeout_ms('lock_timeout');
    started timestamptz := clock_timestamp();
    attempts integer := 0;
    left_ms bigint;
BEGIN
    IF rel IS NULL OR NOT _wh.view_definition_is(rel, select_sql) THEN
        LOOP
            attempts := attempts + 1;
            left_ms := budget_ms - (extract(epoch FROM clock_timestamp() - started) * 1000)::bigint;
            PERFORM set_config('lock_timeout', greatest(1, least(200, left_ms))::text || 'ms', true);
            BEGIN
                BEGIN
                    EXECUTE format('CREATE OR REPLACE VIEW %I.%I AS %s', target_schema, view_name, select_sql);
                EXCEPTION WHEN invalid_table_definition THEN
                    RAISE NOTICE 'columns of %.% changed: dropping it (and dependent views) and creating it again', target_schema, view_name;
                    IF target_schema <> 'public' AND pg_catalog.to_regclass(format('public.%I', view_name)) IS NOT NULL THEN
                        EXECUTE format('LOCK TABLE public.%I IN ACCESS EXCLUSIVE MODE', view_name);
                    END IF;
                    EXECUTE format('DROP VIEW %I.%I CASCADE', target_schema, view_name);
                    EXECUTE format('CREATE VIEW %I.%I AS %s', target_schema, view_name, select_sql);
                    replaced := true;
                END;
                EXIT;
            EXCEPTION WHEN lock_not_available THEN
                IF (extract(epoch FROM clock_timestamp() - started) * 1000)::bigint >= budget_ms THEN
                    RAISE EXCEPTION 'view %.% is in use: % attempts over lock_timeout (%) found queries on it all along; nothing was changed',
                                    target_schema, view_name, attempts, budget_ms || 'ms'
                        USING ERRCODE = 'lock_not_available',
                              HINT = 'Only adding, renaming or removing a tenant or template changes a view''s definition. Run it again when the long queries have finished (pg_stat_activity shows them), or raise _wh.warehouse_info lock_timeout.';
                END IF;
                -- Step out of the lock queue so that the readers behind us go on, then try again.
                PERFORM pg_sleep(least(1.0, 0.05 * power(2, attempts)) * (0.5 + random() / 2));
            END;
        END LOOP;
    END IF;
    IF NOT pg_catalog.has_table_privilege('phood_ro', format('%I.%I', target_schema, view_name), 'SELECT') THEN
        EXECUTE format('GRANT SELECT ON %I.%I TO phood_ro', target_schema, view_name);
    END IF;
    RETURN replaced;
END
$$;

-- Builds view public.<template> = UNION ALL of <schema>.<template> for every registered tenant
-- (_wh.tenants) whose tenant view exists, ordered by schema; a typed empty view when there is
-- none. Never refers to a tenant that is gone; unchanged, nothing is re-created (apply_view). CREATE OR REPLACE keeps grants; SELECT is
-- granted to phood_ro and whadmin. Returns 'public.<template>'.
CREATE OR REPLACE FUNCTION _wh.update_public_view_by_template(template_name text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    select_list text;
    empty_list  text;
    parts       text[];
BEGIN
    PERFORM _wh.assert_template_exists(template_name);
    PERFORM _wh.lock_public_view(template_name);

    SELECT string_agg(format('v.%I', c.column_name), ', ' ORDER BY c.ordinal),
           string_agg(format('NULL::%s AS %I', c.data_type, c.column_name), ', ' ORDER BY c.ordinal)
    INTO select_list, empty_list
    FROM _wh.template_columns(template_name) c;

    SELECT array_agg(format('SELECT %s FROM %I.%I v', select_list, t.schema_name, template_name) ORDER BY t.schema_name)
    INTO parts
    FROM _wh.tenants t
    WHERE _wh.does_view_exist(t.schema_name, template_name);

    PERFORM _wh.apply_view('public', template_name,
        CASE WHEN parts IS NULL THEN format('SELECT %s WHERE false', empty_list)
             ELSE array_to_string(parts, E'\nUNION ALL\n') END);
    IF NOT (pg_catalog.has_table_privilege('phood_ro', format('public.%I', template_name), 'SELECT')
            AND pg_catalog.has_table_privilege('whadmin', format('public.%I', template_name), 'SELECT')) THEN
        EXECUTE format('GRANT SELECT ON public.%I TO phood_ro, whadmin', template_name);
    END IF;
    RETURN format('public.%I', template_name);
END
$$;

-- Rebuilds public views: without schema_hint, every existing one; with it, those of the
-- templates that schema_hint has a tenant view of or that the public view still refers to.
CREATE OR REPLACE FUNCTION _wh.rebuild_public_views(schema_hint text DEFAULT NULL)
RETURNS text[]
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tname text;
    rebuilt text[] := '{}'::text[];
BEGIN
    FOR tname IN SELECT t.template_name FROM _wh.mv_templates t ORDER BY 1 LOOP
        IF (schema_hint IS NULL AND _wh.does_view_exist('public', tname))
           OR (schema_hint IS NOT NULL AND (_wh.does_view_exist(schema_hint, tname)
                                            OR _wh.view_references('public', tname, schema_hint, tname))) THEN
            rebuilt := rebuilt || _wh.update_public_view_by_template(tname);
        END IF;
    END LOOP;
    RETURN rebuilt;
END
$$;
-- sql/wh/07-connections-and-secrets.sql: Tenant connections: foreign servers and user mappings (the secrets), their options, _wh.set_setting.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- TLS settings of a source connection (libpq's sslmode, channel_binding and sslrootcert, the
-- CA file: an absolute path on the warehouse server, read by its server process; NULL: libpq's
-- default). They go into the foreign server's options (docs/security.md, finding 2).
ALTER TABLE _wh.tenant_connections ADD COLUMN IF NOT EXISTS sslmode text;
ALTER TABLE _wh.tenant_connections ADD COLUMN IF NOT EXISTS channel_binding text;
ALTER TABLE _wh.tenant_connections ADD COLUMN IF NOT EXISTS sslrootcert text;

-- The options of a connection's foreign server, by name (NULL: the option is not set).
-- Every remote session is read-only and bounded: options carries
-- default_transaction_read_only=on and statement_timeout (docs/security.md, findings 3, 4).
CREATE OR REPLACE FUNCTION _wh.server_options(c _wh.tenant_connections)
RETURNS TABLE (option_name text, option_value text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF c.sslmode IS NOT NULL AND c.sslmode NOT IN ('disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full') THEN
        RAISE EXCEPTION 'connection %: sslmode % is not one of disable, allow, prefer, require, verify-ca, verify-full', c.tenant_name, quote_literal(c.sslmode)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use verify-full to check the source''s certificate and host name (the CA in the warehouse server''s ~/.postgresql/root.crt).';
    END IF;
    IF c.channel_binding IS NOT NULL AND c.channel_binding NOT IN ('disable', 'prefer', 'require') THEN
        RAISE EXCEPTION 'connection %: channel_binding % is not one of disable, prefer, require', c.tenant_name, quote_literal(c.channel_binding)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- libpq reads a relative sslrootcert from the server process's working directory (the data
    -- directory): refused.
    IF c.sslrootcert IS NOT NULL AND c.sslrootcert !~ '^(/|[A-Za-z]:[\\/])' THEN
        RAISE EXCEPTION 'connection %: sslrootcert % is not an absolute path', c.tenant_name, quote_literal(c.sslrootcert)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give the full path of the CA file on the warehouse server (e.g. /etc/postgresql/source-ca.crt); the postgres OS user must be able to read it.';
    END IF;
    -- A source that stops answering costs a bounded time: connect_timeout bounds the connection (a frozen postmaster
    -- accepts the TCP connection and never answers), keepalives and tcp_user_timeout bound a connection whose network
    -- path is gone (PostgreSQL 15's dblink cannot be interrupted while it waits: only the socket can end the wait).
    RETURN QUERY VALUES
        ('host', c.host), ('port', c.port::text), ('dbname', c.dbname),
        ('sslmode', c.sslmode), ('channel_binding', c.channel_binding), ('sslrootcert', c.sslrootcert),
        ('options', format('-c default_transaction_read_only=on -c statement_timeout=%s',
                           _wh.timeout_ms('source_statement_timeout'))),
        ('connect_timeout', greatest(2, ceil(_wh.timeout_ms('source_connect_timeout') / 1000.0))::bigint::text),
        -- A session waiting for a source's answer sends nothing, so tcp_user_timeout alone never fires there: keepalive
        -- probes (the first after half of it, then every sixth) are what notices the path is gone, within about 1.5x it.
        ('keepalives', '1'),
        ('keepalives_idle', greatest(1, _wh.timeout_ms('source_tcp_user_timeout') / 2000)::text),
        ('keepalives_interval', greatest(1, _wh.timeout_ms('source_tcp_user_timeout') / 6000)::text),
        ('keepalives_count', '3'),
        ('tcp_user_timeout', _wh.timeout_ms('source_tcp_user_timeout')::text);
END
$$;

-- Creates the foreign server of a connection, or brings its options in step with the row
-- (ALTER SERVER only when something differs). Returns true when it changed anything.
CREATE OR REPLACE FUNCTION _wh.sync_foreign_server(c _wh.tenant_connections)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    srv     text := _wh.server_name(c.tenant_name);
    opts    text[];
    changes text[] := '{}'::text[];
    k       text;
    v       text;
    cur     text;
BEGIN
    SELECT s.srvoptions INTO opts FROM pg_catalog.pg_foreign_server s WHERE s.srvname = srv;
    IF NOT FOUND THEN
        SELECT string_agg(format('%I %L', o.option_name, o.option_value), ', ') INTO v
        FROM _wh.server_options(c) o WHERE o.option_value IS NOT NULL;
        EXECUTE format('CREATE SERVER %I FOREIGN DATA WRAPPER dblink_fdw OPTIONS (%s)', srv, v);
        RETURN true;
    END IF;
    FOR k, v IN SELECT o.option_name, o.option_value FROM _wh.server_options(c) o LOOP
        cur := (SELECT substr(x, length(k) + 2) FROM unnest(opts) x WHERE left(x, length(k) + 1) = k || '=');
        IF v IS NULL AND cur IS NOT NULL THEN
            changes := changes || format('DROP %I', k);
        ELSIF v IS NOT NULL AND cur IS NULL THEN
            changes := changes || format('ADD %I %L', k, v);
        ELSIF v IS DISTINCT FROM cur THEN
            changes := changes || format('SET %I %L', k, v);
        END IF;
    END LOOP;
    IF cardinality(changes) = 0 THEN
        RETURN false;
    END IF;
    EXECUTE format('ALTER SERVER %I OPTIONS (%s)', srv, array_to_string(changes, ', '));
    RETURN true;
END
$$;

-- Creates or updates the user mapping FOR whadmin on server_name. A NULL password keeps the
-- mapping's current password. Runs as whadmin (called from the SECURITY DEFINER trigger).
CREATE OR REPLACE FUNCTION _wh.sync_user_mapping(server_name text, username text, password text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    opts text[];
    has_password boolean;
    changes text[] := '{}'::text[];
BEGIN
    SELECT um.umoptions INTO opts
    FROM pg_catalog.pg_user_mappings um
    WHERE um.srvname = server_name AND um.usename = 'whadmin';
    IF NOT FOUND THEN
        IF password IS NULL THEN
            EXECUTE format('CREATE USER MAPPING FOR whadmin SERVER %I OPTIONS (user %L)', server_name, username);
        ELSE
            EXECUTE format('CREATE USER MAPPING FOR whadmin SERVER %I OPTIONS (user %L, password %L)', server_name, username, password);
        END IF;
        RETURN;
    END IF;
    has_password := EXISTS (SELECT 1 FROM unnest(opts) o WHERE o LIKE 'password=%');
    changes := changes || format('%s user %L',
        CASE WHEN EXISTS (SELECT 1 FROM unnest(opts) o WHERE o LIKE 'user=%') THEN 'SET' ELSE 'ADD' END, username);
    IF password IS NOT NULL THEN
        changes := changes || format('%s password %L', CASE WHEN has_password THEN 'SET' ELSE 'ADD' END, password);
    END IF;
    EXECUTE format('ALTER USER MAPPING FOR whadmin SERVER %I OPTIONS (%s)', server_name, array_to_string(changes, ', '));
EXCEPTION WHEN OTHERS OR query_canceled THEN
    -- The statement holds the password, and an error's context quotes it into the server log (a rotation that waits
    -- behind a lock and is cancelled, say): re-raised with the message and SQLSTATE only.
    RAISE EXCEPTION USING ERRCODE = SQLSTATE, MESSAGE = format('could not set the user mapping of server %s: %s', server_name, SQLERRM);
END
$$;

-- Trigger: keeps the foreign server 'wh_<tenant_name>' (dblink_fdw; host, port, dbname,
-- sslmode, channel_binding, sslrootcert, and read-only, bounded sessions: _wh.server_options)
-- and its user mapping FOR whadmin (user, password) in step with the row. The password goes
-- into the mapping and NULL is stored; an UPDATE with a NULL password keeps the mapping's,
-- unless the source moves (host, port, dbname, sslmode, channel_binding, sslrootcert): that is
-- refused.
-- DELETE drops server and mapping, refusing while a tenant schema still uses the connection.
-- Servers and mappings are owned by whadmin whoever changes the table.
CREATE OR REPLACE FUNCTION _wh.tenant_connections_sync()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    srv    text;
    live   text;
    pruned integer;
BEGIN
    IF TG_OP = 'DELETE' THEN
        srv := _wh.server_name(OLD.tenant_name);
        -- Tenants whose schema is already gone (the guide drops the schema first) are unregistered.
        DELETE FROM _wh.tenants t
        WHERE t.connection_name = OLD.tenant_name
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname = t.schema_name);
        GET DIAGNOSTICS pruned = ROW_COUNT;
        SELECT string_agg(t.schema_name, ', ') INTO live FROM _wh.tenants t WHERE t.connection_name = OLD.tenant_name;
        IF live IS NOT NULL THEN
            RAISE EXCEPTION 'connection % is still used by tenant schema(s) %', OLD.tenant_name, live
                USING ERRCODE = 'dependent_objects_still_exist',
                      HINT = 'Remove the tenant first: SELECT _wh.remove_tenant(''<schema>'');';
        END IF;
        IF pruned > 0 THEN
            PERFORM _wh.rebuild_public_views();
        END IF;
        EXECUTE format('DROP USER MAPPING IF EXISTS FOR whadmin SERVER %I', srv);
        -- No CASCADE: a mapping or foreign table someone else added makes this fail loudly.
        EXECUTE format('DROP SERVER IF EXISTS %I', srv);
        RETURN OLD;
    END IF;

    PERFORM _wh.assert_connection_name(NEW.tenant_name);
    -- An INSERT of a name that exists changes no server: it fails on the key, is skipped (ON CONFLICT DO NOTHING), or
    -- becomes an UPDATE (ON CONFLICT DO UPDATE, which comes back here with the new values). Otherwise its server would
    -- point elsewhere, with the old password, while the row still showed the old source.
    IF TG_OP = 'INSERT' AND EXISTS (SELECT 1 FROM _wh.tenant_connections c WHERE c.tenant_name = NEW.tenant_name) THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM _wh.assert_new_name('connection', NEW.tenant_name);
    END IF;
    -- An IPv6 literal as a URL writes it ([::1]) is libpq's ::1: stored as libpq reads it.
    NEW.host := regexp_replace(NEW.host, '^\[([0-9A-Fa-f:.]+(%[^]]+)?)\]$', '\1');
    IF TG_OP = 'UPDATE' AND NEW.tenant_name <> OLD.tenant_name THEN
        RAISE EXCEPTION 'a connection cannot be renamed (% -> %): daily views refer to its server by name', OLD.tenant_name, NEW.tenant_name
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Insert a new connection and move tenants to it.';
    END IF;
    IF NEW.port IS NULL OR NEW.port NOT BETWEEN 1 AND 65535 THEN
        RAISE EXCEPTION 'invalid port % for connection %', NEW.port, NEW.tenant_name USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- A password goes only where it was given (docs/security.md, finding 2): the mapping's
    -- password is not sent to a new host, port, database or weaker TLS.
    IF TG_OP = 'UPDATE' AND NEW.password IS NULL
       AND (NEW.host, NEW.port, NEW.dbname, NEW.sslmode, NEW.channel_binding, NEW.sslrootcert)
           IS DISTINCT FROM (OLD.host, OLD.port, OLD.dbname, OLD.sslmode, OLD.channel_binding, OLD.sslrootcert) THEN
        RAISE EXCEPTION 'connection %: the source moves (% -> %) but no new password was given', NEW.tenant_name,
            format('%s:%s/%s sslmode=%s', OLD.host, OLD.port, OLD.dbname, coalesce(OLD.sslmode, 'default')),
            format('%s:%s/%s sslmode=%s', NEW.host, NEW.port, NEW.dbname, coalesce(NEW.sslmode, 'default'))
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The stored password is only sent to the source it was given for. Set password in the same UPDATE: UPDATE _wh.tenant_connections SET host = ..., password = ''...'' WHERE tenant_name = ...;';
    END IF;

    srv := _wh.server_name(NEW.tenant_name);
    PERFORM _wh.sync_foreign_server(NEW);
    PERFORM _wh.sync_user_mapping(srv, NEW.username, NEW.password);

    NEW.password := NULL;
    IF TG_OP = 'INSERT' THEN
        NEW.created_at := coalesce(NEW.created_at, now());
        NEW.updated_at := NULL;
    ELSE
        NEW.created_at := OLD.created_at;
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER tenant_connections_sync
    BEFORE INSERT OR UPDATE OR DELETE ON _wh.tenant_connections
    FOR EACH ROW EXECUTE FUNCTION _wh.tenant_connections_sync();

-- Trigger: TRUNCATE of _wh.tenant_connections is refused: it fires no row trigger, so every server and user mapping,
-- passwords included, would stay behind without a row. DELETE removes each with its server and mapping.
CREATE OR REPLACE FUNCTION _wh.tenant_connections_no_truncate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'TRUNCATE of _wh.tenant_connections is refused: it would leave every foreign server and its password behind'
        USING ERRCODE = 'feature_not_supported',
              HINT = 'Remove tenants with _wh.remove_tenant(''<schema>'') (or Remove-WhTenant), or DELETE FROM _wh.tenant_connections, which drops each server and mapping.';
END
$$;

CREATE OR REPLACE TRIGGER tenant_connections_no_truncate
    BEFORE TRUNCATE ON _wh.tenant_connections
    FOR EACH STATEMENT EXECUTE FUNCTION _wh.tenant_connections_no_truncate();

-- Upgrade: rows written before this trigger existed (plain-text passwords, no server) are
-- moved into servers and mappings now.
UPDATE _wh.tenant_connections c
SET updated_at = c.updated_at
WHERE c.password IS NOT NULL
   OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_foreign_server s WHERE s.srvname = _wh.server_name(c.tenant_name));

-- Brings every foreign server's options in step with its row and the settings (read-only,
-- statement_timeout, connect_timeout, tcp_user_timeout): run after changing source_statement_timeout,
-- source_connect_timeout or source_tcp_user_timeout. Returns how many changed.
-- Also the upgrade of servers created before these options existed (re-running this file).
CREATE OR REPLACE FUNCTION _wh.sync_foreign_servers()
RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(*)::integer FROM _wh.tenant_connections c WHERE _wh.sync_foreign_server(c);
$$;

-- upgrade from < 2.2.0: every foreign server gets connect_timeout, keepalives and tcp_user_timeout, so a source that stops answering is given up in bounded time; from < 2.3.0: its keepalives follow source_tcp_user_timeout
DO $sync$ BEGIN PERFORM _wh.sync_foreign_servers(); END $sync$;

-- What dblink needs to reach a tenant: the name of its foreign server (dblink accepts a
-- server name wherever it accepts a connection string). No secret is returned.
-- Raises when the connection or its server does not exist.
CREATE OR REPLACE FUNCTION _wh.get_tenant_connection_string(tenant_connection_name text)
RETURNS text
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    srv text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM _wh.tenant_connections c WHERE c.tenant_name = tenant_connection_name) THEN
        RAISE EXCEPTION 'tenant connection % does not exist', coalesce(quote_literal(tenant_connection_name), 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'If its tenant was removed (Remove-WhTenant, _wh.remove_tenant), there is nothing to load. Otherwise add the connection: New-WhTenant, or INSERT INTO _wh.tenant_connections (tenant_name, host, port, dbname, username, password) VALUES (...)';
    END IF;
    srv := _wh.server_name(tenant_connection_name);
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_foreign_server s WHERE s.srvname = srv) THEN
        RAISE EXCEPTION 'foreign server % of connection % is missing', srv, tenant_connection_name
            USING ERRCODE = 'undefined_object',
                  HINT = format('Re-create it: UPDATE _wh.tenant_connections SET password = ''...'' WHERE tenant_name = %L;', tenant_connection_name);
    END IF;
    RETURN srv;
END
$$;

-- Sets one of _wh.settings() after checking its value (a duration for *_timeout and freshness_sla, a whole number of
-- days otherwise),
-- and brings every foreign server in step when it is a source_* setting. Raises, changing nothing, for an unknown key
-- or a value of the wrong kind. Returns true when the value changed.
CREATE OR REPLACE FUNCTION _wh.set_setting(setting_key text, setting_value text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    old_value text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM _wh.settings() s WHERE s.key = setting_key) THEN
        RAISE EXCEPTION 'unknown warehouse setting %', coalesce(quote_literal(setting_key), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The settings: ' || (SELECT string_agg(s.key, ', ' ORDER BY s.key) FROM _wh.settings() s) || '.';
    END IF;
    IF setting_key LIKE '%\_timeout' OR setting_key = 'freshness_sla' THEN
        BEGIN
            PERFORM setting_value::interval;
        EXCEPTION WHEN OTHERS THEN
            RAISE EXCEPTION 'warehouse setting %: % is not a duration', setting_key, coalesce(quote_literal(setting_value), 'NULL')
                USING ERRCODE = 'invalid_parameter_value', HINT = 'Give a duration such as ''30s'' or ''10min''.';
        END;
    ELSIF setting_value IS NULL OR setting_value !~ '^[0-9]{1,6}$' THEN
        RAISE EXCEPTION 'warehouse setting %: % is not a whole number of days', setting_key, coalesce(quote_literal(setting_value), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT i.value INTO old_value FROM _wh.warehouse_info i WHERE i.key = setting_key;
    IF old_value IS NOT DISTINCT FROM setting_value THEN
        RETURN false;
    END IF;
    INSERT INTO _wh.warehouse_info (key, value) VALUES (setting_key, setting_value)
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
    IF setting_key LIKE 'source\_%' THEN
        PERFORM _wh.sync_foreign_servers();
    END IF;
    RETURN true;
END
$$;
-- sql/wh/08-kept-source-connection.sql: The source connection a session keeps (_wh.session_dblink), at most one, and its closing.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- A dblink connection to server_name kept for this session (named after the server and a hash
-- of its options and of whadmin's mapping, so a changed host or password opens a new one). Saves
-- the connection set-up (SCRAM, backend start: 30-50 ms) for every closed day after the first one
-- a session loads. A session keeps at most ONE: connecting to a server first closes every other
-- kept connection of the session (whatever its server), so N workers moving from tenant to tenant
-- hold at most N connections on the source servers, not one per tenant they have visited.
-- Registers the kept connection in _wh.kept_dblinks (Get-WhHealth counts them).
CREATE OR REPLACE FUNCTION _wh.session_dblink(server_name text, reconnect boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    conn text;
    started timestamptz;
BEGIN
    SELECT left(s.srvname, 30) || '_' || md5(coalesce(s.srvoptions::text, '') || coalesce(um.umoptions::text, ''))
    INTO conn
    FROM pg_catalog.pg_foreign_server s
    LEFT JOIN pg_catalog.pg_user_mappings um ON um.srvid = s.oid AND um.usename = current_user
    WHERE s.srvname = server_name;
    IF conn IS NULL THEN
        RAISE EXCEPTION 'foreign server % does not exist', server_name USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT reconnect AND conn = ANY (coalesce(public.dblink_get_connections(), '{}')) THEN
        -- Registered again when the transaction that registered it rolled back (a failed day).
        IF NOT EXISTS (SELECT 1 FROM _wh.kept_dblinks k WHERE k.pid = pg_catalog.pg_backend_pid() AND k.connection_name = conn) THEN
            SELECT a.backend_start INTO started FROM pg_catalog.pg_stat_activity a WHERE a.pid = pg_catalog.pg_backend_pid();
            INSERT INTO _wh.kept_dblinks AS k (pid, backend_start, server_name, connection_name)
            VALUES (pg_catalog.pg_backend_pid(), started, session_dblink.server_name, conn)
            ON CONFLICT (pid) DO UPDATE SET backend_start = EXCLUDED.backend_start, server_name = EXCLUDED.server_name,
                                            connection_name = EXCLUDED.connection_name, connected_at = EXCLUDED.connected_at;
        END IF;
        RETURN conn;
    END IF;
    PERFORM _wh.close_session_dblinks();
    PERFORM public.dblink_connect(conn, server_name);
    SELECT a.backend_start INTO started FROM pg_catalog.pg_stat_activity a WHERE a.pid = pg_catalog.pg_backend_pid();
    -- Rows of ended backends; SKIP LOCKED: never wait for (or deadlock with) another session clearing them.
    DELETE FROM _wh.kept_dblinks k
    WHERE k.pid IN (SELECT s.pid FROM _wh.kept_dblinks s
                    WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.pid = s.pid
                                      AND (a.backend_start IS NULL OR s.backend_start IS NULL OR a.backend_start = s.backend_start))
                    FOR UPDATE SKIP LOCKED);
    INSERT INTO _wh.kept_dblinks AS k (pid, backend_start, server_name, connection_name)
    VALUES (pg_catalog.pg_backend_pid(), started, session_dblink.server_name, conn)
    ON CONFLICT (pid) DO UPDATE SET backend_start = EXCLUDED.backend_start, server_name = EXCLUDED.server_name,
                                    connection_name = EXCLUDED.connection_name, connected_at = EXCLUDED.connected_at;
    RETURN conn;
END
$$;

-- Closes every dblink connection this session keeps (session_dblink's, named <server>_<md5>; a
-- DBA's own named dblink connections are left alone). Called before a statement opens a dblink
-- connection of its own (creating or refreshing a daily materialized view, whose definition names
-- the server), so that a session never holds two source connections at once, and by the module
-- when a backfill worker ends. Returns how many were closed.
CREATE OR REPLACE FUNCTION _wh.close_session_dblinks()
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kept text;
    closed integer := 0;
BEGIN
    FOREACH kept IN ARRAY coalesce(public.dblink_get_connections(), '{}') LOOP
        IF kept ~ '_[0-9a-f]{32}$' THEN
            PERFORM public.dblink_disconnect(kept);
            closed := closed + 1;
        END IF;
    END LOOP;
    DELETE FROM _wh.kept_dblinks k WHERE k.pid = pg_catalog.pg_backend_pid();
    RETURN closed;
END
$$;
-- sql/wh/09-tenants.sql: Tenants: schemas, registration and time zones.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Ensures the tenant schema exists. A new schema is owned by whadmin, phood_ro gets USAGE and
-- (default privileges) SELECT on every table/view whadmin creates in it. An existing schema
-- must grant whadmin CREATE.
CREATE OR REPLACE FUNCTION _wh.ensure_tenant_schema(target_schema text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _wh.assert_tenant_schema(target_schema);
    PERFORM pg_advisory_xact_lock(hashtext('_wh.schema'), hashtext(target_schema));
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = target_schema) THEN
        PERFORM _wh.assert_new_name('tenant schema', target_schema);
        EXECUTE format('CREATE SCHEMA %I', target_schema);
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO phood_ro', target_schema);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE whadmin IN SCHEMA %I GRANT SELECT ON TABLES TO phood_ro', target_schema);
    ELSIF NOT has_schema_privilege('whadmin', target_schema, 'CREATE, USAGE') THEN
        RAISE EXCEPTION 'whadmin has no CREATE and USAGE privilege on schema %', target_schema
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('As its owner: GRANT ALL ON SCHEMA %I TO whadmin; GRANT USAGE ON SCHEMA %I TO phood_ro;', target_schema, target_schema);
    END IF;
END
$$;

-- Whether target_schema is a registered tenant, holding its registration (FOR KEY SHARE) until the caller's
-- transaction ends: the module's backfill asks it in each day's transaction before loading the day, so a removal
-- (_wh.remove_tenant deletes the registration first) waits for the day in flight, and a day of a tenant removed
-- during the run is not loaded (update_mv_by_template registers a tenant on first use, and would bring a removed
-- tenant back when its connection is shared with another tenant).
CREATE OR REPLACE FUNCTION _wh.hold_registered_tenant(target_schema text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM 1 FROM _wh.tenants t WHERE t.schema_name = target_schema FOR KEY SHARE;
    RETURN FOUND;
END
$$;

-- Registers (connection, schema) as a tenant the first time it is used, creating the schema
-- when missing; client_name defaults to the schema name. Returns the registered client name.
-- Raises when the connection is unknown or the schema is registered with another connection.
CREATE OR REPLACE FUNCTION _wh.ensure_tenant(tenant_connection_name text, target_schema text, client_name text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    reg _wh.tenants;
BEGIN
    PERFORM _wh.assert_tenant_schema(target_schema);
    PERFORM _wh.get_tenant_connection_string(tenant_connection_name);
    SELECT * INTO reg FROM _wh.tenants t WHERE t.schema_name = target_schema;
    IF NOT FOUND THEN
        PERFORM _wh.ensure_tenant_schema(target_schema);
        INSERT INTO _wh.tenants (schema_name, connection_name, client_name)
        VALUES (target_schema, tenant_connection_name, coalesce(ensure_tenant.client_name, target_schema))
        ON CONFLICT (schema_name) DO NOTHING;
        SELECT * INTO reg FROM _wh.tenants t WHERE t.schema_name = target_schema;
    ELSIF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = target_schema) THEN
        PERFORM _wh.ensure_tenant_schema(target_schema);
    END IF;
    IF reg.connection_name <> tenant_connection_name THEN
        RAISE EXCEPTION 'schema % is registered for connection %, not %', target_schema, reg.connection_name, tenant_connection_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('To move it: UPDATE _wh.tenants SET connection_name = %L WHERE schema_name = %L;', tenant_connection_name, target_schema);
    END IF;
    RETURN reg.client_name;
END
$$;

-- Trigger: a tenant's time zone, when set, is one PostgreSQL knows.
CREATE OR REPLACE FUNCTION _wh.tenants_validate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.time_zone IS NOT NULL THEN
        PERFORM _wh.assert_time_zone(NEW.time_zone);
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER tenants_validate
    BEFORE INSERT OR UPDATE OF time_zone ON _wh.tenants
    FOR EACH ROW EXECUTE FUNCTION _wh.tenants_validate();

-- Sets (or with NULL clears) the time zone of a registered tenant; raises for an unknown tenant or zone, and for a zone
-- in which a day already loaded would still be in the future. Returns {"schema","time_zone","today"}.
CREATE OR REPLACE FUNCTION _wh.set_tenant_time_zone(target_schema text, time_zone text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_today date;
    ahead     date;
BEGIN
    IF time_zone IS NOT NULL THEN
        PERFORM _wh.assert_time_zone(time_zone);
    END IF;
    -- A zone to the west can make the tenant's today earlier than a day already loaded: that day would be in the
    -- tenant's future (never checked, "Behind -1"). Refused until the tenant's clock reaches it.
    new_today := _wh.today_in(time_zone);
    SELECT max(s.day) INTO ahead FROM _wh.day_state s
    WHERE s.schema_name = target_schema AND s.captured_at IS NOT NULL AND s.day > new_today;
    IF ahead IS NOT NULL THEN
        RAISE EXCEPTION 'tenant %: in time zone % today is %, but day % is already loaded', target_schema,
            coalesce(time_zone, current_setting('TimeZone')), new_today, ahead
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Change the zone once that day has begun in it, or drop the day first (Remove-WhMv).';
    END IF;
    UPDATE _wh.tenants t SET time_zone = set_tenant_time_zone.time_zone WHERE t.schema_name = target_schema;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant schema % is not registered', coalesce(quote_literal(target_schema), 'NULL')
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN jsonb_build_object('schema', target_schema, 'time_zone', time_zone, 'today', _wh.tenant_today(target_schema));
END
$$;
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
-- sql/wh/11-daily-views.sql: Daily views: create and refresh one day's materialized view.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Creates materialized view target_schema.view_name from a template for one date: the
-- remote query through public.dblink(<server name>, ...), client appended as a literal, the
-- template's indexes with names chosen by PostgreSQL, SELECT for phood_ro, ANALYZE.
-- Callers hold the daily-view lock and have validated the arguments.
CREATE OR REPLACE FUNCTION _wh.create_daily_view(template_name text, tenant_connection_name text, target_schema text,
                                                 target_date date, view_name text, client_name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tpl        _wh.mv_templates;
    srv        text;
    select_list text;
    column_defs text;
    has_client boolean;
    idx        record;
    detail     text;
BEGIN
    SELECT * INTO tpl FROM _wh.mv_templates t WHERE t.template_name = create_daily_view.template_name;
    IF NOT FOUND THEN
        PERFORM _wh.assert_template_exists(template_name);
    END IF;
    srv := _wh.get_tenant_connection_string(tenant_connection_name);

    SELECT string_agg(format('t.%I', c.column_name), ', ' ORDER BY c.ordinal),
           string_agg(format('%I %s', c.column_name, c.data_type), ', ' ORDER BY c.ordinal),
           bool_or(c.column_name = 'client')
    INTO select_list, column_defs, has_client
    FROM _wh.parse_column_definitions(tpl.column_definitions) c;

    -- The view's definition names the server, so it opens a connection of its own: the session's
    -- kept one goes first (at most one source connection per session).
    PERFORM _wh.close_session_dblinks();
    BEGIN
        EXECUTE format('CREATE MATERIALIZED VIEW %I.%I AS SELECT %s%s FROM public.dblink(%L, %L) AS t(%s)',
                       target_schema, view_name, select_list,
                       CASE WHEN has_client THEN '' ELSE format(', %L::text AS client', client_name) END,
                       srv,
                       _wh.render_template_text(tpl.query_template, target_schema, view_name, target_date),
                       column_defs);
    EXCEPTION WHEN datatype_mismatch THEN
        PERFORM _wh.raise_template_columns_mismatch(template_name, SQLERRM);
    END;

    FOR idx IN SELECT * FROM _wh.parse_index_definitions(tpl.indexes) ORDER BY ordinal LOOP
        BEGIN
            EXECUTE format('CREATE %sINDEX ON %I.%I %s',
                           CASE WHEN idx.is_unique THEN 'UNIQUE ' ELSE '' END,
                           target_schema, view_name,
                           _wh.render_template_text(idx.index_rest, target_schema, view_name, target_date));
        EXCEPTION WHEN unique_violation THEN
            -- "Key (id)=(42) is duplicated.": the one error of a duplicate key, as for a closed day.
            GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
            PERFORM _wh.raise_duplicate_key(template_name, target_date,
                                            coalesce(substring(detail FROM '^Key (.*) is duplicated\.$'), idx.index_rest));
        END;
    END LOOP;

    EXECUTE format('GRANT SELECT ON %I.%I TO phood_ro', target_schema, view_name);
    EXECUTE format('ANALYZE %I.%I', target_schema, view_name);
END
$$;

-- Refreshes a daily view: CONCURRENTLY (readers not blocked) when it has a plain unique
-- index, otherwise a plain REFRESH.
CREATE OR REPLACE FUNCTION _wh.refresh_daily_view(target_schema text, view_name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    detail text;
    template_name text;
    key text;
BEGIN
    PERFORM _wh.close_session_dblinks();  -- REFRESH connects on its own (see create_daily_view)
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_index i
               WHERE i.indrelid = format('%I.%I', target_schema, view_name)::regclass
                 AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL) THEN
        BEGIN
            EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY %I.%I', target_schema, view_name);
        EXCEPTION WHEN unique_violation OR cardinality_violation THEN
            -- The source's rows of the day now repeat a unique key ("Key (id)=(42) already exists.", or whole rows
            -- repeated): the one error of a duplicate key; the day keeps its rows.
            GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
            template_name := _wh.daily_name_template(view_name);
            key := substring(detail FROM '^Key (.*) already exists\.$');
            IF key IS NULL AND _wh.repeated_key_sql(template_name) IS NOT NULL THEN
                -- Whole rows repeated ("new data ... contains duplicate rows"): the view's query again, to name the key.
                EXECUTE format('WITH src AS (%s) SELECT %s',
                               pg_catalog.rtrim(pg_catalog.pg_get_viewdef(format('%I.%I', target_schema, view_name)::regclass), '; '),
                               _wh.repeated_key_sql(template_name))
                INTO key;
            END IF;
            PERFORM _wh.raise_duplicate_key(template_name, _wh.daily_name_day(view_name), coalesce(key, '(a unique key of the day)'));
        END;
    ELSE
        EXECUTE format('REFRESH MATERIALIZED VIEW %I.%I', target_schema, view_name);
    END IF;
END
$$;

-- The number of rows of target_schema.view_name (a daily view of either kind), counted now, as whadmin.
CREATE OR REPLACE FUNCTION _wh.count_rows(target_schema text, view_name text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %I.%I', target_schema, view_name) INTO n;
    RETURN n;
END
$$;
-- sql/wh/12-days-tables.sql: The tables of a tenant's days: <template>_recent (the copy of its daily materialized views) and <template>_closed.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Creates table target_schema.table_name for a template's days when missing: the daily view's
-- columns plus _wh_day date, a BRIN index on _wh_day, vacuum_truncate off (truncating takes an
-- AccessExclusiveLock that a hot standby replays against its BI queries), SELECT for phood_ro.
-- The template's own indexes are ensure_days_indexes' (the caller's choice of when: after a
-- bulk load, building them once beats maintaining them row by row). Refuses when a template has
-- that name. Returns true when it was created.
CREATE OR REPLACE FUNCTION _wh.ensure_days_table(template_name text, target_schema text, table_name text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    defs text;
BEGIN
    IF pg_catalog.to_regclass(format('%I.%I', target_schema, table_name)) IS NOT NULL THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM _wh.mv_templates t WHERE t.template_name = table_name) THEN
        RAISE EXCEPTION 'cannot keep the days of % in %: a template named % exists', template_name, table_name, table_name
            USING ERRCODE = 'duplicate_object';
    END IF;
    SELECT string_agg(format('%I %s', c.column_name, c.data_type), ', ' ORDER BY c.ordinal)
    INTO defs FROM _wh.template_columns(template_name) c;
    -- Two sessions may both have seen no table: the second waited on the first's advisory lock (the caller's), and an
    -- advisory lock does not refresh the catalog snapshot to_regclass read, so CREATE finds the table it did not see
    -- (seen in CI: "relation <template>_recent already exists"). It was made by the other session: nothing to do.
    BEGIN
        EXECUTE format('CREATE TABLE %I.%I (%s, _wh_day date NOT NULL) WITH (vacuum_truncate = off)', target_schema, table_name, defs);
    EXCEPTION WHEN duplicate_table OR unique_violation THEN
        RETURN false;
    END;
    -- BRIN: days arrive (mostly) in order, a day's rows sit together; a btree here cost ~3 ms per 2,000-row day to
    -- maintain, this costs next to nothing and still finds a day in a few pages (day views, force, retention).
    EXECUTE format('CREATE INDEX ON %I.%I USING brin (_wh_day) WITH (pages_per_range = 16, autosummarize = on)', target_schema, table_name);
    EXECUTE format('GRANT SELECT ON %I.%I TO phood_ro', target_schema, table_name);
    RETURN true;
END
$$;

-- Gives a days table the template's indexes (as plain indexes: a unique key of one day need
-- not be unique over many days) when it has none of them, i.e. no index but its BRIN on _wh_day:
-- a table just created, or one a first window filled before building them (compact_closed_days).
-- Returns how many it built (0 when they exist, or the template declares none).
CREATE OR REPLACE FUNCTION _wh.ensure_days_indexes(template_name text, target_schema text, table_name text)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    idx record;
    built integer := 0;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_index i
               JOIN pg_catalog.pg_class x ON x.oid OPERATOR(pg_catalog.=) i.indexrelid
               JOIN pg_catalog.pg_am a ON a.oid OPERATOR(pg_catalog.=) x.relam
               WHERE i.indrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(format('%I.%I', target_schema, table_name))
                 AND a.amname OPERATOR(pg_catalog.<>) 'brin') THEN
        RETURN 0;
    END IF;
    FOR idx IN SELECT * FROM _wh.parse_index_definitions((SELECT t.indexes FROM _wh.mv_templates t WHERE t.template_name = ensure_days_indexes.template_name)) ORDER BY ordinal LOOP
        EXECUTE format('CREATE INDEX ON %I.%I %s', target_schema, table_name,
                       _wh.render_template_text(idx.index_rest, target_schema, table_name, _wh.tenant_today(target_schema)));
        built := built + 1;
    END LOOP;
    RETURN built;
END
$$;

-- Creates <schema>.<template>_closed when missing (ensure_days_table), without the template's
-- indexes: compact_closed_days builds them once the rows it moves, or a window's days, are in.
-- Returns true when it was created. Callers hold the compaction lock.
CREATE OR REPLACE FUNCTION _wh.ensure_closed_table(template_name text, target_schema text)
RETURNS boolean
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT _wh.ensure_days_table(template_name, target_schema, _wh.closed_table_name(template_name)) $$;

-- Creates <schema>.<template>_recent when missing (ensure_days_table, under the tenant-view
-- lock) and copies into it the rows of every daily materialized view of the template that
-- exists already (a warehouse from before 2.1.0, days loaded before the tenant view; read from
-- the catalog _wh.daily_views, so registered tenants only). Returns true when it was created.
CREATE OR REPLACE FUNCTION _wh.ensure_recent_table(template_name text, target_schema text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    recent text := _wh.recent_table_name(template_name);
    mv record;
BEGIN
    IF pg_catalog.to_regclass(format('%I.%I', target_schema, recent)) IS NOT NULL THEN
        RETURN false;
    END IF;
    PERFORM _wh.lock_tenant_view(target_schema, template_name);
    IF NOT _wh.ensure_days_table(template_name, target_schema, recent) THEN
        RETURN false;
    END IF;
    PERFORM _wh.ensure_days_indexes(template_name, target_schema, recent);
    FOR mv IN
        SELECT v.relation AS view_name, v.day
        FROM _wh.daily_views v
        WHERE v.schema_name = target_schema AND v.template_name = ensure_recent_table.template_name AND v.kind = 'm'
        ORDER BY v.day
    LOOP
        PERFORM _wh.sync_recent_day(template_name, target_schema, mv.view_name, mv.day);
    END LOOP;
    RETURN true;
END
$$;

-- Makes <template>_recent hold exactly the rows of daily materialized view view_name for
-- target_date (none when it is not a materialized view: gone, or compacted): DELETE + INSERT in
-- the caller's transaction, so readers of the tenant view see the old rows or the new ones.
-- Called after every create, refresh, re-create, compaction and drop of a day. Callers hold
-- the daily-view lock.
CREATE OR REPLACE FUNCTION _wh.sync_recent_day(template_name text, target_schema text, view_name text, target_date date)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    recent text := _wh.recent_table_name(template_name);
    cols text;
BEGIN
    PERFORM _wh.ensure_recent_table(template_name, target_schema);
    EXECUTE format('DELETE FROM %I.%I WHERE _wh_day = $1', target_schema, recent) USING target_date;
    IF _wh.daily_relkind(target_schema, view_name) = 'm' THEN
        SELECT string_agg(format('%I', c.column_name), ', ' ORDER BY c.ordinal) INTO cols FROM _wh.template_columns(template_name) c;
        EXECUTE format('INSERT INTO %I.%I (%s, _wh_day) SELECT %s, $1 FROM %I.%I', target_schema, recent, cols, cols, target_schema, view_name)
            USING target_date;
    END IF;
END
$$;

-- Puts <template>_recent back in step with the daily materialized views (Update-WhUnionView,
-- the guide's "tenant view lost a day"): deletes the rows of days that have no materialized
-- view any more (one dropped by hand: nothing depends on a day since 2.1.0) and copies the days
-- of materialized views that have no row there. Rows only: no definition changes. Callers hold
-- the tenant-view lock. Returns how many days were put right.
CREATE OR REPLACE FUNCTION _wh.resync_recent_days(template_name text, target_schema text)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    recent text := _wh.recent_table_name(template_name);
    held date[];
    fixed integer := 0;
    d record;
BEGIN
    IF pg_catalog.to_regclass(format('%I.%I', target_schema, recent)) IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE format('SELECT coalesce(array_agg(DISTINCT r._wh_day), ''{}''::date[]) FROM %I.%I r', target_schema, recent) INTO held;
    FOR d IN
        WITH mv AS (
            SELECT v.relation AS view_name, v.day
            FROM _wh.daily_views v
            WHERE v.schema_name = target_schema AND v.template_name = resync_recent_days.template_name AND v.kind = 'm')
        SELECT mv.view_name, mv.day FROM mv WHERE NOT (mv.day = ANY (held))
        UNION ALL
        SELECT _wh.create_mv_name(template_name, h.day), h.day FROM unnest(held) h(day) WHERE NOT EXISTS (SELECT 1 FROM mv WHERE mv.day = h.day)
    LOOP
        PERFORM _wh.sync_recent_day(template_name, target_schema, d.view_name, d.day);
        fixed := fixed + 1;
    END LOOP;
    RETURN fixed;
END
$$;

-- Summarizes the new page ranges of a days table's BRIN index on _wh_day (brin_summarize_new_values), so that a day's
-- rows are found by their ranges at once after a window loaded many days: autosummarize does it later, in the
-- background, and until then every unsummarized range is read by each day's lookup (a check of 7 days read the whole
-- 730,000-row table). Returns how many ranges it summarized.
CREATE OR REPLACE FUNCTION _wh.summarize_days_index(target_schema text, table_name text)
RETURNS integer
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(sum(pg_catalog.brin_summarize_new_values(i.indexrelid::regclass)), 0)::integer
    FROM pg_catalog.pg_index i
    JOIN pg_catalog.pg_class x ON x.oid = i.indexrelid
    JOIN pg_catalog.pg_am a ON a.oid = x.relam AND a.amname = 'brin'
    WHERE i.indrelid = pg_catalog.to_regclass(format('%I.%I', target_schema, table_name))
$$;
-- sql/wh/13-tenant-views.sql: Tenant views: their SQL over their fixed members (<template>_recent, <template>_closed), rebuilds, and membership.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- The SELECT of a tenant view, whose members are fixed: the table of the rows of the tenant's
-- daily materialized views (<template>_recent), then the compacted table of closed days
-- (<template>_closed) when there is one, client as the given literal. Days come and go as
-- rows, so routine work (new day, refresh, force, compaction, retention) never changes this
-- definition.
CREATE OR REPLACE FUNCTION _wh.tenant_view_members_sql(template_name text, target_schema text, client_name text)
RETURNS text
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    select_list text;
    empty_list  text;
    parts       text[] := '{}'::text[];
    member      text;
BEGIN
    SELECT string_agg(CASE WHEN c.column_name = 'client'
                           THEN format('%L::%s AS client', client_name, c.data_type)
                           ELSE format('d.%I', c.column_name) END, ', ' ORDER BY c.ordinal),
           string_agg(format('NULL::%s AS %I', c.data_type, c.column_name), ', ' ORDER BY c.ordinal)
    INTO select_list, empty_list
    FROM _wh.template_columns(template_name) c;

    FOREACH member IN ARRAY ARRAY[_wh.recent_table_name(template_name), _wh.closed_table_name(template_name)] LOOP
        IF pg_catalog.to_regclass(format('%I.%I', target_schema, member)) IS NOT NULL THEN
            parts := parts || format('SELECT %s FROM %I.%I d', select_list, target_schema, member);
        END IF;
    END LOOP;
    IF cardinality(parts) = 0 THEN
        RETURN format('SELECT %s WHERE false', empty_list);
    END IF;
    RETURN array_to_string(parts, E'\nUNION ALL\n');
END
$$;

-- The SELECT of a tenant view (tenant_view_members_sql). exclude_views is ignored since 2.1.0
-- (a day leaves the view when its rows are deleted); the argument stays so that 2.0 callers work.
CREATE OR REPLACE FUNCTION _wh.tenant_view_sql_excluding(template_name text, target_schema text, client_name text, exclude_views text[])
RETURNS text
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT _wh.tenant_view_members_sql(template_name, target_schema, client_name) $$;

-- The SELECT of a tenant view (tenant_view_members_sql); exclude_view is ignored since 2.1.0.
CREATE OR REPLACE FUNCTION _wh.tenant_view_sql(template_name text, target_schema text, client_name text, exclude_view text DEFAULT NULL)
RETURNS text
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT _wh.tenant_view_members_sql(template_name, target_schema, client_name) $$;

-- Rebuilds target_schema.template_name over its fixed members (tenant_view_sql), creating
-- <template>_recent when missing (filled from the daily materialized views) and putting it back
-- in step with them (resync_recent_days); exclude_view is ignored since 2.1.0. Nothing is re-created when unchanged. Caller holds the tenant-view lock. Returns true when the public view
-- must be rebuilt (the tenant view was new or had to be dropped and created again).
CREATE OR REPLACE FUNCTION _wh.rebuild_tenant_view(template_name text, target_schema text, exclude_view text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    client text;
    existed boolean;
BEGIN
    SELECT t.client_name INTO client FROM _wh.tenants t WHERE t.schema_name = target_schema;
    IF NOT FOUND THEN
        client := target_schema;
    END IF;
    existed := _wh.does_view_exist(target_schema, template_name);
    PERFORM _wh.ensure_recent_table(template_name, target_schema);
    PERFORM _wh.resync_recent_days(template_name, target_schema);
    RETURN _wh.apply_view(target_schema, template_name,
                          _wh.tenant_view_sql(template_name, target_schema, client, exclude_view))
           OR NOT existed;
END
$$;

-- Builds view <schema>.<template> = UNION ALL of the schema's daily views of the template, in
-- date order, with client = the tenant's current client name; a typed empty view when there
-- are no daily views. One statement (atomic for readers). Registers the tenant on first use.
-- When the tenant view is new, the public view is rebuilt too so it includes the tenant.
-- Returns the view name (schema.template).
CREATE OR REPLACE FUNCTION _wh.update_tenant_union_view_by_template(template_name text, tenant_connection_name text, target_schema text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _wh.assert_template_exists(template_name);
    PERFORM _wh.ensure_tenant(tenant_connection_name, target_schema, NULL);
    PERFORM _wh.lock_tenant_view(target_schema, template_name);
    IF _wh.rebuild_tenant_view(template_name, target_schema)
       OR NOT _wh.view_references('public', template_name, target_schema, template_name) THEN
        PERFORM _wh.update_public_view_by_template(template_name);
    END IF;
    RETURN format('%I.%I', target_schema, template_name);
END
$$;

-- Makes sure the tenant view reads its fixed members (<template>_recent, <template>_closed when
-- it exists) and the public view includes the tenant view, rebuilding only what is missing.
-- When view_name is a daily materialized view whose day has no row in <template>_recent (made
-- outside update_mv_by_template), its rows are copied there. Returns true when something was
-- rebuilt.
CREATE OR REPLACE FUNCTION _wh.ensure_views_include(template_name text, target_schema text, view_name text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rebuilt boolean := false;
    need_public boolean := false;
    closed text := _wh.closed_table_name(template_name);
    copied boolean := true;
BEGIN
    IF view_name IS NOT NULL AND _wh.daily_relkind(target_schema, view_name) = 'm' THEN
        IF pg_catalog.to_regclass(format('%I.%I', target_schema, _wh.recent_table_name(template_name))) IS NOT NULL THEN
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I WHERE _wh_day = $1)', target_schema, _wh.recent_table_name(template_name))
                INTO copied USING _wh.daily_name_day(view_name);
        END IF;
        IF NOT copied THEN
            PERFORM _wh.sync_recent_day(template_name, target_schema, view_name, _wh.daily_name_day(view_name));
        END IF;
    END IF;
    IF NOT _wh.view_references(target_schema, template_name, target_schema, _wh.recent_table_name(template_name))
       OR (pg_catalog.to_regclass(format('%I.%I', target_schema, closed)) IS NOT NULL
           AND NOT _wh.view_references(target_schema, template_name, target_schema, closed)) THEN
        PERFORM _wh.lock_tenant_view(target_schema, template_name);
        need_public := _wh.rebuild_tenant_view(template_name, target_schema);
        rebuilt := true;
    END IF;
    IF need_public OR NOT _wh.view_references('public', template_name, target_schema, template_name) THEN
        PERFORM _wh.update_public_view_by_template(template_name);
        rebuilt := true;
    END IF;
    RETURN rebuilt;
END
$$;
-- sql/wh/14-compaction.sql: Closed days: compaction into <template>_closed (when due, _wh.compact_after_days) and loading a closed day straight into it.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

--
-- A day older than yesterday can no longer be refreshed (only re-created with force). Once a
-- tenant has more than _wh.compact_after_days() closed daily materialized views of a template
-- (the setting compact_after_days), they move into ONE indexed table
-- <schema>.<template>_closed (the daily view's columns plus _wh_day date), and from then on
-- every closed day of that tenant and template lives there: a new closed day is loaded straight
-- into it (INSERT ... SELECT FROM dblink over the session's kept connection, wh/08), the daily
-- name stays queryable as a plain view (SELECT <cols> FROM <template>_closed WHERE _wh_day = day),
-- and the tenant view reads the table plus the remaining daily materialized views (today,
-- yesterday). Planning a query then locks a handful of relations instead of 4 per day.

-- How many closed daily materialized views a tenant may have of a template before they are
-- compacted (the setting compact_after_days, _wh.setting).
CREATE OR REPLACE FUNCTION _wh.compact_after_days()
RETURNS integer
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _wh.setting('compact_after_days')::integer
$$;

-- How many days back from a tenant's today a compacted closed day keeps a view of its own (the setting
-- day_relation_days, at least 7). An older day is its rows in <template>_closed: listed by the catalog (kind 't'),
-- loaded, checked, repaired and dropped like any day, read through the tenant view or _wh.day_rows. At 100 tenants x
-- 5 years a view per day was 1.1 GB of catalog, everyday commands at 0.6-0.9 s and pg_dump out of shared memory
-- (docs/performance.md, rows s0-s7).
CREATE OR REPLACE FUNCTION _wh.day_relation_days()
RETURNS integer
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT greatest(_wh.setting('day_relation_days')::integer, 7)
$$;

-- The first day of this tenant whose compacted closed day keeps a view of its own: day_relation_days back from its
-- today (older days are kind 't'). The one spelling of the horizon: loading a day and retiring views read it.
CREATE OR REPLACE FUNCTION _wh.day_relation_horizon(target_schema text)
RETURNS date
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _wh.tenant_today(target_schema) - _wh.day_relation_days()
$$;

-- Marks a closed day as kept in <template>_closed without a relation (kind 't'), or (table_only false) as having its
-- view again. In the caller's transaction, under the day's lock.
CREATE OR REPLACE FUNCTION _wh.set_table_only(target_schema text, template_name text, target_date date, table_only boolean)
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO _wh.day_state AS s (schema_name, template_name, day, table_only) VALUES ($1, $2, $3, $4)
    ON CONFLICT (schema_name, template_name, day) DO UPDATE SET table_only = EXCLUDED.table_only
$$;

-- The SELECT of a compacted day's view: the daily view's columns of that day.
CREATE OR REPLACE FUNCTION _wh.closed_day_view_sql(template_name text, target_schema text, target_date date)
RETURNS text
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('SELECT %s FROM %I.%I WHERE _wh_day = %L::date',
                  string_agg(format('%I', c.column_name), ', ' ORDER BY c.ordinal),
                  target_schema, _wh.closed_table_name(template_name), target_date)
    FROM _wh.template_columns(template_name) c
$$;

-- Loads one closed day straight into <schema>.<template>_closed from the tenant's source (the
-- same remote query, columns and client literal as a daily materialized view), and creates the
-- day's view when it does not exist. Callers hold the daily-view lock and have removed any
-- earlier rows of the day (in the same transaction). Returns the number of rows loaded.
CREATE OR REPLACE FUNCTION _wh.load_closed_day(template_name text, tenant_connection_name text, target_schema text,
                                               target_date date, view_name text, client_name text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tpl _wh.mv_templates;
    srv text;
    conn text;
    insert_list text;
    select_list text;
    column_defs text;
    has_client boolean;
    stmt text;
    query text;
    duplicate_checks text;
    duplicate text;
    n bigint;
    kind "char";
BEGIN
    SELECT * INTO tpl FROM _wh.mv_templates t WHERE t.template_name = load_closed_day.template_name;
    srv := _wh.get_tenant_connection_string(tenant_connection_name);
    SELECT string_agg(format('%I', c.column_name), ', ' ORDER BY c.ordinal),
           string_agg(format('t.%I', c.column_name), ', ' ORDER BY c.ordinal),
           string_agg(format('%I %s', c.column_name, c.data_type), ', ' ORDER BY c.ordinal),
           bool_or(c.column_name = 'client')
    INTO insert_list, select_list, column_defs, has_client
    FROM _wh.parse_column_definitions(tpl.column_definitions) c;
    query := _wh.render_template_text(tpl.query_template, target_schema, view_name, target_date);
    -- The day's rows are inserted, and in the same statement the first key the template declares unique that they
    -- repeat is found (a hash of the day's keys, no index): the one rule of a duplicate key, as a daily materialized
    -- view's unique index applies it (docs/reliability.md).
    duplicate_checks := _wh.repeated_key_sql(template_name);
    stmt := format('WITH src AS MATERIALIZED (SELECT %s%s FROM public.dblink($1, $2) AS t(%s)), '
                   'ins AS (INSERT INTO %I.%I (%s%s, _wh_day) SELECT %s%s, $3 FROM src RETURNING 1) '
                   'SELECT (SELECT count(*) FROM ins), %s',
                   select_list, CASE WHEN has_client THEN '' ELSE ', $4::text AS client' END, column_defs,
                   target_schema, _wh.closed_table_name(template_name), insert_list,
                   CASE WHEN has_client THEN '' ELSE ', client' END,
                   insert_list, CASE WHEN has_client THEN '' ELSE ', client' END,
                   coalesce(duplicate_checks, 'NULL::text'));
    conn := _wh.session_dblink(srv);
    BEGIN
        EXECUTE stmt INTO n, duplicate USING conn, query, target_date, client_name;
    EXCEPTION WHEN datatype_mismatch THEN
        PERFORM _wh.raise_template_columns_mismatch(template_name, SQLERRM);
    WHEN OTHERS THEN
        -- The kept connection may have died (source restarted, idle timeout): once more over a new one.
        -- A real error (bad query, missing table) fails again and is raised from there.
        conn := _wh.session_dblink(srv, true);
        BEGIN
            EXECUTE stmt INTO n, duplicate USING conn, query, target_date, client_name;
        EXCEPTION WHEN datatype_mismatch THEN
            PERFORM _wh.raise_template_columns_mismatch(template_name, SQLERRM);
        END;
    END;
    IF duplicate IS NOT NULL THEN
        PERFORM _wh.raise_duplicate_key(template_name, target_date, duplicate);
    END IF;
    kind := _wh.daily_relkind(target_schema, view_name);
    IF kind IS NULL OR kind = 't' THEN
        IF target_date >= _wh.day_relation_horizon(target_schema) THEN
            EXECUTE format('CREATE VIEW %I.%I AS %s', target_schema, view_name,
                           _wh.closed_day_view_sql(template_name, target_schema, target_date));
            EXECUTE format('GRANT SELECT ON %I.%I TO phood_ro', target_schema, view_name);
            IF kind = 't' THEN
                PERFORM _wh.set_table_only(target_schema, template_name, target_date, false);
            END IF;
        ELSIF kind IS NULL THEN
            -- Older than day_relation_days: the day is its rows in the table (the catalog lists it, kind 't').
            PERFORM _wh.set_table_only(target_schema, template_name, target_date, true);
        END IF;
    END IF;
    RETURN n;
END
$$;

-- Moves a tenant's closed daily materialized views of a template (older than yesterday) into
-- <schema>.<template>_closed: rows copied, each materialized view replaced by a plain view of
-- the same name over the table and its rows removed from <template>_recent, all in the
-- caller's transaction (readers see the old rows or the new ones). The tenant view's
-- definition changes only the first time, to read the new table. With only_when_due (what
-- update_mv_by_template, the windows and the module call) it does nothing unless the table
-- already exists or there are more than compact_after_days() closed materialized views, and it
-- never waits: a busy compaction lock or a day being written by another session is left for the
-- next call. Without it (psql: SELECT _wh.compact_closed_days('foodlogstats', 'tenant_a')) every
-- closed day is compacted now. analyze_table: ANALYZE the table at the end (always when created).
-- planned_days: closed days the caller is about to load (a window, a backfill); counted towards
-- compact_after_days(), so a long backfill creates the table first and loads every closed day
-- straight into it instead of building (and then compacting) a materialized view per day.
-- Returns {"template","schema","table","compacted","created_table","busy"}.
CREATE OR REPLACE FUNCTION _wh.compact_closed_days(template_name text, target_schema text,
                                                   only_when_due boolean DEFAULT false, analyze_table boolean DEFAULT true,
                                                   planned_days integer DEFAULT 0)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    closed text := _wh.closed_table_name(template_name);
    has_table boolean;
    created boolean := false;
    candidates integer;
    victim record;
    moved text[] := '{}'::text[];
    days date[] := '{}'::date[];
    cols text;
    built integer := 0;
    result jsonb;
BEGIN
    PERFORM _wh.assert_template_exists(template_name);
    PERFORM _wh.assert_tenant_schema(target_schema);
    result := jsonb_build_object('template', template_name, 'schema', target_schema,
                                 'table', format('%I.%I', target_schema, closed), 'compacted', 0, 'created_table', false, 'busy', false);
    IF only_when_due THEN
        IF NOT pg_try_advisory_xact_lock(hashtext('_wh.compact'), hashtext(target_schema || '.' || template_name)) THEN
            RETURN result || jsonb_build_object('busy', true);
        END IF;
    ELSE
        PERFORM pg_advisory_xact_lock(hashtext('_wh.compact'), hashtext(target_schema || '.' || template_name));
    END IF;
    has_table := pg_catalog.to_regclass(format('%I.%I', target_schema, closed)) IS NOT NULL;
    -- The schema's daily names from the catalog before any join (_wh.daily_relations, not _wh.daily_views): every
    -- closed day of the schema is compacted, whether or not its tenant is registered.
    SELECT count(*) INTO candidates
    FROM _wh.daily_relations r
    JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
    WHERE n.nspname = target_schema AND r.kind = 'm' AND r.template_name = compact_closed_days.template_name
      AND r.day < _wh.tenant_today(target_schema) - 1;
    IF (candidates = 0 AND (has_table OR coalesce(planned_days, 0) <= _wh.compact_after_days()))
       OR (only_when_due AND NOT has_table AND candidates + coalesce(planned_days, 0) <= _wh.compact_after_days()) THEN
        IF has_table AND coalesce(planned_days, 0) = 0 THEN
            -- A table a first window filled (below) gets the template's indexes now that its rows are in.
            built := _wh.ensure_days_indexes(template_name, target_schema, closed);
        END IF;
        IF has_table AND (analyze_table OR built > 0) THEN
            EXECUTE format('ANALYZE %I.%I', target_schema, closed);
            PERFORM _wh.summarize_days_index(target_schema, closed);
        END IF;
        RETURN result;
    END IF;

    created := _wh.ensure_closed_table(template_name, target_schema);
    SELECT string_agg(format('%I', c.column_name), ', ' ORDER BY c.ordinal) INTO cols FROM _wh.template_columns(template_name) c;
    FOR victim IN
        SELECT r.relname::text AS view_name, r.day
        FROM _wh.daily_relations r
        JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
        WHERE n.nspname = target_schema AND r.kind = 'm' AND r.template_name = compact_closed_days.template_name
          AND r.day < _wh.tenant_today(target_schema) - 1
        ORDER BY 1
    LOOP
        -- Never wait for a day lock (its holder may be waiting for us): a busy day is compacted next time.
        CONTINUE WHEN NOT _wh.try_lock_daily_view(target_schema, victim.view_name);
        CONTINUE WHEN _wh.daily_relkind(target_schema, victim.view_name) IS DISTINCT FROM 'm';
        EXECUTE format('INSERT INTO %I.%I (%s, _wh_day) SELECT %s, %L::date FROM %I.%I',
                       target_schema, closed, cols, cols, victim.day, target_schema, victim.view_name);
        moved := moved || victim.view_name;
        days := days || victim.day;
    END LOOP;

    IF cardinality(moved) > 0 THEN
        FOR i IN 1 .. cardinality(moved) LOOP
            -- No CASCADE: an unknown object depending on the day makes this fail loudly.
            EXECUTE format('DROP MATERIALIZED VIEW %I.%I', target_schema, moved[i]);
            EXECUTE format('CREATE VIEW %I.%I AS %s', target_schema, moved[i],
                           _wh.closed_day_view_sql(template_name, target_schema, days[i]));
            EXECUTE format('GRANT SELECT ON %I.%I TO phood_ro', target_schema, moved[i]);
            -- The day's rows leave <template>_recent in the transaction that put them into the table.
            PERFORM _wh.sync_recent_day(template_name, target_schema, moved[i], days[i]);
        END LOOP;
    END IF;
    IF cardinality(moved) > 0 OR (created AND _wh.does_view_exist(target_schema, template_name)) THEN
        -- The tenant view reads the table from its creation on: its definition changes once per tenant and template.
        -- A tenant without the view yet (a first window, which made the table at its start) gets it when the window
        -- ends with a day to show (finish_window), not before.
        PERFORM _wh.ensure_views_include(template_name, target_schema, NULL);
    END IF;
    IF coalesce(planned_days, 0) = 0 THEN
        -- Built once the rows are in, not maintained row by row; with planned_days the caller's days are still to
        -- come (a window, a backfill: 2 of every 3 seconds of a first load went to index upkeep, docs/performance.md),
        -- and the call that ends it (finish_window) builds them.
        built := _wh.ensure_days_indexes(template_name, target_schema, closed);
    END IF;
    IF created OR analyze_table OR built > 0 THEN
        EXECUTE format('ANALYZE %I.%I', target_schema, closed);
        PERFORM _wh.summarize_days_index(target_schema, closed);
    END IF;
    RETURN result || jsonb_build_object('compacted', cardinality(moved), 'created_table', created, 'indexes_built', built);
END
$$;

-- Drops the views of a tenant's compacted closed days that are older than day_relation_days (at most max_views per
-- call, oldest first), each under its day's lock taken without waiting (a busy day is left for the next call), and
-- marks each day table_only in the same transaction: the day stays, its rows in <template>_closed, the catalog lists
-- it (kind 't'); the tenant and public views read the table and do not change. A view another object depends on (a
-- DBA's own view) is kept. finish_window calls it, so windows, backfills and the scheduled refresh keep the horizon.
-- Returns how many views it dropped.
CREATE OR REPLACE FUNCTION _wh.retire_day_views(template_name text, target_schema text, max_views integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    horizon date := _wh.day_relation_horizon(target_schema);
    day record;
    retired integer := 0;
BEGIN
    FOR day IN
        SELECT v.relation, v.day FROM _wh.daily_views v
        WHERE v.schema_name = target_schema AND v.template_name = retire_day_views.template_name AND v.kind = 'v'
          AND v.day < horizon
        ORDER BY v.day
        LIMIT max_views
    LOOP
        CONTINUE WHEN NOT _wh.try_lock_daily_view(target_schema, day.relation);
        CONTINUE WHEN _wh.daily_relkind(target_schema, day.relation) IS DISTINCT FROM 'v';
        BEGIN
            EXECUTE format('DROP VIEW %I.%I', target_schema, day.relation);
        EXCEPTION WHEN dependent_objects_still_exist THEN
            CONTINUE;
        END;
        PERFORM _wh.set_table_only(target_schema, template_name, day.day, true);
        retired := retired + 1;
    END LOOP;
    RETURN retired;
END
$$;

-- The rows of one day of a tenant's template, whatever holds them (<template>_closed, <template>_recent): what its
-- daily name gives, also for a day older than day_relation_days that has no view of its own. The row type is the
-- tenant view's, passed as a typed NULL: SELECT * FROM _wh.day_rows(NULL::tenant_a.foodlogstats, '2021-03-01');
-- Runs as whadmin, like every _wh routine a session may call (phood_ro has no _wh routine: it reads the tenant view
-- with its day's condition).
CREATE OR REPLACE FUNCTION _wh.day_rows(tenant_view anyelement, target_date date)
RETURNS SETOF anyelement
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target_schema text;
    tpl text;
    cols text;
    parts text[] := '{}';
    tbl text;
BEGIN
    SELECT n.nspname::text, c.relname::text INTO target_schema, tpl
    FROM pg_catalog.pg_type t
    JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE t.oid = pg_catalog.pg_typeof(tenant_view)::oid;
    IF tpl IS NULL OR NOT EXISTS (SELECT 1 FROM _wh.tenants x WHERE x.schema_name = target_schema)
       OR NOT EXISTS (SELECT 1 FROM _wh.mv_templates m WHERE m.template_name = tpl) THEN
        RAISE EXCEPTION '_wh.day_rows: % is not a tenant view of a template', pg_catalog.pg_typeof(tenant_view)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass a typed NULL of a tenant''s view: SELECT * FROM _wh.day_rows(NULL::tenant_a.foodlogstats, ''2021-03-01'');';
    END IF;
    SELECT string_agg(format('%I', c.column_name), ', ' ORDER BY c.ordinal) INTO cols FROM _wh.template_columns(tpl) c;
    FOREACH tbl IN ARRAY ARRAY[_wh.closed_table_name(tpl), _wh.recent_table_name(tpl)] LOOP
        IF pg_catalog.to_regclass(format('%I.%I', target_schema, tbl)) IS NOT NULL THEN
            parts := parts || format('SELECT %s FROM %I.%I WHERE _wh_day = $1', cols, target_schema, tbl);
        END IF;
    END LOOP;
    IF cardinality(parts) > 0 THEN
        RETURN QUERY EXECUTE array_to_string(parts, ' UNION ALL ') USING target_date;
    END IF;
END
$$;
-- sql/wh/15-one-day.sql: One day: create / refresh / skip / recreate (update_mv_by_template, the single path for every day).
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Rebuilds an existing daily view without readers ever seeing it missing: builds the new one
-- under a temporary name first (the slow dblink part, no lock on anything readers use), then
-- swaps in the same transaction (drop old, rename new and its indexes) and replaces the day's
-- rows of <template>_recent, which the tenant view reads: its definition is untouched.
CREATE OR REPLACE FUNCTION _wh.recreate_daily_view(template_name text, tenant_connection_name text, target_schema text,
                                                   target_date date, view_name text, client_name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tmp text := '_whnew_' || substr(md5(target_schema || '.' || view_name), 1, 20);
    idx text;
    base text;
    candidate text;
    k integer;
BEGIN
    IF _wh.does_mv_exist(target_schema, tmp) THEN
        EXECUTE format('DROP MATERIALIZED VIEW %I.%I', target_schema, tmp);
    END IF;
    PERFORM _wh.create_daily_view(template_name, tenant_connection_name, target_schema, target_date, tmp, client_name);

    -- No CASCADE: an unknown object depending on the old view makes this fail loudly.
    EXECUTE format('DROP MATERIALIZED VIEW %I.%I', target_schema, view_name);
    EXECUTE format('ALTER MATERIALIZED VIEW %I.%I RENAME TO %I', target_schema, tmp, view_name);

    FOR idx IN
        SELECT c.relname
        FROM pg_catalog.pg_index i
        JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = format('%I.%I', target_schema, view_name)::regclass
          AND c.relname LIKE tmp || '%'
        ORDER BY c.relname
    LOOP
        base := left(view_name || substr(idx, length(tmp) + 1), 63);
        candidate := base;
        k := 0;
        WHILE EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                      WHERE n.nspname = target_schema AND c.relname = candidate) LOOP
            k := k + 1;
            candidate := left(base, 63 - length(k::text)) || k::text;
        END LOOP;
        EXECUTE format('ALTER INDEX %I.%I RENAME TO %I', target_schema, idx, candidate);
    END LOOP;

    PERFORM _wh.sync_recent_day(template_name, target_schema, view_name, target_date);
END
$$;

-- THE code path for one (template, tenant, date), used by pg_cron, psql and the module.
--   absent                         -> create with indexes            -> 'created'
--   present, date = today (or yesterday with allow_refresh_yesterday; both on the tenant's clock, _wh.tenant_today)
--                                  -> REFRESH [CONCURRENTLY]         -> 'refreshed'
--   present, older                 -> nothing                        -> 'skipped'
--   present and force              -> rebuilt and swapped atomically -> 'recreated'
-- Serialized per daily view by an advisory lock: a second caller waits, then refreshes or
-- skips. Every change of a day is a change of rows that the tenant view reads (the day's
-- materialized view copied into <template>_recent, or <template>_closed): no view definition
-- changes. With rebuild_views, the tenant view and the public view are made to exist and read
-- their members (rebuilt only when they do not already). Registers the tenant and creates its schema
-- on first use. Rejects future dates and reserved schemas. Errors are raised, never
-- swallowed. Writes a run_log row. Returns
-- {"action","view","rows","duration_ms","template","schema","connection","date"}.
CREATE OR REPLACE FUNCTION _wh.update_mv_by_template(template_name text, tenant_connection_name text, target_schema text,
                                                     target_date date, allow_refresh_yesterday boolean DEFAULT true,
                                                     force boolean DEFAULT false, rebuild_views boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    started  timestamptz := clock_timestamp();
    view_name text;
    client   text;
    action   text;
    nrows    bigint;
    elapsed  numeric;
    kind     "char";
    closed   boolean;
    today    date;
    msg text; det text; hnt text; st text;
BEGIN
    PERFORM _wh.assert_template_exists(template_name);
    PERFORM _wh.assert_tenant_schema(target_schema);
    PERFORM _wh.assert_target_date(target_date, target_schema);
    view_name := _wh.create_mv_name(template_name, target_date);

    BEGIN
        client := _wh.ensure_tenant(tenant_connection_name, target_schema, NULL);
        PERFORM _wh.lock_daily_view(target_schema, view_name);

        kind := _wh.daily_relkind(target_schema, view_name);
        today := _wh.tenant_today(target_schema);
        closed := target_date < today - 1;
        IF kind IS NULL AND closed
           AND pg_catalog.to_regclass(format('%I.%I', target_schema, _wh.closed_table_name(template_name))) IS NOT NULL THEN
            -- A closed day of a tenant whose closed days are compacted: straight into the table.
            nrows := _wh.load_closed_day(template_name, tenant_connection_name, target_schema, target_date, view_name, client);
            action := 'created';
        ELSIF kind IS NULL THEN
            PERFORM _wh.create_daily_view(template_name, tenant_connection_name, target_schema, target_date, view_name, client);
            PERFORM _wh.sync_recent_day(template_name, target_schema, view_name, target_date);
            action := 'created';
            -- Keeps closed days compacted once there are more than compact_after_days(): pg_cron's daily call for
            -- today moves the day before yesterday (closed since midnight) into the table.
            PERFORM _wh.compact_closed_days(template_name, target_schema, true, false);
        ELSIF kind IN ('v', 't') AND (force OR target_date = today OR (allow_refresh_yesterday AND target_date = today - 1)) THEN
            -- A compacted day: its rows replaced in this transaction (readers see the old rows or the new ones).
            EXECUTE format('DELETE FROM %I.%I WHERE _wh_day = $1', target_schema, _wh.closed_table_name(template_name)) USING target_date;
            nrows := _wh.load_closed_day(template_name, tenant_connection_name, target_schema, target_date, view_name, client);
            action := CASE WHEN force THEN 'recreated' ELSE 'refreshed' END;
        ELSIF kind IN ('v', 't') THEN
            action := 'skipped';
        ELSIF force THEN
            PERFORM _wh.recreate_daily_view(template_name, tenant_connection_name, target_schema, target_date, view_name, client);
            action := 'recreated';
        ELSIF target_date = today OR (allow_refresh_yesterday AND target_date = today - 1) THEN
            PERFORM _wh.refresh_daily_view(target_schema, view_name);
            PERFORM _wh.sync_recent_day(template_name, target_schema, view_name, target_date);
            action := 'refreshed';
        ELSE
            action := 'skipped';
        END IF;

        IF rebuild_views THEN
            PERFORM _wh.ensure_views_include(template_name, target_schema, view_name);
        END IF;
        IF nrows IS NULL AND kind = 't' THEN
            -- No relation of its own: its rows in the table.
            EXECUTE format('SELECT count(*) FROM %I.%I WHERE _wh_day = $1', target_schema, _wh.closed_table_name(template_name))
                INTO nrows USING target_date;
        ELSIF nrows IS NULL THEN
            nrows := _wh.count_rows(target_schema, view_name);
        END IF;
        IF action <> 'skipped' THEN
            PERFORM _wh.record_capture(target_schema, template_name, target_date, nrows);
        END IF;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT, st = RETURNED_SQLSTATE;
        msg := format('%s.%s: %s', target_schema, view_name, msg);
        IF det IS NOT NULL AND det <> '' AND hnt IS NOT NULL AND hnt <> '' THEN
            RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, DETAIL = det, HINT = hnt;
        ELSIF det IS NOT NULL AND det <> '' THEN
            RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, DETAIL = det;
        ELSIF hnt IS NOT NULL AND hnt <> '' THEN
            RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, HINT = hnt;
        ELSE
            RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg;
        END IF;
    END;

    elapsed := round((extract(epoch FROM clock_timestamp() - started) * 1000)::numeric, 1);
    PERFORM _wh.log_run(target_schema, tenant_connection_name, template_name, target_date, action, nrows, elapsed);
    RETURN jsonb_build_object(
        'action', action,
        'view', format('%I.%I', target_schema, view_name),
        'rows', nrows,
        'duration_ms', elapsed,
        'template', template_name,
        'schema', target_schema,
        'connection', tenant_connection_name,
        'date', target_date);
END
$$;

-- Creates one daily view from a template when it does not exist (true); returns false with a
-- NOTICE when it already exists. Does not touch the tenant or public view (the guide calls
-- update_tenant_union_view_by_template / update_public_view_by_template next). Raises on error.
CREATE OR REPLACE FUNCTION _wh.create_mv_from_template(template_name text, tenant_connection_name text, target_schema text,
                                                       target_date date, client_name text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    started  timestamptz := clock_timestamp();
    view_name text;
    client   text;
BEGIN
    PERFORM _wh.assert_template_exists(template_name);
    PERFORM _wh.assert_tenant_schema(target_schema);
    PERFORM _wh.assert_target_date(target_date, target_schema);
    view_name := _wh.create_mv_name(template_name, target_date);
    client := _wh.ensure_tenant(tenant_connection_name, target_schema, client_name);
    PERFORM _wh.lock_daily_view(target_schema, view_name);
    IF _wh.does_mv_exist(target_schema, view_name) THEN
        RAISE NOTICE '%.% already exists (use _wh.update_mv_by_template(..., force => true) to rebuild it)', target_schema, view_name;
        PERFORM _wh.log_run(target_schema, tenant_connection_name, template_name, target_date, 'skipped',
                            NULL, (extract(epoch FROM clock_timestamp() - started) * 1000)::numeric);
        RETURN false;
    END IF;
    PERFORM _wh.create_daily_view(template_name, tenant_connection_name, target_schema, target_date, view_name,
                                  coalesce(create_mv_from_template.client_name, client));
    PERFORM _wh.sync_recent_day(template_name, target_schema, view_name, target_date);
    PERFORM _wh.record_capture(target_schema, template_name, target_date, _wh.count_rows(target_schema, view_name));
    PERFORM _wh.log_run(target_schema, tenant_connection_name, template_name, target_date, 'created',
                        _wh.count_rows(target_schema, view_name), (extract(epoch FROM clock_timestamp() - started) * 1000)::numeric);
    RETURN true;
END
$$;
-- sql/wh/16-windows.sql: Windows of days: transient errors, one day isolated, the window's check and finish, the SQL window.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- The errors worth a retry, one row each (THE list: _wh.is_transient_error reads it, and the module's
-- C# TransientErrors holds the same rows, checked by a test). kind 'sqlstate': the error's SQLSTATE.
-- kind 'marker': text that, in a connection error (class 08: dblink reports a refused remote
-- connection as 08001 "could not establish connection" with the server's words in the detail),
-- says the server refused for a passing reason: no free slot, or starting up.
CREATE OR REPLACE FUNCTION _wh.transient_error_rules()
RETURNS TABLE (kind text, value text)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    VALUES ('sqlstate', '53300'),   -- too_many_connections
           ('sqlstate', '57P03'),   -- cannot_connect_now: starting up, not yet accepting connections
           ('sqlstate', '40001'),   -- serialization_failure
           ('sqlstate', '40P01'),   -- deadlock_detected
           ('marker', 'remaining connection slots are reserved'),
           ('marker', 'sorry, too many clients already'),
           ('marker', 'the database system is starting up'),
           ('marker', 'the database system is not yet accepting connections')
$$;

-- True when an error (its SQLSTATE, and its message with the detail appended) is transient: worth
-- waiting a moment and trying the same day again (see transient_error_rules). Anything else is not.
CREATE OR REPLACE FUNCTION _wh.is_transient_error(sqlstate text, message text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT 1 FROM _wh.transient_error_rules() r
                   WHERE (r.kind = 'sqlstate' AND r.value = is_transient_error.sqlstate)
                      OR (r.kind = 'marker' AND left(is_transient_error.sqlstate, 2) = '08'
                          AND strpos(lower(coalesce(is_transient_error.message, '')), r.value) > 0))
$$;

-- True when an error says a source did not answer (libpq's connect_timeout or tcp_user_timeout ran out: SQLSTATE class
-- 08 with "timeout expired" or "timed out"), as opposed to one that answered "no": another try now would wait as long
-- again. The module's SourceProbe.IsNotAnswering is the same rule.
CREATE OR REPLACE FUNCTION _wh.is_not_answering(sqlstate text, message text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(left(is_not_answering.sqlstate, 2) = '08'
                    AND (strpos(lower(is_not_answering.message), 'timeout expired') > 0
                         OR strpos(lower(is_not_answering.message), 'timed out') > 0), false)
$$;

-- One day of a window, isolated in a subtransaction: on error the day is rolled back,
-- logged as 'failed' in run_log and returned as {"action":"failed","date","error","sqlstate"}.
-- A transient error (_wh.is_transient_error: no free connection slot on the source or the
-- warehouse, a server starting up, a serialization failure, a deadlock) is retried: 4 attempts
-- in all, waiting 0.2 s, 0.6 s, 1.8 s (at most 3 s; each with jitter, 50-100 %) in between, each
-- wait logged as 'retried' in run_log. Views are not rebuilt (the window does it once at the end).
-- The windows, the scheduled jobs and a DBA's psql all come through here.
CREATE OR REPLACE FUNCTION _wh.update_mv_day_isolated(template_name text, tenant_connection_name text, target_schema text,
                                                      target_date date, allow_refresh_yesterday boolean, force boolean)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    max_attempts constant integer := 4;
    started timestamptz := clock_timestamp();
    attempt integer := 0;
    pause   numeric;
    msg text;
    det text;
    st  text;
BEGIN
    LOOP
        attempt := attempt + 1;
        BEGIN
            RETURN _wh.update_mv_by_template(template_name, tenant_connection_name, target_schema, target_date,
                                             allow_refresh_yesterday, force, false);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, st = RETURNED_SQLSTATE;
        END;
        EXIT WHEN attempt >= max_attempts OR NOT _wh.is_transient_error(st, msg || ' ' || coalesce(det, ''));
        pause := round((least(3.0, 0.2 * power(3, attempt - 1)) * (0.5 + random() / 2))::numeric, 2);
        PERFORM _wh.log_run(target_schema, tenant_connection_name, template_name, target_date, 'retried', NULL,
                            (extract(epoch FROM clock_timestamp() - started) * 1000)::numeric,
                            format('attempt %s of %s: %s%s (transient, SQLSTATE %s); next attempt in %s s',
                                   attempt, max_attempts, msg, CASE WHEN coalesce(det, '') = '' THEN '' ELSE ': ' || det END, st, pause));
        PERFORM pg_sleep(pause);
    END LOOP;
    -- The detail is where libpq names the server and what went wrong ("connection to server at ..., port ... failed:
    -- timeout expired"): the run log keeps it.
    IF coalesce(det, '') <> '' THEN
        msg := msg || ': ' || det;
    END IF;
    IF attempt > 1 THEN
        msg := format('%s (%s attempts)', msg, attempt);
    END IF;
    PERFORM _wh.log_run(target_schema, tenant_connection_name, template_name, target_date, 'failed', NULL,
                        (extract(epoch FROM clock_timestamp() - started) * 1000)::numeric, msg, st);
    RETURN jsonb_build_object('action', 'failed', 'date', target_date, 'error', msg, 'sqlstate', st);
END
$$;

-- Validates a window's arguments (and registers the tenant) before any day is touched.
CREATE OR REPLACE FUNCTION _wh.check_window(template_name text, tenant_connection_name text, target_schema text,
                                            start_date date, end_date date)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _wh.assert_template_exists(template_name);
    PERFORM _wh.assert_tenant_schema(target_schema);
    IF start_date IS NULL OR end_date IS NULL THEN
        RAISE EXCEPTION 'start_date and end_date are required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF start_date > end_date THEN
        RAISE EXCEPTION 'reversed date range: start_date % is after end_date %', start_date, end_date
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM _wh.assert_target_date(start_date, target_schema);
    PERFORM _wh.assert_target_date(end_date, target_schema);
    PERFORM _wh.ensure_tenant(tenant_connection_name, target_schema, NULL);
    -- A window of more than compact_after_days() closed days loads them straight into the compacted table.
    PERFORM _wh.compact_closed_days(template_name, target_schema, true, false,
        (SELECT count(*)::integer FROM generate_series(start_date, least(end_date, _wh.tenant_today(target_schema) - 2), interval '1 day') g
         WHERE _wh.daily_relkind(target_schema, _wh.create_mv_name(template_name, g::date)) IS NULL));
END
$$;

-- Adds one day's result to a window summary.
CREATE OR REPLACE FUNCTION _wh.add_to_summary(summary jsonb, day_result jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN day_result->>'action' = 'failed'
                THEN jsonb_set(summary, '{failures}', (summary->'failures') || jsonb_build_array(
                         jsonb_build_object('date', day_result->'date', 'error', day_result->'error')))
                ELSE summary END
           || jsonb_build_object(day_result->>'action', coalesce((summary->>(day_result->>'action'))::bigint, 0) + 1)
$$;

-- The summary of a window before its first day: every action counted 0, no failure.
CREATE OR REPLACE FUNCTION _wh.empty_summary()
RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT '{"created":0,"refreshed":0,"skipped":0,"recreated":0,"failed":0,"failures":[]}'::jsonb $$;

-- Drops <template>_closed and <template>_recent of a tenant when they are empty and nothing reads them (a first window
-- whose every day failed made them: begin_window makes the closed table for a long window). Each is locked first
-- without waiting: a table another session is loading into, or one a view reads, is left as it is.
CREATE OR REPLACE FUNCTION _wh.drop_unused_days_tables(template_name text, target_schema text)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    days_table text;
    has_rows boolean;
    dropped integer := 0;
BEGIN
    FOREACH days_table IN ARRAY ARRAY[_wh.closed_table_name(template_name), _wh.recent_table_name(template_name)] LOOP
        CONTINUE WHEN pg_catalog.to_regclass(format('%I.%I', target_schema, days_table)) IS NULL;
        BEGIN
            EXECUTE format('LOCK TABLE %I.%I IN ACCESS EXCLUSIVE MODE NOWAIT', target_schema, days_table);
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I)', target_schema, days_table) INTO has_rows;
            IF NOT has_rows THEN
                EXECUTE format('DROP TABLE %I.%I', target_schema, days_table);
                dropped := dropped + 1;
            END IF;
        EXCEPTION WHEN lock_not_available OR dependent_objects_still_exist THEN
            NULL;  -- in use, or read by a view: not unused
        END;
    END LOOP;
    RETURN dropped;
END
$$;

-- End of a window: rebuilds the tenant view when days were created (or it does not include
-- the newest day) and the public view when it does not include the tenant. A failure here is
-- reported in the summary (failures[] with "date": null), not raised, so the days stay. A tenant
-- left with no day of the template and no view of it (every day of its first window failed)
-- gets no views, and the empty days tables the window made are dropped.
CREATE OR REPLACE FUNCTION _wh.finish_window(template_name text, target_schema text, end_date date, summary jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    msg text;
BEGIN
    IF NOT _wh.does_view_exist(target_schema, template_name)
       AND NOT EXISTS (SELECT 1 FROM _wh.daily_views v WHERE v.schema_name = target_schema AND v.template_name = finish_window.template_name) THEN
        -- The tenant has no day of this template and no view of it: a first window whose every day failed. It leaves
        -- nothing behind (no views, no empty days tables), and the tenant does not start using the template.
        PERFORM _wh.drop_unused_days_tables(template_name, target_schema);
        RETURN summary;
    END IF;
    BEGIN
        PERFORM _wh.compact_closed_days(template_name, target_schema, true, (summary->>'created')::bigint > 0);
        PERFORM _wh.retire_day_views(template_name, target_schema);
        IF (summary->>'created')::bigint > 0 OR NOT _wh.does_view_exist(target_schema, template_name) THEN
            PERFORM _wh.ensure_views_include(template_name, target_schema, NULL);
        ELSE
            PERFORM _wh.ensure_views_include(template_name, target_schema, _wh.create_mv_name(template_name, end_date));
        END IF;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
        RETURN jsonb_set(summary, '{failures}', (summary->'failures') || jsonb_build_array(
                   jsonb_build_object('date', NULL, 'error', 'view rebuild: ' || msg)));
    END;
    RETURN summary;
END
$$;

-- Updates every day from start_date to end_date (inclusive) with update_mv_by_template, each
-- day in its own subtransaction: a failing day is logged and reported, the others are kept.
-- A re-run does only what is missing (existing older days are skipped). The tenant and public
-- views are rebuilt once at the end. The whole call is ONE transaction: for long ranges use
-- CALL _wh.run_mv_window_by_template(...) (commits per day) or Invoke-WhMvBackfill.
-- Returns {"created","refreshed","skipped","recreated","failed","failures":[{"date","error"}],"duration_ms",...}.
CREATE OR REPLACE FUNCTION _wh.update_mv_window_by_template(template_name text, tenant_connection_name text, target_schema text,
                                                            start_date date, end_date date,
                                                            allow_refresh_yesterday boolean DEFAULT true, force boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    started timestamptz := clock_timestamp();
    summary jsonb := _wh.empty_summary();
    d date;
BEGIN
    PERFORM _wh.check_window(template_name, tenant_connection_name, target_schema, start_date, end_date);
    d := start_date;
    WHILE d <= end_date LOOP
        summary := _wh.add_to_summary(summary,
            _wh.update_mv_day_isolated(template_name, tenant_connection_name, target_schema, d, allow_refresh_yesterday, force));
        d := d + 1;
    END LOOP;
    summary := _wh.finish_window(template_name, target_schema, end_date, summary);
    RETURN summary || jsonb_build_object(
        'template', template_name, 'schema', target_schema, 'connection', tenant_connection_name,
        'start_date', start_date, 'end_date', end_date,
        'duration_ms', round((extract(epoch FROM clock_timestamp() - started) * 1000)::numeric, 1));
END
$$;

-- Same as update_mv_window_by_template, but COMMITs after every day, so a year-long range
-- neither exhausts the lock table nor loses finished days when interrupted. CALL it at top
-- level (not inside BEGIN ... COMMIT). Not SECURITY DEFINER and no SET clause: PostgreSQL
-- forbids COMMIT in such procedures; every name is schema-qualified instead, and the work is
-- done by SECURITY DEFINER functions. The summary comes back in the INOUT argument.
CREATE OR REPLACE PROCEDURE _wh.run_mv_window_by_template(template_name text, tenant_connection_name text, target_schema text,
                                                          start_date date, end_date date,
                                                          allow_refresh_yesterday boolean DEFAULT true, force boolean DEFAULT false,
                                                          INOUT summary jsonb DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    started timestamptz := pg_catalog.clock_timestamp();
    d date;
BEGIN
    PERFORM _wh.check_window(template_name, tenant_connection_name, target_schema, start_date, end_date);
    COMMIT;
    summary := _wh.empty_summary();
    d := start_date;
    WHILE d <= end_date LOOP
        summary := _wh.add_to_summary(summary,
            _wh.update_mv_day_isolated(template_name, tenant_connection_name, target_schema, d, allow_refresh_yesterday, force));
        COMMIT;
        d := d + 1;
    END LOOP;
    summary := _wh.finish_window(template_name, target_schema, end_date, summary);
    COMMIT;
    summary := summary || pg_catalog.jsonb_build_object(
        'template', template_name, 'schema', target_schema, 'connection', tenant_connection_name,
        'start_date', start_date, 'end_date', end_date,
        'duration_ms', pg_catalog.round((pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - started) * 1000)::numeric, 1));
END
$$;
-- sql/wh/17-tenant-lifecycle.sql: Tenant lifecycle: creation (_wh.create_tenant), removal and client names.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Creates a tenant in one step (New-WhTenant's, and psql's): its schema (whadmin's, readable by phood_ro), its
-- registration with its connection (which must exist: a row of _wh.tenant_connections), its time zone (NULL: the
-- session's), and for each template its tenant view and its place in the public view (built once each, by
-- update_tenant_union_view_by_template). Raises, changing nothing, when the schema is already a tenant. Returns
-- {"schema", "connection", "client_name", "time_zone", "views": [...]}. Call it in the caller's transaction.
CREATE OR REPLACE FUNCTION _wh.create_tenant(target_schema text, tenant_connection_name text, client_name text DEFAULT NULL,
                                             time_zone text DEFAULT NULL, template_names text[] DEFAULT '{}')
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tpl   text;
    views text[] := '{}'::text[];
    client text;
BEGIN
    PERFORM _wh.assert_tenant_schema(target_schema);
    PERFORM pg_advisory_xact_lock(hashtext('_wh.schema'), hashtext(target_schema));
    IF EXISTS (SELECT 1 FROM _wh.tenants t WHERE t.schema_name = target_schema) THEN
        RAISE EXCEPTION 'tenant % already exists', target_schema
            USING ERRCODE = 'duplicate_object', HINT = 'Set-WhTenant changes it; Remove-WhTenant removes it.';
    END IF;
    FOREACH tpl IN ARRAY coalesce(template_names, '{}'::text[]) LOOP
        PERFORM _wh.assert_template_exists(tpl);
    END LOOP;
    IF time_zone IS NOT NULL THEN
        PERFORM _wh.assert_time_zone(time_zone);
    END IF;
    client := _wh.ensure_tenant(tenant_connection_name, target_schema, client_name);
    IF time_zone IS NOT NULL THEN
        PERFORM _wh.set_tenant_time_zone(target_schema, time_zone);
    END IF;
    FOREACH tpl IN ARRAY coalesce(template_names, '{}'::text[]) LOOP
        views := views || _wh.update_tenant_union_view_by_template(tpl, tenant_connection_name, target_schema);
    END LOOP;
    RETURN jsonb_build_object('schema', target_schema, 'connection', tenant_connection_name, 'client_name', client,
                              'time_zone', time_zone, 'views', to_jsonb(views));
END
$$;

-- Removes a tenant in the safe order: unregister it and rebuild every public view without it
-- FIRST, then DROP SCHEMA ... CASCADE, then delete its connection (the trigger drops server
-- and mapping) when no other tenant uses it. Cron jobs are the caller's business. Idempotent:
-- running it again finishes an interrupted removal. Runs with the caller's rights (a schema
-- created by postgres can only be dropped by its owner or a superuser).
-- Returns {"schema","unregistered","public_views_rebuilt":[...],"schema_dropped","connection_removed"}.
CREATE OR REPLACE FUNCTION _wh.remove_tenant(target_schema text)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout FROM CURRENT
AS $$
DECLARE
    conn text;
    unregistered boolean := false;
    rebuilt text[];
    dropped boolean := false;
    conn_removed text;
BEGIN
    PERFORM _wh.assert_tenant_schema(target_schema);
    -- Waits at most lock_timeout behind a refresh or a BI query, then fails with nothing done.
    PERFORM set_config('lock_timeout', _wh.timeout_ms('lock_timeout')::text, true);
    BEGIN
        DELETE FROM _wh.tenants t WHERE t.schema_name = target_schema RETURNING t.connection_name INTO conn;
        unregistered := FOUND;
    EXCEPTION WHEN lock_not_available THEN
        RAISE EXCEPTION 'tenant %: one of its days is being loaded (a backfill holds its registration): waited lock_timeout (%); nothing was changed',
                        target_schema, current_setting('lock_timeout')
            USING ERRCODE = 'lock_not_available',
                  HINT = 'Run it again in a moment, or stop the backfill first: the backfill loads no more of its days once it is removed.';
    END;
    DELETE FROM _wh.day_state s WHERE s.schema_name = target_schema;
    rebuilt := _wh.rebuild_public_views(target_schema);
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = target_schema) THEN
        BEGIN
            EXECUTE format('DROP SCHEMA %I CASCADE', target_schema);
        EXCEPTION WHEN insufficient_privilege THEN
            -- A schema made by hand by another role (the guide's SQL as a superuser): its owner must hand it over.
            RAISE EXCEPTION 'tenant %: schema % is owned by %, and only its owner can drop it; nothing was changed', target_schema, target_schema,
                            (SELECT pg_catalog.pg_get_userbyid(n.nspowner) FROM pg_catalog.pg_namespace n WHERE n.nspname = target_schema)
                USING ERRCODE = 'insufficient_privilege',
                      HINT = format('As its owner or the admin: ALTER SCHEMA %I OWNER TO whadmin; then remove the tenant again (Remove-WhTenant, or SELECT _wh.remove_tenant(%L)).', target_schema, target_schema);
        WHEN lock_not_available THEN
            RAISE EXCEPTION 'tenant %: its views are in use (a refresh or a long query): waited lock_timeout (%) to drop them; nothing was changed',
                            target_schema, current_setting('lock_timeout')
                USING ERRCODE = 'lock_not_available',
                      HINT = 'Run it again when they have finished (pg_stat_activity shows them), or raise _wh.warehouse_info lock_timeout.';
        END;
        dropped := true;
    END IF;
    IF conn IS NOT NULL AND NOT EXISTS (SELECT 1 FROM _wh.tenants t WHERE t.connection_name = conn) THEN
        DELETE FROM _wh.tenant_connections c WHERE c.tenant_name = conn RETURNING c.tenant_name INTO conn_removed;
    END IF;
    IF unregistered OR dropped THEN
        PERFORM _wh.log_run(target_schema, conn, NULL, NULL, 'dropped', NULL, NULL, NULL);
    END IF;
    RETURN jsonb_build_object('schema', target_schema, 'unregistered', unregistered,
                              'public_views_rebuilt', to_jsonb(rebuilt), 'schema_dropped', dropped,
                              'connection_removed', conn_removed);
END
$$;

-- Sets a tenant's client name and rebuilds its tenant views so the client column shows it
-- (the public views read the tenant views: no change needed there). Raises for an unknown
-- tenant. Returns {"schema","client_name","views":[...]}.
CREATE OR REPLACE FUNCTION _wh.set_client_name(target_schema text, client_name text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tname text;
    views text[] := '{}'::text[];
BEGIN
    IF client_name IS NULL OR btrim(client_name) = '' THEN
        RAISE EXCEPTION 'client name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE _wh.tenants t SET client_name = set_client_name.client_name WHERE t.schema_name = target_schema;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant schema % is not registered', coalesce(quote_literal(target_schema), 'NULL')
            USING ERRCODE = 'undefined_object';
    END IF;
    FOR tname IN SELECT t.template_name FROM _wh.mv_templates t ORDER BY 1 LOOP
        IF _wh.does_view_exist(target_schema, tname) THEN
            PERFORM _wh.lock_tenant_view(target_schema, tname);
            IF _wh.rebuild_tenant_view(tname, target_schema) THEN
                PERFORM _wh.update_public_view_by_template(tname);
            END IF;
            views := views || format('%I.%I', target_schema, tname);
        END IF;
    END LOOP;
    RETURN jsonb_build_object('schema', target_schema, 'client_name', client_name, 'views', to_jsonb(views));
END
$$;
-- sql/wh/18-retention.sql: Retention: dropping a range of days.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Drops the daily views of one tenant's template whose date lies in [start_date, end_date]
-- (NULL = unbounded on that side), and deletes their rows from the tables the tenant view reads
-- (<template>_recent, <template>_closed) IN THE SAME TRANSACTION: readers see the old set of
-- days or the new one, and no view definition changes (the tenant and public views are built
-- only when missing). Locks in the usual order (each daily view, then the tenant view). One run_log row 'dropped' per
-- view. A cron job can call it for retention:
--   SELECT _wh.drop_mv_range_by_template('foodlogstats', 'tenant_a', NULL, _wh.tenant_today('tenant_a') - 181);
-- Returns {"template","schema","dropped":[{"view","date"}],"count"}.
CREATE OR REPLACE FUNCTION _wh.drop_mv_range_by_template(template_name text, target_schema text, start_date date, end_date date)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    conn     text;
    victim   record;
    victims  text[] := '{}'::text[];
    kinds    "char"[] := '{}'::"char"[];
    dates    date[] := '{}'::date[];
    dropped  jsonb := '[]'::jsonb;
    need_public boolean;
BEGIN
    PERFORM _wh.assert_template_exists(template_name);
    PERFORM _wh.assert_tenant_schema(target_schema);
    IF start_date IS NOT NULL AND end_date IS NOT NULL AND start_date > end_date THEN
        RAISE EXCEPTION 'reversed date range: % is after %', start_date, end_date USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT t.connection_name INTO conn FROM _wh.tenants t WHERE t.schema_name = target_schema;

    FOR victim IN
        SELECT v.relation AS view_name, v.kind AS relkind, v.day
        FROM _wh.daily_views v
        WHERE v.schema_name = target_schema AND v.template_name = drop_mv_range_by_template.template_name
          AND v.day BETWEEN coalesce(start_date, '-infinity'::date) AND coalesce(end_date, 'infinity'::date)
        ORDER BY v.relation
    LOOP
        PERFORM _wh.lock_daily_view(target_schema, victim.view_name);
        victims := victims || victim.view_name;
        kinds := kinds || victim.relkind;
        dates := dates || victim.day;
        dropped := dropped || jsonb_build_object('view', format('%I.%I', target_schema, victim.view_name), 'date', victim.day);
    END LOOP;
    IF cardinality(victims) = 0 THEN
        RETURN jsonb_build_object('template', template_name, 'schema', target_schema, 'dropped', dropped, 'count', 0);
    END IF;

    -- The tenant view reads its members' rows: the victims leave it with their rows, below.
    need_public := NOT _wh.does_view_exist(target_schema, template_name);
    IF need_public THEN
        PERFORM _wh.lock_tenant_view(target_schema, template_name);
        PERFORM _wh.rebuild_tenant_view(template_name, target_schema);
    END IF;

    FOR i IN 1 .. cardinality(victims) LOOP
        IF kinds[i] IN ('v', 't') THEN
            -- A compacted day: its view (none when older than day_relation_days) and its rows of the compacted table.
            IF kinds[i] = 'v' THEN
                EXECUTE format('DROP VIEW %I.%I', target_schema, victims[i]);
            END IF;
            EXECUTE format('DELETE FROM %I.%I WHERE _wh_day = $1', target_schema, _wh.closed_table_name(template_name)) USING dates[i];
        ELSE
            EXECUTE format('DROP MATERIALIZED VIEW %I.%I', target_schema, victims[i]);
            PERFORM _wh.sync_recent_day(template_name, target_schema, victims[i], dates[i]);
        END IF;
        DELETE FROM _wh.day_state s WHERE s.schema_name = target_schema AND s.template_name = drop_mv_range_by_template.template_name AND s.day = dates[i];
        PERFORM _wh.log_run(target_schema, conn, template_name, dates[i], 'dropped', NULL, NULL, NULL);
    END LOOP;
    IF need_public OR NOT _wh.view_references('public', template_name, target_schema, template_name) THEN
        PERFORM _wh.update_public_view_by_template(template_name);
    END IF;
    RETURN jsonb_build_object('template', template_name, 'schema', target_schema, 'dropped', dropped, 'count', cardinality(victims));
END
$$;

-- Drops one tenant's part of a template (CALL _wh.remove_template, Remove-WhTemplate): its tenant view, every daily
-- view of the template (each under its day lock, each logged 'dropped'), then the tables the tenant view read
-- (<template>_closed, <template>_recent). The public view must not read the tenant view any more (remove_template
-- drops it first). Idempotent. Returns the number of daily views dropped.
CREATE OR REPLACE FUNCTION _wh.remove_template_from_tenant(template_name text, target_schema text)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
DECLARE
    day record;
    conn text := (SELECT t.connection_name FROM _wh.tenants t WHERE t.schema_name = target_schema);
    dropped integer := 0;
BEGIN
    PERFORM _wh.assert_tenant_schema(target_schema);
    EXECUTE format('DROP VIEW IF EXISTS %I.%I', target_schema, template_name);
    FOR day IN
        SELECT v.relation, v.day FROM _wh.daily_views v
        WHERE v.schema_name = target_schema AND v.template_name = remove_template_from_tenant.template_name
        ORDER BY v.day
    LOOP
        PERFORM _wh.lock_daily_view(target_schema, day.relation);
        CASE _wh.daily_relkind(target_schema, day.relation)
            WHEN 'v' THEN EXECUTE format('DROP VIEW %I.%I', target_schema, day.relation);  -- a compacted closed day
            WHEN 'm' THEN EXECUTE format('DROP MATERIALIZED VIEW %I.%I', target_schema, day.relation);
            WHEN 't' THEN  -- no relation: its rows go with the table, below; the catalog lists it from its day state
                DELETE FROM _wh.day_state s WHERE s.schema_name = target_schema
                   AND s.template_name = remove_template_from_tenant.template_name AND s.day = day.day;
            ELSE CONTINUE;  -- dropped meanwhile
        END CASE;
        PERFORM _wh.log_run(target_schema, conn, template_name, day.day, 'dropped', NULL, NULL, NULL);
        dropped := dropped + 1;
    END LOOP;
    EXECUTE format('DROP TABLE IF EXISTS %I.%I, %I.%I', target_schema, _wh.closed_table_name(template_name),
                   target_schema, _wh.recent_table_name(template_name));
    RETURN dropped;
END
$$;

-- Removes a template (Remove-WhTemplate's; psql: CALL _wh.remove_template('inventory_stats', force => true)): refuses
-- while daily views of it exist unless force; drops the public view first (BI loses the template at once, and it reads
-- the tenant views), then each tenant's part in a transaction of its own (remove_template_from_tenant), then the
-- template's row and day states, once no daily view of it is left (a day a cron job made meanwhile keeps the
-- template: the error says so). Interrupted, it is finished by running it again. CALL it at top level.
CREATE OR REPLACE PROCEDURE _wh.remove_template(template_name text, force boolean DEFAULT false)
LANGUAGE plpgsql
AS $$
DECLARE
    in_use bigint;
    schema_name text;
BEGIN
    PERFORM _wh.assert_template_exists(template_name);
    SELECT pg_catalog.count(*) INTO in_use FROM _wh.daily_views v WHERE v.template_name = remove_template.template_name;
    IF in_use > 0 AND NOT force THEN
        RAISE EXCEPTION 'template % still has % daily view(s)', template_name, in_use
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = format('Remove them first (Get-WhMv -Template %s | Remove-WhMv), or remove them with the template: CALL _wh.remove_template(%L, force => true);', template_name, template_name);
    END IF;
    EXECUTE pg_catalog.format('DROP VIEW IF EXISTS public.%I', template_name);
    COMMIT;
    FOR schema_name IN
        SELECT t.schema_name FROM _wh.tenants t
        WHERE pg_catalog.to_regclass(pg_catalog.format('%I.%I', t.schema_name, remove_template.template_name)) IS NOT NULL
           OR EXISTS (SELECT 1 FROM _wh.daily_views v WHERE v.schema_name = t.schema_name AND v.template_name = remove_template.template_name)
        ORDER BY 1
    LOOP
        PERFORM _wh.remove_template_from_tenant(template_name, schema_name);
        COMMIT;
    END LOOP;
    PERFORM _wh.forget_template(template_name);
    COMMIT;
END
$$;

-- The last step of remove_template: deletes the template's row and its day states, serialised with a template update
-- (FOR UPDATE); refuses when a daily view of it exists (one a cron job made during the removal).
CREATE OR REPLACE FUNCTION _wh.forget_template(template_name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    left_over bigint;
BEGIN
    PERFORM 1 FROM _wh.mv_templates m WHERE m.template_name = forget_template.template_name FOR UPDATE;
    SELECT count(*) INTO left_over FROM _wh.daily_views v WHERE v.template_name = forget_template.template_name;
    IF left_over > 0 THEN
        RAISE EXCEPTION '% daily view(s) of template % appeared while removing it', left_over, template_name
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'A cron job loads it: unschedule the job (Unregister-WhCronJob), then remove the template again.';
    END IF;
    DELETE FROM _wh.day_state s WHERE s.template_name = forget_template.template_name;
    DELETE FROM _wh.mv_templates m WHERE m.template_name = forget_template.template_name;
END
$$;
-- sql/wh/19-guide-legacy.sql: The guide's legacy API: its names and argument orders, on top of the routines above.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Creates daily view <base_view_name>_YYYY_MM_DD from the foodlogstats template. True when
-- created, false (NOTICE) when it already exists; errors are raised (the guide returned false).
CREATE OR REPLACE FUNCTION _wh.create_foodlogstats_mv(tenant_connection_name text, target_schema text, base_view_name text,
                                                      target_date date, client_name text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    started timestamptz := clock_timestamp();
    view_name text;
    client text;
BEGIN
    IF base_view_name = 'foodlogstats' OR base_view_name IS NULL THEN
        RETURN _wh.create_mv_from_template('foodlogstats', tenant_connection_name, target_schema, target_date, client_name);
    END IF;
    PERFORM _wh.assert_template_exists('foodlogstats');
    PERFORM _wh.assert_template_name(base_view_name);
    PERFORM _wh.assert_tenant_schema(target_schema);
    PERFORM _wh.assert_target_date(target_date);
    view_name := _wh.create_mv_name(base_view_name, target_date);
    client := _wh.ensure_tenant(tenant_connection_name, target_schema, client_name);
    PERFORM _wh.lock_daily_view(target_schema, view_name);
    IF _wh.does_mv_exist(target_schema, view_name) THEN
        RAISE NOTICE '%.% already exists', target_schema, view_name;
        RETURN false;
    END IF;
    PERFORM _wh.create_daily_view('foodlogstats', tenant_connection_name, target_schema, target_date, view_name,
                                  coalesce(create_foodlogstats_mv.client_name, client));
    PERFORM _wh.log_run(target_schema, tenant_connection_name, base_view_name, target_date, 'created',
                        _wh.count_rows(target_schema, view_name), (extract(epoch FROM clock_timestamp() - started) * 1000)::numeric);
    RETURN true;
END
$$;

-- Builds <schema>.<base_view_name> as a generic SELECT * UNION ALL of the schema's
-- <base_view_name>_YYYY_MM_DD materialized views in date order (legacy, non-template daily
-- views). NULL with a NOTICE when there are none. Returns the view name.
CREATE OR REPLACE FUNCTION _wh.update_generic_union_view(target_schema text, base_view_name text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parts text[];
BEGIN
    PERFORM _wh.assert_template_name(base_view_name);
    PERFORM _wh.assert_tenant_schema(target_schema);
    PERFORM _wh.lock_tenant_view(target_schema, base_view_name);
    -- The daily names of the catalog before any join (_wh.daily_relations): legacy views need no template.
    SELECT array_agg(format('SELECT * FROM %I.%I', target_schema, r.relname) ORDER BY r.relname)
    INTO parts
    FROM _wh.daily_relations r
    JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
    WHERE n.nspname = target_schema AND r.kind = 'm' AND r.template_name = base_view_name;
    IF parts IS NULL THEN
        RAISE NOTICE 'no daily views %_YYYY_MM_DD in schema %: view not built', base_view_name, target_schema;
        RETURN NULL;
    END IF;
    PERFORM _wh.apply_view(target_schema, base_view_name, array_to_string(parts, E'\nUNION ALL\n'));
    RETURN format('%I.%I', target_schema, base_view_name);
END
$$;

-- Guide name: rebuilds <schema>.<base_view_name>. For a template, the template union view
-- (update_tenant_union_view_by_template, which also puts the tenant into the public view);
-- otherwise the generic union view of legacy daily views. Returns the view name.
CREATE OR REPLACE FUNCTION _wh.update_tenant_view(tenant_connection_name text, target_schema text, base_view_name text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM _wh.mv_templates t WHERE t.template_name = base_view_name) THEN
        RETURN _wh.update_tenant_union_view_by_template(base_view_name, tenant_connection_name, target_schema);
    END IF;
    PERFORM _wh.ensure_tenant(tenant_connection_name, target_schema, NULL);
    RETURN _wh.update_generic_union_view(target_schema, base_view_name);
END
$$;

-- Generic create-or-refresh-or-skip of <base_view_name>_YYYY_MM_DD with a caller-supplied
-- create function (text, text, text, date, text) -> boolean, resolved with to_regprocedure
-- and called through it (never by concatenating the text). A false result is an error.
-- A new day rebuilds the generic union view. Returns the same jsonb as update_mv_by_template.
CREATE OR REPLACE FUNCTION _wh.update_mv_core(tenant_connection_name text, target_schema text, target_date date,
                                              base_view_name text, create_function_name text,
                                              allow_refresh_yesterday boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    started timestamptz := clock_timestamp();
    fn regprocedure;
    fn_name text;
    view_name text;
    action text;
    ok boolean;
    nrows bigint;
    elapsed numeric;
BEGIN
    fn := to_regprocedure(create_function_name || '(text,text,text,date,text)');
    IF fn IS NULL THEN
        RAISE EXCEPTION 'create function %(text, text, text, date, text) does not exist', coalesce(create_function_name, 'NULL')
            USING ERRCODE = 'undefined_function', HINT = 'Give the schema-qualified name, e.g. ''_wh.create_inventory_stats_mv''.';
    END IF;
    IF fn = '_wh.create_foodlogstats_mv(text,text,text,date,text)'::regprocedure AND base_view_name = 'foodlogstats' THEN
        RETURN _wh.update_mv_by_template('foodlogstats', tenant_connection_name, target_schema, target_date, allow_refresh_yesterday);
    END IF;
    SELECT format('%I.%I', n.nspname, p.proname) INTO fn_name
    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = fn;

    PERFORM _wh.assert_template_name(base_view_name);
    PERFORM _wh.assert_tenant_schema(target_schema);
    PERFORM _wh.assert_target_date(target_date, target_schema);
    view_name := _wh.create_mv_name(base_view_name, target_date);
    PERFORM _wh.ensure_tenant(tenant_connection_name, target_schema, NULL);
    PERFORM _wh.lock_daily_view(target_schema, view_name);

    IF NOT _wh.does_mv_exist(target_schema, view_name) THEN
        -- Legacy create functions call dblink unqualified: let them find it in public
        -- (CREATE on public is revoked from PUBLIC, so this is safe). Restored on return.
        PERFORM set_config('search_path', 'pg_catalog, public, pg_temp', true);
        EXECUTE format('SELECT %s($1, $2, $3, $4, $5)', fn_name) INTO ok
            USING tenant_connection_name, target_schema, base_view_name, target_date, NULL::text;
        PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
        IF ok IS NOT TRUE THEN
            RAISE EXCEPTION '%(%, %, %, %) returned %: it did not create %.%', fn_name,
                quote_literal(tenant_connection_name), quote_literal(target_schema), quote_literal(base_view_name),
                target_date, coalesce(ok::text, 'NULL'), target_schema, view_name
                USING HINT = 'A legacy create function that ends in EXCEPTION WHEN OTHERS THEN RETURN FALSE hides the real error: remove that handler to see it.';
        END IF;
        IF NOT _wh.does_mv_exist(target_schema, view_name) THEN
            RAISE EXCEPTION '% returned true but %.% does not exist', fn_name, target_schema, view_name;
        END IF;
        EXECUTE format('GRANT SELECT ON %I.%I TO phood_ro', target_schema, view_name);
        action := 'created';
        PERFORM _wh.update_generic_union_view(target_schema, base_view_name);
    ELSIF target_date = _wh.tenant_today(target_schema)
          OR (allow_refresh_yesterday AND target_date = _wh.tenant_today(target_schema) - 1) THEN
        PERFORM _wh.refresh_daily_view(target_schema, view_name);
        action := 'refreshed';
    ELSE
        action := 'skipped';
    END IF;
    nrows := _wh.count_rows(target_schema, view_name);
    IF action <> 'skipped' THEN
        PERFORM _wh.record_capture(target_schema, base_view_name, target_date, nrows);
    END IF;
    elapsed := round((extract(epoch FROM clock_timestamp() - started) * 1000)::numeric, 1);
    PERFORM _wh.log_run(target_schema, tenant_connection_name, base_view_name, target_date, action, nrows, elapsed);
    RETURN jsonb_build_object('action', action, 'view', format('%I.%I', target_schema, view_name), 'rows', nrows,
                              'duration_ms', elapsed, 'template', base_view_name, 'schema', target_schema,
                              'connection', tenant_connection_name, 'date', target_date);
END
$$;

-- Guide name for update_mv_by_template('foodlogstats', ...): what the guide's cron jobs call.
CREATE OR REPLACE FUNCTION _wh.update_foodlogstats(tenant_connection_name text, target_schema text, target_date date,
                                                   allow_refresh_yesterday boolean DEFAULT true)
RETURNS jsonb
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT _wh.update_mv_by_template('foodlogstats', tenant_connection_name, target_schema, target_date, allow_refresh_yesterday) $$;

-- Runs an update function (text, text, date, boolean) -> jsonb for each day of a range, each
-- day in its own subtransaction (failures logged and reported). The default,
-- _wh.update_foodlogstats, is handled by update_mv_window_by_template('foodlogstats', ...).
-- Returns the same summary as update_mv_window_by_template. The guide's rebuild (drop every
-- pg_matviews entry, then this) cannot see compacted closed days (plain views over
-- <template>_closed): those in the range are skipped as existing, so a WARNING names them with
-- the call that rebuilds them too (force), and the summary lists them (skipped_compacted).
CREATE OR REPLACE FUNCTION _wh.update_mv_window(tenant_connection_name text, target_schema text, start_date date, end_date date,
                                                update_function_name text DEFAULT '_wh.update_foodlogstats')
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    started timestamptz := clock_timestamp();
    fn regprocedure;
    fn_name text;
    summary jsonb := _wh.empty_summary();
    r jsonb;
    d date;
    msg text;
    compacted date[];
BEGIN
    fn := to_regprocedure(update_function_name || '(text,text,date,boolean)');
    IF fn IS NULL THEN
        RAISE EXCEPTION 'update function %(text, text, date, boolean) does not exist', coalesce(update_function_name, 'NULL')
            USING ERRCODE = 'undefined_function', HINT = 'Give the schema-qualified name, e.g. ''_wh.update_inventory_stats''.';
    END IF;
    IF fn = '_wh.update_foodlogstats(text,text,date,boolean)'::regprocedure THEN
        SELECT pg_catalog.array_agg(v.day ORDER BY v.day) INTO compacted
        FROM _wh.daily_views v
        WHERE v.schema_name = target_schema AND v.template_name = 'foodlogstats' AND v.kind IN ('v', 't') AND v.day BETWEEN start_date AND end_date;
        summary := _wh.update_mv_window_by_template('foodlogstats', tenant_connection_name, target_schema, start_date, end_date);
        IF pg_catalog.cardinality(compacted) > 0 THEN
            RAISE WARNING '% day(s) of %.foodlogstats in % .. % are compacted (plain views over foodlogstats_closed, which pg_matviews and DROP MATERIALIZED VIEW do not see) and were skipped, not rebuilt: %',
                          pg_catalog.cardinality(compacted), target_schema, start_date, end_date,
                          pg_catalog.array_to_string(compacted[1:10], ', ') || CASE WHEN pg_catalog.cardinality(compacted) > 10 THEN ', ...' ELSE '' END
                USING HINT = format('To rebuild every day of the range, compacted ones too: SELECT _wh.update_mv_window_by_template(''foodlogstats'', %L, %L, %L, %L, force => true); (docs/operations.md: the guide''s SQL on compacted days)',
                                    tenant_connection_name, target_schema, start_date, end_date);
            summary := summary || jsonb_build_object('skipped_compacted', to_jsonb(compacted));
        END IF;
        RETURN summary;
    END IF;
    SELECT format('%I.%I', n.nspname, p.proname) INTO fn_name
    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = fn;
    PERFORM _wh.assert_tenant_schema(target_schema);
    IF start_date IS NULL OR end_date IS NULL OR start_date > end_date THEN
        RAISE EXCEPTION 'invalid date range % .. %', start_date, end_date USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM _wh.assert_target_date(start_date);
    PERFORM _wh.assert_target_date(end_date);

    d := start_date;
    WHILE d <= end_date LOOP
        BEGIN
            EXECUTE format('SELECT %s($1, $2, $3, $4)', fn_name) INTO r
                USING tenant_connection_name, target_schema, d, true;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
            PERFORM _wh.log_run(target_schema, tenant_connection_name, NULL, d, 'failed', NULL, NULL,
                                fn_name || ': ' || msg);
            r := jsonb_build_object('action', 'failed', 'date', d, 'error', msg);
        END;
        summary := _wh.add_to_summary(summary, coalesce(r, jsonb_build_object('action', 'skipped')));
        d := d + 1;
    END LOOP;
    RETURN summary || jsonb_build_object(
        'function', fn_name, 'schema', target_schema, 'connection', tenant_connection_name,
        'start_date', start_date, 'end_date', end_date,
        'duration_ms', round((extract(epoch FROM clock_timestamp() - started) * 1000)::numeric, 1));
END
$$;
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
-- sql/wh/21-checks.sql: Checks: fingerprints of a day on both sides, and the per-day comparison of a window with its source.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- The 64-bit hash of one row of a template's declared columns, over alias r, as an expression: the XOR of each column's
-- hash, each column hashed by its type's own extended hash function (the support function of its default hash
-- operator class, as hash partitioning uses: hashint8extended, hash_numeric_extended, timestamp_hash_extended, ...;
-- a type without one is hashed as text) with a seed of its own (seed * 1000 + its position), so that equal values in
-- different columns differ; a NULL column contributes its seed, not the hash of any value ('' and NULL differ). Values
-- are hashed, not their text: 1.50 and 1.5 are equal, a timestamptz is the same instant in any TimeZone. On the source
-- each column is first cast to its declared type (a no-op when the source has that type), as the day's load stores it.
DROP FUNCTION IF EXISTS _wh.fingerprint_row_expression(text, boolean);
CREATE OR REPLACE FUNCTION _wh.fingerprint_row_expression(template_name text, on_source boolean, seed integer)
RETURNS text
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT string_agg(format('coalesce(pg_catalog.%s(%s, %s), %s)',
                             coalesce(h.hash_function, 'hashtextextended'),
                             CASE WHEN h.hash_function IS NULL THEN format('(%s)::text', e.expr) ELSE e.expr END,
                             $3 * 1000 + c.ordinal, $3 * 1000 + c.ordinal),
                      ' # ' ORDER BY c.ordinal)
    FROM _wh.parse_column_definitions((SELECT t.column_definitions FROM _wh.mv_templates t
                                       WHERE t.template_name = $1)) c
    CROSS JOIN LATERAL (SELECT CASE WHEN $2 THEN format('(r.%I)::%s', c.column_name, c.data_type)
                                    ELSE format('r.%I', c.column_name) END AS expr) e
    LEFT JOIN LATERAL (
        SELECT p.amproc::regproc::text AS hash_function
        FROM pg_catalog.pg_opclass oc
        JOIN pg_catalog.pg_am am ON am.oid = oc.opcmethod AND am.amname = 'hash'
        JOIN pg_catalog.pg_amproc p ON p.amprocfamily = oc.opcfamily AND p.amprocnum = 2
                                   AND p.amproclefttype = oc.opcintype AND p.amprocrighttype = oc.opcintype
        WHERE oc.opcdefault AND oc.opcintype = to_regtype(c.data_type)
          AND p.amproc::regproc::text NOT LIKE '%.%'   -- built-in (pg_catalog) functions only: the source has them too
        LIMIT 1) h ON true
$$;

-- The query of a fingerprint over row_source (a relation or subquery with alias r; group_by: an expression of r to
-- fingerprint per value, e.g. r._wh_day, or NULL for one fingerprint): the row count and an order-independent
-- content hash, the sums of two 64-bit row hashes (hash0, hash1: fingerprint_row_expression with seeds 0 and 1;
-- summed exactly). Equal rows count as often as they occur; a changed value, an added and a deleted row change it
-- even when the count stays. Runs unchanged on the warehouse and, inside dblink, on the source (everything
-- pg_catalog-qualified).
DROP FUNCTION IF EXISTS _wh.fingerprint_sql(text, text, text);
CREATE OR REPLACE FUNCTION _wh.fingerprint_sql(row_source text, hash0 text, hash1 text, group_by text DEFAULT NULL)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('SELECT %s pg_catalog.count(*)::bigint AS n, '
                  'coalesce(pg_catalog.sum(f.h0), 0)::text || %L || coalesce(pg_catalog.sum(f.h1), 0)::text AS hash '
                  'FROM (SELECT %s %s AS h0, %s AS h1 FROM %s) f %s',
                  CASE WHEN $4 IS NULL THEN '' ELSE 'f.g AS g,' END, '/',
                  CASE WHEN $4 IS NULL THEN '' ELSE $4 || ' AS g,' END,
                  $2, $3, $1,
                  CASE WHEN $4 IS NULL THEN '' ELSE 'GROUP BY f.g' END)
$$;

-- The source's fingerprint query of a rendered template query (its trailing semicolons dropped), its columns named
-- as the template declares them (aliases) and hashed by hash0 and hash1 (fingerprint_row_expression on the source).
CREATE OR REPLACE FUNCTION _wh.source_fingerprint_sql(rendered_query text, aliases text, hash0 text, hash1 text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _wh.fingerprint_sql(format('(%s) AS r(%s)', regexp_replace(rendered_query, ';[\s;]*$', ''), aliases), hash0, hash1)
$$;

-- Compares each day from start_date to end_date of one tenant's template with its source, by fingerprint (row
-- count + content hash over the template's declared columns, computed on both sides: only fingerprints cross
-- dblink, over ONE source connection opened for this call; 92 days per round trip, sent asynchronously while the
-- warehouse computes its side; compacted days in one grouped scan of <template>_closed). Status per day:
--   Match   the warehouse holds exactly the source's rows (or neither has any);
--   Changed the warehouse's day differs (a changed value, an added or a deleted row, even with the same count);
--   Missing the source has rows for a day the warehouse lacks.
-- Changes no day: records each result in _wh.day_state and the run log (action 'checked'; error = what differed),
-- unless record_results is false (Repair-WhMv -WhatIf: then it writes nothing at all).
-- Raises (nothing recorded) when the source is unreachable or a date is in the future for the tenant.
DROP FUNCTION IF EXISTS _wh.check_mv_window_by_template(text, text, text, date, date);
CREATE OR REPLACE FUNCTION _wh.check_mv_window_by_template(template_name text, tenant_connection_name text, target_schema text,
                                                           start_date date, end_date date, record_results boolean DEFAULT true)
RETURNS TABLE (day date, status text, warehouse_rows bigint, source_rows bigint, checked_at timestamptz)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET extra_float_digits = 3
SET IntervalStyle = postgres
SET DateStyle = 'ISO, YMD'
AS $$
DECLARE
    tpl        _wh.mv_templates;
    registered text;
    srv        text;
    conn       text := 'wh_check_' || pg_backend_pid();
    src_hash0  text;
    src_hash1  text;
    wh_hash0   text;
    wh_hash1   text;
    aliases    text;
    closed     text := _wh.closed_table_name(template_name);
    at_time    timestamptz := _wh.now();
    src_days   date[] := '{}'::date[];
    src_counts bigint[] := '{}'::bigint[];
    src_hashes text[] := '{}'::text[];
    wh_days    date[] := '{}'::date[];
    wh_counts  bigint[] := '{}'::bigint[];
    wh_hashes  text[] := '{}'::text[];
    kinds      "char"[];
    parts      text[];
    per_day_source text;  -- the source's fingerprint query of one day, the day a value (NULL: rendered per day)
    chunk_end  date;
    d          date;
    rec_day    date;     -- one grouped fingerprint row: day, rows, hash (scalars: the row shape is dynamic)
    rec_rows   bigint;
    rec_hash   text;
    k          integer;
    wn bigint; wh text; sn bigint; sh text; st text;
    msg text;
BEGIN
    PERFORM _wh.assert_template_exists(template_name);
    PERFORM _wh.assert_tenant_schema(target_schema);
    IF start_date IS NULL OR end_date IS NULL THEN
        RAISE EXCEPTION 'start_date and end_date are required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF start_date > end_date THEN
        RAISE EXCEPTION 'reversed date range: start_date % is after end_date %', start_date, end_date
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT t.connection_name INTO registered FROM _wh.tenants t WHERE t.schema_name = target_schema;
    IF registered IS NULL THEN
        RAISE EXCEPTION 'tenant schema % is not registered', target_schema USING ERRCODE = 'undefined_object';
    ELSIF registered <> tenant_connection_name THEN
        RAISE EXCEPTION 'schema % is registered for connection %, not %', target_schema, registered, tenant_connection_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM _wh.assert_target_date(start_date, target_schema);
    PERFORM _wh.assert_target_date(end_date, target_schema);
    srv := _wh.get_tenant_connection_string(tenant_connection_name);
    SELECT * INTO tpl FROM _wh.mv_templates t WHERE t.template_name = check_mv_window_by_template.template_name;
    src_hash0 := _wh.fingerprint_row_expression(template_name, true, 0);
    src_hash1 := _wh.fingerprint_row_expression(template_name, true, 1);
    wh_hash0 := _wh.fingerprint_row_expression(template_name, false, 0);
    wh_hash1 := _wh.fingerprint_row_expression(template_name, false, 1);
    SELECT string_agg(format('%I', c.column_name), ', ' ORDER BY c.ordinal) INTO aliases
    FROM _wh.parse_column_definitions(tpl.column_definitions) c;
    -- A template whose every {TARGET_DATE} is the date literal '{TARGET_DATE}'::date (the guide's form) and that does
    -- not name its view: its source query is run for each day with the day as a value (wh_days.wh_day) instead of
    -- rendered once per day. Any other template: rendered per day, as its loads are.
    IF tpl.query_template !~ '\{VIEW_NAME\}'
       AND (SELECT count(*) FROM regexp_matches(tpl.query_template, '\{TARGET_DATE\}', 'g'))
         = (SELECT count(*) FROM regexp_matches(tpl.query_template, '''\{TARGET_DATE\}''::date\M', 'gi')) THEN
        per_day_source := _wh.source_fingerprint_sql(
            _wh.render_template_text(regexp_replace(tpl.query_template, '''\{TARGET_DATE\}''::date\M', '(wh_days.wh_day)', 'gi'),
                                     target_schema, _wh.create_mv_name(template_name, start_date), start_date),
            aliases, src_hash0, src_hash1);
    END IF;
    -- The kind of every day of the window ('m', 'v', 't' or NULL), read once; 'v' and 't' are rows of the compacted table.
    SELECT array_agg(_wh.daily_relkind(target_schema, _wh.create_mv_name(template_name, g::date)) ORDER BY g)
    INTO kinds FROM generate_series(start_date, end_date, interval '1 day') g;

    IF conn = ANY (coalesce(public.dblink_get_connections(), '{}')) THEN
        PERFORM public.dblink_disconnect(conn);
    END IF;
    BEGIN
        PERFORM public.dblink_connect(conn, srv);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
        RAISE EXCEPTION 'cannot check %.% against its source: connection % is unreachable: %', target_schema, template_name, tenant_connection_name, msg
            USING ERRCODE = 'connection_failure',
                  HINT = 'Test-WhTenantConnection shows why; check again once the source answers.';
    END;
    BEGIN
        -- Text of dates, floats and intervals the same on both sides whatever the servers' defaults are; the source's
        -- statements bounded (the setting check_statement_timeout, _wh.setting).
        PERFORM public.dblink_exec(conn, format('SET extra_float_digits = 3; SET IntervalStyle = postgres; SET DateStyle = ''ISO, YMD''; SET statement_timeout = %L',
            _wh.setting('check_statement_timeout')));
        d := start_date;
        WHILE d <= end_date LOOP
            chunk_end := least(end_date, d + 91);
            IF per_day_source IS NOT NULL THEN
                -- One query planned once, run for each day (planning 92 rendered copies cost 10x their execution).
                PERFORM public.dblink_send_query(conn, format(
                    'SELECT wh_days.wh_day AS d, fp.n, fp.hash FROM pg_catalog.unnest(%L::date[]) AS wh_days(wh_day) CROSS JOIN LATERAL (%s) fp',
                    ARRAY(SELECT g::date FROM generate_series(d, chunk_end, interval '1 day') g), per_day_source));
            ELSE
                parts := '{}';
                FOR k IN 0 .. chunk_end - d LOOP
                    parts := parts || format('(SELECT %L::date AS d, fp.n, fp.hash FROM (%s) fp)', d + k,
                        _wh.source_fingerprint_sql(
                            _wh.render_template_text(tpl.query_template, target_schema, _wh.create_mv_name(template_name, d + k), d + k),
                            aliases, src_hash0, src_hash1));
                END LOOP;
                PERFORM public.dblink_send_query(conn, array_to_string(parts, E'\nUNION ALL\n'));
            END IF;

            -- Meanwhile the warehouse's side of the same days: compacted days in one grouped scan, the others one by one.
            IF kinds[d - start_date + 1 : chunk_end - start_date + 1] && ARRAY['v', 't']::"char"[] THEN
                FOR rec_day, rec_rows, rec_hash IN EXECUTE _wh.fingerprint_sql(format('%I.%I AS r WHERE r._wh_day BETWEEN %L AND %L', target_schema, closed, d, chunk_end),
                                                       wh_hash0, wh_hash1, 'r._wh_day') LOOP
                    IF kinds[rec_day - start_date + 1] IN ('v', 't') THEN
                        wh_days := wh_days || rec_day;
                        wh_counts := wh_counts || rec_rows;
                        wh_hashes := wh_hashes || rec_hash;
                    END IF;
                END LOOP;
            END IF;
            FOR k IN 0 .. chunk_end - d LOOP
                IF kinds[d + k - start_date + 1] = 'm' THEN
                    EXECUTE _wh.fingerprint_sql(format('%I.%I AS r', target_schema, _wh.create_mv_name(template_name, d + k)), wh_hash0, wh_hash1) INTO wn, wh;
                    wh_days := wh_days || (d + k);
                    wh_counts := wh_counts || wn;
                    wh_hashes := wh_hashes || wh;
                END IF;
            END LOOP;

            FOR rec_day, rec_rows, rec_hash IN SELECT * FROM public.dblink_get_result(conn) AS t(d date, n bigint, hash text) LOOP
                src_days := src_days || rec_day;
                src_counts := src_counts || rec_rows;
                src_hashes := src_hashes || rec_hash;
            END LOOP;
            PERFORM * FROM public.dblink_get_result(conn) AS t(d date, n bigint, hash text);
            d := chunk_end + 1;
        END LOOP;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
        PERFORM public.dblink_disconnect(conn);
        RAISE EXCEPTION 'checking %.% from % to % against its source failed: %', target_schema, template_name, start_date, end_date, msg
            USING ERRCODE = 'external_routine_exception';
    END;
    PERFORM public.dblink_disconnect(conn);

    d := start_date;
    WHILE d <= end_date LOOP
        k := array_position(src_days, d);
        sn := src_counts[k];
        sh := src_hashes[k];
        k := array_position(wh_days, d);
        IF kinds[d - start_date + 1] IS NULL THEN
            wn := NULL;
            st := CASE WHEN coalesce(sn, 0) > 0 THEN 'Missing' ELSE 'Match' END;
        ELSE
            -- A compacted day without rows has no group: zero rows, the empty hash.
            wn := coalesce(wh_counts[k], 0);
            wh := coalesce(wh_hashes[k], '0/0');
            st := CASE WHEN wn = sn AND wh = sh THEN 'Match' ELSE 'Changed' END;
        END IF;
        IF record_results THEN
            IF wn IS NOT NULL OR st <> 'Match' THEN
                PERFORM _wh.record_check(target_schema, template_name, d, st, wn, sn, at_time);
            END IF;
            PERFORM _wh.log_run(target_schema, tenant_connection_name, template_name, d, 'checked', sn, NULL,
                CASE WHEN st = 'Changed' THEN format('Changed: the warehouse holds %s rows, the source %s; their contents differ', wn, sn)
                     WHEN st = 'Missing' THEN format('Missing: the source has %s rows, the warehouse has no day', sn) END);
        END IF;
        day := d;
        status := st;
        warehouse_rows := wn;
        source_rows := sn;
        checked_at := at_time;
        RETURN NEXT;
        d := d + 1;
    END LOOP;
END
$$;
-- sql/wh/22-scheduled-refresh.sql: The scheduled refresh (_wh.refresh_recent_by_template) and the run log's retention.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Never waits: one day of a scheduled refresh through update_mv_day_isolated (failures logged there, in a
-- subtransaction), unless another session holds the day (a backfill, a repair, another job): then 'skipped' with
-- "busy" in the run log, left for the next run.
CREATE OR REPLACE FUNCTION _wh.refresh_day_unless_busy(template_name text, tenant_connection_name text, target_schema text,
                                                       target_date date, force boolean)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT _wh.try_lock_daily_view(target_schema, _wh.create_mv_name(template_name, target_date)) THEN
        PERFORM _wh.log_run(target_schema, tenant_connection_name, template_name, target_date, 'skipped', NULL, NULL,
                            'busy: another session holds this day; left for the next run');
        RETURN jsonb_build_object('action', 'skipped', 'date', target_date, 'busy', true);
    END IF;
    RETURN _wh.update_mv_day_isolated(template_name, tenant_connection_name, target_schema, target_date, true, force);
END
$$;

-- THE repair of one day, the one place that logs 'repaired' (the scheduled refresh's step 3b; Repair-WhMv through the
-- module's backfill): the day is loaded again from its source with force (re-created beside the old rows and swapped,
-- or created when missing) and, when it was, logged 'repaired' in the same transaction. wait false (the scheduled
-- refresh): never waits on a day another session holds and keeps the day's error in a subtransaction
-- (refresh_day_unless_busy: busy -> 'skipped', a failure logged and returned); wait true (the module, which retries
-- and logs a failure itself): waits for the day's lock and raises. Returns the day's result (update_mv_by_template's).
CREATE OR REPLACE FUNCTION _wh.repair_day(template_name text, tenant_connection_name text, target_schema text,
                                          target_date date, wait boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result jsonb;
BEGIN
    IF wait THEN
        result := _wh.update_mv_by_template(template_name, tenant_connection_name, target_schema, target_date, true, true, false);
    ELSE
        result := _wh.refresh_day_unless_busy(template_name, tenant_connection_name, target_schema, target_date, true);
    END IF;
    IF result->>'action' IN ('created', 'recreated') THEN
        PERFORM _wh.log_run(target_schema, tenant_connection_name, template_name, target_date, 'repaired',
                            (result->>'rows')::bigint, (result->>'duration_ms')::numeric);
    END IF;
    RETURN result;
END
$$;

-- How long the run log keeps its rows: the setting run_log_retention_days (_wh.setting).
CREATE OR REPLACE FUNCTION _wh.run_log_retention_days()
RETURNS integer
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _wh.setting('run_log_retention_days')::integer
$$;

-- Deletes run-log rows older than run_log_retention_days() (on _wh.now()'s clock); returns how many.
-- The scheduled refresh calls it once a day (warehouse_info 'run_log_pruned_on').
CREATE OR REPLACE FUNCTION _wh.prune_run_log()
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    DELETE FROM _wh.run_log r WHERE r.logged_at < _wh.now() - make_interval(days => _wh.run_log_retention_days());
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO _wh.warehouse_info (key, value) VALUES ('run_log_pruned_on', _wh.today_in(NULL)::text)
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
    RETURN n;
END
$$;

-- THE scheduled refresh of one tenant's template (what Register-WhCronJob schedules; pg_cron CALLs it). COMMITs
-- after every step, so a failed day does not undo the others; every day on the tenant's clock (_wh.tenant_today):
--   1. today is created or refreshed;
--   2. yesterday is refreshed once after it has ended: whenever it is missing or its last capture
--      (_wh.day_state.captured_at) was before its midnight;
--   3. at most once a day per tenant and template (warehouse_info 'lookback_checked:<schema>.<template>'), the
--      lookback_days closed days before yesterday are checked against the source (check_mv_window_by_template,
--      which records each day's status in _wh.day_state); then, on every run, every closed day known to differ
--      (however old, a repair left busy or interrupted included) is loaded again (_wh.repair_day: force, readers see
--      the old rows or the new, never none; each logged 'repaired'); lookback_days = 0 turns both off;
--   4. once a day the run log is pruned (prune_run_log), then the tenant and public views are made to include
--      the days (finish_window, which also compacts closed days when due).
-- Never waits on a day another session holds (skipped, "busy" in the run log). Each step runs under
-- lock_timeout (the setting job_lock_timeout, _wh.setting); the check's source statements under
-- check_statement_timeout (a statement_timeout set inside a procedure does not bound the CALL itself). Raises at the end, after committing what
-- worked, when a day failed, so pg_cron records the run as failed. CALL it at top level (not in a transaction
-- block). Not SECURITY DEFINER and no SET clause (PostgreSQL forbids COMMIT then): everything schema-qualified.
CREATE OR REPLACE PROCEDURE _wh.refresh_recent_by_template(template_name text, tenant_connection_name text, target_schema text,
                                                           lookback_days integer DEFAULT 7, INOUT summary jsonb DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    started   timestamptz := pg_catalog.clock_timestamp();
    zone      text;
    today     date;
    yesterday date;
    captured  timestamptz;
    check_key text := 'lookback_checked:' || target_schema || '.' || template_name;
    lock_wait text;
    differing date[] := '{}'::date[];
    result    jsonb;
    msg       text;
    d         date;
    not_answering boolean := false;
BEGIN
    IF lookback_days IS NULL OR lookback_days < 0 OR lookback_days > 366 THEN
        RAISE EXCEPTION 'lookback_days must be between 0 and 366 (got %)', lookback_days USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM _wh.assert_template_exists(template_name);
    PERFORM _wh.assert_tenant_schema(target_schema);
    PERFORM _wh.ensure_tenant(tenant_connection_name, target_schema, NULL);
    zone := _wh.tenant_time_zone(target_schema);
    today := _wh.today_in(zone);
    yesterday := today - 1;
    lock_wait := _wh.setting('job_lock_timeout');
    COMMIT;
    summary := _wh.empty_summary();

    -- 1. Today. A source that did not answer (connect_timeout, or a network path gone) is not asked again in this run:
    -- steps 2 and 3 are left for the next run, which costs the tenant one timeout, not one per day.
    PERFORM pg_catalog.set_config('lock_timeout', lock_wait, true);
    result := _wh.refresh_day_unless_busy(template_name, tenant_connection_name, target_schema, today, false);
    summary := _wh.add_to_summary(summary, result);
    not_answering := result->>'action' = 'failed' AND _wh.is_not_answering(result->>'sqlstate', result->>'error');
    COMMIT;

    -- 2. Yesterday, once after it ended.
    SELECT s.captured_at INTO captured FROM _wh.day_state s
    WHERE s.schema_name = target_schema AND s.template_name = refresh_recent_by_template.template_name AND s.day = yesterday;
    IF NOT not_answering AND (_wh.daily_relkind(target_schema, _wh.create_mv_name(template_name, yesterday)) IS NULL
       OR captured IS NULL OR captured < _wh.day_end(yesterday, zone)) THEN
        PERFORM pg_catalog.set_config('lock_timeout', lock_wait, true);
        summary := _wh.add_to_summary(summary, _wh.refresh_day_unless_busy(template_name, tenant_connection_name, target_schema, yesterday, false));
        COMMIT;
    END IF;

    -- 3. Once a day: the closed days of the lookback window against the source; each day's result is recorded in
    -- _wh.day_state (check_status), which is what step 3b repairs from.
    IF lookback_days > 0 AND NOT not_answering
       AND (SELECT i.value FROM _wh.warehouse_info i WHERE i.key = check_key) IS DISTINCT FROM today::text THEN
        BEGIN
            PERFORM pg_catalog.set_config('lock_timeout', lock_wait, true);
            PERFORM pg_catalog.count(*) FROM _wh.check_mv_window_by_template(template_name, tenant_connection_name, target_schema,
                                                                             yesterday - lookback_days, yesterday - 1);
            INSERT INTO _wh.warehouse_info (key, value) VALUES (check_key, today::text)
            ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
            PERFORM _wh.log_run(target_schema, tenant_connection_name, template_name, NULL, 'failed', NULL, NULL,
                                'daily check of the closed days: ' || msg);
            summary := pg_catalog.jsonb_set(summary, '{failures}', (summary->'failures') || pg_catalog.jsonb_build_array(
                           pg_catalog.jsonb_build_object('date', NULL, 'error', 'daily check: ' || msg)));
        END;
        COMMIT;
    END IF;

    -- 3b. Every run: every closed day known to differ from its source is loaded again, however old (a day that left the
    -- lookback window before its repair included), and a day left busy or interrupted by a crash stays known until
    -- a run repairs it: the load's capture clears the day's check status (record_capture), nothing else does.
    IF lookback_days > 0 AND NOT not_answering THEN
        SELECT coalesce(pg_catalog.array_agg(s.day ORDER BY s.day), '{}'::date[]) INTO differing
        FROM _wh.day_state s
        WHERE s.schema_name = target_schema AND s.template_name = refresh_recent_by_template.template_name
          AND s.check_status IN ('Changed', 'Missing') AND s.day < yesterday;
        FOREACH d IN ARRAY differing LOOP
            PERFORM pg_catalog.set_config('lock_timeout', lock_wait, true);
            summary := _wh.add_to_summary(summary, _wh.repair_day(template_name, tenant_connection_name, target_schema, d, false));
            COMMIT;
        END LOOP;
    END IF;

    -- 4. Housekeeping, then the views.
    IF (SELECT i.value FROM _wh.warehouse_info i WHERE i.key = 'run_log_pruned_on') IS DISTINCT FROM _wh.today_in(NULL)::text THEN
        PERFORM _wh.prune_run_log();
        COMMIT;
    END IF;
    summary := _wh.finish_window(template_name, target_schema, today, summary);
    COMMIT;
    summary := summary || pg_catalog.jsonb_build_object(
        'template', template_name, 'schema', target_schema, 'connection', tenant_connection_name,
        'today', today, 'checked', lookback_days > 0, 'differing', pg_catalog.to_jsonb(differing),
        'duration_ms', pg_catalog.round((pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - started) * 1000)::numeric, 1));
    IF pg_catalog.jsonb_array_length(summary->'failures') > 0 THEN
        RAISE EXCEPTION 'refresh of %.%: % failure(s), the other days are kept: %', target_schema, template_name,
            pg_catalog.jsonb_array_length(summary->'failures'), summary->'failures'
            USING HINT = 'SELECT * FROM _wh.run_log WHERE action = ''failed'' ORDER BY logged_at DESC shows them; the next run retries.';
    END IF;
END
$$;

-- True when a pg_cron job's target (cron.job's nodename, nodeport: where pg_cron connects to run it) is this server: its
-- port, and, when the session may read cron.host (a superuser, pg_read_all_settings), that host. A warehouse restored
-- from a dump onto another server keeps its jobs' old targets, and they would run against the old warehouse.
CREATE OR REPLACE FUNCTION _wh.cron_job_targets_here(nodename text, nodeport integer)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT nodeport = current_setting('port')::integer
       AND (NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)
                 AND NOT pg_catalog.pg_has_role(current_user, 'pg_read_all_settings', 'MEMBER')
            OR nodename IS NOT DISTINCT FROM coalesce(current_setting('cron.host', true), 'localhost'))
$$;

-- Schedules again, on this server, every pg_cron job of the current user whose target is another server (a restore, a
-- move): same name, schedule, command, database and paused state; pg_cron 1.4 cannot change a job's target, so the job
-- is unscheduled and scheduled again (a new job id; its run history stays). Called by every run of functions.sql and by
-- Register-WhCronJob. Returns the names of the jobs moved. Nothing to do without pg_cron.
CREATE OR REPLACE FUNCTION _wh.retarget_cron_jobs()
RETURNS text[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job_id   bigint;
    job_name text;
    schedule text;
    command  text;
    database text;
    active   boolean;
    new_id   bigint;
    moved    text[] := ARRAY[]::text[];
BEGIN
    IF pg_catalog.to_regclass('cron.job') IS NULL
       OR pg_catalog.to_regprocedure('cron.schedule_in_database(text,text,text,text,text,boolean)') IS NULL
       OR NOT pg_catalog.has_function_privilege('cron.schedule_in_database(text,text,text,text,text,boolean)', 'EXECUTE') THEN
        RETURN moved;
    END IF;
    -- pg_cron's objects named through format: they exist only where pg_cron does (plpgsql_check reads constant strings).
    FOR job_id, job_name, schedule, command, database, active IN EXECUTE pg_catalog.format(
        'SELECT j.jobid, j.jobname, j.schedule, j.command, j.database, j.active FROM %I.%I j
         WHERE j.username = current_user AND j.jobname IS NOT NULL AND NOT _wh.cron_job_targets_here(j.nodename, j.nodeport) ORDER BY j.jobid',
        'cron', 'job')
    LOOP
        EXECUTE pg_catalog.format('SELECT %I.unschedule($1::bigint)', 'cron') USING job_id;
        EXECUTE pg_catalog.format('SELECT %I.schedule_in_database($1, $2, $3, $4)', 'cron') INTO new_id USING job_name, schedule, command, database;
        IF NOT active THEN
            EXECUTE pg_catalog.format('SELECT %I.alter_job($1, active => false)', 'cron') USING new_id;
        END IF;
        moved := moved || job_name;
    END LOOP;
    RETURN moved;
END
$$;
-- sql/wh/23-upgrades.sql: Upgrades that need the routines above (declared with '-- upgrade from < X:' lines, listed by Install-WhWarehouse -WhatIf).
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- upgrade from < 2.0.0: move the refresh jobs that Register-WhCronJob made (SELECT _wh.update_mv_by_template(..., CURRENT_DATE)) to CALL _wh.refresh_recent_by_template(..., 7), keeping name, schedule and paused state
-- Only whadmin's own jobs of exactly that form are moved (pg_cron lets a role alter only its own jobs); a job with
-- allow_refresh_yesterday => false, or any command a DBA wrote by hand, is left as it is.
DO $cron_jobs$
DECLARE
    job record;
    m text[];
BEGIN
    IF pg_catalog.to_regclass('cron.job') IS NULL
       OR pg_catalog.to_regprocedure('cron.alter_job(bigint,text,text,text,text,boolean)') IS NULL
       OR NOT pg_catalog.has_function_privilege('cron.alter_job(bigint,text,text,text,text,boolean)', 'EXECUTE') THEN
        RETURN;
    END IF;
    FOR job IN EXECUTE 'SELECT jobid, command FROM cron.job WHERE username = current_user ORDER BY jobid' LOOP
        m := pg_catalog.regexp_match(job.command,
            $re$^\s*SELECT _wh\.update_mv_by_template\((E?'(?:[^']|'')*'), (E?'(?:[^']|'')*'), (E?'(?:[^']|'')*'), CURRENT_DATE\)\s*;?\s*$$re$);
        CONTINUE WHEN m IS NULL;
        EXECUTE 'SELECT cron.alter_job($1, command => $2)'
            USING job.jobid, pg_catalog.format('CALL _wh.refresh_recent_by_template(%s, %s, %s, 7)', m[1], m[2], m[3]);
    END LOOP;
END
$cron_jobs$;

-- upgrade from < 2.1.0: tenant views read two tables (<template>_recent, a copy of the daily materialized views' rows, and <template>_closed) instead of one member per day, so routine work changes rows, never a view definition; vacuum_truncate off on the compacted tables
-- Idempotent: a tenant view that already reads <template>_recent is left alone (nothing re-created).
DO $fixed_members$
DECLARE
    pair record;
BEGIN
    FOR pair IN
        SELECT t.schema_name, m.template_name
        FROM _wh.tenants t CROSS JOIN _wh.mv_templates m
        WHERE _wh.does_view_exist(t.schema_name, m.template_name)
        ORDER BY 1, 2
    LOOP
        IF pg_catalog.to_regclass(format('%I.%I', pair.schema_name, _wh.closed_table_name(pair.template_name))) IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %I.%I SET (vacuum_truncate = off)', pair.schema_name, _wh.closed_table_name(pair.template_name));
        END IF;
        PERFORM _wh.ensure_views_include(pair.template_name, pair.schema_name, NULL);
    END LOOP;
END
$fixed_members$;

-- upgrade from < 2.2.0: whadmin's pg_cron jobs that target another server (a restore kept their old host and port) are scheduled again on this one
-- Every run: the current user's pg_cron jobs that target another server (a warehouse restored from a dump onto a new
-- server keeps its jobs' old host and port) are scheduled again on this one (_wh.retarget_cron_jobs).
DO $retarget$ BEGIN PERFORM _wh.retarget_cron_jobs(); END $retarget$;
-- sql/wh/24-privileges-and-version.sql: Privileges and version.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Nothing in _wh for PUBLIC (phood_ro, plain logins): no table, no function, no procedure.
REVOKE ALL ON SCHEMA _wh FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA _wh FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA _wh FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA _wh FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE whadmin REVOKE EXECUTE ON ROUTINES FROM PUBLIC;
-- Views and tables whadmin creates in public (the cross-tenant views) are readable by phood_ro. whadmin sets its own
-- default privileges (an admin could only with membership in whadmin).
ALTER DEFAULT PRIVILEGES FOR ROLE whadmin IN SCHEMA public GRANT SELECT ON TABLES TO phood_ro;
-- The module's statements are catalog reads and DDL whose cost estimates cross jit_above_cost, and JIT compilation
-- then costs ~0.4 s per statement: off for whadmin's sessions in this database (pg_cron's jobs included), as a role
-- setting, because a startup parameter does not pass a connection pooler (docs/deployment.md).
DO $jit$
BEGIN
    EXECUTE pg_catalog.format('ALTER ROLE whadmin IN DATABASE %I SET jit = off', pg_catalog.current_database());
END
$jit$;

-- Install-WhWarehouse records the checksum of the scripts it ran after this file ('installed_checksum'); a psql install
-- records none, and the module reads a psql install of this release (no checksum, this version) as up to date.
INSERT INTO _wh.warehouse_info (key, value) VALUES ('schema_version', '2.4.0')
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;

-- The version, readable from pg_catalog: a superuser session reads no _wh table (docs/security.md).
DO $version$
BEGIN
    EXECUTE format('COMMENT ON SCHEMA _wh IS %L',
        'PhoodWarehouse warehouse, schema version ' || (SELECT value FROM _wh.warehouse_info WHERE key = 'schema_version'));
END
$version$;
-- sql/wh/25-monitoring.sql: Monitoring without PowerShell: each tenant's freshness SLA, and the monitoring views that the
-- login phood_monitor reads (Prometheus' postgres_exporter, Grafana, any collector that runs SQL: docs/monitoring.md).
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).
--
-- The views live in whadmin's schema phood_monitor (the login's search_path, set by setup-database.sql) and read the
-- warehouse only through the _wh.monitor_* functions below (SECURITY DEFINER: they run as whadmin). phood_monitor gets
-- USAGE on that schema, SELECT on its views and EXECUTE on those functions (a view's functions are checked against
-- the user of the view); no USAGE on _wh, so it can name nothing else there. Each view answers with one row per
-- series: numbers as numbers, labels as text (what Grafana's SQL alerts and the exporter's custom queries want).

-- Sets (or with NULL clears, back to the warehouse's setting freshness_sla) how long after its day ends, on its clock,
-- a tenant's day must be finished; raises for an unknown tenant or a negative SLA or one of 7 days or more (a day
-- finished a week later is not monitored, it is lost). Returns {"schema","freshness_sla","effective"} (effective: the
-- SLA that applies, the tenant's or the warehouse's).
CREATE OR REPLACE FUNCTION _wh.set_tenant_freshness_sla(target_schema text, freshness_sla interval)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF freshness_sla IS NOT NULL AND (freshness_sla < interval '0' OR freshness_sla >= interval '7 days') THEN
        RAISE EXCEPTION 'freshness SLA % of tenant % is out of range', freshness_sla, target_schema
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give a duration from 00:00:00 up to 7 days, e.g. 02:00:00: how long after its day ends a tenant''s day must be finished.';
    END IF;
    UPDATE _wh.tenants t SET freshness_sla = set_tenant_freshness_sla.freshness_sla WHERE t.schema_name = target_schema;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant schema % is not registered', coalesce(quote_literal(target_schema), 'NULL')
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN jsonb_build_object('schema', target_schema, 'freshness_sla', freshness_sla,
                              'effective', _wh.tenant_freshness_sla(target_schema));
END
$$;

-- The freshness SLA that applies to a tenant: its own, else the warehouse's setting freshness_sla (else its default).
CREATE OR REPLACE FUNCTION _wh.tenant_freshness_sla(target_schema text)
RETURNS interval
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT t.freshness_sla FROM _wh.tenants t WHERE t.schema_name = target_schema),
                    _wh.setting('freshness_sla')::interval)
$$;

-- Monitoring: one row per tenant and template, from the freshness engine (_wh.freshness, its default window): status
-- (Get-WhMvFreshness' statuses), latest day, seconds late against the SLA (0 when on time), the window's missing,
-- partial, changed and failed days, how long the oldest changed day has been known to differ (seconds since the
-- check that found it; 0 when none), the latest capture, verification, success and failure (with its SQLSTATE).
-- A tenant with no template has one row with template ''.
CREATE OR REPLACE FUNCTION _wh.monitor_freshness()
RETURNS TABLE (tenant text, template text, status text, latest_day date, days_behind integer, freshness_sla_seconds numeric,
               seconds_late numeric, missing_days integer, partial_days integer, changed_days integer,
               changed_unrepaired_seconds numeric, failed_days integer,
               daily_views integer, last_capture timestamptz, last_verification timestamptz, last_success timestamptz,
               last_failure timestamptz, last_failure_sqlstate text, window_start date, today date)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
    SELECT f.tenant, coalesce(f.template, ''), f.status, f.latest_day, f.today - f.latest_day,
           round(extract(epoch FROM f.freshness_sla), 3), f.seconds_late,
           cardinality(f.missing), cardinality(f.partial), cardinality(f.changed),
           coalesce((SELECT round(greatest(extract(epoch FROM _wh.now() - min(s.last_checked_at)), 0), 3)
                     FROM _wh.day_state s
                     WHERE s.schema_name = f.tenant AND s.template_name = f.template AND s.day = ANY (f.changed)
                       AND s.check_status = 'Changed'), 0),
           cardinality(f.failed),
           f.daily_views, f.last_capture, f.last_verified, f.last_success, f.last_failure, f.last_sqlstate,
           f.window_start, f.today
    FROM _wh.freshness() f
$$;

-- Monitoring: the window's days per tenant, template and kind, one row each (kinds missing, partial, changed, failed;
-- loaded: every daily view the pair holds), for phood_days{tenant,template,status}. Pairs without a template: none.
CREATE OR REPLACE FUNCTION _wh.monitor_days()
RETURNS TABLE (tenant text, template text, status text, days integer)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
    SELECT f.tenant, f.template, k.status, k.days
    FROM _wh.freshness() f
    CROSS JOIN LATERAL (VALUES ('loaded', f.daily_views), ('missing', cardinality(f.missing)), ('partial', cardinality(f.partial)),
                               ('changed', cardinality(f.changed)), ('failed', cardinality(f.failed))) k(status, days)
    WHERE f.template IS NOT NULL
    ORDER BY 1, 2, 3
$$;

-- Monitoring: whadmin's pg_cron jobs (the warehouse's schedules; none without pg_cron): last run, its status and
-- duration, runs and failed runs in the last 24 hours. pg_cron is read through dynamic SQL: it may not be installed.
-- (Where there is nothing to read, an empty query rather than a bare RETURN: plpgsql_check warns of OUT columns left
-- unset on that path.)
CREATE OR REPLACE FUNCTION _wh.monitor_jobs()
RETURNS TABLE (job text, job_id bigint, schedule text, active boolean, last_run timestamptz, last_status text,
               last_duration_seconds numeric, runs_24h integer, failures_24h integer, last_failure timestamptz)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF to_regclass(format('%I.%I', 'cron', 'job')) IS NULL OR to_regclass(format('%I.%I', 'cron', 'job_run_details')) IS NULL THEN
        RETURN QUERY SELECT NULL::text, NULL::bigint, NULL::text, NULL::boolean, NULL::timestamptz, NULL::text, NULL::numeric,
                            NULL::integer, NULL::integer, NULL::timestamptz
                     WHERE false;
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT coalesce(j.jobname, ''job '' || j.jobid)::text, j.jobid, j.schedule, j.active, l.start_time, l.status,
                round(extract(epoch FROM l.end_time - l.start_time)::numeric, 3),
                coalesce(d.runs, 0)::integer, coalesce(d.failures, 0)::integer, d.last_failure
         FROM %1$I.%2$I j
         LEFT JOIN LATERAL (SELECT r.start_time, r.end_time, r.status FROM %1$I.%3$I r
                            WHERE r.jobid OPERATOR(pg_catalog.=) j.jobid ORDER BY r.start_time DESC NULLS LAST, r.runid DESC LIMIT 1) l ON true
         LEFT JOIN LATERAL (SELECT count(*) AS runs, count(*) FILTER (WHERE r.status OPERATOR(pg_catalog.=) ''failed'') AS failures,
                                   max(r.start_time) FILTER (WHERE r.status OPERATOR(pg_catalog.=) ''failed'') AS last_failure
                            FROM %1$I.%3$I r
                            WHERE r.jobid OPERATOR(pg_catalog.=) j.jobid
                              AND r.start_time OPERATOR(pg_catalog.>) (now() OPERATOR(pg_catalog.-) interval ''24 hours'')) d ON true
         WHERE j.username OPERATOR(pg_catalog.=) current_user
         ORDER BY 1', 'cron', 'job', 'job_run_details');
END
$$;

-- Monitoring: each streaming replica of this server (public.wh_streaming_replicas(), setup-database.sql): its name
-- (application_name, else its address), state, replay lag in seconds (0 when caught up) and in bytes. None when that
-- function is missing or not whadmin's to call (pg_stat_replication hides the lag from whadmin).
CREATE OR REPLACE FUNCTION _wh.monitor_replicas()
RETURNS TABLE (replica text, client_addr text, state text, sync_state text, replay_lag_seconds numeric,
               replay_lag_bytes numeric, hot_standby_feedback boolean)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fn regprocedure := to_regprocedure('public.wh_streaming_replicas()');
BEGIN
    IF fn IS NULL OR NOT has_function_privilege(fn, 'EXECUTE') THEN
        RETURN QUERY SELECT NULL::text, NULL::text, NULL::text, NULL::text, NULL::numeric, NULL::numeric, NULL::boolean WHERE false;
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT coalesce(nullif(r.application_name, ''''), r.client_addr, ''replica'')::text, r.client_addr, r.state, r.sync_state,
                round(coalesce(extract(epoch FROM r.replay_lag), 0)::numeric, 3), r.replay_lag_bytes, r.feedback_xmin
         FROM %I.%I() r', 'public', 'wh_streaming_replicas');
END
$$;

-- Monitoring: the warehouse in one row: schema version (a label), tenants, templates, daily views of registered
-- tenants, the run log's rows, bytes and oldest row, the warehouse's freshness SLA, and the run log retention.
CREATE OR REPLACE FUNCTION _wh.monitor_warehouse()
RETURNS TABLE (schema_version text, tenants integer, templates integer, daily_views integer, run_log_rows bigint,
               run_log_bytes bigint, run_log_oldest timestamptz, run_log_retention_days integer, freshness_sla_seconds numeric)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
    SELECT (SELECT i.value FROM _wh.warehouse_info i WHERE i.key = 'schema_version'),
           (SELECT count(*)::integer FROM _wh.tenants),
           (SELECT count(*)::integer FROM _wh.mv_templates),
           (SELECT count(*)::integer FROM _wh.daily_relations r
            JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
            JOIN _wh.tenants t ON t.schema_name = n.nspname
            JOIN _wh.mv_templates m ON m.template_name = r.template_name),
           (SELECT count(*) FROM _wh.run_log),
           pg_catalog.pg_total_relation_size('_wh.run_log'::regclass),
           (SELECT min(r.logged_at) FROM _wh.run_log r),
           _wh.run_log_retention_days(),
           round(extract(epoch FROM _wh.setting('freshness_sla')::interval), 3)
$$;

-- The monitoring schema: whadmin's, named like the login (no tenant can take a role's name, _wh.assert_new_name).
DO $schema$
BEGIN
    IF EXISTS (SELECT 1 FROM _wh.tenants t WHERE t.schema_name = 'phood_monitor') THEN
        RAISE EXCEPTION 'schema phood_monitor is a tenant''s: the monitoring views need that name'
            USING HINT = 'Rename the tenant (a new tenant from the same source, then Remove-WhTenant), then run functions.sql again.';
    END IF;
END
$schema$;
CREATE SCHEMA IF NOT EXISTS phood_monitor;
REVOKE ALL ON SCHEMA phood_monitor FROM PUBLIC;

-- Re-created on every run (a column may have changed), then granted again below.
DROP VIEW IF EXISTS phood_monitor.freshness;
DROP VIEW IF EXISTS phood_monitor.days;
DROP VIEW IF EXISTS phood_monitor.jobs;
DROP VIEW IF EXISTS phood_monitor.replicas;
DROP VIEW IF EXISTS phood_monitor.warehouse;
CREATE VIEW phood_monitor.freshness AS SELECT * FROM _wh.monitor_freshness();
CREATE VIEW phood_monitor.days AS SELECT * FROM _wh.monitor_days();
CREATE VIEW phood_monitor.jobs AS SELECT * FROM _wh.monitor_jobs();
CREATE VIEW phood_monitor.replicas AS SELECT * FROM _wh.monitor_replicas();
CREATE VIEW phood_monitor.warehouse AS SELECT * FROM _wh.monitor_warehouse();
COMMENT ON VIEW phood_monitor.freshness IS 'One row per tenant and template: status, latest day, seconds late against the freshness SLA, the window''s missing/partial/changed/failed days, last capture, verification, success and failure (docs/monitoring.md).';
COMMENT ON VIEW phood_monitor.days IS 'One row per tenant, template and kind of day (loaded, missing, partial, changed, failed): how many (docs/monitoring.md).';
COMMENT ON VIEW phood_monitor.jobs IS 'One row per pg_cron job of whadmin: last run, status, duration, runs and failures in the last 24 hours (docs/monitoring.md).';
COMMENT ON VIEW phood_monitor.replicas IS 'One row per streaming replica: state and replay lag (docs/monitoring.md).';
COMMENT ON VIEW phood_monitor.warehouse IS 'The warehouse in one row: schema version, tenants, templates, daily views, run log size (docs/monitoring.md).';

-- The monitoring login's grants: these views, and the functions they call; nothing else. setup-database.sql (the
-- admin's part) creates the login; a warehouse whose admin part predates it gets them once it has run again.
DO $grants$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = 'phood_monitor') THEN
        GRANT USAGE ON SCHEMA phood_monitor TO phood_monitor;
        GRANT SELECT ON phood_monitor.freshness, phood_monitor.days, phood_monitor.jobs, phood_monitor.replicas,
                        phood_monitor.warehouse TO phood_monitor;
        GRANT EXECUTE ON FUNCTION _wh.monitor_freshness(), _wh.monitor_days(), _wh.monitor_jobs(), _wh.monitor_replicas(),
                                  _wh.monitor_warehouse() TO phood_monitor;
    ELSE
        RAISE NOTICE 'role phood_monitor does not exist yet: the monitoring views are in place, but no login reads them'
            USING HINT = 'Run sql/create.sql (or Install-WhWarehouse) as a superuser or the managed server''s admin: it creates phood_monitor; then run functions.sql again.';
    END IF;
END
$grants$;
-- sql/wh/99-routine-comments.sql: the COMMENT ON of every _wh routine (\df+ shows it).
-- GENERATED from the comment above each routine in sql/wh/*.sql: edit that comment, then ./build.sh SqlComments.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

COMMENT ON FUNCTION _wh.server_name IS 'Foreign server name of a connection: ''wh_'' || tenant_name (at most 63 bytes).';
COMMENT ON FUNCTION _wh.create_mv_name IS 'Daily view name: base_view_name || ''_YYYY_MM_DD''. Errors when the result exceeds 63 bytes (PostgreSQL would silently truncate it).';
COMMENT ON FUNCTION _wh.daily_name_day IS 'The day of a daily name (<template>_YYYY_MM_DD), NULL for any other name: the one spelling of the suffix in SQL (its template is the name without its last 11 characters). No SET clause and only immutable parts (make_date, not the stable to_date), so that it is inlined into _wh.daily_views (see _wh.day_end below); a call per relation costs 5 us, 0.2 s at 36,500 daily names, and a regular expression 2 us (measured): LIKE places the underscores, translate proves the other eight characters digits.';
COMMENT ON FUNCTION _wh.daily_name_template IS 'The template of a daily name (<template>_YYYY_MM_DD): the name without its suffix, its last 11 characters (the one spelling of that in SQL; a name is a daily name when _wh.daily_name_day gives it a day). No SET clause and immutable, like _wh.daily_name_day, so that it is inlined into _wh.daily_relations.';
COMMENT ON FUNCTION _wh.daily_name IS 'The daily name of a template''s day (<template>_YYYY_MM_DD), as create_mv_name spells it but without its checks: for days already held (the catalog''s days without a relation). No SET clause, so that it is inlined: create_mv_name is PL/pgSQL, and a call per day cost 0.15 s of Get-WhMv at 100 tenants x 5 years.';
COMMENT ON FUNCTION _wh.closed_table_name IS 'Name of the compacted table of a template: <template>_closed (at most 59 bytes).';
COMMENT ON FUNCTION _wh.recent_table_name IS 'Name of the table holding a copy of the rows of a tenant''s daily materialized views of a template: <template>_recent (at most 59 bytes). The tenant view reads it, not the daily views, so that a new, refreshed, re-created or dropped day changes rows, never the view''s definition.';
COMMENT ON FUNCTION _wh.daily_relkind IS 'The kind of a daily name: ''m'' (materialized view), ''v'' (day view over the compacted table), ''t'' (a closed day older than day_relation_days: its rows in <template>_closed, no relation of its own; _wh.day_state.table_only) or NULL.';
COMMENT ON FUNCTION _wh.does_mv_exist IS 'True when the daily view target_schema.view_name exists: a materialized view, or (a closed day compacted into <template>_closed, see wh/14-compaction.sql) a plain view named <name>_YYYY_MM_DD, or a closed day older than day_relation_days kept in that table without a view (_wh.daily_relkind ''t''). Reads pg_class with the statement''s snapshot, so after an advisory lock wait it sees what the other session committed.';
COMMENT ON FUNCTION _wh.does_view_exist IS 'True when a (non-materialized) view target_schema.view_name exists.';
COMMENT ON FUNCTION _wh.view_references IS 'True when view view_schema.view_name references relation ref_schema.ref_name directly.';
COMMENT ON FUNCTION _wh.assert_lower_name IS 'Raises unless value is a name of lower-case letters, digits and underscores that starts with a letter or an underscore and has at most max_length characters: THE rule for tenant schemas, connections and templates (each with its own length, so that the names built from it fit PostgreSQL''s 63 bytes). kind names the input in the message (''tenant schema'', ''connection'', ''template''); sqlstate is the error''s condition name.';
COMMENT ON FUNCTION _wh.assert_new_name IS 'Raises when a NEW tenant schema, connection or template would take a name that shadows or needs quoting: an SQL keyword that must be quoted (select, user, ...: every query would need "..."), the name of a role (a schema named after a role is what "$user" in a search_path finds first: phood_ro''s foodlogstats would read one tenant), or a name of this product''s or PostgreSQL''s schemas. Names in use already are left alone (their objects exist).';
COMMENT ON FUNCTION _wh.assert_tenant_schema IS 'Raises unless target_schema is a valid, non-reserved tenant schema name.';
COMMENT ON FUNCTION _wh.assert_connection_name IS 'Raises unless tenant_name is a valid connection name (the server name must fit 63 bytes).';
COMMENT ON FUNCTION _wh.assert_template_name IS 'Raises unless template_name is a valid template name (name_YYYY_MM_DD must fit 63 bytes).';
COMMENT ON FUNCTION _wh.assert_template_exists IS 'Raises unless template_name names an existing template.';
COMMENT ON FUNCTION _wh.now IS 'THE clock of the SQL layer: now(), unless the session sets phood.now (SET phood.now = ''2026-12-02 00:30'', read as a timestamptz in the session''s TimeZone) in a warehouse its installer marked for tests (ALTER DATABASE ... SET phood.test_clock = ''on'', which only the database''s owner or a superuser can do: whadmin cannot mark a production warehouse, and there SET phood.now changes nothing). Every "now", "today", "yesterday" and "has this day ended" of the _wh functions goes through it, so a test can stand on either side of midnight (moving TimeZone moves CURRENT_DATE, not now()). The marker is read only when phood.now is set.';
COMMENT ON FUNCTION _wh.assert_time_zone IS 'Raises unless time_zone is a name PostgreSQL knows (pg_timezone_names), e.g. ''America/Los_Angeles''.';
COMMENT ON FUNCTION _wh.tenant_time_zone IS 'The time zone of a tenant''s days (NULL: the session''s TimeZone, i.e. CURRENT_DATE''s).';
COMMENT ON FUNCTION _wh.today_in IS 'The day it is now (_wh.now()) in a zone; without a zone, in the session''s TimeZone (= CURRENT_DATE).';
COMMENT ON FUNCTION _wh.tenant_today IS 'A tenant''s today: the day it is now on the tenant''s clock (its time_zone), else the session''s CURRENT_DATE. Its yesterday is tenant_today - 1; its closed days (no longer refreshed) are those before yesterday.';
COMMENT ON FUNCTION _wh.day_end IS 'The instant a day ends (midnight after it) in a zone; without a zone, in the session''s TimeZone. A day whose rows were captured at or after this instant is complete (unless its source changes afterwards). No SET clause (unlike every other function): a function with one is never inlined, and _wh.daily_views evaluates this once per daily name. It uses only built-in operators and casts, which resolve in pg_catalog (always searched first), so no search_path can change what it means.';
COMMENT ON FUNCTION _wh.assert_target_date(date) IS 'Raises unless target_date is a day the warehouse can hold: not null, finite, not before 2000-01-01 (there is no food-waste data that old, and a window from -infinity or a BC date would build days without end: the module refuses the same), and not after today (_wh.now() in the session''s TimeZone).';
COMMENT ON FUNCTION _wh.assert_target_date(date, text) IS 'Raises unless target_date is a day the warehouse can hold (not null, finite, not before 2000-01-01) and not after the tenant''s today (_wh.tenant_today).';
COMMENT ON FUNCTION _wh.parse_column_definitions IS 'Parses a column list "name type, name type, ..." (commas inside parentheses or double quotes do not split). Unquoted names are folded to lower case. Each type must resolve with to_regtype. data_type is the canonical type name, or the declared text (lower-cased) when it carries a modifier such as numeric(10,3). Raises naming the bad piece.';
COMMENT ON FUNCTION _wh.parse_index_definitions IS 'Parses a template''s index statements (separated by '';''). Each must read CREATE [UNIQUE] INDEX [name] ON {SCHEMA}.{VIEW_NAME} <rest>. The name is discarded (PostgreSQL picks unique names); rest is kept as written, e.g. "(id)" or "USING btree (x)".';
COMMENT ON FUNCTION _wh.render_template_text IS 'Substitutes the template placeholders. Schema and view names are validated identifiers ([a-z0-9_]) and the date is formatted YYYY-MM-DD, so the substitution cannot inject SQL.';
COMMENT ON FUNCTION _wh.template_columns IS 'The columns of every daily, tenant and public view of a template, in order: the template''s declared columns, then client (text) unless the template declares it. data_type is valid in a cast (NULL::<data_type>).';
COMMENT ON FUNCTION _wh.raise_template_columns_mismatch IS 'Raises, naming the template, when a day''s load met columns that do not match the template''s column list (dblink: "remote query result rowtype does not match the specified FROM clause rowtype"): the template is what to fix, not the day. Called from the day paths'' exception handlers (a view, a closed day).';
COMMENT ON FUNCTION _wh.template_unique_keys IS 'The keys a template declares unique (its CREATE UNIQUE INDEX definitions), as the expression list to group a day''s rows by (ASC/DESC/NULLS and INCLUDE dropped) and the index''s WHERE condition (NULL when none): the one rule for duplicate keys checks a closed day''s rows against these before they are kept (load_closed_day), as the unique index does for a daily materialized view. A definition that is not a parenthesised list is not returned.';
COMMENT ON FUNCTION _wh.repeated_key_sql IS 'An expression over the rows of a relation named src: the first key the template declares unique that two of those rows share, as "(id)=(42)", else NULL (a hash of the day''s keys per unique index, no index needed). NULL when the template declares no unique key. Used by load_closed_day (in the statement that inserts the day) and by refresh_daily_view (over the view''s query, once a refresh failed on a repeated key).';
COMMENT ON FUNCTION _wh.raise_duplicate_key IS 'Raises the one error of a day whose source rows repeat a key the template declares unique (key: "(id)=(42)", or the key''s columns when the value is not known): the same for a daily materialized view (its unique index, at creation and refresh) and a closed day loaded into <template>_closed (load_closed_day''s check). The day is not kept.';
COMMENT ON FUNCTION _wh.is_identifier_char IS 'True when ch continues an identifier for the server''s lexer (ident_cont: letters, digits, _, $, and every non-ASCII character), so that a $ after it is part of the name (é$a$), not the start of a dollar quote.';
COMMENT ON FUNCTION _wh.assert_single_select IS 'Raises unless query is ONE statement that reads: SELECT, WITH, VALUES or TABLE (after leading comments and parentheses), with nothing after its end but whitespace, comments and semicolons. Quotes, double quotes, dollar quotes, E'''' strings and comments are skipped, so a '';'' inside them does not count. A query_template runs at the source on every refresh: a second statement would run there too (docs/security.md, finding 4).';
COMMENT ON FUNCTION _wh.mv_templates_validate IS 'Trigger: validates a template row (name, one read-only statement, placeholders, columns, indexes) and stamps times.';
COMMENT ON FUNCTION _wh.settings IS 'The warehouse''s settings: the _wh.warehouse_info keys a DBA may set (the one list: Export-WhConfiguration carries exactly these, Import-WhConfiguration and _wh.set_setting accept exactly these), with their defaults.';
COMMENT ON FUNCTION _wh.setting IS 'The value in force of one of _wh.settings(): the one _wh.warehouse_info holds (trimmed; blank counts as unset), else its default (NULL for a key that is no setting). Every routine reads a setting through it: a default is written once.';
COMMENT ON FUNCTION _wh.timeout_ms IS 'A duration setting in milliseconds (_wh.setting: its value, else its default), e.g. ''10min'' -> 600000; fallback only for a key that is no setting. Raises naming the key when the value is not a duration.';
COMMENT ON FUNCTION _wh.lock_daily_view IS 'Waits for, then holds to the end of the transaction, the advisory lock of one daily view: every path that creates, refreshes, re-creates, compacts or drops a day takes it first, so that two sessions never work on the same day.';
COMMENT ON FUNCTION _wh.try_lock_daily_view IS 'The same lock without waiting: true when this transaction now holds it.';
COMMENT ON FUNCTION _wh.lock_tenant_view IS 'Waits for, then holds to the end of the transaction, the advisory lock of a tenant''s view of a template (taken after any daily view lock, before the public view''s): its definition is rebuilt by one session at a time.';
COMMENT ON FUNCTION _wh.lock_public_view IS 'Waits for, then holds to the end of the transaction, the advisory lock of a template''s public view (the last lock of the order daily -> tenant view -> public view): its definition is rebuilt by one session at a time.';
COMMENT ON FUNCTION _wh.log_run IS 'Appends one run_log row (in the caller''s transaction) and returns its id; sqlstate: a failure''s SQLSTATE. (The 2.2 signature, without sqlstate, is dropped first: with both, a call of 8 arguments would be ambiguous.)';
COMMENT ON FUNCTION _wh.log_failure IS 'For callers (the C# client) that caught an error from an update function and want it recorded (with its SQLSTATE when it has one): call this in a fresh transaction. Returns the run_log id.';
COMMENT ON FUNCTION _wh.view_definition_is IS 'True when view rel already has the definition select_sql: the candidate is created as a temporary view and both are deparsed (pg_get_viewdef), so no lock stronger than readers'' AccessShareLock is taken on anything BI reads.';
COMMENT ON FUNCTION _wh.apply_view IS 'Creates or replaces view target_schema.view_name AS select_sql, granting SELECT to phood_ro. Nothing is re-created when the definition is unchanged (no lock on the view: BI never waits for it). A change takes the view''s AccessExclusiveLock in short attempts (200 ms of lock_timeout each, with growing pauses between them), so that BI queries queue behind it for at most one attempt, until the setting lock_timeout (_wh.setting) has passed; then it fails with lock_not_available and the caller''s transaction changes nothing. When the column list changed (CREATE OR REPLACE refuses), the view is dropped with its dependents and created again, the public view of the same name locked first (readers lock the public view before the tenant view: the same order cannot deadlock); returns true in that case (the caller must rebuild what depended on it, i.e. the public view).';
COMMENT ON FUNCTION _wh.update_public_view_by_template IS 'Builds view public.<template> = UNION ALL of <schema>.<template> for every registered tenant (_wh.tenants) whose tenant view exists, ordered by schema; a typed empty view when there is none. Never refers to a tenant that is gone; unchanged, nothing is re-created (apply_view). CREATE OR REPLACE keeps grants; SELECT is granted to phood_ro and whadmin. Returns ''public.<template>''.';
COMMENT ON FUNCTION _wh.rebuild_public_views IS 'Rebuilds public views: without schema_hint, every existing one; with it, those of the templates that schema_hint has a tenant view of or that the public view still refers to.';
COMMENT ON FUNCTION _wh.server_options IS 'The options of a connection''s foreign server, by name (NULL: the option is not set). Every remote session is read-only and bounded: options carries default_transaction_read_only=on and statement_timeout (docs/security.md, findings 3, 4).';
COMMENT ON FUNCTION _wh.sync_foreign_server IS 'Creates the foreign server of a connection, or brings its options in step with the row (ALTER SERVER only when something differs). Returns true when it changed anything.';
COMMENT ON FUNCTION _wh.sync_user_mapping IS 'Creates or updates the user mapping FOR whadmin on server_name. A NULL password keeps the mapping''s current password. Runs as whadmin (called from the SECURITY DEFINER trigger).';
COMMENT ON FUNCTION _wh.tenant_connections_sync IS 'Trigger: keeps the foreign server ''wh_<tenant_name>'' (dblink_fdw; host, port, dbname, sslmode, channel_binding, sslrootcert, and read-only, bounded sessions: _wh.server_options) and its user mapping FOR whadmin (user, password) in step with the row. The password goes into the mapping and NULL is stored; an UPDATE with a NULL password keeps the mapping''s, unless the source moves (host, port, dbname, sslmode, channel_binding, sslrootcert): that is refused. DELETE drops server and mapping, refusing while a tenant schema still uses the connection. Servers and mappings are owned by whadmin whoever changes the table.';
COMMENT ON FUNCTION _wh.tenant_connections_no_truncate IS 'Trigger: TRUNCATE of _wh.tenant_connections is refused: it fires no row trigger, so every server and user mapping, passwords included, would stay behind without a row. DELETE removes each with its server and mapping.';
COMMENT ON FUNCTION _wh.sync_foreign_servers IS 'Brings every foreign server''s options in step with its row and the settings (read-only, statement_timeout, connect_timeout, tcp_user_timeout): run after changing source_statement_timeout, source_connect_timeout or source_tcp_user_timeout. Returns how many changed. Also the upgrade of servers created before these options existed (re-running this file).';
COMMENT ON FUNCTION _wh.get_tenant_connection_string IS 'What dblink needs to reach a tenant: the name of its foreign server (dblink accepts a server name wherever it accepts a connection string). No secret is returned. Raises when the connection or its server does not exist.';
COMMENT ON FUNCTION _wh.set_setting IS 'Sets one of _wh.settings() after checking its value (a duration for *_timeout and freshness_sla, a whole number of days otherwise), and brings every foreign server in step when it is a source_* setting. Raises, changing nothing, for an unknown key or a value of the wrong kind. Returns true when the value changed.';
COMMENT ON FUNCTION _wh.session_dblink IS 'A dblink connection to server_name kept for this session (named after the server and a hash of its options and of whadmin''s mapping, so a changed host or password opens a new one). Saves the connection set-up (SCRAM, backend start: 30-50 ms) for every closed day after the first one a session loads. A session keeps at most ONE: connecting to a server first closes every other kept connection of the session (whatever its server), so N workers moving from tenant to tenant hold at most N connections on the source servers, not one per tenant they have visited. Registers the kept connection in _wh.kept_dblinks (Get-WhHealth counts them).';
COMMENT ON FUNCTION _wh.close_session_dblinks IS 'Closes every dblink connection this session keeps (session_dblink''s, named <server>_<md5>; a DBA''s own named dblink connections are left alone). Called before a statement opens a dblink connection of its own (creating or refreshing a daily materialized view, whose definition names the server), so that a session never holds two source connections at once, and by the module when a backfill worker ends. Returns how many were closed.';
COMMENT ON FUNCTION _wh.ensure_tenant_schema IS 'Ensures the tenant schema exists. A new schema is owned by whadmin, phood_ro gets USAGE and (default privileges) SELECT on every table/view whadmin creates in it. An existing schema must grant whadmin CREATE.';
COMMENT ON FUNCTION _wh.hold_registered_tenant IS 'Whether target_schema is a registered tenant, holding its registration (FOR KEY SHARE) until the caller''s transaction ends: the module''s backfill asks it in each day''s transaction before loading the day, so a removal (_wh.remove_tenant deletes the registration first) waits for the day in flight, and a day of a tenant removed during the run is not loaded (update_mv_by_template registers a tenant on first use, and would bring a removed tenant back when its connection is shared with another tenant).';
COMMENT ON FUNCTION _wh.ensure_tenant IS 'Registers (connection, schema) as a tenant the first time it is used, creating the schema when missing; client_name defaults to the schema name. Returns the registered client name. Raises when the connection is unknown or the schema is registered with another connection.';
COMMENT ON FUNCTION _wh.tenants_validate IS 'Trigger: a tenant''s time zone, when set, is one PostgreSQL knows.';
COMMENT ON FUNCTION _wh.set_tenant_time_zone IS 'Sets (or with NULL clears) the time zone of a registered tenant; raises for an unknown tenant or zone, and for a zone in which a day already loaded would still be in the future. Returns {"schema","time_zone","today"}.';
COMMENT ON FUNCTION _wh.plan_days IS 'THE plan of days (the module''s DayPlanner; psql): for each asked tenant (in the order asked) its connection, its today (_wh.tenant_today, read once per tenant) and the templates it uses (a tenant view or a daily view of them); one row per asked template (template_names NULL: per template it uses) saying whether the template exists and which of its days exist from from_day to to_day (NULL: the tenant''s today on either end), as the catalog (_wh.daily_views) lists them: one pass over it for all the asked tenants. An unknown tenant: connection_name and today NULL; a tenant without a row of templates: one row, template_name NULL; no tenant asked: one row per asked template, the tenant''s columns NULL. Reads only: the callers raise (TenantNotFound, TemplateNotFound, a range in the future).';
COMMENT ON FUNCTION _wh.record_capture IS 'Records that a day''s rows were just read from its source (called in the same transaction as the create, refresh, load or force of the day). The last check''s result is cleared: it was about the rows replaced.';
COMMENT ON FUNCTION _wh.record_check IS 'Records the result of checking one day against its source.';
COMMENT ON FUNCTION _wh.create_daily_view IS 'Creates materialized view target_schema.view_name from a template for one date: the remote query through public.dblink(<server name>, ...), client appended as a literal, the template''s indexes with names chosen by PostgreSQL, SELECT for phood_ro, ANALYZE. Callers hold the daily-view lock and have validated the arguments.';
COMMENT ON FUNCTION _wh.refresh_daily_view IS 'Refreshes a daily view: CONCURRENTLY (readers not blocked) when it has a plain unique index, otherwise a plain REFRESH.';
COMMENT ON FUNCTION _wh.count_rows IS 'The number of rows of target_schema.view_name (a daily view of either kind), counted now, as whadmin.';
COMMENT ON FUNCTION _wh.ensure_days_table IS 'Creates table target_schema.table_name for a template''s days when missing: the daily view''s columns plus _wh_day date, a BRIN index on _wh_day, vacuum_truncate off (truncating takes an AccessExclusiveLock that a hot standby replays against its BI queries), SELECT for phood_ro. The template''s own indexes are ensure_days_indexes'' (the caller''s choice of when: after a bulk load, building them once beats maintaining them row by row). Refuses when a template has that name. Returns true when it was created.';
COMMENT ON FUNCTION _wh.ensure_days_indexes IS 'Gives a days table the template''s indexes (as plain indexes: a unique key of one day need not be unique over many days) when it has none of them, i.e. no index but its BRIN on _wh_day: a table just created, or one a first window filled before building them (compact_closed_days). Returns how many it built (0 when they exist, or the template declares none).';
COMMENT ON FUNCTION _wh.ensure_closed_table IS 'Creates <schema>.<template>_closed when missing (ensure_days_table), without the template''s indexes: compact_closed_days builds them once the rows it moves, or a window''s days, are in. Returns true when it was created. Callers hold the compaction lock.';
COMMENT ON FUNCTION _wh.ensure_recent_table IS 'Creates <schema>.<template>_recent when missing (ensure_days_table, under the tenant-view lock) and copies into it the rows of every daily materialized view of the template that exists already (a warehouse from before 2.1.0, days loaded before the tenant view; read from the catalog _wh.daily_views, so registered tenants only). Returns true when it was created.';
COMMENT ON FUNCTION _wh.sync_recent_day IS 'Makes <template>_recent hold exactly the rows of daily materialized view view_name for target_date (none when it is not a materialized view: gone, or compacted): DELETE + INSERT in the caller''s transaction, so readers of the tenant view see the old rows or the new ones. Called after every create, refresh, re-create, compaction and drop of a day. Callers hold the daily-view lock.';
COMMENT ON FUNCTION _wh.resync_recent_days IS 'Puts <template>_recent back in step with the daily materialized views (Update-WhUnionView, the guide''s "tenant view lost a day"): deletes the rows of days that have no materialized view any more (one dropped by hand: nothing depends on a day since 2.1.0) and copies the days of materialized views that have no row there. Rows only: no definition changes. Callers hold the tenant-view lock. Returns how many days were put right.';
COMMENT ON FUNCTION _wh.summarize_days_index IS 'Summarizes the new page ranges of a days table''s BRIN index on _wh_day (brin_summarize_new_values), so that a day''s rows are found by their ranges at once after a window loaded many days: autosummarize does it later, in the background, and until then every unsummarized range is read by each day''s lookup (a check of 7 days read the whole 730,000-row table). Returns how many ranges it summarized.';
COMMENT ON FUNCTION _wh.tenant_view_members_sql IS 'The SELECT of a tenant view, whose members are fixed: the table of the rows of the tenant''s daily materialized views (<template>_recent), then the compacted table of closed days (<template>_closed) when there is one, client as the given literal. Days come and go as rows, so routine work (new day, refresh, force, compaction, retention) never changes this definition.';
COMMENT ON FUNCTION _wh.tenant_view_sql_excluding IS 'The SELECT of a tenant view (tenant_view_members_sql). exclude_views is ignored since 2.1.0 (a day leaves the view when its rows are deleted); the argument stays so that 2.0 callers work.';
COMMENT ON FUNCTION _wh.tenant_view_sql IS 'The SELECT of a tenant view (tenant_view_members_sql); exclude_view is ignored since 2.1.0.';
COMMENT ON FUNCTION _wh.rebuild_tenant_view IS 'Rebuilds target_schema.template_name over its fixed members (tenant_view_sql), creating <template>_recent when missing (filled from the daily materialized views) and putting it back in step with them (resync_recent_days); exclude_view is ignored since 2.1.0. Nothing is re-created when unchanged. Caller holds the tenant-view lock. Returns true when the public view must be rebuilt (the tenant view was new or had to be dropped and created again).';
COMMENT ON FUNCTION _wh.update_tenant_union_view_by_template IS 'Builds view <schema>.<template> = UNION ALL of the schema''s daily views of the template, in date order, with client = the tenant''s current client name; a typed empty view when there are no daily views. One statement (atomic for readers). Registers the tenant on first use. When the tenant view is new, the public view is rebuilt too so it includes the tenant. Returns the view name (schema.template).';
COMMENT ON FUNCTION _wh.ensure_views_include IS 'Makes sure the tenant view reads its fixed members (<template>_recent, <template>_closed when it exists) and the public view includes the tenant view, rebuilding only what is missing. When view_name is a daily materialized view whose day has no row in <template>_recent (made outside update_mv_by_template), its rows are copied there. Returns true when something was rebuilt.';
COMMENT ON FUNCTION _wh.compact_after_days IS 'How many closed daily materialized views a tenant may have of a template before they are compacted (the setting compact_after_days, _wh.setting).';
COMMENT ON FUNCTION _wh.day_relation_days IS 'How many days back from a tenant''s today a compacted closed day keeps a view of its own (the setting day_relation_days, at least 7). An older day is its rows in <template>_closed: listed by the catalog (kind ''t''), loaded, checked, repaired and dropped like any day, read through the tenant view or _wh.day_rows. At 100 tenants x 5 years a view per day was 1.1 GB of catalog, everyday commands at 0.6-0.9 s and pg_dump out of shared memory (docs/performance.md, rows s0-s7).';
COMMENT ON FUNCTION _wh.day_relation_horizon IS 'The first day of this tenant whose compacted closed day keeps a view of its own: day_relation_days back from its today (older days are kind ''t''). The one spelling of the horizon: loading a day and retiring views read it.';
COMMENT ON FUNCTION _wh.set_table_only IS 'Marks a closed day as kept in <template>_closed without a relation (kind ''t''), or (table_only false) as having its view again. In the caller''s transaction, under the day''s lock.';
COMMENT ON FUNCTION _wh.closed_day_view_sql IS 'The SELECT of a compacted day''s view: the daily view''s columns of that day.';
COMMENT ON FUNCTION _wh.load_closed_day IS 'Loads one closed day straight into <schema>.<template>_closed from the tenant''s source (the same remote query, columns and client literal as a daily materialized view), and creates the day''s view when it does not exist. Callers hold the daily-view lock and have removed any earlier rows of the day (in the same transaction). Returns the number of rows loaded.';
COMMENT ON FUNCTION _wh.compact_closed_days IS 'Moves a tenant''s closed daily materialized views of a template (older than yesterday) into <schema>.<template>_closed: rows copied, each materialized view replaced by a plain view of the same name over the table and its rows removed from <template>_recent, all in the caller''s transaction (readers see the old rows or the new ones). The tenant view''s definition changes only the first time, to read the new table. With only_when_due (what update_mv_by_template, the windows and the module call) it does nothing unless the table already exists or there are more than compact_after_days() closed materialized views, and it never waits: a busy compaction lock or a day being written by another session is left for the next call. Without it (psql: SELECT _wh.compact_closed_days(''foodlogstats'', ''tenant_a'')) every closed day is compacted now. analyze_table: ANALYZE the table at the end (always when created). planned_days: closed days the caller is about to load (a window, a backfill); counted towards compact_after_days(), so a long backfill creates the table first and loads every closed day straight into it instead of building (and then compacting) a materialized view per day. Returns {"template","schema","table","compacted","created_table","busy"}.';
COMMENT ON FUNCTION _wh.retire_day_views IS 'Drops the views of a tenant''s compacted closed days that are older than day_relation_days (at most max_views per call, oldest first), each under its day''s lock taken without waiting (a busy day is left for the next call), and marks each day table_only in the same transaction: the day stays, its rows in <template>_closed, the catalog lists it (kind ''t''); the tenant and public views read the table and do not change. A view another object depends on (a DBA''s own view) is kept. finish_window calls it, so windows, backfills and the scheduled refresh keep the horizon. Returns how many views it dropped.';
COMMENT ON FUNCTION _wh.day_rows IS 'The rows of one day of a tenant''s template, whatever holds them (<template>_closed, <template>_recent): what its daily name gives, also for a day older than day_relation_days that has no view of its own. The row type is the tenant view''s, passed as a typed NULL: SELECT * FROM _wh.day_rows(NULL::tenant_a.foodlogstats, ''2021-03-01''); Runs as whadmin, like every _wh routine a session may call (phood_ro has no _wh routine: it reads the tenant view with its day''s condition).';
COMMENT ON FUNCTION _wh.recreate_daily_view IS 'Rebuilds an existing daily view without readers ever seeing it missing: builds the new one under a temporary name first (the slow dblink part, no lock on anything readers use), then swaps in the same transaction (drop old, rename new and its indexes) and replaces the day''s rows of <template>_recent, which the tenant view reads: its definition is untouched.';
COMMENT ON FUNCTION _wh.update_mv_by_template IS 'THE code path for one (template, tenant, date), used by pg_cron, psql and the module. absent                         -> create with indexes            -> ''created'' present, date = today (or yesterday with allow_refresh_yesterday; both on the tenant''s clock, _wh.tenant_today) -> REFRESH [CONCURRENTLY]         -> ''refreshed'' present, older                 -> nothing                        -> ''skipped'' present and force              -> rebuilt and swapped atomically -> ''recreated'' Serialized per daily view by an advisory lock: a second caller waits, then refreshes or skips. Every change of a day is a change of rows that the tenant view reads (the day''s materialized view copied into <template>_recent, or <template>_closed): no view definition changes. With rebuild_views, the tenant view and the public view are made to exist and read their members (rebuilt only when they do not already). Registers the tenant and creates its schema on first use. Rejects future dates and reserved schemas. Errors are raised, never swallowed. Writes a run_log row. Returns {"action","view","rows","duration_ms","template","schema","connection","date"}.';
COMMENT ON FUNCTION _wh.create_mv_from_template IS 'Creates one daily view from a template when it does not exist (true); returns false with a NOTICE when it already exists. Does not touch the tenant or public view (the guide calls update_tenant_union_view_by_template / update_public_view_by_template next). Raises on error.';
COMMENT ON FUNCTION _wh.transient_error_rules IS 'The errors worth a retry, one row each (THE list: _wh.is_transient_error reads it, and the module''s C# TransientErrors holds the same rows, checked by a test). kind ''sqlstate'': the error''s SQLSTATE. kind ''marker'': text that, in a connection error (class 08: dblink reports a refused remote connection as 08001 "could not establish connection" with the server''s words in the detail), says the server refused for a passing reason: no free slot, or starting up.';
COMMENT ON FUNCTION _wh.is_transient_error IS 'True when an error (its SQLSTATE, and its message with the detail appended) is transient: worth waiting a moment and trying the same day again (see transient_error_rules). Anything else is not.';
COMMENT ON FUNCTION _wh.is_not_answering IS 'True when an error says a source did not answer (libpq''s connect_timeout or tcp_user_timeout ran out: SQLSTATE class 08 with "timeout expired" or "timed out"), as opposed to one that answered "no": another try now would wait as long again. The module''s SourceProbe.IsNotAnswering is the same rule.';
COMMENT ON FUNCTION _wh.update_mv_day_isolated IS 'One day of a window, isolated in a subtransaction: on error the day is rolled back, logged as ''failed'' in run_log and returned as {"action":"failed","date","error","sqlstate"}. A transient error (_wh.is_transient_error: no free connection slot on the source or the warehouse, a server starting up, a serialization failure, a deadlock) is retried: 4 attempts in all, waiting 0.2 s, 0.6 s, 1.8 s (at most 3 s; each with jitter, 50-100 %) in between, each wait logged as ''retried'' in run_log. Views are not rebuilt (the window does it once at the end). The windows, the scheduled jobs and a DBA''s psql all come through here.';
COMMENT ON FUNCTION _wh.check_window IS 'Validates a window''s arguments (and registers the tenant) before any day is touched.';
COMMENT ON FUNCTION _wh.add_to_summary IS 'Adds one day''s result to a window summary.';
COMMENT ON FUNCTION _wh.empty_summary IS 'The summary of a window before its first day: every action counted 0, no failure.';
COMMENT ON FUNCTION _wh.drop_unused_days_tables IS 'Drops <template>_closed and <template>_recent of a tenant when they are empty and nothing reads them (a first window whose every day failed made them: begin_window makes the closed table for a long window). Each is locked first without waiting: a table another session is loading into, or one a view reads, is left as it is.';
COMMENT ON FUNCTION _wh.finish_window IS 'End of a window: rebuilds the tenant view when days were created (or it does not include the newest day) and the public view when it does not include the tenant. A failure here is reported in the summary (failures[] with "date": null), not raised, so the days stay. A tenant left with no day of the template and no view of it (every day of its first window failed) gets no views, and the empty days tables the window made are dropped.';
COMMENT ON FUNCTION _wh.update_mv_window_by_template IS 'Updates every day from start_date to end_date (inclusive) with update_mv_by_template, each day in its own subtransaction: a failing day is logged and reported, the others are kept. A re-run does only what is missing (existing older days are skipped). The tenant and public views are rebuilt once at the end. The whole call is ONE transaction: for long ranges use CALL _wh.run_mv_window_by_template(...) (commits per day) or Invoke-WhMvBackfill. Returns {"created","refreshed","skipped","recreated","failed","failures":[{"date","error"}],"duration_ms",...}.';
COMMENT ON PROCEDURE _wh.run_mv_window_by_template IS 'Same as update_mv_window_by_template, but COMMITs after every day, so a year-long range neither exhausts the lock table nor loses finished days when interrupted. CALL it at top level (not inside BEGIN ... COMMIT). Not SECURITY DEFINER and no SET clause: PostgreSQL forbids COMMIT in such procedures; every name is schema-qualified instead, and the work is done by SECURITY DEFINER functions. The summary comes back in the INOUT argument.';
COMMENT ON FUNCTION _wh.create_tenant IS 'Creates a tenant in one step (New-WhTenant''s, and psql''s): its schema (whadmin''s, readable by phood_ro), its registration with its connection (which must exist: a row of _wh.tenant_connections), its time zone (NULL: the session''s), and for each template its tenant view and its place in the public view (built once each, by update_tenant_union_view_by_template). Raises, changing nothing, when the schema is already a tenant. Returns {"schema", "connection", "client_name", "time_zone", "views": [...]}. Call it in the caller''s transaction.';
COMMENT ON FUNCTION _wh.remove_tenant IS 'Removes a tenant in the safe order: unregister it and rebuild every public view without it FIRST, then DROP SCHEMA ... CASCADE, then delete its connection (the trigger drops server and mapping) when no other tenant uses it. Cron jobs are the caller''s business. Idempotent: running it again finishes an interrupted removal. Runs with the caller''s rights (a schema created by postgres can only be dropped by its owner or a superuser). Returns {"schema","unregistered","public_views_rebuilt":[...],"schema_dropped","connection_removed"}.';
COMMENT ON FUNCTION _wh.set_client_name IS 'Sets a tenant''s client name and rebuilds its tenant views so the client column shows it (the public views read the tenant views: no change needed there). Raises for an unknown tenant. Returns {"schema","client_name","views":[...]}.';
COMMENT ON FUNCTION _wh.drop_mv_range_by_template IS 'Drops the daily views of one tenant''s template whose date lies in [start_date, end_date] (NULL = unbounded on that side), and deletes their rows from the tables the tenant view reads (<template>_recent, <template>_closed) IN THE SAME TRANSACTION: readers see the old set of days or the new one, and no view definition changes (the tenant and public views are built only when missing). Locks in the usual order (each daily view, then the tenant view). One run_log row ''dropped'' per view. A cron job can call it for retention: SELECT _wh.drop_mv_range_by_template(''foodlogstats'', ''tenant_a'', NULL, _wh.tenant_today(''tenant_a'') - 181); Returns {"template","schema","dropped":[{"view","date"}],"count"}.';
COMMENT ON FUNCTION _wh.remove_template_from_tenant IS 'Drops one tenant''s part of a template (CALL _wh.remove_template, Remove-WhTemplate): its tenant view, every daily view of the template (each under its day lock, each logged ''dropped''), then the tables the tenant view read (<template>_closed, <template>_recent). The public view must not read the tenant view any more (remove_template drops it first). Idempotent. Returns the number of daily views dropped.';
COMMENT ON PROCEDURE _wh.remove_template IS 'Removes a template (Remove-WhTemplate''s; psql: CALL _wh.remove_template(''inventory_stats'', force => true)): refuses while daily views of it exist unless force; drops the public view first (BI loses the template at once, and it reads the tenant views), then each tenant''s part in a transaction of its own (remove_template_from_tenant), then the template''s row and day states, once no daily view of it is left (a day a cron job made meanwhile keeps the template: the error says so). Interrupted, it is finished by running it again. CALL it at top level.';
COMMENT ON FUNCTION _wh.forget_template IS 'The last step of remove_template: deletes the template''s row and its day states, serialised with a template update (FOR UPDATE); refuses when a daily view of it exists (one a cron job made during the removal).';
COMMENT ON FUNCTION _wh.create_foodlogstats_mv IS 'Creates daily view <base_view_name>_YYYY_MM_DD from the foodlogstats template. True when created, false (NOTICE) when it already exists; errors are raised (the guide returned false).';
COMMENT ON FUNCTION _wh.update_generic_union_view IS 'Builds <schema>.<base_view_name> as a generic SELECT * UNION ALL of the schema''s <base_view_name>_YYYY_MM_DD materialized views in date order (legacy, non-template daily views). NULL with a NOTICE when there are none. Returns the view name.';
COMMENT ON FUNCTION _wh.update_tenant_view IS 'Guide name: rebuilds <schema>.<base_view_name>. For a template, the template union view (update_tenant_union_view_by_template, which also puts the tenant into the public view); otherwise the generic union view of legacy daily views. Returns the view name.';
COMMENT ON FUNCTION _wh.update_mv_core IS 'Generic create-or-refresh-or-skip of <base_view_name>_YYYY_MM_DD with a caller-supplied create function (text, text, text, date, text) -> boolean, resolved with to_regprocedure and called through it (never by concatenating the text). A false result is an error. A new day rebuilds the generic union view. Returns the same jsonb as update_mv_by_template.';
COMMENT ON FUNCTION _wh.update_foodlogstats IS 'Guide name for update_mv_by_template(''foodlogstats'', ...): what the guide''s cron jobs call.';
COMMENT ON FUNCTION _wh.update_mv_window IS 'Runs an update function (text, text, date, boolean) -> jsonb for each day of a range, each day in its own subtransaction (failures logged and reported). The default, _wh.update_foodlogstats, is handled by update_mv_window_by_template(''foodlogstats'', ...). Returns the same summary as update_mv_window_by_template. The guide''s rebuild (drop every pg_matviews entry, then this) cannot see compacted closed days (plain views over <template>_closed): those in the range are skipped as existing, so a WARNING names them with the call that rebuilds them too (force), and the summary lists them (skipped_compacted).';
COMMENT ON FUNCTION _wh.freshness IS 'THE freshness engine (Get-WhMvFreshness and Get-WhHealth both read it): per registered tenant and template (that has a tenant view, a daily view or a run-log row) over the window_days days ending on the tenant''s today. missing: days without a view from the later of the window start and the first day up to today; partial: closed days (before yesterday: the job no longer refreshes them) last captured before they ended; changed: days whose last check found them different from the source (cleared when they are loaded again); unresolved: a day of the window whose latest failure is newer than its latest success and that has no view. Status, first rule that holds: Empty (no day), Failing (unresolved, or the latest run failed), Stale (latest day before yesterday), Late, Changed, Partial, Gaps (a missing day before the latest), Fresh. A tenant with no template at all: one row, template NULL, Empty (when template_names is NULL). Late (after Stale): yesterday (the tenant''s) is not finished, i.e. has no view captured after it ended, although its freshness SLA (_wh.tenants.freshness_sla, else the setting freshness_sla) has passed since it ended; seconds_late says by how much (0 when not late, whatever the status), for any pair whose first day is yesterday or earlier. failed: days of the window whose latest failure is newer than their latest success; last_capture: the latest capture of any of its days (_wh.day_state); last_sqlstate: the SQLSTATE of the latest failure (NULL before 2.3.0). (Dropped first: its columns grew in 2.3.0, and CREATE OR REPLACE cannot change them.)';
COMMENT ON FUNCTION _wh.fingerprint_row_expression IS 'The 64-bit hash of one row of a template''s declared columns, over alias r, as an expression: the XOR of each column''s hash, each column hashed by its type''s own extended hash function (the support function of its default hash operator class, as hash partitioning uses: hashint8extended, hash_numeric_extended, timestamp_hash_extended, ...; a type without one is hashed as text) with a seed of its own (seed * 1000 + its position), so that equal values in different columns differ; a NULL column contributes its seed, not the hash of any value ('''' and NULL differ). Values are hashed, not their text: 1.50 and 1.5 are equal, a timestamptz is the same instant in any TimeZone. On the source each column is first cast to its declared type (a no-op when the source has that type), as the day''s load stores it.';
COMMENT ON FUNCTION _wh.fingerprint_sql IS 'The query of a fingerprint over row_source (a relation or subquery with alias r; group_by: an expression of r to fingerprint per value, e.g. r._wh_day, or NULL for one fingerprint): the row count and an order-independent content hash, the sums of two 64-bit row hashes (hash0, hash1: fingerprint_row_expression with seeds 0 and 1; summed exactly). Equal rows count as often as they occur; a changed value, an added and a deleted row change it even when the count stays. Runs unchanged on the warehouse and, inside dblink, on the source (everything pg_catalog-qualified).';
COMMENT ON FUNCTION _wh.source_fingerprint_sql IS 'The source''s fingerprint query of a rendered template query (its trailing semicolons dropped), its columns named as the template declares them (aliases) and hashed by hash0 and hash1 (fingerprint_row_expression on the source).';
COMMENT ON FUNCTION _wh.check_mv_window_by_template IS 'Compares each day from start_date to end_date of one tenant''s template with its source, by fingerprint (row count + content hash over the template''s declared columns, computed on both sides: only fingerprints cross dblink, over ONE source connection opened for this call; 92 days per round trip, sent asynchronously while the warehouse computes its side; compacted days in one grouped scan of <template>_closed). Status per day: Match   the warehouse holds exactly the source''s rows (or neither has any); Changed the warehouse''s day differs (a changed value, an added or a deleted row, even with the same count); Missing the source has rows for a day the warehouse lacks. Changes no day: records each result in _wh.day_state and the run log (action ''checked''; error = what differed), unless record_results is false (Repair-WhMv -WhatIf: then it writes nothing at all). Raises (nothing recorded) when the source is unreachable or a date is in the future for the tenant.';
COMMENT ON FUNCTION _wh.refresh_day_unless_busy IS 'Never waits: one day of a scheduled refresh through update_mv_day_isolated (failures logged there, in a subtransaction), unless another session holds the day (a backfill, a repair, another job): then ''skipped'' with "busy" in the run log, left for the next run.';
COMMENT ON FUNCTION _wh.repair_day IS 'THE repair of one day, the one place that logs ''repaired'' (the scheduled refresh''s step 3b; Repair-WhMv through the module''s backfill): the day is loaded again from its source with force (re-created beside the old rows and swapped, or created when missing) and, when it was, logged ''repaired'' in the same transaction. wait false (the scheduled refresh): never waits on a day another session holds and keeps the day''s error in a subtransaction (refresh_day_unless_busy: busy -> ''skipped'', a failure logged and returned); wait true (the module, which retries and logs a failure itself): waits for the day''s lock and raises. Returns the day''s result (update_mv_by_template''s).';
COMMENT ON FUNCTION _wh.run_log_retention_days IS 'How long the run log keeps its rows: the setting run_log_retention_days (_wh.setting).';
COMMENT ON FUNCTION _wh.prune_run_log IS 'Deletes run-log rows older than run_log_retention_days() (on _wh.now()''s clock); returns how many. The scheduled refresh calls it once a day (warehouse_info ''run_log_pruned_on'').';
COMMENT ON PROCEDURE _wh.refresh_recent_by_template IS 'THE scheduled refresh of one tenant''s template (what Register-WhCronJob schedules; pg_cron CALLs it). COMMITs after every step, so a failed day does not undo the others; every day on the tenant''s clock (_wh.tenant_today): 1. today is created or refreshed; 2. yesterday is refreshed once after it has ended: whenever it is missing or its last capture (_wh.day_state.captured_at) was before its midnight; 3. at most once a day per tenant and template (warehouse_info ''lookback_checked:<schema>.<template>''), the lookback_days closed days before yesterday are checked against the source (check_mv_window_by_template, which records each day''s status in _wh.day_state); then, on every run, every closed day known to differ (however old, a repair left busy or interrupted included) is loaded again (_wh.repair_day: force, readers see the old rows or the new, never none; each logged ''repaired''); lookback_days = 0 turns both off; 4. once a day the run log is pruned (prune_run_log), then the tenant and public views are made to include the days (finish_window, which also compacts closed days when due). Never waits on a day another session holds (skipped, "busy" in the run log). Each step runs under lock_timeout (the setting job_lock_timeout, _wh.setting); the check''s source statements under check_statement_timeout (a statement_timeout set inside a procedure does not bound the CALL itself). Raises at the end, after committing what worked, when a day failed, so pg_cron records the run as failed. CALL it at top level (not in a transaction block). Not SECURITY DEFINER and no SET clause (PostgreSQL forbids COMMIT then): everything schema-qualified.';
COMMENT ON FUNCTION _wh.cron_job_targets_here IS 'True when a pg_cron job''s target (cron.job''s nodename, nodeport: where pg_cron connects to run it) is this server: its port, and, when the session may read cron.host (a superuser, pg_read_all_settings), that host. A warehouse restored from a dump onto another server keeps its jobs'' old targets, and they would run against the old warehouse.';
COMMENT ON FUNCTION _wh.retarget_cron_jobs IS 'Schedules again, on this server, every pg_cron job of the current user whose target is another server (a restore, a move): same name, schedule, command, database and paused state; pg_cron 1.4 cannot change a job''s target, so the job is unscheduled and scheduled again (a new job id; its run history stays). Called by every run of functions.sql and by Register-WhCronJob. Returns the names of the jobs moved. Nothing to do without pg_cron.';
COMMENT ON FUNCTION _wh.set_tenant_freshness_sla IS 'Sets (or with NULL clears, back to the warehouse''s setting freshness_sla) how long after its day ends, on its clock, a tenant''s day must be finished; raises for an unknown tenant or a negative SLA or one of 7 days or more (a day finished a week later is not monitored, it is lost). Returns {"schema","freshness_sla","effective"} (effective: the SLA that applies, the tenant''s or the warehouse''s).';
COMMENT ON FUNCTION _wh.tenant_freshness_sla IS 'The freshness SLA that applies to a tenant: its own, else the warehouse''s setting freshness_sla (else its default).';
COMMENT ON FUNCTION _wh.monitor_freshness IS 'Monitoring: one row per tenant and template, from the freshness engine (_wh.freshness, its default window): status (Get-WhMvFreshness'' statuses), latest day, seconds late against the SLA (0 when on time), the window''s missing, partial, changed and failed days, how long the oldest changed day has been known to differ (seconds since the check that found it; 0 when none), the latest capture, verification, success and failure (with its SQLSTATE). A tenant with no template has one row with template ''''.';
COMMENT ON FUNCTION _wh.monitor_days IS 'Monitoring: the window''s days per tenant, template and kind, one row each (kinds missing, partial, changed, failed; loaded: every daily view the pair holds), for phood_days{tenant,template,status}. Pairs without a template: none.';
COMMENT ON FUNCTION _wh.monitor_jobs IS 'Monitoring: whadmin''s pg_cron jobs (the warehouse''s schedules; none without pg_cron): last run, its status and duration, runs and failed runs in the last 24 hours. pg_cron is read through dynamic SQL: it may not be installed. (Where there is nothing to read, an empty query rather than a bare RETURN: plpgsql_check warns of OUT columns left unset on that path.)';
COMMENT ON FUNCTION _wh.monitor_replicas IS 'Monitoring: each streaming replica of this server (public.wh_streaming_replicas(), setup-database.sql): its name (application_name, else its address), state, replay lag in seconds (0 when caught up) and in bytes. None when that function is missing or not whadmin''s to call (pg_stat_replication hides the lag from whadmin).';
COMMENT ON FUNCTION _wh.monitor_warehouse IS 'Monitoring: the warehouse in one row: schema version (a label), tenants, templates, daily views of registered tenants, the run log''s rows, bytes and oldest row, the warehouse''s freshness SLA, and the run log retention.';

COMMIT;
