-- sql/wh/25-monitoring.sql: Monitoring without PowerShell: each tenant's freshness SLA, and the monitoring views that the
-- login phood_monitor reads (Prometheus' postgres_exporter, Grafana, any collector that runs SQL: docs/monitoring.md).
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).
--
-- The views live in whadmin's schema phood_monitor (the login's search_path, set by setup-database.sql) and read the
-- warehouse only through the _wh.monitor_* functions below (SECURITY DEFINER: they run as whadmin). phood_monitor gets
-- USAGE on that schema, SELECT on its views and EXECUTE on those functions (a view's functions are checked against
-- the user of the view); no USAGE on _wh, so it can name nothing else there. Each view answers with one row per
-- series: numbers as numbers, labels as text (what Grafana's SQL alerts and the exporter's custom queries want).

-- Sets (or with NULL clears, back to the warehouse's setting freshness_sla) how long after its day ends, on its clock,
-- a tenant's day must be finished; raises for an unknown tenant or a negative SLA or one of 7 days or more (a day
-- finished a week later is not monitored, it is lost). Returns {"schema","freshness_sla","effective"} (effective: the
-- SLA that applies, the tenant's or the warehouse's).
CREATE OR REPLACE FUNCTION _wh.set_tenant_freshness_sla(target_schema text, freshness_sla interval)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF freshness_sla IS NOT NULL AND (freshness_sla < interval '0' OR freshness_sla >= interval '7 days') THEN
        RAISE EXCEPTION 'freshness SLA % of tenant % is out of range', freshness_sla, target_schema
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give a duration from 00:00:00 up to 7 days, e.g. 02:00:00: how long after its day ends a tenant''s day must be finished.';
    END IF;
    UPDATE _wh.tenants t SET freshness_sla = set_tenant_freshness_sla.freshness_sla WHERE t.schema_name = target_schema;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant schema % is not registered', coalesce(quote_literal(target_schema), 'NULL')
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN jsonb_build_object('schema', target_schema, 'freshness_sla', freshness_sla,
                              'effective', _wh.tenant_freshness_sla(target_schema));
END
$$;

-- The freshness SLA that applies to a tenant: its own, else the warehouse's setting freshness_sla (else its default).
CREATE OR REPLACE FUNCTION _wh.tenant_freshness_sla(target_schema text)
RETURNS interval
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT t.freshness_sla FROM _wh.tenants t WHERE t.schema_name = target_schema),
                    _wh.setting('freshness_sla')::interval)
$$;

-- Monitoring: one row per tenant and template, from the freshness engine (_wh.freshness, its default window): status
-- (Get-WhMvFreshness' statuses), latest day, seconds late against the SLA (0 when on time), the window's missing,
-- partial, changed and failed days, how long the oldest changed day has been known to differ (seconds since the
-- check that found it; 0 when none), the latest capture, verification, success and failure (with its SQLSTATE).
-- A tenant with no template has one row with template ''.
CREATE OR REPLACE FUNCTION _wh.monitor_freshness()
RETURNS TABLE (tenant text, template text, status text, latest_day date, days_behind integer, freshness_sla_seconds numeric,
               seconds_late numeric, missing_days integer, partial_days integer, changed_days integer,
               changed_unrepaired_seconds numeric, failed_days integer,
               daily_views integer, last_capture timestamptz, last_verification timestamptz, last_success timestamptz,
               last_failure timestamptz, last_failure_sqlstate text, window_start date, today date)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
    SELECT f.tenant, coalesce(f.template, ''), f.status, f.latest_day, f.today - f.latest_day,
           round(extract(epoch FROM f.freshness_sla), 3), f.seconds_late,
           cardinality(f.missing), cardinality(f.partial), cardinality(f.changed),
           coalesce((SELECT round(greatest(extract(epoch FROM _wh.now() - min(s.last_checked_at)), 0), 3)
                     FROM _wh.day_state s
                     WHERE s.schema_name = f.tenant AND s.template_name = f.template AND s.day = ANY (f.changed)
                       AND s.check_status = 'Changed'), 0),
           cardinality(f.failed),
           f.daily_views, f.last_capture, f.last_verified, f.last_success, f.last_failure, f.last_sqlstate,
           f.window_start, f.today
    FROM _wh.freshness() f
$$;

-- Monitoring: the window's days per tenant, template and kind, one row each (kinds missing, partial, changed, failed;
-- loaded: every daily view the pair holds), for phood_days{tenant,template,status}. Pairs without a template: none.
CREATE OR REPLACE FUNCTION _wh.monitor_days()
RETURNS TABLE (tenant text, template text, status text, days integer)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
    SELECT f.tenant, f.template, k.status, k.days
    FROM _wh.freshness() f
    CROSS JOIN LATERAL (VALUES ('loaded', f.daily_views), ('missing', cardinality(f.missing)), ('partial', cardinality(f.partial)),
                               ('changed', cardinality(f.changed)), ('failed', cardinality(f.failed))) k(status, days)
    WHERE f.template IS NOT NULL
    ORDER BY 1, 2, 3
