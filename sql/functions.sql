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
\ir wh/01-tables.sql
\ir wh/02-names-and-validation.sql
\ir wh/03-templates.sql
\ir wh/04-settings.sql
\ir wh/05-locks-and-run-log.sql
\ir wh/06-public-views.sql
\ir wh/07-connections-and-secrets.sql
\ir wh/08-kept-source-connection.sql
\ir wh/09-tenants.sql
\ir wh/10-catalog-and-day-state.sql
\ir wh/11-daily-views.sql
\ir wh/12-days-tables.sql
\ir wh/13-tenant-views.sql
\ir wh/14-compaction.sql
\ir wh/15-one-day.sql
\ir wh/16-windows.sql
\ir wh/17-tenant-lifecycle.sql
\ir wh/18-retention.sql
\ir wh/19-guide-legacy.sql
\ir wh/20-freshness.sql
\ir wh/21-checks.sql
\ir wh/22-scheduled-refresh.sql
\ir wh/23-upgrades.sql
\ir wh/24-privileges-and-version.sql
\ir wh/25-monitoring.sql
\ir wh/99-routine-comments.sql

COMMIT;
