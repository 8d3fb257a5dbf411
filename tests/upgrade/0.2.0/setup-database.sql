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
--   * whadmin may call public.wh_streaming_replicas() (replication state for Get-WhHealth;
--     pg_stat_replication hides it from roles without pg_read_all_stats);
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

-- Streaming replicas for Get-WhHealth. pg_stat_replication shows its columns only to superusers and members of
-- pg_read_all_stats, which whadmin is not (that role reads every role's statement texts): this function, owned by
-- the superuser running this script and reading pg_catalog only, returns the replication columns and nothing else.
-- feedback_xmin: the standby reports an xmin, which it does only with hot_standby_feedback on (the setting itself is
-- the standby's and cannot be read from here; a standby sends its first report within wal_receiver_status_interval).
DO $replicas$
BEGIN
    -- Replaced only when it is ours: a function of that name owned by another role is dropped first.
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_proc p
               WHERE p.oid = pg_catalog.to_regprocedure('public.wh_streaming_replicas()')
                 AND p.proowner <> (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)) THEN
        DROP FUNCTION public.wh_streaming_replicas();
    END IF;
END
$replicas$;
CREATE OR REPLACE FUNCTION public.wh_streaming_replicas()
RETURNS TABLE (application_name text, client_addr text, state text, sync_state text,
               replay_lag interval, replay_lag_bytes numeric, feedback_xmin boolean)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.application_name::text, pg_catalog.host(r.client_addr), r.state, r.sync_state, r.replay_lag,
           pg_catalog.pg_wal_lsn_diff(r.sent_lsn, r.replay_lsn), r.backend_xmin IS NOT NULL
    FROM pg_catalog.pg_stat_replication r
    ORDER BY r.application_name, r.pid
$$;
REVOKE ALL ON FUNCTION public.wh_streaming_replicas() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.wh_streaming_replicas() TO whadmin;
