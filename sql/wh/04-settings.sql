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
