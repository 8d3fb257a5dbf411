-- PhoodWarehouse: everything the installing admin does from INSIDE the warehouse database.
--
-- Run as a superuser, or as a managed server's admin (Amazon RDS's master user: CREATEROLE and CREATEDB, a member of
-- rds_superuser, not a superuser), connected to the warehouse database (create.sql includes it; Install-WhWarehouse
-- executes it as one script). Plain SQL and DO blocks only, no psql meta-commands. Idempotent: re-running changes nothing.
-- The admin needs no membership in whadmin: whadmin creates its own schema _wh and its own default privileges
-- (functions.sql), with CREATE on this database.
--
-- Guarantees:
--   * roles whadmin, phood_ro and phood_monitor exist (created without password and without any admin attribute when missing); an
--     existing one that is a superuser, has CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS, or is a member of a role
--     that has one of them (rds_superuser, say) or of pg_execute_server_program / pg_read_server_files /
--     pg_write_server_files, is refused: whadmin stays whadmin (docs/security.md);
--   * extension dblink in schema public; pg_cron when it is preloaded and
--     cron.database_name names this database (otherwise a NOTICE says how to enable it);
--   * whadmin: CREATE/CONNECT/TEMP on the database (creates _wh and tenant schemas); CREATE, USAGE on schema
--     public; USAGE on the dblink_fdw wrapper; EXECUTE on the dblink functions except the unsafe ones
--     (dblink_connect_u and every other *_u function: granted to no one); USAGE on schema cron and EXECUTE on
--     cron.schedule_in_database / cron.alter_job when pg_cron is installed;
--   * phood_ro: CONNECT, USAGE on public; nothing else;
--   * phood_monitor (the monitoring login: Prometheus, Grafana, any collector): CONNECT and search_path phood_monitor,
--     nothing else here; whadmin's functions.sql gives it the monitoring views (schema phood_monitor) and only them
--     (docs/monitoring.md). Refused like the two above when it has more rights than its part;
--   * PUBLIC: no CONNECT and no TEMP on the database, no CREATE on schema public, no dblink:
--     a login with no grants cannot connect (docs/security.md, finding 5);
--   * whadmin may call public.wh_streaming_replicas() (replication state for Get-WhHealth;
--     pg_stat_replication hides it from roles without pg_read_all_stats);
--   * every grant and revoke above is checked once run: one that did nothing (a REVOKE by a role that does not own
--     the object is only a WARNING) is an error naming the object and its owner;
--   * nothing here reads or runs a _wh object: the admin never runs code whadmin can change (docs/security.md).
--     Names resolve in pg_catalog only (search_path below, for this transaction when run as one).

-- For this transaction only (a session setting would outlive it on a pooled server connection, docs/deployment.md);
-- run outside one, SET LOCAL does nothing, and the check below refuses to go on.
SET LOCAL search_path = pg_catalog, pg_temp;
DO $pinned$
BEGIN
    IF pg_catalog.current_setting('search_path') OPERATOR(pg_catalog.<>) 'pg_catalog, pg_temp' THEN
        RAISE EXCEPTION 'setup-database.sql must run inside one transaction'
            USING HINT = 'Run sql/create.sql (it wraps this file in BEGIN ... COMMIT), or Install-WhWarehouse. Nothing was changed.';
    END IF;
END
$pinned$;

DO $roles$
DECLARE
    wh_role text;
    why text;
BEGIN
    -- No [NO]SUPERUSER clause: only a superuser may write one, and a new role has no admin attribute anyway.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'whadmin') THEN
        CREATE ROLE whadmin LOGIN NOCREATEROLE NOCREATEDB;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'phood_ro') THEN
        CREATE ROLE phood_ro LOGIN NOCREATEROLE NOCREATEDB;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'phood_monitor') THEN
        CREATE ROLE phood_monitor LOGIN NOCREATEROLE NOCREATEDB;
    END IF;
    -- An existing role with more than its part is refused, never quietly demoted (a non-superuser cannot demote a
    -- superuser, and a role that is a member of an admin role can act as it).
    FOREACH wh_role IN ARRAY ARRAY['whadmin', 'phood_ro', 'phood_monitor'] LOOP
        SELECT pg_catalog.string_agg(w, ', ') INTO why FROM (
            SELECT 'it is a superuser' AS w FROM pg_catalog.pg_roles r WHERE r.rolname = wh_role AND r.rolsuper
            UNION ALL SELECT 'it has CREATEROLE' FROM pg_catalog.pg_roles r WHERE r.rolname = wh_role AND r.rolcreaterole
            UNION ALL SELECT 'it has CREATEDB' FROM pg_catalog.pg_roles r WHERE r.rolname = wh_role AND r.rolcreatedb
            UNION ALL SELECT 'it has REPLICATION' FROM pg_catalog.pg_roles r WHERE r.rolname = wh_role AND r.rolreplication
            UNION ALL SELECT 'it has BYPASSRLS' FROM pg_catalog.pg_roles r WHERE r.rolname = wh_role AND r.rolbypassrls
            UNION ALL
            SELECT pg_catalog.format('it is a member of %I', a.rolname)
            FROM pg_catalog.pg_roles r, pg_catalog.pg_roles a
            WHERE r.rolname = wh_role AND a.oid OPERATOR(pg_catalog.<>) r.oid
              AND (a.rolsuper OR a.rolcreaterole OR a.rolcreatedb OR a.rolreplication OR a.rolbypassrls
                   OR a.rolname IN ('pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files'))
              AND pg_catalog.pg_has_role(r.oid, a.oid, 'MEMBER')
        ) reasons;
        IF why IS NOT NULL THEN
            RAISE EXCEPTION 'role % has more rights than its part: %', wh_role, why
                USING ERRCODE = 'insufficient_privilege',
                      HINT = pg_catalog.format('%s must be a plain login (docs/security.md). As an admin: ALTER ROLE %s NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS, REVOKE the admin role from it, then run this again. Nothing was changed.', wh_role, wh_role);
        END IF;
    END LOOP;
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