$$;

-- Monitoring: whadmin's pg_cron jobs (the warehouse's schedules; none without pg_cron): last run, its status and
-- duration, runs and failed runs in the last 24 hours. pg_cron is read through dynamic SQL: it may not be installed.
-- (Where there is nothing to read, an empty query rather than a bare RETURN: plpgsql_check warns of OUT columns left
-- unset on that path.)
CREATE OR REPLACE FUNCTION _wh.monitor_jobs()
RETURNS TABLE (job text, job_id bigint, schedule text, active boolean, last_run timestamptz, last_status text,
               last_duration_seconds numeric, runs_24h integer, failures_24h integer, last_failure timestamptz)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF to_regclass(format('%I.%I', 'cron', 'job')) IS NULL OR to_regclass(format('%I.%I', 'cron', 'job_run_details')) IS NULL THEN
        RETURN QUERY SELECT NULL::text, NULL::bigint, NULL::text, NULL::boolean, NULL::timestamptz, NULL::text, NULL::numeric,
                            NULL::integer, NULL::integer, NULL::timestamptz
                     WHERE false;
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT coalesce(j.jobname, ''job '' || j.jobid)::text, j.jobid, j.schedule, j.active, l.start_time, l.status,
                round(extract(epoch FROM l.end_time - l.start_time)::numeric, 3),
                coalesce(d.runs, 0)::integer, coalesce(d.failures, 0)::integer, d.last_failure
         FROM %1$I.%2$I j
         LEFT JOIN LATERAL (SELECT r.start_time, r.end_time, r.status FROM %1$I.%3$I r
                            WHERE r.jobid OPERATOR(pg_catalog.=) j.jobid ORDER BY r.start_time DESC NULLS LAST, r.runid DESC LIMIT 1) l ON true
         LEFT JOIN LATERAL (SELECT count(*) AS runs, count(*) FILTER (WHERE r.status OPERATOR(pg_catalog.=) ''failed'') AS failures,
                                   max(r.start_time) FILTER (WHERE r.status OPERATOR(pg_catalog.=) ''failed'') AS last_failure
                            FROM %1$I.%3$I r
                            WHERE r.jobid OPERATOR(pg_catalog.=) j.jobid
                              AND r.start_time OPERATOR(pg_catalog.>) (now() OPERATOR(pg_catalog.-) interval ''24 hours'')) d ON true
         WHERE j.username OPERATOR(pg_catalog.=) current_user
         ORDER BY 1', 'cron', 'job', 'job_run_details');
END
$$;

-- Monitoring: each streaming replica of this server (public.wh_streaming_replicas(), setup-database.sql): its name
-- (application_name, else its address), state, replay lag in seconds (0 when caught up) and in bytes. None when that
-- function is missing or not whadmin's to call (pg_stat_replication hides the lag from whadmin).
CREATE OR REPLACE FUNCTION _wh.monitor_replicas()
RETURNS TABLE (replica text, client_addr text, state text, sync_state text, replay_lag_seconds numeric,
               replay_lag_bytes numeric, hot_standby_feedback boolean)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fn regprocedure := to_regprocedure('public.wh_streaming_replicas()');
