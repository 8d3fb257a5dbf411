-- sql/wh/16-checks.sql: Checks: fingerprints of a day on both sides, and the per-day comparison of a window with its source.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

CREATE OR REPLACE FUNCTION _wh.fingerprint_row_expression(template_name text, on_source boolean)
RETURNS text
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('(ROW(%s))::text', string_agg(
               CASE WHEN to_regtype(c.data_type) = 'timestamp with time zone'::regtype
                    THEN format('(%s) AT TIME ZONE %L', e.expr, 'UTC') ELSE e.expr END, ', ' ORDER BY c.ordinal))
    FROM _wh.parse_column_definitions((SELECT t.column_definitions FROM _wh.mv_templates t
                                       WHERE t.template_name = $1)) c
    CROSS JOIN LATERAL (SELECT CASE WHEN $2 THEN format('(r.%I)::%s', c.column_name, c.data_type)
                                    ELSE format('r.%I', c.column_name) END AS expr) e
$$;

-- The query of a fingerprint over row_source (a relation or subquery with alias r; group_by: an expression of r to
-- fingerprint per value, e.g. r._wh_day, or NULL for one fingerprint): the row count and an order-independent
-- content hash, the sums of two 64-bit hashes (hashtextextended, seeds 0 and 1; summed exactly) of every row's text. Equal rows
-- count as often as they occur; a changed value, an added and a deleted row change it even when the count stays.
-- Runs unchanged on the warehouse and, inside dblink, on the source (everything pg_catalog-qualified).
DROP FUNCTION IF EXISTS _wh.fingerprint_sql(text, text);
CREATE OR REPLACE FUNCTION _wh.fingerprint_sql(row_source text, row_expression text, group_by text DEFAULT NULL)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('SELECT %s pg_catalog.count(*)::bigint AS n, '
                  'coalesce(pg_catalog.sum(f.h0), 0)::text || %L || coalesce(pg_catalog.sum(f.h1), 0)::text AS hash '
                  'FROM (SELECT %s pg_catalog.hashtextextended(x.t, 0) AS h0, pg_catalog.hashtextextended(x.t, 1) AS h1 '
                  'FROM (SELECT %s %s AS t FROM %s OFFSET 0) x) f %s',
                  CASE WHEN $3 IS NULL THEN '' ELSE 'f.g AS g,' END, '/',
                  CASE WHEN $3 IS NULL THEN '' ELSE 'x.g,' END,
                  CASE WHEN $3 IS NULL THEN '' ELSE $3 || ' AS g,' END,
                  $2, $1,
                  CASE WHEN $3 IS NULL THEN '' ELSE 'GROUP BY f.g' END)
$$;

-- Compares each day from start_date to end_date of one tenant's template with its source, by fingerprint (row
-- count + content hash over the template's declared columns, computed on both sides: only fingerprints cross
-- dblink, over ONE source connection opened for this call; 92 days per round trip, sent asynchronously while the
-- warehouse computes its side; compacted days in one grouped scan of <template>_closed). Status per day:
--   Match   the warehouse holds exactly the source's rows (or neither has any);
--   Changed the warehouse's day differs (a changed value, an added or a deleted row, even with the same count);
--   Missing the source has rows for a day the warehouse lacks.
-- Changes no day: records each result in _wh.day_state and the run log (action 'checked'; error = what differed).
-- Raises (nothing recorded) when the source is unreachable or a date is in the future for the tenant.
CREATE OR REPLACE FUNCTION _wh.check_mv_window_by_template(template_name text, tenant_connection_name text, target_schema text,
                                                           start_date date, end_date date)