-- Schema _wh is whadmin's own: functions.sql creates it (CREATE on the database below), so that the admin needs no
-- membership in whadmin (CREATE SCHEMA ... AUTHORIZATION whadmin would).

-- Database-level privileges (the database name is only known at run time).
DO $db$
BEGIN
    EXECUTE pg_catalog.format('GRANT CONNECT, CREATE, TEMPORARY ON DATABASE %I TO whadmin', pg_catalog.current_database());
    EXECUTE pg_catalog.format('GRANT CONNECT ON DATABASE %I TO phood_ro', pg_catalog.current_database());
    EXECUTE pg_catalog.format('GRANT CONNECT ON DATABASE %I TO phood_monitor', pg_catalog.current_database());
    -- Only the warehouse's own roles connect: a plain login could read the map of tenants
    -- (foreign server hosts, view definitions). Give other logins CONNECT explicitly.
    EXECUTE pg_catalog.format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', pg_catalog.current_database());
    -- phood_ro "cannot create objects": no temporary tables either.
    EXECUTE pg_catalog.format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', pg_catalog.current_database());
END
$db$;

-- BI reads public only: no "$user" in phood_ro's search_path, so no schema named like a role (a tenant, say) is ever
-- searched before public (a tenant named phood_ro would otherwise shadow every cross-tenant view).
ALTER ROLE phood_ro SET search_path = public;
-- The monitoring login reads its own schema only (whadmin's phood_monitor: the monitoring views); a schema named like
-- the role is what "$user" would find anyway, and no tenant can take the name of a role (_wh.assert_new_name).
ALTER ROLE phood_monitor SET search_path = phood_monitor;

GRANT CREATE, USAGE ON SCHEMA public TO whadmin;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO phood_ro;

-- dblink opens connections with the caller's rights: only whadmin may use it, and no one its unsafe functions
-- (dblink_connect_u and the other *_u: they connect without a password check, as any role a peer or trust socket
-- admits, docs/security.md).
DO $dblink$
DECLARE
    fn regprocedure;
    unsafe boolean;
BEGIN
    FOR fn, unsafe IN
        SELECT p.oid::regprocedure, p.proname ~ '_u$'
        FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
        JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'dblink'
    LOOP
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', fn);
        IF unsafe THEN
            EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM whadmin, phood_ro, phood_monitor', fn);
        ELSE
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO whadmin', fn);
        END IF;
    END LOOP;
END
$dblink$;

-- whadmin's default privileges (phood_ro reads what whadmin creates in public; PUBLIC executes none of its functions)
-- are whadmin's own: functions.sql sets them (FOR ROLE whadmin from here would need membership in whadmin).

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

-- What the security of the design rests on, checked now that it ran: a GRANT or REVOKE by a role that neither owns the
-- object nor holds it WITH GRANT OPTION is only a WARNING, and would leave dblink open to every login, say.
DO $verify$
DECLARE
    db text := pg_catalog.current_database();
    missing text;
BEGIN
    SELECT pg_catalog.string_agg(what, '; ') INTO missing FROM (
        SELECT pg_catalog.format('whadmin lacks %s on database %I (owner %I)', p, db, pg_catalog.pg_get_userbyid(d.datdba)) AS what
        FROM pg_catalog.pg_database d, pg_catalog.unnest(ARRAY['CONNECT', 'CREATE', 'TEMPORARY']) p
        WHERE d.datname = db AND NOT pg_catalog.has_database_privilege('whadmin', d.oid, p)
        UNION ALL
        SELECT pg_catalog.format('phood_ro lacks CONNECT on database %I (owner %I)', db, pg_catalog.pg_get_userbyid(d.datdba))
        FROM pg_catalog.pg_database d WHERE d.datname = db AND NOT pg_catalog.has_database_privilege('phood_ro', d.oid, 'CONNECT')
        UNION ALL
        SELECT pg_catalog.format('phood_monitor lacks CONNECT on database %I (owner %I)', db, pg_catalog.pg_get_userbyid(d.datdba))
        FROM pg_catalog.pg_database d WHERE d.datname = db AND NOT pg_catalog.has_database_privilege('phood_monitor', d.oid, 'CONNECT')
        UNION ALL
        SELECT pg_catalog.format('PUBLIC still has %s on database %I (owner %I)', p, db, pg_catalog.pg_get_userbyid(d.datdba))
        FROM pg_catalog.pg_database d, pg_catalog.unnest(ARRAY['CONNECT', 'TEMPORARY']) p
        WHERE d.datname = db AND pg_catalog.has_database_privilege('public', d.oid, p)
        UNION ALL
        SELECT pg_catalog.format('%s on schema public (owner %I)', w, pg_catalog.pg_get_userbyid(n.nspowner))
        FROM pg_catalog.pg_namespace n,
             LATERAL (VALUES ('whadmin lacks CREATE', NOT pg_catalog.has_schema_privilege('whadmin', n.oid, 'CREATE')),
                             ('whadmin lacks USAGE', NOT pg_catalog.has_schema_privilege('whadmin', n.oid, 'USAGE')),
                             ('phood_ro lacks USAGE', NOT pg_catalog.has_schema_privilege('phood_ro', n.oid, 'USAGE')),
                             ('PUBLIC still has CREATE', pg_catalog.has_schema_privilege('public', n.oid, 'CREATE'))) c(w, bad)
        WHERE n.nspname = 'public' AND c.bad
        UNION ALL
        SELECT pg_catalog.format('whadmin lacks USAGE on foreign data wrapper dblink_fdw (owner %I)', pg_catalog.pg_get_userbyid(w.fdwowner))
        FROM pg_catalog.pg_foreign_data_wrapper w
        WHERE w.fdwname = 'dblink_fdw' AND NOT pg_catalog.has_foreign_data_wrapper_privilege('whadmin', w.oid, 'USAGE')
        UNION ALL
        SELECT pg_catalog.format('%s on function %s (owner %I)', c.w, p.oid::regprocedure, pg_catalog.pg_get_userbyid(p.proowner))
        FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
        JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'dblink',
        LATERAL (VALUES ('PUBLIC still has EXECUTE', pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')),
                        ('phood_ro has EXECUTE', pg_catalog.has_function_privilege('phood_ro', p.oid, 'EXECUTE')),
                        ('phood_monitor has EXECUTE', pg_catalog.has_function_privilege('phood_monitor', p.oid, 'EXECUTE')),
                        ('whadmin lacks EXECUTE', p.proname !~ '_u$' AND NOT pg_catalog.has_function_privilege('whadmin', p.oid, 'EXECUTE')),
                        ('whadmin has EXECUTE (unsafe: granted to no one)', p.proname ~ '_u$' AND pg_catalog.has_function_privilege('whadmin', p.oid, 'EXECUTE'))) c(w, bad)
        WHERE c.bad
        UNION ALL
        SELECT pg_catalog.format('whadmin lacks USAGE on schema cron (owner %I)', pg_catalog.pg_get_userbyid(n.nspowner))
        FROM pg_catalog.pg_namespace n WHERE n.nspname = 'cron' AND NOT pg_catalog.has_schema_privilege('whadmin', n.oid, 'USAGE')
        UNION ALL
        SELECT pg_catalog.format('whadmin lacks EXECUTE on function %s (owner %I)', p.oid::regprocedure, pg_catalog.pg_get_userbyid(p.proowner))
        FROM pg_catalog.pg_proc p
        WHERE p.oid IN (pg_catalog.to_regprocedure('cron.schedule_in_database(text,text,text,text,text,boolean)'),
                        pg_catalog.to_regprocedure('cron.alter_job(bigint,text,text,text,text,boolean)'))
          AND NOT pg_catalog.has_function_privilege('whadmin', p.oid, 'EXECUTE')
        UNION ALL
        SELECT pg_catalog.format('%s on function %s (owner %I)', c.w, p.oid::regprocedure, pg_catalog.pg_get_userbyid(p.proowner))
        FROM pg_catalog.pg_proc p,
        LATERAL (VALUES ('whadmin lacks EXECUTE', NOT pg_catalog.has_function_privilege('whadmin', p.oid, 'EXECUTE')),
                        ('PUBLIC still has EXECUTE', pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE'))) c(w, bad)
        WHERE p.oid = pg_catalog.to_regprocedure('public.wh_streaming_replicas()') AND c.bad
    ) problems;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'the warehouse''s grants are not in place: %', missing
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'The installing role must own each object named, or hold its privilege WITH GRANT OPTION (a managed server''s admin: see docs/deployment.md). Nothing was changed.';
    END IF;
END
$verify$;
