-- sql/wh/15-one-day.sql: One day: create / refresh / skip / recreate (update_mv_by_template, the single path for every day).
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Logs one day's outcome (log_run, in the caller's transaction) and returns it as the one-day functions do:
-- {"action","view","rows","duration_ms","template","schema","connection","date"}.
CREATE OR REPLACE FUNCTION _wh.day_outcome(template_name text, tenant_connection_name text, target_schema text, target_date date,
                                           view_name text, action text, row_count bigint, duration_ms numeric)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _wh.log_run(target_schema, tenant_connection_name, template_name, target_date, action, row_count, duration_ms);
    RETURN jsonb_build_object(
        'action', action,
        'view', format('%I.%I', target_schema, view_name),
        'rows', row_count,
        'duration_ms', duration_ms,
        'template', template_name,
        'schema', target_schema,
        'connection', tenant_connection_name,
        'date', target_date);
END
$$;

-- Rebuilds an existing daily view without readers ever seeing it missing: builds the new one
-- under a temporary name first (the slow dblink part, no lock on anything readers use), then
-- swaps in the same transaction (drop old, rename new and its indexes) and replaces the day's
-- rows of <template>_recent, which the tenant view reads: its definition is untouched.
CREATE OR REPLACE FUNCTION _wh.recreate_daily_view(template_name text, tenant_connection_name text, target_schema text,
                                                   target_date date, view_name text, client_name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tmp text := '_whnew_' || substr(md5(target_schema || '.' || view_name), 1, 20);
    idx text;
    base text;
    candidate text;
    k integer;
BEGIN
    IF _wh.does_mv_exist(target_schema, tmp) THEN
        EXECUTE format('DROP MATERIALIZED VIEW %I.%I', target_schema, tmp);
    END IF;
    PERFORM _wh.create_daily_view(template_name, tenant_connection_name, target_schema, target_date, tmp, client_name);

    -- No CASCADE: an unknown object depending on the old view makes this fail loudly.
    EXECUTE format('DROP MATERIALIZED VIEW %I.%I', target_schema, view_name);
    EXECUTE format('ALTER MATERIALIZED VIEW %I.%I RENAME TO %I', target_schema, tmp, view_name);

    FOR idx IN
        SELECT c.relname
        FROM pg_catalog.pg_index i
        JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = format('%I.%I', target_schema, view_name)::regclass
          AND c.relname LIKE tmp || '%'
        ORDER BY c.relname
    LOOP
        base := left(view_name || substr(idx, length(tmp) + 1), 63);
        candidate := base;
        k := 0;
        WHILE EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                      WHERE n.nspname = target_schema AND c.relname = candidate) LOOP
            k := k + 1;
            candidate := left(base, 63 - length(k::text)) || k::text;
        END LOOP;
        EXECUTE format('ALTER INDEX %I.%I RENAME TO %I', target_schema, idx, candidate);
    END LOOP;

    PERFORM _wh.sync_recent_day(template_name, target_schema, view_name, target_date);
END
$$;

