-- PhoodWarehouse: create the warehouse database and its roles.
--
-- Run as the postgres superuser, or as a managed server's admin (Amazon RDS's master user), connected to template1
-- (operations guide, step 1):
--     psql -h <host> -U postgres -d template1
--     \i sql/create.sql
--
-- Before running it, replace the password stubs below (STUB_WHADMIN_PASSWORD,
-- STUB_PHOOD_RO_PASSWORD, STUB_PHOOD_MONITOR_PASSWORD). The script is re-runnable: roles and the database are
-- created only when missing, and the passwords are set on every run, so editing
-- this file and running it again rotates them.
--
-- Guarantees:
--   * role whadmin: LOGIN, no admin attribute (warehouse operations);
--   * role phood_ro: LOGIN, no admin attribute (read-only BI);
--   * role phood_monitor: LOGIN, no admin attribute (monitoring: the views of schema phood_monitor only);
--   * the stub passwords and empty ones are refused;
--   * database phood_warehouse (created, not renamed: the guide's "rename the default
--     database" is not done, template1/postgres stay as they are);
--   * then, inside phood_warehouse, setup-database.sql: extensions, schema _wh, privileges.

\set ON_ERROR_STOP on

-- The passwords of this file (edit the stubs first), into psql variables; the stubs and empty ones are refused before
-- anything changes.
SELECT 'STUB_WHADMIN_PASSWORD' AS whadmin_password, 'STUB_PHOOD_RO_PASSWORD' AS phood_ro_password,
       'STUB_PHOOD_MONITOR_PASSWORD' AS phood_monitor_password
\gset
SELECT (:'whadmin_password' ~ '^(STUB_[A-Z_]+_PASSWORD)?$' OR :'phood_ro_password' ~ '^(STUB_[A-Z_]+_PASSWORD)?$'
        OR :'phood_monitor_password' ~ '^(STUB_[A-Z_]+_PASSWORD)?$') AS stub_passwords
\gset
\if :stub_passwords
DO $stubs$
BEGIN
    RAISE EXCEPTION 'create.sql still holds a password stub (or an empty password)'
        USING HINT = 'Edit sql/create.sql: replace STUB_WHADMIN_PASSWORD, STUB_PHOOD_RO_PASSWORD and STUB_PHOOD_MONITOR_PASSWORD with secure passwords, then run it again. Nothing was changed.';
END
$stubs$;
\endif

-- CREATE DATABASE cannot run inside a DO block or a function: generate it and \gexec.
SELECT 'CREATE DATABASE phood_warehouse'
WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = 'phood_warehouse')
\gexec

\c phood_warehouse

-- Roles (created without password when missing), extensions and privileges: the same script Install-WhWarehouse
-- runs, and the passwords of this file, in one transaction: a failure leaves nothing half done.
BEGIN;
\ir setup-database.sql

-- The passwords of this file, set on every run (edit the stubs first). A superuser keeps them out of the server log
-- for this transaction (a managed admin may not change these settings: its log shows what log_statement says).
DO $quiet$
BEGIN
    IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
        SET LOCAL log_statement = 'none';
        SET LOCAL log_min_error_statement = 'panic';
    END IF;
END
$quiet$;
SELECT pg_catalog.set_config('phood.whadmin_password', :'whadmin_password', true),
       pg_catalog.set_config('phood.phood_ro_password', :'phood_ro_password', true),
       pg_catalog.set_config('phood.phood_monitor_password', :'phood_monitor_password', true)
\g /dev/null
\unset whadmin_password
\unset phood_ro_password
\unset phood_monitor_password
DO $passwords$
DECLARE
    login text;
    secret text;
BEGIN
    FOREACH login IN ARRAY ARRAY['whadmin', 'phood_ro', 'phood_monitor'] LOOP
        secret := pg_catalog.current_setting('phood.' || login || '_password');
        PERFORM pg_catalog.set_config('phood.' || login || '_password', '', true);
        BEGIN
            EXECUTE pg_catalog.format('ALTER ROLE %I WITH LOGIN PASSWORD %L', login, secret);
        EXCEPTION WHEN OTHERS THEN
            -- Re-raised without the statement, which holds the password (the server log would show it as context).
            RAISE EXCEPTION 'could not set the password of %: %', login, SQLERRM USING ERRCODE = SQLSTATE;
        END;
    END LOOP;
END
$passwords$;
COMMIT;
