-- sql/wh/19-guide-legacy.sql: The guide's legacy API: its names and argument orders, on top of the routines above.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Creates daily view <base_view_name>_YYYY_MM_DD from the foodlogstats template. True when
-- created, false (NOTICE) when it already exists; errors are raised (the guide returned false).
CREATE OR REPLACE FUNCTION _wh.create_foodlogstats_mv(tenant_connection_name text, target_schema text, base_view_name text,
                                                      target_date date, client_name text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    started timestamptz := clock_timestamp();
    view_name text;
    client text;
BEGIN
    IF base_view_name = 'foodlogstats' OR base_view_name IS NULL THEN
        RETURN _wh.create_mv_from_template('foodlogstats', tenant_connection_name, target_schema, target_date, client_name);
    END IF;
    PERFORM _wh.assert_template_exists('foodlogstats');
    PERFORM _wh.assert_template_name(base_view_name);
    PERFORM _wh.assert_tenant_schema(target_schema);
    PERFORM _wh.assert_target_date(target_date);
    view_name := _wh.create_mv_name(base_view_name, target_date);
    client := _wh.ensure_tenant(tenant_connection_name, target_schema, client_name);
    PERFORM _wh.lock_daily_view(target_schema, view_name);
    IF _wh.does_mv_exist(target_schema, view_name) THEN
        RAISE NOTICE '%.% already exists', target_schema, view_name;
        RETURN false;
    END IF;
    PERFORM _wh.create_daily_view('foodlogstats', tenant_connection_name, target_schema, target_date, view_name,
                                  coalesce(create_foodlogstats_mv.client_name, client));
    PERFORM _wh.log_run(target_schema, tenant_connection_name, base_view_name, target_date, 'created',
                        _wh.count_rows(target_schema, view_name), (extract(epoch FROM clock_timestamp() - started) * 1000)::numeric);
    RETURN true;
END
$$;

-- Builds <schema>.<base_view_name> as a generic SELECT * UNION ALL of the schema's
-- <base_view_name>_YYYY_MM_DD materialized views in date order (legacy, non-template daily
-- views). NULL with a NOTICE when there are none. Returns the view name.
CREATE OR REPLACE FUNCTION _wh.update_generic_union_view(target_schema text, base_view_name text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parts text[];
BEGIN
    PERFORM _wh.assert_template_name(base_view_name);
    PERFORM _wh.assert_tenant_schema(target_schema);
    PERFORM _wh.lock_tenant_view(target_schema, base_view_name);
    -- The daily names of the catalog before any join (_wh.daily_relations): legacy views need no template.
    SELECT array_agg(format('SELECT * FROM %I.%I', target_schema, r.relname) ORDER BY r.relname)
    INTO parts
    FROM _wh.daily_relations r
    JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
    WHERE n.nspname = target_schema AND r.kind = 'm' AND r.template_name = base_view_name;
    IF parts IS NULL THEN
        RAISE NOTICE 'no daily views %_YYYY_MM_DD in schema %: view not built', base_view_name, target_schema;
        RETURN NULL;
    END IF;
    PERFORM _wh.apply_view(target_schema, base_view_name, array_to_string(parts, E'\nUNION ALL\n'));
    RETURN format('%I.%I', target_schema, base_view_name);
END
$$;

-- Guide name: rebuilds <schema>.<base_view_name>. For a template, the template union view
-- (update_tenant_union_view_by_template, which also puts the tenant into the public view);
-- otherwise the generic union view of legacy daily views. Returns the view name.
CREATE OR REPLACE FUNCTION _wh.update_tenant_view(tenant_connection_name text, target_schema text, base_view_name text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM _wh.mv_templates t WHERE t.template_name = base_view_name) THEN
        RETURN _wh.update_tenant_union_view_by_template(base_view_name, tenant_connection_name, target_schema);
    END IF;
    PERFORM _wh.ensure_tenant(tenant_connection_name, target_schema, NULL);
    RETURN _wh.update_generic_union_view(target_schema, base_view_name);
END
$$;

-- Generic create-or-refresh-or-skip of <base_view_name>_YYYY_MM_DD with a caller-supplied
-- create function (text, text, text, date, text) -> boolean, resolved with to_regprocedure
-- and called through it (never by concatenating the text). A false result is an error.
-- A new day rebuilds the generic union view. Returns the same jsonb as update_mv_by_template.
CREATE OR REPLACE FUNCTION _wh.update_mv_core(tenant_connection_name text, target_schema text, target_date date,
                                              base_view_name text, create_function_name text,
                                              allow_refresh_yesterday boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    started timestamptz := clock_timestamp();
    fn regprocedure;
    fn_name text;
    view_name text;
    action text;
    ok boolean;
    nrows bigint;
    elapsed numeric;
BEGIN
    fn := to_regprocedure(create_function_name || '(text,text,text,date,text)');
    IF fn IS NULL THEN
        RAISE EXCEPTION 'create function %(text, text, text, date, text) does not exist', coalesce(create_function_name, 'NULL')
            USING ERRCODE = 'undefined_function', HINT = 'Give the schema-qualified name, e.g. ''_wh.create_inventory_stats_mv''.';
    END IF;
    IF fn = '_wh.create_foodlogstats_mv(text,text,text,date,text)'::regprocedure AND base_view_name = 'foodlogstats' THEN
        RETURN _wh.update_mv_by_template('foodlogstats', tenant_connection_name, target_schema, target_date, allow_refresh_yesterday);
    END IF;
    SELECT format('%I.%I', n.nspname, p.proname) INTO fn_name
    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = fn;

    PERFORM _wh.assert_template_name(base_view_name);
    PERFORM _wh.assert_tenant_schema(target_schema);
    PERFORM _wh.assert_target_date(target_date, target_schema);
    view_name := _wh.create_mv_name(base_view_name, target_date);
    PERFORM _wh.ensure_tenant(tenant_connection_name, target_schema, NULL);
    PERFORM _wh.lock_daily_view(target_schema, view_name);

    IF NOT _wh.does_mv_exist(target_schema, view_name) THEN
        -- Legacy create functions call dblink unqualified: let them find it in public
        -- (CREATE on public is revoked from PUBLIC, so this is safe). Restored on return.
        PERFORM set_config('search_path', 'pg_catalog, public, pg_temp', true);
        EXECUTE format('SELECT %s($1, $2, $3, $4, $5)', fn_name) INTO ok
            USING tenant_connection_name, target_schema, base_view_name, target_date, NULL::text;
        PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
        IF ok IS NOT TRUE THEN
            RAISE EXCEPTION '%(%, %, %, %) returned %: it did not create %.%', fn_name,
                quote_literal(tenant_connection_name), quote_literal(target_schema), quote_literal(base_view_name),
                target_date, coalesce(ok::text, 'NULL'), target_schema, view_name
                USING HINT = 'A legacy create function that ends in EXCEPTION WHEN OTHERS THEN RETURN FALSE hides the real error: remove that handler to see it.';
        END IF;
        IF NOT _wh.does_mv_exist(target_schema, view_name) THEN
            RAISE EXCEPTION '% returned true but %.% does not exist', fn_name, target_schema, view_name;
        END IF;
        EXECUTE format('GRANT SELECT ON %I.%I TO phood_ro', target_schema, view_name);
        action := 'created';
        PERFORM _wh.update_generic_union_view(target_schema, base_view_name);
    ELSIF target_date = _wh.tenant_today(target_schema)
          OR (allow_refresh_yesterday AND target_date = _wh.tenant_today(target_schema) - 1) THEN
        PERFORM _wh.refresh_daily_view(target_schema, view_name);
        action := 'refreshed';
    ELSE
        action := 'skipped';
    END IF;
    nrows := _wh.count_rows(target_schema, view_name);
    IF action <> 'skipped' THEN
        PERFORM _wh.record_capture(target_schema, base_view_name, target_date, nrows);
    END IF;
    elapsed := round((extract(epoch FROM clock_timestamp() - started) * 1000)::numeric, 1);
    PERFORM _wh.log_run(target_schema, tenant_connection_name, base_view_name, target_date, action, nrows, elapsed);
    RETURN jsonb_build_object('action', action, 'view', format('%I.%I', target_schema, view_name), 'rows', nrows,
                              'duration_ms', elapsed, 'template', base_view_name, 'schema', target_schema,
                              'connection', tenant_connection_name, 'date', target_date);
END
$$;

-- Guide name for update_mv_by_template('foodlogstats', ...): what the guide's cron jobs call.
CREATE OR REPLACE FUNCTION _wh.update_foodlogstats(tenant_connection_name text, target_schema text, target_date date,
                                                   allow_refresh_yesterday boolean DEFAULT true)
RETURNS jsonb
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT _wh.update_mv_by_template('foodlogstats', tenant_connection_name, target_schema, target_date, allow_refresh_yesterday) $$;

-- Runs an update function (text, text, date, boolean) -> jsonb for each day of a range, each
-- day in its own subtransaction (failures logged and reported). The default,
-- _wh.update_foodlogstats, is handled by update_mv_window_by_template('foodlogstats', ...).
-- Returns the same summary as update_mv_window_by_template. The guide's rebuild (drop every
-- pg_matviews entry, then this) cannot see compacted closed days (plain views over
-- <template>_closed): those in the range are skipped as existing, so a WARNING names them with
-- the call that rebuilds them too (force), and the summary lists them (skipped_compacted).
CREATE OR REPLACE FUNCTION _wh.update_mv_window(tenant_connection_name text, target_schema text, start_date date, end_date date,
                                                update_function_name text DEFAULT '_wh.update_foodlogstats')
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    started timestamptz := clock_timestamp();
    fn regprocedure;
    fn_name text;
    summary jsonb := _wh.empty_summary();
    r jsonb;
    d date;
    msg text;
    compacted date[];
BEGIN
    fn := to_regprocedure(update_function_name || '(text,text,date,boolean)');
    IF fn IS NULL THEN
        RAISE EXCEPTION 'update function %(text, text, date, boolean) does not exist', coalesce(update_function_name, 'NULL')
            USING ERRCODE = 'undefined_function', HINT = 'Give the schema-qualified name, e.g. ''_wh.update_inventory_stats''.';
    END IF;
    IF fn = '_wh.update_foodlogstats(text,text,date,boolean)'::regprocedure THEN
        SELECT pg_catalog.array_agg(v.day ORDER BY v.day) INTO compacted
        FROM _wh.daily_views v
        WHERE v.schema_name = target_schema AND v.template_name = 'foodlogstats' AND v.kind IN ('v', 't') AND v.day BETWEEN start_date AND end_date;
        summary := _wh.update_mv_window_by_template('foodlogstats', tenant_connection_name, target_schema, start_date, end_date);
        IF pg_catalog.cardinality(compacted) > 0 THEN
            RAISE WARNING '% day(s) of %.foodlogstats in % .. % are compacted (plain views over foodlogstats_closed, which pg_matviews and DROP MATERIALIZED VIEW do not see) and were skipped, not rebuilt: %',
                          pg_catalog.cardinality(compacted), target_schema, start_date, end_date,
                          pg_catalog.array_to_string(compacted[1:10], ', ') || CASE WHEN pg_catalog.cardinality(compacted) > 10 THEN ', ...' ELSE '' END
                USING HINT = format('To rebuild every day of the range, compacted ones too: SELECT _wh.update_mv_window_by_template(''foodlogstats'', %L, %L, %L, %L, force => true); (docs/operations.md: the guide''s SQL on compacted days)',
                                    tenant_connection_name, target_schema, start_date, end_date);
            summary := summary || jsonb_build_object('skipped_compacted', to_jsonb(compacted));
        END IF;
        RETURN summary;
    END IF;
    SELECT format('%I.%I', n.nspname, p.proname) INTO fn_name
    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = fn;
    PERFORM _wh.assert_tenant_schema(target_schema);
    IF start_date IS NULL OR end_date IS NULL OR start_date > end_date THEN
        RAISE EXCEPTION 'invalid date range % .. %', start_date, end_date USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM _wh.assert_target_date(start_date);
    PERFORM _wh.assert_target_date(end_date);

    d := start_date;
    WHILE d <= end_date LOOP
        BEGIN
            EXECUTE format('SELECT %s($1, $2, $3, $4)', fn_name) INTO r
                USING tenant_connection_name, target_schema, d, true;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
            PERFORM _wh.log_run(target_schema, tenant_connection_name, NULL, d, 'failed', NULL, NULL,
                                fn_name || ': ' || msg);
            r := jsonb_build_object('action', 'failed', 'date', d, 'error', msg);
        END;
        summary := _wh.add_to_summary(summary, coalesce(r, jsonb_build_object('action', 'skipped')));
        d := d + 1;
    END LOOP;
    RETURN summary || jsonb_build_object(
        'function', fn_name, 'schema', target_schema, 'connection', tenant_connection_name,
        'start_date', start_date, 'end_date', end_date,
        'duration_ms', round((extract(epoch FROM clock_timestamp() - started) * 1000)::numeric, 1));
END
$$;
