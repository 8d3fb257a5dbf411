-- PhoodWarehouse: create the warehouse database and its roles.
--
-- Run as the postgres superuser, connected to template1 (operations guide, step 1):
--     psql -h <host> -U postgres -d template1
--     \i sql/create.sql
--
-- Before running it, replace the password stubs below (STUB_WHADMIN_PASSWORD,
-- STUB_PHOOD_RO_PASSWORD). The script is re-runnable: roles and the database are
-- created only when missing, and the passwords are set on every run, so editing
-- this file and running it again rotates them.
--
-- Guarantees:
--   * role whadmin: LOGIN, NOSUPERUSER, NOCREATEROLE, NOCREATEDB (warehouse operations);
--   * role phood_ro: LOGIN, NOSUPERUSER, NOCREATEROLE, NOCREATEDB (read-only BI);
--   * database phood_warehouse (created, not renamed: the guide's "rename the default
--     database" is not done, template1/postgres stay as they are);
--   * then, inside phood_warehouse, setup-database.sql: extensions, schema _wh, privileges.

\set ON_ERROR_STOP on

-- CREATE DATABASE cannot run inside a DO block or a function: generate it and \gexec.
SELECT 'CREATE DATABASE phood_warehouse'
WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = 'phood_warehouse')
\gexec

\c phood_warehouse

-- Roles (created without password when missing), extensions, schema _wh and privileges:
-- the same script Install-WhWarehouse runs.
\ir setup-database.sql

-- The passwords of this file, set on every run (edit the stubs first).
ALTER ROLE whadmin  WITH LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD 'STUB_WHADMIN_PASSWORD';
ALTER ROLE phood_ro WITH LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD 'STUB_PHOOD_RO_PASSWORD';
