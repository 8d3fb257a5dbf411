-- sql/wh/11-daily-views.sql: Daily views: create and refresh one day's materialized view.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Creates materialized view target_schema.view_name from a template for one date: the
-- remote query through public.dblink(<server name>, ...), client appended as a literal, the
-- template's indexes with names chosen by PostgreSQL, SELECT for phood_ro, ANALYZE.
-- Callers hold the daily-view lock and have validated the arguments.
CREATE OR REPLACE FUNCTION _wh.create_daily_view(template_name text, tenant_connection_name text, target_schema text,
                                                 target_date date, view_name text, client_name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tpl        _wh.mv_templates;
    srv        text;
    select_list text;
    column_defs text;
    has_client boolean;
    idx        record;
    detail     text;
BEGIN
    SELECT * INTO tpl FROM _wh.mv_templates t WHERE t.template_name = create_daily_view.template_name;
    IF NOT FOUND THEN
        PERFORM _wh.assert_template_exists(template_name);
    END IF;
    srv := _wh.get_tenant_connection_string(tenant_connection_name);

    SELECT string_agg(format('t.%I', c.column_name), ', ' ORDER BY c.ordinal),
           string_agg(format('%I %s', c.column_name, c.data_type), ', ' ORDER BY c.ordinal),
           bool_or(c.column_name = 'client')
    INTO select_list, column_defs, has_client
    FROM _wh.parse_column_definitions(tpl.column_definitions) c;

    -- The view's definition names the server, so it opens a connection of its own: the session's
    -- kept one goes first (at most one source connection per session).
    PERFORM _wh.close_session_dblinks();
    BEGIN
        EXECUTE format('CREATE MATERIALIZED VIEW %I.%I AS SELECT %s%s FROM public.dblink(%L, %L) AS t(%s)',
                       target_schema, view_name, select_list,
                       CASE WHEN has_client THEN '' ELSE format(', %L::text AS client', client_name) END,
                       srv,
                       _wh.render_template_text(tpl.query_template, target_schema, view_name, target_date),
                       column_defs);
    EXCEPTION WHEN datatype_mismatch THEN
        PERFORM _wh.raise_template_columns_mismatch(template_name, SQLERRM);
    END;

    FOR idx IN SELECT * FROM _wh.parse_index_definitions(tpl.indexes) ORDER BY ordinal LOOP
        BEGIN
            EXECUTE format('CREATE %sINDEX ON %I.%I %s',
                           CASE WHEN idx.is_unique THEN 'UNIQUE ' ELSE '' END,
                           target_schema, view_name,
                           _wh.render_template_text(idx.index_rest, target_schema, view_name, target_date));
        EXCEPTION WHEN unique_violation THEN
            -- "Key (id)=(42) is duplicated.": the one error of a duplicate key, as for a closed day.
            GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
            PERFORM _wh.raise_duplicate_key(template_name, target_date,
                                            coalesce(substring(detail FROM '^Key (.*) is duplicated\.$'), idx.index_rest));
        END;
    END LOOP;

    EXECUTE format('GRANT SELECT ON %I.%I TO phood_ro', target_schema, view_name);
    EXECUTE format('ANALYZE %I.%I', target_schema, view_name);
END
$$;

-- Refreshes a daily view: CONCURRENTLY (readers not blocked) when it has a plain unique
-- index, otherwise a plain REFRESH.
CREATE OR REPLACE FUNCTION _wh.refresh_daily_view(target_schema text, view_name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    detail text;
    template_name text;
    key text;
BEGIN
    PERFORM _wh.close_session_dblinks();  -- REFRESH connects on its own (see create_daily_view)
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_index i
               WHERE i.indrelid = format('%I.%I', target_schema, view_name)::regclass
                 AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL) THEN
        BEGIN
            EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY %I.%I', target_schema, view_name);
        EXCEPTION WHEN unique_violation OR cardinality_violation THEN
            -- The source's rows of the day now repeat a unique key ("Key (id)=(42) already exists.", or whole rows
            -- repeated): the one error of a duplicate key; the day keeps its rows.
            GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
            template_name := _wh.daily_name_template(view_name);
            key := substring(detail FROM '^Key (.*) already exists\.$');
            IF key IS NULL AND _wh.repeated_key_sql(template_name) IS NOT NULL THEN
                -- Whole rows repeated ("new data ... contains duplicate rows"): the view's query again, to name the key.
                EXECUTE format('WITH src AS (%s) SELECT %s',
                               pg_catalog.rtrim(pg_catalog.pg_get_viewdef(format('%I.%I', target_schema, view_name)::regclass), '; '),
                               _wh.repeated_key_sql(template_name))
                INTO key;
            END IF;
            PERFORM _wh.raise_duplicate_key(template_name, _wh.daily_name_day(view_name), coalesce(key, '(a unique key of the day)'));
        END;
    ELSE
        EXECUTE format('REFRESH MATERIALIZED VIEW %I.%I', target_schema, view_name);
    END IF;
END
$$;

-- The number of rows of target_schema.view_name (a daily view of either kind), counted now, as whadmin.
CREATE OR REPLACE FUNCTION _wh.count_rows(target_schema text, view_name text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %I.%I', target_schema, view_name) INTO n;
    RETURN n;
END
$$;
