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
