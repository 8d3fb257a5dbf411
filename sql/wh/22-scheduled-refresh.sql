-- sql/wh/22-scheduled-refresh.sql: The scheduled refresh (_wh.refresh_recent_by_template) and the run log's retention.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Never waits: one day of a scheduled refresh through update_mv_day_isolated (failures logged there, in a
-- subtransaction), unless another session holds the day (a backfill, a repair, another job): then 'skipped' with
-- "busy" in the run log, left for the next run.
CREATE OR REPLACE FUNCTION _wh.refresh_day_unless_busy(template_name text, tenant_connection_name text, target_schema text,
                                                       target_date date, force boolean)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT _wh.try_lock_daily_view(target_schema, _wh.create_mv_name(template_name, target_date)) THEN
        PERFORM _wh.log_run(target_schema, tenant_connection_name, template_name, target_date, 'skipped', NULL, NULL,
                            'busy: another session holds this day; left for the next run');
        RETURN jsonb_build_object('action', 'skipped', 'date', target_date, 'busy', true);
    END IF;
    RETURN _wh.update_mv_day_isolated(template_name, tenant_connection_name, target_schema, target_date, true, force);
END
$$;

-- THE repair of one day, the one place that logs 'repaired' (the scheduled refresh's step 3b; Repair-WhMv through the
-- module's backfill): the day is loaded again from its source with force (re-created beside the old rows and swapped,
-- or created when missing) and, when it was, logged 'repaired' in the same transaction. wait false (the scheduled
-- refresh): never waits on a day another session holds and keeps the day's error in a subtransaction
-- (refresh_day_unless_busy: busy -> 'skipped', a failure logged and returned); wait true (the module, which retries
-- and logs a failure itself): waits for the day's lock and raises. Returns the day's result (update_mv_by_template's).
CREATE OR REPLACE FUNCTION _wh.repair_day(template_name text, tenant_connection_name text, target_schema text,
                                          target_date date, wait boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result jsonb;
BEGIN
    IF wait THEN
        result := _wh.update_mv_by_template(template_name, tenant_connection_name, target_schema, target_date, true, true, false);
    ELSE
        result := _wh.refresh_day_unless_busy(template_name, tenant_connection_name, target_schema, target_date, true);
    END IF;
    IF result->>'action' IN ('created', 'recreated') THEN
        PERFORM _wh.log_run(target_schema, tenant_connection_name, template_name, target_date, 'repaired',
                            (result->>'rows')::bigint, (result->>'duration_ms')::numeric);
    END IF;
    RETURN result;
END
$$;

-- How long the run log keeps its rows: the setting run_log_retention_days (_wh.setting).
CREATE OR REPLACE FUNCTION _wh.run_log_retention_days()
RETURNS integer
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _wh.setting('run_log_retention_days')::integer
$$;

-- Deletes run-log rows older than run_log_retention_days() (on _wh.now()'s clock); returns how many.
-- The scheduled refresh calls it once a day (warehouse_info 'run_log_pruned_on').
CREATE OR REPLACE FUNCTION _wh.prune_run_log()
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    DELETE FROM _wh.run_log r WHERE r.logged_at < _wh.now() - make_interval(days => _wh.run_log_retention_days());
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO _wh.warehouse_info (key, value) VALUES ('run_log_pruned_on', _wh.today_in(NULL)::text)
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
    RETURN n;
END
$$;

-- THE scheduled refresh of one tenant's template (what Register-WhCronJob schedules; pg_cron CALLs it). COMMITs
-- after every step, so a failed day does not undo the others; every day on the tenant's clock (_wh.tenant_today):
--   1. today is created or refreshed;
--   2. yesterday is refreshed once after it has ended: whenever it is missing or its last capture
--      (_wh.day_state.captured_at) was before its midnight;
--   3. at most once a day per tenant and template (warehouse_info 'lookback_checked:<schema>.<template>'), the
--      lookback_days closed days before yesterday are checked against the source (check_mv_window_by_template,
--      which records each day's status in _wh.day_state); then, on every run, every closed day known to differ
--      (however old, a repair left busy or interrupted included) is loaded again (_wh.repair_day: force, readers see
--      the old rows or the new, never none; each logged 'repaired'); lookback_days = 0 turns both off;
--   4. once a day the run log is pruned (prune_run_log), then the tenant and public views are made to include
--      the days (finish_window, which also compacts closed days when due).
-- Never waits on a day another session holds (skipped, "busy" in the run log). Each step runs under
-- lock_timeout (the setting job_lock_timeout, _wh.setting); the check's source statements under
-- check_statement_timeout (a statement_timeout set inside a procedure does not bound the CALL itself). Raises at the end, after committing what
-- worked, when a day failed, so pg_cron records the run as failed. CALL it at top level (not in a transaction
-- block). Not SECURITY DEFINER and no SET clause (PostgreSQL forbids COMMIT then): everything schema-qualified.
CREATE OR REPLACE PROCEDURE _wh.refresh_recent_by_template(template_name text, tenant_connection_name text, target_schema text,
                                                           lookback_days integer DEFAULT 7, INOUT summary jsonb DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    started   timestamptz := pg_catalog.clock_timestamp();
    zone      text;
    today     date;
    yesterday date;
    captured  timestamptz;
    check_key text := 'lookback_checked:' || target_schema || '.' || template_name;
    lock_wait text;
    differing date[] := '{}'::date[];
    result    jsonb;
    msg       text;
    d         date;
    not_answering boolean := false;
BEGIN
    IF lookback_days IS NULL OR lookback_days < 0 OR lookback_days > 366 THEN
        RAISE EXCEPTION 'lookback_days must be between 0 and 366 (got %)', lookback_days USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM _wh.assert_template_exists(template_name);
    PERFORM _wh.assert_tenant_schema(target_schema);
    PERFORM _wh.ensure_tenant(tenant_connection_name, target_schema, NULL);
    zone := _wh.tenant_time_zone(target_schema);
    today := _wh.today_in(zone);
    yesterday := today - 1;
    lock_wait := _wh.setting('job_lock_timeout');
    COMMIT;
    summary := _wh.empty_summary();

    -- 1. Today. A source that did not answer (connect_timeout, or a network path gone) is not asked again in this run:
    -- steps 2 and 3 are left for the next run, which costs the tenant one timeout, not one per day.
    PERFORM pg_catalog.set_config('lock_timeout', lock_wait, true);
    result := _wh.refresh_day_unless_busy(template_name, tenant_connection_name, target_schema, today, false);
    summary := _wh.add_to_summary(summary, result);
    not_answering := result->>'action' = 'failed' AND _wh.is_not_answering(result->>'sqlstate', result->>'error');
    COMMIT;

    -- 2. Yesterday, once after it ended.
    SELECT s.captured_at INTO captured FROM _wh.day_state s
    WHERE s.schema_name = target_schema AND s.template_name = refresh_recent_by_template.template_name AND s.day = yesterday;
    IF NOT not_answering AND (_wh.daily_relkind(target_schema, _wh.create_mv_name(template_name, yesterday)) IS NULL
       OR captured IS NULL OR captured < _wh.day_end(yesterday, zone)) THEN
        PERFORM pg_catalog.set_config('lock_timeout', lock_wait, true);
        summary := _wh.add_to_summary(summary, _wh.refresh_day_unless_busy(template_name, tenant_connection_name, target_schema, yesterday, false));
        COMMIT;
    END IF;

    -- 3. Once a day: the closed days of the lookback window against the source; each day's result is recorded in
    -- _wh.day_state (check_status), which is what step 3b repairs from.
    IF lookback_days > 0 AND NOT not_answering
       AND (SELECT i.value FROM _wh.warehouse_info i WHERE i.key = check_key) IS DISTINCT FROM today::text THEN
        BEGIN
            PERFORM pg_catalog.set_config('lock_timeout', lock_wait, true);
            PERFORM pg_catalog.count(*) FROM _wh.check_mv_window_by_template(template_name, tenant_connection_name, target_schema,
                                                                             yesterday - lookback_days, yesterday - 1);
            INSERT INTO _wh.warehouse_info (key, value) VALUES (check_key, today::text)
            ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
            PERFORM _wh.log_run(target_schema, tenant_connection_name, template_name, NULL, 'failed', NULL, NULL,
                                'daily check of the closed days: ' || msg);
            summary := pg_catalog.jsonb_set(summary, '{failures}', (summary->'failures') || pg_catalog.jsonb_build_array(
                           pg_catalog.jsonb_build_object('date', NULL, 'error', 'daily check: ' || msg)));
        END;
        COMMIT;
    END IF;

    -- 3b. Every run: every closed day known to differ from its source is loaded again, however old (a day that left the
    -- lookback window before its repair included), and a day left busy or interrupted by a crash stays known until
    -- a run repairs it: the load's capture clears the day's check status (record_capture), nothing else does.
    IF lookback_days > 0 AND NOT not_answering THEN
        SELECT coalesce(pg_catalog.array_agg(s.day ORDER BY s.day), '{}'::date[]) INTO differing
        FROM _wh.day_state s
        WHERE s.schema_name = target_schema AND s.template_name = refresh_recent_by_template.template_name
          AND s.check_status IN ('Changed', 'Missing') AND s.day < yesterday;
        FOREACH d IN ARRAY differing LOOP
            PERFORM pg_catalog.set_config('lock_timeout', lock_wait, true);
            summary := _wh.add_to_summary(summary, _wh.repair_day(template_name, tenant_connection_name, target_schema, d, false));
            COMMIT;
        END LOOP;
    END IF;

    -- 4. Housekeeping, then the views.
    IF (SELECT i.value FROM _wh.warehouse_info i WHERE i.key = 'run_log_pruned_on') IS DISTINCT FROM _wh.today_in(NULL)::text THEN
        PERFORM _wh.prune_run_log();
        COMMIT;
    END IF;
    summary := _wh.finish_window(template_name, target_schema, today, summary);
    COMMIT;
    summary := summary || pg_catalog.jsonb_build_object(
        'template', template_name, 'schema', target_schema, 'connection', tenant_connection_name,
        'today', today, 'checked', lookback_days > 0, 'differing', pg_catalog.to_jsonb(differing),
        'duration_ms', pg_catalog.round((pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - started) * 1000)::numeric, 1));
    IF pg_catalog.jsonb_array_length(summary->'failures') > 0 THEN
        RAISE EXCEPTION 'refresh of %.%: % failure(s), the other days are kept: %', target_schema, template_name,
            pg_catalog.jsonb_array_length(summary->'failures'), summary->'failures'
            USING HINT = 'SELECT * FROM _wh.run_log WHERE action = ''failed'' ORDER BY logged_at DESC shows them; the next run retries.';
    END IF;
END
$$;

-- True when a pg_cron job's target (cron.job's nodename, nodeport: where pg_cron connects to run it) is this server: its
-- port, and, when the session may read cron.host (a superuser, pg_read_all_settings), that host. A warehouse restored
-- from a dump onto another server keeps its jobs' old targets, and they would run against the old warehouse.
CREATE OR REPLACE FUNCTION _wh.cron_job_targets_here(nodename text, nodeport integer)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT nodeport = current_setting('port')::integer
       AND (NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)
                 AND NOT pg_catalog.pg_has_role(current_user, 'pg_read_all_settings', 'MEMBER')
            OR nodename IS NOT DISTINCT FROM coalesce(current_setting('cron.host', true), 'localhost'))
$$;

-- Schedules again, on this server, every pg_cron job of the current user whose target is another server (a restore, a
-- move): same name, schedule, command, database and paused state; pg_cron 1.4 cannot change a job's target, so the job
-- is unscheduled and scheduled again (a new job id; its run history stays). Called by every run of functions.sql and by
-- Register-WhCronJob. Returns the names of the jobs moved. Nothing to do without pg_cron.
CREATE OR REPLACE FUNCTION _wh.retarget_cron_jobs()
RETURNS text[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job_id   bigint;
    job_name text;
    schedule text;
    command  text;
    database text;
    active   boolean;
    new_id   bigint;
    moved    text[] := ARRAY[]::text[];
BEGIN
    IF pg_catalog.to_regclass('cron.job') IS NULL
       OR pg_catalog.to_regprocedure('cron.schedule_in_database(text,text,text,text,text,boolean)') IS NULL
       OR NOT pg_catalog.has_function_privilege('cron.schedule_in_database(text,text,text,text,text,boolean)', 'EXECUTE') THEN
        RETURN moved;
    END IF;
    -- pg_cron's objects named through format: they exist only where pg_cron does (plpgsql_check reads constant strings).
    FOR job_id, job_name, schedule, command, database, active IN EXECUTE pg_catalog.format(
        'SELECT j.jobid, j.jobname, j.schedule, j.command, j.database, j.active FROM %I.%I j
         WHERE j.username = current_user AND j.jobname IS NOT NULL AND NOT _wh.cron_job_targets_here(j.nodename, j.nodeport) ORDER BY j.jobid',
        'cron', 'job')
    LOOP
        EXECUTE pg_catalog.format('SELECT %I.unschedule($1::bigint)', 'cron') USING job_id;
        EXECUTE pg_catalog.format('SELECT %I.schedule_in_database($1, $2, $3, $4)', 'cron') INTO new_id USING job_name, schedule, command, database;
        IF NOT active THEN
            EXECUTE pg_catalog.format('SELECT %I.alter_job($1, active => false)', 'cron') USING new_id;
        END IF;
        moved := moved || job_name;
    END LOOP;
    RETURN moved;
END
$$;