RETURNS TABLE (day date, status text, warehouse_rows bigint, source_rows bigint, checked_at timestamptz)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET extra_float_digits = 3
SET IntervalStyle = postgres
SET DateStyle = 'ISO, YMD'
AS $$
DECLARE
    tpl        _wh.mv_templates;
    registered text;
    srv        text;
    conn       text := 'wh_check_' || pg_backend_pid();
    src_expr   text;
    wh_expr    text;
    aliases    text;
    closed     text := _wh.closed_table_name(template_name);
    at_time    timestamptz := _wh.now();
    src_days   date[] := '{}'::date[];
    src_counts bigint[] := '{}'::bigint[];
    src_hashes text[] := '{}'::text[];
    wh_days    date[] := '{}'::date[];
    wh_counts  bigint[] := '{}'::bigint[];
    wh_hashes  text[] := '{}'::text[];
    kinds      "char"[];
    parts      text[];
    chunk_end  date;
    d          date;
    rec_day    date;     -- one grouped fingerprint row: day, rows, hash (scalars: the row shape is dynamic)
    rec_rows   bigint;
    rec_hash   text;
    k          integer;
    wn bigint; wh text; sn bigint; sh text; st text;
    msg text;
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
    SELECT t.connection_name INTO registered FROM _wh.tenants t WHERE t.schema_name = target_schema;
    IF registered IS NULL THEN
        RAISE EXCEPTION 'tenant schema % is not registered', target_schema USING ERRCODE = 'undefined_object';
    ELSIF registered <> tenant_connection_name THEN
        RAISE EXCEPTION 'schema % is registered for connection %, not %', target_schema, registered, tenant_connection_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM _wh.assert_target_date(end_date, target_schema);
    srv := _wh.get_tenant_connection_string(tenant_connection_name);
    SELECT * INTO tpl FROM _wh.mv_templates t WHERE t.template_name = check_mv_window_by_template.template_name;
    src_expr := _wh.fingerprint_row_expression(template_name, true);
    wh_expr := _wh.fingerprint_row_expression(template_name, false);
    SELECT string_agg(format('%I', c.column_name), ', ' ORDER BY c.ordinal) INTO aliases
    FROM _wh.parse_column_definitions(tpl.column_definitions) c;
    -- The kind of every day of the window ('m', 'v' or NULL), read once.
    SELECT array_agg(_wh.daily_relkind(target_schema, _wh.create_mv_name(template_name, g::date)) ORDER BY g)
    INTO kinds FROM generate_series(start_date, end_date, interval '1 day') g;

    IF conn = ANY (coalesce(public.dblink_get_connections(), '{}')) THEN
        PERFORM public.dblink_disconnect(conn);
    END IF;
    BEGIN
        PERFORM public.dblink_connect(conn, srv);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
        RAISE EXCEPTION 'cannot check %.% against its source: connection % is unreachable: %', target_schema, template_name, tenant_connection_name, msg
            USING ERRCODE = 'connection_failure',
                  HINT = 'Test-WhTenantConnection shows why; check again once the source answers.';
    END;
    BEGIN
        -- Text of dates, floats and intervals the same on both sides whatever the servers' defaults are; the source's
        -- statements bounded (warehouse_info 'check_statement_timeout', default 10min).
        PERFORM public.dblink_exec(conn, format('SET extra_float_digits = 3; SET IntervalStyle = postgres; SET DateStyle = ''ISO, YMD''; SET statement_timeout = %L',
            coalesce((SELECT i.value FROM _wh.warehouse_info i WHERE i.key = 'check_statement_timeout'), '10min')));
        d := start_date;
        WHILE d <= end_date LOOP
            chunk_end := least(end_date, d + 91);
            parts := '{}';
            FOR k IN 0 .. chunk_end - d LOOP
                parts := parts || format('(SELECT %L::date AS d, fp.n, fp.hash FROM (%s) fp)', d + k,
                    _wh.fingerprint_sql(
                        format('(%s) AS r(%s)',
                               regexp_replace(_wh.render_template_text(tpl.query_template, target_schema,
                                                                       _wh.create_mv_name(template_name, d + k), d + k),
                                              ';[\s;]*$', ''),
                               aliases),
                        src_expr));
            END LOOP;
            PERFORM public.dblink_send_query(conn, array_to_string(parts, E'\nUNION ALL\n'));

            -- Meanwhile the warehouse's side of the same days: compacted days in one grouped scan, the others one by one.
            IF 'v' = ANY (kinds[d - start_date + 1 : chunk_end - start_date + 1]) THEN
                FOR rec_day, rec_rows, rec_hash IN EXECUTE _wh.fingerprint_sql(format('%I.%I AS r WHERE r._wh_day BETWEEN %L AND %L', target_schema, closed, d, chunk_end),
                                                       wh_expr, 'r._wh_day') LOOP
                    IF kinds[rec_day - start_date + 1] = 'v' THEN
                        wh_days := wh_days || rec_day;
                        wh_counts := wh_counts || rec_rows;
                        wh_hashes := wh_hashes || rec_hash;
                    END IF;
                END LOOP;
            END IF;
            FOR k IN 0 .. chunk_end - d LOOP
                IF kinds[d + k - start_date + 1] = 'm' THEN
                    EXECUTE _wh.fingerprint_sql(format('%I.%I AS r', target_schema, _wh.create_mv_name(template_name, d + k)), wh_expr) INTO wn, wh;
                    wh_days := wh_days || (d + k);
                    wh_counts := wh_counts || wn;
                    wh_hashes := wh_hashes || wh;
                END IF;
            END LOOP;

            FOR rec_day, rec_rows, rec_hash IN SELECT * FROM public.dblink_get_result(conn) AS t(d date, n bigint, hash text) LOOP
                src_days := src_days || rec_day;
                src_counts := src_counts || rec_rows;
                src_hashes := src_hashes || rec_hash;
            END LOOP;
            PERFORM * FROM public.dblink_get_result(conn) AS t(d date, n bigint, hash text);
            d := chunk_end + 1;
        END LOOP;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
        PERFORM public.dblink_disconnect(conn);
        RAISE EXCEPTION 'checking %.% from % to % against its source failed: %', target_schema, template_name, start_date, end_date, msg
            USING ERRCODE = 'external_routine_exception';
    END;
    PERFORM public.dblink_disconnect(conn);

    d := start_date;
    WHILE d <= end_date LOOP
        k := array_position(src_days, d);
        sn := src_counts[k];
        sh := src_hashes[k];
        k := array_position(wh_days, d);
        IF kinds[d - start_date + 1] IS NULL THEN
            wn := NULL;
            st := CASE WHEN coalesce(sn, 0) > 0 THEN 'Missing' ELSE 'Match' END;
        ELSE
            -- A compacted day without rows has no group: zero rows, the empty hash.
            wn := coalesce(wh_counts[k], 0);
            wh := coalesce(wh_hashes[k], '0/0');
            st := CASE WHEN wn = sn AND wh = sh THEN 'Match' ELSE 'Changed' END;
        END IF;
        IF wn IS NOT NULL OR st <> 'Match' THEN
            PERFORM _wh.record_check(target_schema, template_name, d, st, wn, sn, at_time);
        END IF;
        PERFORM _wh.log_run(target_schema, tenant_connection_name, template_name, d, 'checked', sn, NULL,
            CASE WHEN st = 'Changed' THEN format('Changed: the warehouse holds %s rows, the source %s; their contents differ', wn, sn)
                 WHEN st = 'Missing' THEN format('Missing: the source has %s rows, the warehouse has no day', sn) END);
        day := d;
        status := st;
        warehouse_rows := wn;
        source_rows := sn;
        checked_at := at_time;
        RETURN NEXT;
        d := d + 1;
    END LOOP;
END
$$;

-- Never waits: one day of a scheduled refresh through update_mv_day_isolated (failures logged there, in a
-- subtransaction), unless another session holds the day (a backfill, a repair, another job): then 'skipped' with
-- "busy" in the run log, left for the next run.
