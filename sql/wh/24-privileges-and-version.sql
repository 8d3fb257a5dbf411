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
INSERT INTO _wh.warehouse_info (key, value) VALUES ('schema_version', '2.5.0')
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;

-- The version, readable from pg_catalog: a superuser session reads no _wh table (docs/security.md).
DO $version$
BEGIN
    EXECUTE format('COMMENT ON SCHEMA _wh IS %L',
        'PhoodWarehouse warehouse, schema version ' || (SELECT value FROM _wh.warehouse_info WHERE key = 'schema_version'));
END
$version$;
