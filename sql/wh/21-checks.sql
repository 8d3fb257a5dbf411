-- sql/wh/21-checks.sql: Checks: fingerprints of a day on both sides, and the per-day comparison of a window with its source.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- The 64-bit hash of one row of a template's declared columns, over alias r, as an expression: the XOR of each column's
-- hash, each column hashed by its type's own extended hash function (the support function of its default hash
-- operator class, as hash partitioning uses: hashint8extended, hash_numeric_extended, timestamp_hash_extended, ...;
-- a type without one is hashed as text) with a seed of its own (seed * 1000 + its position), so that equal values in
-- different columns differ; a NULL column contributes its seed, not the hash of any value ('' and NULL differ). Values
-- are hashed, not their text: 1.50 and 1.5 are equal, a timestamptz is the same instant in any TimeZone. On the source
-- each column is first cast to its declared type (a no-op when the source has that type), as the day's load stores it.
DROP FUNCTION IF EXISTS _wh.fingerprint_row_expression(text, boolean);
CREATE OR REPLACE FUNCTION _wh.fingerprint_row_expression(template_name text, on_source boolean, seed integer)
RETURNS text
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT string_agg(format('coalesce(pg_catalog.%s(%s, %s), %s)',
                             coalesce(h.hash_function, 'hashtextextended'),
                             CASE WHEN h.hash_function IS NULL THEN format('(%s)::text', e.expr) ELSE e.expr END,
                             $3 * 1000 + c.ordinal, $3 * 1000 + c.ordinal),
                      ' # ' ORDER BY c.ordinal)
    FROM _wh.parse_column_definitions((SELECT t.column_definitions FROM _wh.mv_templates t
                                       WHERE t.template_name = $1)) c
    CROSS JOIN LATERAL (SELECT CASE WHEN $2 THEN format('(r.%I)::%s', c.column_name, c.data_type)
                                    ELSE format('r.%I', c.column_name) END AS expr) e
    LEFT JOIN LATERAL (
        SELECT p.amproc::regproc::text AS hash_function
        FROM pg_catalog.pg_opclass oc
        JOIN pg_catalog.pg_am am ON am.oid = oc.opcmethod AND am.amname = 'hash'
        JOIN pg_catalog.pg_amproc p ON p.amprocfamily = oc.opcfamily AND p.amprocnum = 2
                                   AND p.amproclefttype = oc.opcintype AND p.amprocrighttype = oc.opcintype
        WHERE oc.opcdefault AND oc.opcintype = to_regtype(c.data_type)
          AND p.amproc::regproc::text NOT LIKE '%.%'   -- built-in (pg_catalog) functions only: the source has them too
        LIMIT 1) h ON true
$$;

-- The query of a fingerprint over row_source (a relation or subquery with alias r; group_by: an expression of r to
-- fingerprint per value, e.g. r._wh_day, or NULL for one fingerprint): the row count and an order-independent
-- content hash, the sums of two 64-bit row hashes (hash0, hash1: fingerprint_row_expression with seeds 0 and 1;
-- summed exactly). Equal rows count as often as they occur; a changed value, an added and a deleted row change it
-- even when the count stays. Runs unchanged on the warehouse and, inside dblink, on the source (everything
-- pg_catalog-qualified).
DROP FUNCTION IF EXISTS _wh.fingerprint_sql(text, text, text);
CREATE OR REPLACE FUNCTION _wh.fingerprint_sql(row_source text, hash0 text, hash1 text, group_by text DEFAULT NULL)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('SELECT %s pg_catalog.count(*)::bigint AS n, '
                  'coalesce(pg_catalog.sum(f.h0), 0)::text || %L || coalesce(pg_catalog.sum(f.h1), 0)::text AS hash '
                  'FROM (SELECT %s %s AS h0, %s AS h1 FROM %s) f %s',
                  CASE WHEN $4 IS NULL THEN '' ELSE 'f.g AS g,' END, '/',
                  CASE WHEN $4 IS NULL THEN '' ELSE $4 || ' AS g,' END,
                  $2, $3, $1,
                  CASE WHEN $4 IS NULL THEN '' ELSE 'GROUP BY f.g' END)
$$;

