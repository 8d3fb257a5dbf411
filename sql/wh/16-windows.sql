-- sql/wh/16-windows.sql: Windows of days: transient errors, one day isolated, the window's check and finish, the SQL window.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- The errors worth a retry, one row each (THE list: _wh.is_transient_error reads it, and the module's
-- C# TransientErrors holds the same rows, checked by a test). kind 'sqlstate': the error's SQLSTATE.
-- kind 'marker': text that, in a connection error (class 08: dblink reports a refused remote
-- connection as 08001 "could not establish connection" with the server's words in the detail),
-- says the server refused for a passing reason: no free slot, or starting up.
CREATE OR REPLACE FUNCTION _wh.transient_error_rules()
RETURNS TABLE (kind text, value text)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    VALUES ('sqlstate', '53300'),   -- too_many_connections
           ('sqlstate', '57P03'),   -- cannot_connect_now: starting up, not yet accepting connections
           ('sqlstate', '40001'),   -- serialization_failure
           ('sqlstate', '40P01'),   -- deadlock_detected
           ('marker', 'remaining connection slots are reserved'),
           ('marker', 'sorry, too many clients already'),
           ('marker', 'the database system is starting up'),
           ('marker', 'the database system is not yet accepting connections')
$$;

-- True when an error (its SQLSTATE, and its message with the detail appended) is transient: worth
-- waiting a moment and trying the same day again (see transient_error_rules). Anything else is not.
CREATE OR REPLACE FUNCTION _wh.is_transient_error(sqlstate text, message text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT 1 FROM _wh.transient_error_rules() r
                   WHERE (r.kind = 'sqlstate' AND r.value = is_transient_error.sqlstate)
                      OR (r.kind = 'marker' AND left(is_transient_error.sqlstate, 2) = '08'
                          AND strpos(lower(coalesce(is_transient_error.message, '')), r.value) > 0))
$$;

-- True when an error says a source did not answer (libpq's connect_timeout or tcp_user_timeout ran out: SQLSTATE class
-- 08 with "timeout expired" or "timed out"), as opposed to one that answered "no": another try now would wait as long
-- again. The module's SourceProbe.IsNotAnswering is the same rule.
CREATE OR REPLACE FUNCTION _wh.is_not_answering(sqlstate text, message text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(left(is_not_answering.sqlstate, 2) = '08'
                    AND (strpos(lower(is_not_answering.message), 'timeout expired') > 0
                         OR strpos(lower(is_not_answering.message), 'timed out') > 0), false)
$$;

-- One day of a window, isolated in a subtransaction: on error the day is rolled back,
-- logged as 'failed' in run_log and returned as {"action":"failed","date","error","sqlstate"}.
-- A transient error (_wh.is_transient_error: no free connection slot on the source or the
-- warehouse, a server starting up, a serialization failure, a deadlock) is retried: 4 attempts
-- in all, waiting 0.2 s, 0.6 s, 1.8 s (at most 3 s; each with jitter, 50-100 %) in between, each
-- wait logged as 'retried' in run_log. Views are not rebuilt (the window does it once at the end).
-- The windows, the scheduled jobs and a DBA's psql all come through here.
CREATE OR REPLACE FUNCTION _wh.update_mv_day_isolated(template_name text, tenant_connection_name text, target_schema text,
                                                      target_date date, allow_refresh_yesterday boolean, force boolean)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    max_attempts constant integer := 4;
    started timestamptz := clock_timestamp();
    attempt integer := 0;
    pause   numeric;
    msg text;
    det text;
    st  text;
BEGIN
    LOOP
        attempt := attempt + 1;
        BEGIN
            RETURN _wh.update_mv_by_template(template_name, tenant_connection_name, target_schema, target_date,
                                             allow_refresh_yesterday, force, false);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, st = RETURNED_SQLSTATE;
        END;
        EXIT WHEN attempt >= max_attempts OR NOT _wh.is_transient_error(st, msg || ' ' || coalesce(det, ''));
        pause := round((least(3.0, 0.2 * power(3, attempt - 1)) * (0.5 + random() / 2))::numeric, 2);
        PERFORM _wh.log_run(target_schema, tenant_connection_name, template_name, target_date, 'retried', NULL,
                            (extract(epoch FROM clock_timestamp() - started) * 1000)::numeric,
                            format('attempt %s of %s: %s%s (transient, SQLSTATE %s); next attempt in %s s',
                                   attempt, max_attempts, msg, CASE WHEN coalesce(det, '') = '' THEN '' ELSE ': ' || det END, st, pause));
        PERFORM pg_sleep(pause);
    END LOOP;
    -- The detail is where libpq names the server and what went wrong ("connection to server at ..., port ... failed:
    -- timeout expired"): the run log keeps it.
    IF coalesce(det, '') <> '' THEN
        msg := msg || ': ' || det;
    END IF;
    IF attempt > 1 THEN
        msg := format('%s (%s attempts)', msg, attempt);
    END IF;
    PERFORM _wh.log_run(target_schema, tenant_connection_name, template_name, target_date, 'failed', NULL,
                        (extract(epoch FROM clock_timestamp() - started) * 1000)::numeric, msg, st);
    RETURN jsonb_build_object('action', 'failed', 'date', target_date, 'error', msg, 'sqlstate', st);
END
$$;

-- The days of a window from start_date that go to update_mv_days_isolated together: up to 16 new-or-existing closed
-- days (before the tenant's yesterday, at most end_date) when the tenant's closed days are compacted and force is off,
-- else start_date alone. The SQL windows step through a window with it, so that a procedure that commits after each
-- step still commits after every day that is not loaded together with others.
CREATE OR REPLACE FUNCTION _wh.window_step(template_name text, target_schema text, start_date date, end_date date, force boolean)
RETURNS date[]
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN NOT force
                     AND start_date < _wh.tenant_today(target_schema) - 1
                     AND pg_catalog.to_regclass(format('%I.%I', target_schema, _wh.closed_table_name(template_name))) IS NOT NULL
                THEN ARRAY(SELECT g::date FROM generate_series(start_date, least(end_date, start_date + 15, _wh.tenant_today(target_schema) - 2), interval '1 day') AS g)
                ELSE ARRAY[start_date] END
$$;

-- Days of a window together: when every one is closed (before the tenant's yesterday) and force is off, they go through
-- load_closed_days in one subtransaction, so a long window loads its new closed days many to a statement, as the
-- module's backfill does; when that fails (for any reason), or otherwise, each day goes through update_mv_day_isolated
-- as it would alone (its own outcome, retries and run_log row). Returns one result per day, as update_mv_day_isolated.
CREATE OR REPLACE FUNCTION _wh.update_mv_days_isolated(template_name text, tenant_connection_name text, target_schema text,
                                                       days date[], allow_refresh_yesterday boolean, force boolean)
RETURNS SETOF jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    results jsonb[];
    d date;
BEGIN
    IF NOT force AND cardinality(days) > 1
       AND (SELECT max(u.d) FROM unnest(days) AS u(d)) < _wh.tenant_today(target_schema) - 1 THEN
        BEGIN
            SELECT array_agg(r) INTO results FROM _wh.load_closed_days(template_name, tenant_connection_name, target_schema, days) AS r;
            RETURN QUERY SELECT unnest(results);
            RETURN;
        EXCEPTION WHEN OTHERS THEN
            NULL;  -- loaded one at a time below: each day gets its own outcome
        END;
    END IF;
    FOREACH d IN ARRAY days LOOP
        RETURN NEXT _wh.update_mv_day_isolated(template_name, tenant_connection_name, target_schema, d, allow_refresh_yesterday, force);
    END LOOP;
END
$$;

-- Validates a window's arguments (and registers the tenant) before any day is touched.
CREATE OR REPLACE FUNCTION _wh.check_window(template_name text, tenant_connection_name text, target_schema text,
                                            start_date date, end_date date)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _wh.assert_template_exists(template_name);
    PERFORM _wh.assert_tenant_schema(target_schema);
    IF start_date IS NULL OR end_date IS NULL THEN
        RAISE EXCEPTION 'start_date and end_date are required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF start_date > end_date THEN
        RAISE EXCEPTION 'reversed date range: start_date % is after end_date %', start_date, end_date
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM _wh.assert_target_date(start_date, target_schema);
    PERFORM _wh.assert_target_date(end_date, target_schema);
    PERFORM _wh.ensure_tenant(tenant_connection_name, target_schema, NULL);
    -- A window of more than compact_after_days() closed days loads them straight into the compacted table.
    PERFORM _wh.compact_closed_days(template_name, target_schema, true, false,
        (SELECT count(*)::integer FROM generate_series(start_date, least(end_date, _wh.tenant_today(target_schema) - 2), interval '1 day') g
         WHERE _wh.daily_relkind(target_schema, _wh.create_mv_name(template_name, g::date)) IS NULL));
END
$$;

-- Adds one day's result to a window summary.
CREATE OR REPLACE FUNCTION _wh.add_to_summary(summary jsonb, day_result jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN day_result->>'action' = 'failed'
                THEN jsonb_set(summary, '{failures}', (summary->'failures') || jsonb_build_array(
                         jsonb_build_object('date', day_result->'date', 'error', day_result->'error')))
                ELSE summary END
           || jsonb_build_object(day_result->>'action', coalesce((summary->>(day_result->>'action'))::bigint, 0) + 1)
$$;

-- The summary of a window before its first day: every action counted 0, no failure.
CREATE OR REPLACE FUNCTION _wh.empty_summary()
RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT '{"created":0,"refreshed":0,"skipped":0,"recreated":0,"failed":0,"failures":[]}'::jsonb $$;

-- Drops <template>_closed and <template>_recent of a tenant when they are empty and nothing reads them (a first window
-- whose every day failed made them: begin_window makes the closed table for a long window). Each is locked first
-- without waiting: a table another session is loading into, or one a view reads, is left as it is.
CREATE OR REPLACE FUNCTION _wh.drop_unused_days_tables(template_name text, target_schema text)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    days_table text;
    has_rows boolean;
    dropped integer := 0;
BEGIN
    FOREACH days_table IN ARRAY ARRAY[_wh.closed_table_name(template_name), _wh.recent_table_name(template_name)] LOOP
        CONTINUE WHEN pg_catalog.to_regclass(format('%I.%I', target_schema, days_table)) IS NULL;
        BEGIN
            EXECUTE format('LOCK TABLE %I.%I IN ACCESS EXCLUSIVE MODE NOWAIT', target_schema, days_table);
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I)', target_schema, days_table) INTO has_rows;
            IF NOT has_rows THEN
                EXECUTE format('DROP TABLE %I.%I', target_schema, days_table);
                dropped := dropped + 1;
            END IF;
        EXCEPTION WHEN lock_not_available OR dependent_objects_still_exist THEN
            NULL;  -- in use, or read by a view: not unused
        END;
    END LOOP;
    RETURN dropped;
END
$$;

-- End of a window: rebuilds the tenant view when days were created (or it does not include
-- the newest day) and the public view when it does not include the tenant. A failure here is
-- reported in the summary (failures[] with "date": null), not raised, so the days stay. A tenant
-- left with no day of the template and no view of it (every day of its first window failed)
-- gets no views, and the empty days tables the window made are dropped.
CREATE OR REPLACE FUNCTION _wh.finish_window(template_name text, target_schema text, end_date date, summary jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    msg text;
BEGIN
    IF NOT _wh.does_view_exist(target_schema, template_name)
       AND NOT EXISTS (SELECT 1 FROM _wh.daily_views v WHERE v.schema_name = target_schema AND v.template_name = finish_window.template_name) THEN
        -- The tenant has no day of this template and no view of it: a first window whose every day failed. It leaves
        -- nothing behind (no views, no empty days tables), and the tenant does not start using the template.
        PERFORM _wh.drop_unused_days_tables(template_name, target_schema);
        RETURN summary;
    END IF;
    BEGIN
        PERFORM _wh.compact_closed_days(template_name, target_schema, true, (summary->>'created')::bigint > 0);
        PERFORM _wh.retire_day_views(template_name, target_schema);
        IF (summary->>'created')::bigint > 0 OR NOT _wh.does_view_exist(target_schema, template_name) THEN
            PERFORM _wh.ensure_views_include(template_name, target_schema, NULL);
        ELSE
            PERFORM _wh.ensure_views_include(template_name, target_schema, _wh.create_mv_name(template_name, end_date));
        END IF;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
        RETURN jsonb_set(summary, '{failures}', (summary->'failures') || jsonb_build_array(
                   jsonb_build_object('date', NULL, 'error', 'view rebuild: ' || msg)));
    END;
    RETURN summary;
END
$$;

-- Updates every day from start_date to end_date (inclusive) with update_mv_by_template, step by
-- step (window_step: a day, or up to 16 closed days that update_mv_days_isolated loads many to a
-- statement, falling back to one subtransaction per day): a failing day is logged and reported,
-- the others are kept.
-- A re-run does only what is missing (existing older days are skipped). The tenant and public
-- views are rebuilt once at the end. The whole call is ONE transaction: for long ranges use
-- CALL _wh.run_mv_window_by_template(...) (commits after every step) or Invoke-WhMvBackfill.
-- Returns {"created","refreshed","skipped","recreated","failed","failures":[{"date","error"}],"duration_ms",...}.
CREATE OR REPLACE FUNCTION _wh.update_mv_window_by_template(template_name text, tenant_connection_name text, target_schema text,
                                                            start_date date, end_date date,
                                                            allow_refresh_yesterday boolean DEFAULT true, force boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    started timestamptz := clock_timestamp();
    summary jsonb := _wh.empty_summary();
    d date;
    step date[];
    day_result jsonb;
BEGIN
    PERFORM _wh.check_window(template_name, tenant_connection_name, target_schema, start_date, end_date);
    d := start_date;
    WHILE d <= end_date LOOP
        -- Closed days 16 at a time (window_step, update_mv_days_isolated: new closed days many to a statement).
        step := _wh.window_step(template_name, target_schema, d, end_date, force);
        FOR day_result IN SELECT * FROM _wh.update_mv_days_isolated(template_name, tenant_connection_name, target_schema,
                                                                      step, allow_refresh_yesterday, force) LOOP
            summary := _wh.add_to_summary(summary, day_result);
        END LOOP;
        d := step[cardinality(step)] + 1;
    END LOOP;
    summary := _wh.finish_window(template_name, target_schema, end_date, summary);
    RETURN summary || jsonb_build_object(
        'template', template_name, 'schema', target_schema, 'connection', tenant_connection_name,
        'start_date', start_date, 'end_date', end_date,
        'duration_ms', round((extract(epoch FROM clock_timestamp() - started) * 1000)::numeric, 1));
END
$$;

-- Same as update_mv_window_by_template, but COMMITs after every step (a day, or closed days loaded together), so a year-long range
-- neither exhausts the lock table nor loses finished days when interrupted. CALL it at top
-- level (not inside BEGIN ... COMMIT). Not SECURITY DEFINER and no SET clause: PostgreSQL
-- forbids COMMIT in such procedures; every name is schema-qualified instead, and the work is
-- done by SECURITY DEFINER functions. The summary comes back in the INOUT argument.
CREATE OR REPLACE PROCEDURE _wh.run_mv_window_by_template(template_name text, tenant_connection_name text, target_schema text,
                                                          start_date date, end_date date,
                                                          allow_refresh_yesterday boolean DEFAULT true, force boolean DEFAULT false,
                                                          INOUT summary jsonb DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    started timestamptz := pg_catalog.clock_timestamp();
    d date;
    step date[];
    results jsonb[];
BEGIN
    PERFORM _wh.check_window(template_name, tenant_connection_name, target_schema, start_date, end_date);
    COMMIT;
    summary := _wh.empty_summary();
    d := start_date;
    WHILE d <= end_date LOOP
        -- A step: one day, or up to 16 closed days loaded together (window_step); committed after each.
        step := _wh.window_step(template_name, target_schema, d, end_date, force);
        SELECT pg_catalog.array_agg(r) INTO results
        FROM _wh.update_mv_days_isolated(template_name, tenant_connection_name, target_schema, step, allow_refresh_yesterday, force) AS r;
        FOR i IN 1 .. pg_catalog.cardinality(results) LOOP
            summary := _wh.add_to_summary(summary, results[i]);
        END LOOP;
        COMMIT;
        d := step[pg_catalog.cardinality(step)] OPERATOR(pg_catalog.+) 1;
    END LOOP;
    summary := _wh.finish_window(template_name, target_schema, end_date, summary);
    COMMIT;
    summary := summary || pg_catalog.jsonb_build_object(
        'template', template_name, 'schema', target_schema, 'connection', tenant_connection_name,
        'start_date', start_date, 'end_date', end_date,
        'duration_ms', pg_catalog.round((pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - started) * 1000)::numeric, 1));
END
$$;
