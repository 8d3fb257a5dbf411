-- sql/wh/19-privileges-and-version.sql: Privileges and version.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Nothing in _wh for PUBLIC (phood_ro, plain logins): no table, no function, no procedure.
REVOKE ALL ON SCHEMA _wh FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA _wh FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA _wh FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA _wh FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE whadmin REVOKE EXECUTE ON ROUTINES FROM PUBLIC;

INSERT INTO _wh.warehouse_info (key, value) VALUES ('schema_version', '2.1.1')
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
-- Closed days are compacted once a tenant has more than this many closed daily materialized views
-- of a template (wh/09-compaction.sql). An existing value (set by a DBA) is kept.
INSERT INTO _wh.warehouse_info (key, value) VALUES ('compact_after_days', '31')
ON CONFLICT (key) DO NOTHING;

-- The version, readable from pg_catalog: a superuser session reads no _wh table (docs/security.md).
DO $version$
BEGIN
    EXECUTE format('COMMENT ON SCHEMA _wh IS %L',
        'PhoodWarehouse warehouse, schema version ' || (SELECT value FROM _wh.warehouse_info WHERE key = 'schema_version'));
END
$version$;
-- The run log keeps this many days (pruned once a day by _wh.refresh_recent_by_template); an existing value is kept.
INSERT INTO _wh.warehouse_info (key, value) VALUES ('run_log_retention_days', '90')
ON CONFLICT (key) DO NOTHING;
