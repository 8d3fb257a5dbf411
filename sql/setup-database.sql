-- PhoodWarehouse: everything a superuser does from INSIDE the warehouse database.
--
-- Run as a superuser connected to the warehouse database (create.sql includes it;
-- Install-WhWarehouse executes it as one script). Plain SQL and DO blocks only, no
-- psql meta-commands. Idempotent: re-running changes nothing.
--
-- Guarantees:
--   * roles whadmin and phood_ro exist (created without password when missing);
--   * extension dblink in schema public; pg_cron when it is preloaded and
--     cron.database_name names this database (otherwise a NOTICE says how to enable it);
--   * whadmin: owns schema _wh; CREATE/CONNECT/TEMP on the database (creates tenant
--     schemas); CREATE, USAGE on schema public; USAGE on the dblink_fdw wrapper;
--     EXECUTE on the dblink functions; USAGE on schema cron and EXECUTE on
--     cron.schedule_in_database / cron.alter_job when pg_cron is installed;
--   * phood_ro: CONNECT, USAGE on public, SELECT on every table/view whadmin creates
--     later in public (default privileges FOR ROLE whadmin); nothing else;
--   * PUBLIC: no CONNECT and no TEMP on the database, no CREATE on schema public, no dblink:
--     a login with no grants cannot connect (docs/security.md, finding 5);
--   * nothing here reads or runs a _wh object: a superuser never runs code whadmin can
--     change (docs/security.md). Names resolve in pg_catalog only (search_path below).

SET search_path = pg_catalog, pg_temp;

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'whadmin') THEN
        CREATE ROLE whadmin LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'phood_ro') THEN
        CREATE ROLE phood_ro LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB;
    END IF;
END
$roles$;

CREATE EXTENSION IF NOT EXISTS dblink WITH SCHEMA public;

-- pg_cron can only be created where the scheduler runs (cron.database_name), and only
-- when the library is preloaded. Anything else installs without it.
DO $cron$
DECLARE
    preload text := pg_catalog.current_setting('shared_preload_libraries', true);
    cron_db text := pg_catalog.current_setting('cron.database_name', true);
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
        NULL;
    ELSIF preload IS NULL OR preload !~ '(^|[\s,])"?pg_cron"?($|[\s,])' THEN
        RAISE NOTICE 'pg_cron is not installed: it is not in shared_preload_libraries. To enable scheduled refreshes set shared_preload_libraries = ''pg_cron'' and cron.database_name = % in postgresql.conf (RDS: the parameter group), restart, and run this script again.',
            pg_catalog.quote_literal(pg_catalog.current_database());
    ELSIF cron_db IS DISTINCT FROM pg_catalog.current_database() THEN
        RAISE NOTICE 'pg_cron is not installed: cron.database_name is %, not %. Set cron.database_name = %, restart, and run this script again.',
            coalesce(pg_catalog.quote_literal(cron_db), '(unset, i.e. postgres)'),
            pg_catalog.quote_literal(pg_catalog.current_database()), pg_catalog.quote_literal(pg_catalog.current_database());
    ELSE
        CREATE EXTENSION IF NOT EXISTS pg_cron;
    END IF;

    IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'cron') THEN
        GRANT USAGE ON SCHEMA cron TO whadmin;
        -- pg_cron 1.4 revokes these from PUBLIC; whadmin schedules jobs as itself.
        IF pg_catalog.to_regprocedure('cron.schedule_in_database(text,text,text,text,text,boolean)') IS NOT NULL THEN
            GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text,text,text,text,text,boolean) TO whadmin;
        END IF;
        IF pg_catalog.to_regprocedure('cron.alter_job(bigint,text,text,text,text,boolean)') IS NOT NULL THEN
            GRANT EXECUTE ON FUNCTION cron.alter_job(bigint,text,text,text,text,boolean) TO whadmin;
        END IF;
    END IF;
END
$cron$;

GRANT USAGE ON FOREIGN DATA WRAPPER dblink_fdw TO whadmin;

CREATE SCHEMA IF NOT EXISTS _wh AUTHORIZATION whadmin;
ALTER SCHEMA _wh OWNER TO whadmin;
REVOKE ALL ON SCHEMA _wh FROM PUBLIC;

-- Database-level privileges (the database name is only known at run time).
DO $db$
BEGIN
    EXECUTE pg_catalog.format('GRANT CONNECT, CREATE, TEMPORARY ON DATABASE %I TO whadmin', pg_catalog.current_database());
    EXECUTE pg_catalog.format('GRANT CONNECT ON DATABASE %I TO phood_ro', pg_catalog.current_database());
    -- Only the warehouse's own roles connect: a plain login could read the map of tenants
    -- (foreign server hosts, view definitions). Give other logins CONNECT explicitly.
    EXECUTE pg_catalog.format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', pg_catalog.current_database());
    -- phood_ro "cannot create objects": no temporary tables either.
    EXECUTE pg_catalog.format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', pg_catalog.current_database());
END
$db$;

GRANT CREATE, USAGE ON SCHEMA public TO whadmin;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO phood_ro;

-- dblink opens connections with the caller's rights: only whadmin may use it.
DO $dblink$
DECLARE
    fn regprocedure;
BEGIN
    FOR fn IN
        SELECT p.oid::regprocedure
        FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
        JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'dblink'
    LOOP
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', fn);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO whadmin', fn);
    END LOOP;
END
$dblink$;

-- Views and tables whadmin creates later in public (the cross-tenant views) are readable by
-- phood_ro. FOR ROLE whadmin matters: default privileges apply to objects created by the
-- named role only (the guide's form applies to the role running the statement).
ALTER DEFAULT PRIVILEGES FOR ROLE whadmin IN SCHEMA public GRANT SELECT ON TABLES TO phood_ro;
-- Functions whadmin creates are not executable by PUBLIC unless granted.
ALTER DEFAULT PRIVILEGES FOR ROLE whadmin REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