BEGIN
    IF fn IS NULL OR NOT has_function_privilege(fn, 'EXECUTE') THEN
        RETURN QUERY SELECT NULL::text, NULL::text, NULL::text, NULL::text, NULL::numeric, NULL::numeric, NULL::boolean WHERE false;
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT coalesce(nullif(r.application_name, ''''), r.client_addr, ''replica'')::text, r.client_addr, r.state, r.sync_state,
                round(coalesce(extract(epoch FROM r.replay_lag), 0)::numeric, 3), r.replay_lag_bytes, r.feedback_xmin
         FROM %I.%I() r', 'public', 'wh_streaming_replicas');
END
$$;

-- Monitoring: the warehouse in one row: schema version (a label), tenants, templates, daily views of registered
-- tenants, the run log's rows, bytes and oldest row, the warehouse's freshness SLA, and the run log retention.
CREATE OR REPLACE FUNCTION _wh.monitor_warehouse()
RETURNS TABLE (schema_version text, tenants integer, templates integer, daily_views integer, run_log_rows bigint,
               run_log_bytes bigint, run_log_oldest timestamptz, run_log_retention_days integer, freshness_sla_seconds numeric)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
    SELECT (SELECT i.value FROM _wh.warehouse_info i WHERE i.key = 'schema_version'),
           (SELECT count(*)::integer FROM _wh.tenants),
           (SELECT count(*)::integer FROM _wh.mv_templates),
           (SELECT count(*)::integer FROM _wh.daily_relations r
            JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
            JOIN _wh.tenants t ON t.schema_name = n.nspname
            JOIN _wh.mv_templates m ON m.template_name = r.template_name),
           (SELECT count(*) FROM _wh.run_log),
           pg_catalog.pg_total_relation_size('_wh.run_log'::regclass),
           (SELECT min(r.logged_at) FROM _wh.run_log r),
           _wh.run_log_retention_days(),
           round(extract(epoch FROM _wh.setting('freshness_sla')::interval), 3)
$$;

-- The monitoring schema: whadmin's, named like the login (no tenant can take a role's name, _wh.assert_new_name).
DO $schema$
BEGIN
    IF EXISTS (SELECT 1 FROM _wh.tenants t WHERE t.schema_name = 'phood_monitor') THEN
        RAISE EXCEPTION 'schema phood_monitor is a tenant''s: the monitoring views need that name'
            USING HINT = 'Rename the tenant (a new tenant from the same source, then Remove-WhTenant), then run functions.sql again.';
    END IF;
END
$schema$;
CREATE SCHEMA IF NOT EXISTS phood_monitor;
REVOKE ALL ON SCHEMA phood_monitor FROM PUBLIC;

-- Re-created on every run (a column may have changed), then granted again below.
DROP VIEW IF EXISTS phood_monitor.freshness;
DROP VIEW IF EXISTS phood_monitor.days;
DROP VIEW IF EXISTS phood_monitor.jobs;
DROP VIEW IF EXISTS phood_monitor.replicas;
DROP VIEW IF EXISTS phood_monitor.warehouse;
CREATE VIEW phood_monitor.freshness AS SELECT * FROM _wh.monitor_freshness();
CREATE VIEW phood_monitor.days AS SELECT * FROM _wh.monitor_days();
CREATE VIEW phood_monitor.jobs AS SELECT * FROM _wh.monitor_jobs();
CREATE VIEW phood_monitor.replicas AS SELECT * FROM _wh.monitor_replicas();
CREATE VIEW phood_monitor.warehouse AS SELECT * FROM _wh.monitor_warehouse();
COMMENT ON VIEW phood_monitor.freshness IS 'One row per tenant and template: status, latest day, seconds late against the freshness SLA, the window''s missing/partial/changed/failed days, last capture, verification, success and failure (docs/monitoring.md).';
COMMENT ON VIEW phood_monitor.days IS 'One row per tenant, template and kind of day (loaded, missing, partial, changed, failed): how many (docs/monitoring.md).';
COMMENT ON VIEW phood_monitor.jobs IS 'One row per pg_cron job of whadmin: last run, status, duration, runs and failures in the last 24 hours (docs/monitoring.md).';
COMMENT ON VIEW phood_monitor.replicas IS 'One row per streaming replica: state and replay lag (docs/monitoring.md).';
COMMENT ON VIEW phood_monitor.warehouse IS 'The warehouse in one row: schema version, tenants, templates, daily views, run log size (docs/monitoring.md).';

-- The monitoring login's grants: these views, and the functions they call; nothing else. setup-database.sql (the
-- admin's part) creates the login; a warehouse whose admin part predates it gets them once it has run again.
DO $grants$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = 'phood_monitor') THEN
        GRANT USAGE ON SCHEMA phood_monitor TO phood_monitor;
        GRANT SELECT ON phood_monitor.freshness, phood_monitor.days, phood_monitor.jobs, phood_monitor.replicas,
                        phood_monitor.warehouse TO phood_monitor;
        GRANT EXECUTE ON FUNCTION _wh.monitor_freshness(), _wh.monitor_days(), _wh.monitor_jobs(), _wh.monitor_replicas(),
                                  _wh.monitor_warehouse() TO phood_monitor;
    ELSE
        RAISE NOTICE 'role phood_monitor does not exist yet: the monitoring views are in place, but no login reads them'
            USING HINT = 'Run sql/create.sql (or Install-WhWarehouse) as a superuser or the managed server''s admin: it creates phood_monitor; then run functions.sql again.';
    END IF;
END
$grants$;