-- The source's fingerprint query of a rendered template query (its trailing semicolons dropped), its columns named
-- as the template declares them (aliases) and hashed by hash0 and hash1 (fingerprint_row_expression on the source).
CREATE OR REPLACE FUNCTION _wh.source_fingerprint_sql(rendered_query text, aliases text, hash0 text, hash1 text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _wh.fingerprint_sql(format('(%s) AS r(%s)', regexp_replace(rendered_query, ';[\s;]*$', ''), aliases), hash0, hash1)
$$;

-- Compares each day from start_date to end_date of one tenant's template with its source, by fingerprint (row
-- count + content hash over the template's declared columns, computed on both sides: only fingerprints cross
-- dblink, over ONE source connection opened for this call; 92 days per round trip, sent asynchronously while the
-- warehouse computes its side; compacted days in one grouped scan of <template>_closed). Status per day:
--   Match   the warehouse holds exactly the source's rows (or neither has any);
--   Changed the warehouse's day differs (a changed value, an added or a deleted row, even with the same count);
--   Missing the source has rows for a day the warehouse lacks.
-- Changes no day: records each result in _wh.day_state and the run log (action 'checked'; error = what differed),
-- unless record_results is false (Repair-WhMv -WhatIf: then it writes nothing at all).
-- Raises (nothing recorded) when the source is unreachable or a date is in the future for the tenant.
DROP FUNCTION IF EXISTS _wh.check_mv_window_by_template(text, text, text, date, date);
CREATE OR REPLACE FUNCTION _wh.check_mv_window_by_template(template_name text, tenant_connection_name text, target_schema text,
                                                           start_date date, end_date date, record_results boolean DEFAULT true)
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
    src_hash0  text;
    src_hash1  text;
    wh_hash0   text;
    wh_hash1   text;
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
    per_day_source text;  -- the source's fingerprint query of one day, the day a value (NULL: rendered per day)
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
    PERFORM _wh.assert_target_date(start_date, target_schema);
    PERFORM _wh.assert_target_date(end_date, target_schema);
    srv := _wh.get_tenant_connection_string(tenant_connection_name);
    SELECT * INTO tpl FROM _wh.mv_templates t WHERE t.template_name = check_mv_window_by_template.template_name;
    src_hash0 := _wh.fingerprint_row_expression(template_name, true, 0);
    src_hash1 := _wh.fingerprint_row_expression(template_name, true, 1);
    wh_hash0 := _wh.fingerprint_row_expression(template_name, false, 0);
    wh_hash1 := _wh.fingerprint_row_expression(template_name, false, 1);
    SELECT string_agg(format('%I', c.column_name), ', ' ORDER BY c.ordinal) INTO aliases
    FROM _wh.parse_column_definitions(tpl.column_definitions) c;
    -- A template whose every {TARGET_DATE} is the date literal '{TARGET_DATE}'::date (the guide's form) and that does
    -- not name its view: its source query is run for each day with the day as a value (wh_days.wh_day) instead of
    -- rendered once per day. Any other template: rendered per day, as its loads are.
    IF tpl.query_template !~ '\{VIEW_NAME\}'
       AND (SELECT count(*) FROM regexp_matches(tpl.query_template, '\{TARGET_DATE\}', 'g'))
         = (SELECT count(*) FROM regexp_matches(tpl.query_template, '''\{TARGET_DATE\}''::date\M', 'gi')) THEN
        per_day_source := _wh.source_fingerprint_sql(
            _wh.render_template_text(regexp_replace(tpl.query_template, '''\{TARGET_DATE\}''::date\M', '(wh_days.wh_day)', 'gi'),
                                     target_schema, _wh.create_mv_name(template_name, start_date), start_date),
            aliases, src_hash0, src_hash1);
    END IF;
    -- The kind of every day of the window ('m', 'v', 't' or NULL), read once; 'v' and 't' are rows of the compacted table.
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
        -- statements bounded (the setting check_statement_timeout, _wh.setting).
        PERFORM public.dblink_exec(conn, format('SET extra_float_digits = 3; SET IntervalStyle = postgres; SET DateStyle = ''ISO, YMD''; SET statement_timeout = %L',
            _wh.setting('check_statement_timeout')));
        d := start_date;
        WHILE d <= end_date LOOP
            chunk_end := least(end_date, d + 91);
            IF per_day_source IS NOT NULL THEN
                -- One query planned once, run for each day (planning 92 rendered copies cost 10x their execution).
                PERFORM public.dblink_send_query(conn, format(
                    'SELECT wh_days.wh_day AS d, fp.n, fp.hash FROM pg_catalog.unnest(%L::date[]) AS wh_days(wh_day) CROSS JOIN LATERAL (%s) fp',
                    ARRAY(SELECT g::date FROM generate_series(d, chunk_end, interval '1 day') g), per_day_source));
            ELSE
                parts := '{}';
                FOR k IN 0 .. chunk_end - d LOOP
                    parts := parts || format('(SELECT %L::date AS d, fp.n, fp.hash FROM (%s) fp)', d + k,
                        _wh.source_fingerprint_sql(
                            _wh.render_template_text(tpl.query_template, target_schema, _wh.create_mv_name(template_name, d + k), d + k),
                            aliases, src_hash0, src_hash1));
                END LOOP;
                PERFORM public.dblink_send_query(conn, array_to_string(parts, E'\nUNION ALL\n'));
            END IF;

            -- Meanwhile the warehouse's side of the same days: compacted days in one grouped scan, the others one by one.
            IF kinds[d - start_date + 1 : chunk_end - start_date + 1] && ARRAY['v', 't']::"char"[] THEN
                FOR rec_day, rec_rows, rec_hash IN EXECUTE _wh.fingerprint_sql(format('%I.%I AS r WHERE r._wh_day BETWEEN %L AND %L', target_schema, closed, d, chunk_end),
                                                       wh_hash0, wh_hash1, 'r._wh_day') LOOP
                    IF kinds[rec_day - start_date + 1] IN ('v', 't') THEN
                        wh_days := wh_days || rec_day;
                        wh_counts := wh_counts || rec_rows;
                        wh_hashes := wh_hashes || rec_hash;
                    END IF;
                END LOOP;
            END IF;
            FOR k IN 0 .. chunk_end - d LOOP
                IF kinds[d + k - start_date + 1] = 'm' THEN
                    EXECUTE _wh.fingerprint_sql(format('%I.%I AS r', target_schema, _wh.create_mv_name(template_name, d + k)), wh_hash0, wh_hash1) INTO wn, wh;
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
        IF record_results THEN
            IF wn IS NOT NULL OR st <> 'Match' THEN
                PERFORM _wh.record_check(target_schema, template_name, d, st, wn, sn, at_time);
            END IF;
            PERFORM _wh.log_run(target_schema, tenant_connection_name, template_name, d, 'checked', sn, NULL,
                CASE WHEN st = 'Changed' THEN format('Changed: the warehouse holds %s rows, the source %s; their contents differ', wn, sn)
                     WHEN st = 'Missing' THEN format('Missing: the source has %s rows, the warehouse has no day', sn) END);
        END IF;
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