-- THE code path for one (template, tenant, date), used by pg_cron, psql and the module.
--   absent                         -> create with indexes            -> 'created'
--   present, date = today (or yesterday with allow_refresh_yesterday; both on the tenant's clock, _wh.tenant_today)
--                                  -> REFRESH [CONCURRENTLY]         -> 'refreshed'
--   present, older                 -> nothing                        -> 'skipped'
--   present and force              -> rebuilt and swapped atomically -> 'recreated'
-- Serialized per daily view by an advisory lock: a second caller waits, then refreshes or
-- skips. Every change of a day is a change of rows that the tenant view reads (the day's
-- materialized view copied into <template>_recent, or <template>_closed): no view definition
-- changes. With rebuild_views, the tenant view and the public view are made to exist and read
-- their members (rebuilt only when they do not already). Registers the tenant and creates its schema
-- on first use. Rejects future dates and reserved schemas. Errors are raised, never
-- swallowed. Writes a run_log row. Returns
-- {"action","view","rows","duration_ms","template","schema","connection","date"}.
CREATE OR REPLACE FUNCTION _wh.update_mv_by_template(template_name text, tenant_connection_name text, target_schema text,
                                                     target_date date, allow_refresh_yesterday boolean DEFAULT true,
                                                     force boolean DEFAULT false, rebuild_views boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    started  timestamptz := clock_timestamp();
    view_name text;
    client   text;
    action   text;
    nrows    bigint;
    elapsed  numeric;
    kind     "char";
    closed   boolean;
    today    date;
    msg text; det text; hnt text; st text;
BEGIN
    PERFORM _wh.assert_template_exists(template_name);
    PERFORM _wh.assert_tenant_schema(target_schema);
    PERFORM _wh.assert_target_date(target_date, target_schema);
    view_name := _wh.create_mv_name(template_name, target_date);

    BEGIN
        client := _wh.ensure_tenant(tenant_connection_name, target_schema, NULL);
        PERFORM _wh.lock_daily_view(target_schema, view_name);

        kind := _wh.daily_relkind(target_schema, view_name);
        today := _wh.tenant_today(target_schema);
        closed := target_date < today - 1;
        IF kind IS NULL AND closed
           AND pg_catalog.to_regclass(format('%I.%I', target_schema, _wh.closed_table_name(template_name))) IS NOT NULL THEN
            -- A closed day of a tenant whose closed days are compacted: straight into the table.
            nrows := _wh.load_closed_day(template_name, tenant_connection_name, target_schema, target_date, client);
            action := 'created';
        ELSIF kind IS NULL THEN
            PERFORM _wh.create_daily_view(template_name, tenant_connection_name, target_schema, target_date, view_name, client);
            PERFORM _wh.sync_recent_day(template_name, target_schema, view_name, target_date);
            action := 'created';
            -- Keeps closed days compacted once there are more than compact_after_days(): pg_cron's daily call for
            -- today moves the day before yesterday (closed since midnight) into the table. A caller that finishes its
            -- window (rebuild_views false: _wh.finish_window) is still loading days: a bare table's indexes and their
            -- ANALYZE are left to that end, where they are done once (a backfill's yesterday built them while other
            -- days were still loading, and the end analyzed the table again: docs/performance.md, row c).
            PERFORM _wh.compact_closed_days(template_name, target_schema, true, false, build_indexes => rebuild_views);
        ELSIF kind IN ('v', 't') AND (force OR target_date = today OR (allow_refresh_yesterday AND target_date = today - 1)) THEN
            -- A compacted day: its rows replaced in this transaction (readers see the old rows or the new ones).
            EXECUTE format('DELETE FROM %I.%I WHERE _wh_day = $1', target_schema, _wh.closed_table_name(template_name)) USING target_date;
            nrows := _wh.load_closed_day(template_name, tenant_connection_name, target_schema, target_date, client);
            action := CASE WHEN force THEN 'recreated' ELSE 'refreshed' END;
        ELSIF kind IN ('v', 't') THEN
            action := 'skipped';
        ELSIF force THEN
            PERFORM _wh.recreate_daily_view(template_name, tenant_connection_name, target_schema, target_date, view_name, client);
            action := 'recreated';
        ELSIF target_date = today OR (allow_refresh_yesterday AND target_date = today - 1) THEN
            PERFORM _wh.refresh_daily_view(target_schema, view_name);
            PERFORM _wh.sync_recent_day(template_name, target_schema, view_name, target_date);
            action := 'refreshed';
        ELSE
            action := 'skipped';
        END IF;

        IF rebuild_views THEN
            PERFORM _wh.ensure_views_include(template_name, target_schema, view_name);
        END IF;
        IF nrows IS NULL AND kind = 't' THEN
            -- No relation of its own: its rows in the table.
            EXECUTE format('SELECT count(*) FROM %I.%I WHERE _wh_day = $1', target_schema, _wh.closed_table_name(template_name))
                INTO nrows USING target_date;
        ELSIF nrows IS NULL THEN
            nrows := _wh.count_rows(target_schema, view_name);
        END IF;
        IF action <> 'skipped' THEN
            PERFORM _wh.record_capture(target_schema, template_name, target_date, nrows);
        END IF;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT, st = RETURNED_SQLSTATE;
        msg := format('%s.%s: %s', target_schema, view_name, msg);
        IF det IS NOT NULL AND det <> '' AND hnt IS NOT NULL AND hnt <> '' THEN
            RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, DETAIL = det, HINT = hnt;
        ELSIF det IS NOT NULL AND det <> '' THEN
            RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, DETAIL = det;
        ELSIF hnt IS NOT NULL AND hnt <> '' THEN
            RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, HINT = hnt;
        ELSE
            RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg;
        END IF;
    END;

    elapsed := round((extract(epoch FROM clock_timestamp() - started) * 1000)::numeric, 1);
    RETURN _wh.day_outcome(template_name, tenant_connection_name, target_schema, target_date, view_name, action, nrows, elapsed);
END
$$;

-- Many days of one tenant and template in one transaction, each with update_mv_by_template's outcome and run_log row,
-- and the closed days that have no relation yet loaded together: every one of them into <template>_closed with ONE
-- statement (insert_closed_days), then given their relations (keep_closed_day_relations) and captures. A day of any
-- other kind (today, yesterday, one that exists, a tenant whose closed days are not compacted) goes through
-- update_mv_by_template as it would alone. The tenant and public views are not rebuilt (rebuild_views => false: the
-- caller finishes its window, _wh.finish_window). All or nothing: an error in any day raises and keeps none of them;
-- loading those days one at a time then says which day failed and keeps the others (the module's backfill does).
-- Days are locked in date order. Returns one result per distinct day, as update_mv_by_template returns it.
CREATE OR REPLACE FUNCTION _wh.load_closed_days(template_name text, tenant_connection_name text, target_schema text, days date[])
RETURNS SETOF jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    started  timestamptz := clock_timestamp();
    client   text;
    today    date;
    has_table boolean;
    batch    date[] := '{}'::date[];
    d        date;
    view_name text;
    loaded   date[];
    counts   bigint[];
    elapsed  numeric;
BEGIN
    PERFORM _wh.assert_template_exists(template_name);
    PERFORM _wh.assert_tenant_schema(target_schema);
    IF coalesce(cardinality(days), 0) = 0 THEN
        RETURN;
    END IF;
    -- The rule of a day's date is a range (not null, from 2000-01-01 to the tenant's today): its ends decide for all.
    IF array_position(days, NULL) IS NOT NULL THEN
        PERFORM _wh.assert_target_date(NULL, target_schema);
    END IF;
    PERFORM _wh.assert_target_date((SELECT min(u.d) FROM unnest(days) AS u(d)), target_schema);
    PERFORM _wh.assert_target_date((SELECT max(u.d) FROM unnest(days) AS u(d)), target_schema);
    client := _wh.ensure_tenant(tenant_connection_name, target_schema, NULL);
    today := _wh.tenant_today(target_schema);
    has_table := pg_catalog.to_regclass(format('%I.%I', target_schema, _wh.closed_table_name(template_name))) IS NOT NULL;
    FOR d IN SELECT DISTINCT u.d FROM unnest(days) AS u(d) ORDER BY 1 LOOP
        view_name := _wh.create_mv_name(template_name, d);
        PERFORM _wh.lock_daily_view(target_schema, view_name);
        IF has_table AND d < today - 1 AND _wh.daily_relkind(target_schema, view_name) IS NULL THEN
            batch := batch || d;
        ELSE
            RETURN NEXT _wh.update_mv_by_template(template_name, tenant_connection_name, target_schema, d, true, false, false);
        END IF;
    END LOOP;
    IF cardinality(batch) = 0 THEN
        RETURN;
    END IF;
    SELECT array_agg(i.day ORDER BY i.day), array_agg(i.row_count ORDER BY i.day) INTO loaded, counts
    FROM _wh.insert_closed_days(template_name, tenant_connection_name, target_schema, batch, client) i;
    PERFORM _wh.keep_closed_day_relations(template_name, target_schema, loaded);
    PERFORM _wh.record_captures(target_schema, template_name, loaded, counts);
    -- Each day's share of the statement that loaded them all, and of their relations and captures.
    elapsed := round((extract(epoch FROM clock_timestamp() - started) * 1000 / cardinality(loaded))::numeric, 1);
    FOR i IN 1 .. cardinality(loaded) LOOP
        RETURN NEXT _wh.day_outcome(template_name, tenant_connection_name, target_schema, loaded[i],
                                    _wh.create_mv_name(template_name, loaded[i]), 'created', counts[i], elapsed);
    END LOOP;
END
$$;

-- Creates one daily view from a template when it does not exist (true); returns false with a
-- NOTICE when it already exists. Does not touch the tenant or public view (the guide calls
-- update_tenant_union_view_by_template / update_public_view_by_template next). Raises on error.
CREATE OR REPLACE FUNCTION _wh.create_mv_from_template(template_name text, tenant_connection_name text, target_schema text,
                                                       target_date date, client_name text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    started  timestamptz := clock_timestamp();
    view_name text;
    client   text;
BEGIN
    PERFORM _wh.assert_template_exists(template_name);
    PERFORM _wh.assert_tenant_schema(target_schema);
    PERFORM _wh.assert_target_date(target_date, target_schema);
    view_name := _wh.create_mv_name(template_name, target_date);
    client := _wh.ensure_tenant(tenant_connection_name, target_schema, client_name);
    PERFORM _wh.lock_daily_view(target_schema, view_name);
    IF _wh.does_mv_exist(target_schema, view_name) THEN
        RAISE NOTICE '%.% already exists (use _wh.update_mv_by_template(..., force => true) to rebuild it)', target_schema, view_name;
        PERFORM _wh.log_run(target_schema, tenant_connection_name, template_name, target_date, 'skipped',
                            NULL, (extract(epoch FROM clock_timestamp() - started) * 1000)::numeric);
        RETURN false;
    END IF;
    PERFORM _wh.create_daily_view(template_name, tenant_connection_name, target_schema, target_date, view_name,
                                  coalesce(create_mv_from_template.client_name, client));
    PERFORM _wh.sync_recent_day(template_name, target_schema, view_name, target_date);
    PERFORM _wh.record_capture(target_schema, template_name, target_date, _wh.count_rows(target_schema, view_name));
    PERFORM _wh.log_run(target_schema, tenant_connection_name, template_name, target_date, 'created',
                        _wh.count_rows(target_schema, view_name), (extract(epoch FROM clock_timestamp() - started) * 1000)::numeric);
    RETURN true;
END
$$;
