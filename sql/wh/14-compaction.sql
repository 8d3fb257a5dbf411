-- sql/wh/14-compaction.sql: Closed days: compaction into <template>_closed (when due, _wh.compact_after_days) and loading a closed day straight into it.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

--
-- A day older than yesterday can no longer be refreshed (only re-created with force). Once a
-- tenant has more than _wh.compact_after_days() closed daily materialized views of a template
-- (the setting compact_after_days), they move into ONE indexed table
-- <schema>.<template>_closed (the daily view's columns plus _wh_day date), and from then on
-- every closed day of that tenant and template lives there: a new closed day is loaded straight
-- into it (INSERT ... SELECT FROM dblink over the session's kept connection, wh/08), the daily
-- name stays queryable as a plain view (SELECT <cols> FROM <template>_closed WHERE _wh_day = day),
-- and the tenant view reads the table plus the remaining daily materialized views (today,
-- yesterday). Planning a query then locks a handful of relations instead of 4 per day.

-- How many closed daily materialized views a tenant may have of a template before they are
-- compacted (the setting compact_after_days, _wh.setting).
CREATE OR REPLACE FUNCTION _wh.compact_after_days()
RETURNS integer
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _wh.setting('compact_after_days')::integer
$$;

-- How many days back from a tenant's today a compacted closed day keeps a view of its own (the setting
-- day_relation_days, at least 7). An older day is its rows in <template>_closed: listed by the catalog (kind 't'),
-- loaded, checked, repaired and dropped like any day, read through the tenant view or _wh.day_rows. At 100 tenants x
-- 5 years a view per day was 1.1 GB of catalog, everyday commands at 0.6-0.9 s and pg_dump out of shared memory
-- (docs/performance.md, rows s0-s7).
CREATE OR REPLACE FUNCTION _wh.day_relation_days()
RETURNS integer
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT greatest(_wh.setting('day_relation_days')::integer, 7)
$$;

-- The first day of this tenant whose compacted closed day keeps a view of its own: day_relation_days back from its
-- today (older days are kind 't'). The one spelling of the horizon: loading a day and retiring views read it.
CREATE OR REPLACE FUNCTION _wh.day_relation_horizon(target_schema text)
RETURNS date
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _wh.tenant_today(target_schema) - _wh.day_relation_days()
$$;

-- upgrade from 2.4.0: set_table_only marks many days at once (a batch of a backfill); the one-day signature goes.
DROP FUNCTION IF EXISTS _wh.set_table_only(text, text, date, boolean);

-- Marks closed days as kept in <template>_closed without a relation (kind 't'), or (table_only false) as having their
-- views again. In the caller's transaction, under the days' locks.
CREATE OR REPLACE FUNCTION _wh.set_table_only(target_schema text, template_name text, days date[], table_only boolean)
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO _wh.day_state AS s (schema_name, template_name, day, table_only)
    SELECT $1, $2, u.d, $4 FROM pg_catalog.unnest($3) AS u(d)
    ON CONFLICT (schema_name, template_name, day) DO UPDATE SET table_only = EXCLUDED.table_only
$$;

-- The SELECT of a compacted day's view up to the day: "SELECT <the daily view's columns> FROM <schema>.<template>_closed
-- WHERE _wh_day = ", to which closed_day_view_sql adds the day. Read once for many days (keep_closed_day_relations):
-- the template's columns are parsed each time they are read.
CREATE OR REPLACE FUNCTION _wh.closed_day_view_head(template_name text, target_schema text)
RETURNS text
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('SELECT %s FROM %I.%I WHERE _wh_day = ',
                  string_agg(format('%I', c.column_name), ', ' ORDER BY c.ordinal),
                  target_schema, _wh.closed_table_name(template_name))
    FROM _wh.template_columns(template_name) c
$$;

-- The SELECT of a compacted day's view: the daily view's columns of that day.
CREATE OR REPLACE FUNCTION _wh.closed_day_view_sql(template_name text, target_schema text, target_date date)
RETURNS text
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _wh.closed_day_view_head(template_name, target_schema) || format('%L::date', target_date)
$$;

-- Inserts the rows of closed days into <schema>.<template>_closed from the tenant's source (the same remote query,
-- columns and client literal as a daily materialized view), every day in ONE statement over the session's kept
-- connection (one remote query per day, each row tagged with its day), and in the same statement finds the first key
-- the template declares unique that a day repeats (repeated_key_by_sql: the one rule, as a daily materialized view's
-- unique index applies it; docs/reliability.md): then nothing is kept and the day is named in the error. Callers hold
-- each day's lock and have removed any earlier rows of the days. Returns each day with its number of rows.
CREATE OR REPLACE FUNCTION _wh.insert_closed_days(template_name text, tenant_connection_name text, target_schema text,
                                                  days date[], client_name text)
RETURNS TABLE (day date, row_count bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tpl _wh.mv_templates;
    srv text;
    conn text;
    insert_list text;
    select_list text;
    column_defs text;
    has_client boolean;
    queries text[];
    returned text;
    stmt text;
    counts bigint[];
    duplicate text;
BEGIN
    SELECT * INTO tpl FROM _wh.mv_templates t WHERE t.template_name = insert_closed_days.template_name;
    srv := _wh.get_tenant_connection_string(tenant_connection_name);
    SELECT string_agg(format('%I', c.column_name), ', ' ORDER BY c.ordinal),
           string_agg(format('t.%I', c.column_name), ', ' ORDER BY c.ordinal),
           string_agg(format('%I %s', c.column_name, c.data_type), ', ' ORDER BY c.ordinal),
           bool_or(c.column_name = 'client')
    INTO insert_list, select_list, column_defs, has_client
    FROM _wh.parse_column_definitions(tpl.column_definitions) c;
    SELECT array_agg(_wh.render_template_text(tpl.query_template, target_schema, _wh.create_mv_name(template_name, u.d), u.d) ORDER BY u.n)
    INTO queries FROM unnest(days) WITH ORDINALITY AS u(d, n);
    -- The inserted rows are the src that the day counts and the repeated-key check read: one pass over the rows, no copy
    -- of them before the INSERT. Of each row only _wh_day and the columns the unique keys name come back (any column
    -- whose name appears as a word in a key or its condition; one too many costs nothing): a narrow RETURNING is a
    -- fifth of the statement's time cheaper than RETURNING * (docs/performance.md, row c).
    SELECT string_agg(', ' || format('%I', c.column_name), '' ORDER BY c.ordinal) INTO returned
    FROM _wh.template_columns(template_name) c
    WHERE EXISTS (SELECT 1 FROM _wh.template_unique_keys(template_name) k
                  WHERE concat_ws(' ', k.key_list, k.key_condition) ~* ('(^|[^a-z0-9_$])' || c.column_name || '($|[^a-z0-9_$])'));
    stmt := format('WITH src AS (INSERT INTO %I.%I (%s%s, _wh_day) '
                   'SELECT %s%s, u.d FROM ROWS FROM (pg_catalog.unnest($3::date[]), pg_catalog.unnest($2::text[])) AS u(d, q), '
                   'LATERAL public.dblink($1, u.q) AS t(%s) RETURNING _wh_day%s) '
                   'SELECT (SELECT pg_catalog.array_agg(COALESCE(c.n, 0) ORDER BY u.i) '
                   '        FROM pg_catalog.unnest($3::date[]) WITH ORDINALITY AS u(d, i) '
                   '        LEFT JOIN (SELECT src._wh_day, pg_catalog.count(*) AS n FROM src GROUP BY 1) c ON c._wh_day OPERATOR(pg_catalog.=) u.d), %s',
                   target_schema, _wh.closed_table_name(template_name), insert_list,
                   CASE WHEN has_client THEN '' ELSE ', client' END,
                   select_list, CASE WHEN has_client THEN '' ELSE ', $4::text' END, column_defs, coalesce(returned, ''),
                   coalesce(_wh.repeated_key_by_sql(template_name, '_wh_day'), 'NULL::text'));
    conn := _wh.session_dblink(srv);
    BEGIN
        EXECUTE stmt INTO counts, duplicate USING conn, queries, days, client_name;
    EXCEPTION WHEN datatype_mismatch THEN
        PERFORM _wh.raise_template_columns_mismatch(template_name, SQLERRM);
    WHEN OTHERS THEN
        -- The kept connection may have died (source restarted, idle timeout): once more over a new one.
        -- A real error (bad query, missing table) fails again and is raised from there.
        conn := _wh.session_dblink(srv, true);
        BEGIN
            EXECUTE stmt INTO counts, duplicate USING conn, queries, days, client_name;
        EXCEPTION WHEN datatype_mismatch THEN
            PERFORM _wh.raise_template_columns_mismatch(template_name, SQLERRM);
        END;
    END;
    IF duplicate IS NOT NULL THEN
        PERFORM _wh.raise_duplicate_key(template_name, split_part(duplicate, E'\t', 1)::date,
                                        substr(duplicate, strpos(duplicate, E'\t') + 1));
    END IF;
    RETURN QUERY SELECT u.d, u.c FROM unnest(days, counts) AS u(d, c);
END
$$;

-- upgrade from a 2.5.0 development build: the one-day keep_closed_day_relation became keep_closed_day_relations.
DROP FUNCTION IF EXISTS _wh.keep_closed_day_relation(text, text, date, text);

-- Gives closed days just loaded into <template>_closed their relations: a view of the day's name over the table for
-- each day within day_relation_days (day_relation_horizon), else none (kind 't', _wh.day_state.table_only). A day that
-- has its view keeps it. Many days at once (a backfill's batch): the horizon and the view's columns are read once, one
-- GRANT covers every view made, one statement marks the days without one; a day at a time, this was a sixth of a
-- backfill's time in the database (docs/performance.md, row c). Callers hold the days' locks.
CREATE OR REPLACE FUNCTION _wh.keep_closed_day_relations(template_name text, target_schema text, days date[])
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    horizon date := _wh.day_relation_horizon(target_schema);
    head text;
    d date;
    view_name text;
    kind "char";
    views text[] := '{}'::text[];
    shown_again date[] := '{}'::date[];
    table_only date[] := '{}'::date[];
BEGIN
    FOREACH d IN ARRAY days LOOP
        view_name := _wh.create_mv_name(template_name, d);
        kind := _wh.daily_relkind(target_schema, view_name);
        CONTINUE WHEN kind IS NOT NULL AND kind <> 't';
        IF d >= horizon THEN
            head := coalesce(head, _wh.closed_day_view_head(template_name, target_schema));
            EXECUTE format('CREATE VIEW %I.%I AS %s%L::date', target_schema, view_name, head, d);
            views := views || format('%I.%I', target_schema, view_name);
            IF kind = 't' THEN
                shown_again := shown_again || d;
            END IF;
        ELSIF kind IS NULL THEN
            -- Older than day_relation_days: the day is its rows in the table (the catalog lists it, kind 't').
            table_only := table_only || d;
        END IF;
    END LOOP;
    IF cardinality(views) > 0 THEN
        EXECUTE format('GRANT SELECT ON %s TO phood_ro', array_to_string(views, ', '));
    END IF;
    IF cardinality(shown_again) > 0 THEN
        PERFORM _wh.set_table_only(target_schema, template_name, shown_again, false);
    END IF;
    IF cardinality(table_only) > 0 THEN
        PERFORM _wh.set_table_only(target_schema, template_name, table_only, true);
    END IF;
END
$$;

-- upgrade from 2.4.0: load_closed_day no longer takes the day's view name (keep_closed_day_relations names it).
DROP FUNCTION IF EXISTS _wh.load_closed_day(text, text, text, date, text, text);

-- Loads one closed day straight into <schema>.<template>_closed (insert_closed_days) and gives it its relation
-- (keep_closed_day_relations). Callers hold the daily-view lock and have removed any earlier rows of the day (in the
-- same transaction). Returns the number of rows loaded.
CREATE OR REPLACE FUNCTION _wh.load_closed_day(template_name text, tenant_connection_name text, target_schema text,
                                               target_date date, client_name text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    SELECT i.row_count INTO n
    FROM _wh.insert_closed_days(template_name, tenant_connection_name, target_schema, ARRAY[target_date], client_name) i;
    PERFORM _wh.keep_closed_day_relations(template_name, target_schema, ARRAY[target_date]);
    RETURN n;
END
$$;

-- upgrade from 2.4.0: compact_closed_days gained build_indexes (CREATE OR REPLACE cannot add an argument).
DROP FUNCTION IF EXISTS _wh.compact_closed_days(text, text, boolean, boolean, integer);

-- Moves a tenant's closed daily materialized views of a template (older than yesterday) into
-- <schema>.<template>_closed: rows copied, each materialized view replaced by a plain view of
-- the same name over the table and its rows removed from <template>_recent, all in the
-- caller's transaction (readers see the old rows or the new ones). The tenant view's
-- definition changes only the first time, to read the new table. With only_when_due (what
-- update_mv_by_template, the windows and the module call) it does nothing unless the table
-- already exists or there are more than compact_after_days() closed materialized views, and it
-- never waits: a busy compaction lock or a day being written by another session is left for the
-- next call. Without it (psql: SELECT _wh.compact_closed_days('foodlogstats', 'tenant_a')) every
-- closed day is compacted now. analyze_table: ANALYZE the table at the end (always when created).
-- planned_days: closed days the caller is about to load (a window, a backfill); counted towards
-- compact_after_days(), so a long backfill creates the table first and loads every closed day
-- straight into it instead of building (and then compacting) a materialized view per day.
-- build_indexes false: a caller in the middle of its window (update_mv_by_template with
-- rebuild_views false) leaves a bare table's indexes, and their ANALYZE, to the window's end
-- (finish_window), which does them once after the last day.
-- Returns {"template","schema","table","compacted","created_table","busy"}.
CREATE OR REPLACE FUNCTION _wh.compact_closed_days(template_name text, target_schema text,
                                                   only_when_due boolean DEFAULT false, analyze_table boolean DEFAULT true,
                                                   planned_days integer DEFAULT 0, build_indexes boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    closed text := _wh.closed_table_name(template_name);
    has_table boolean;
    created boolean := false;
    candidates integer;
    victim record;
    moved text[] := '{}'::text[];
    days date[] := '{}'::date[];
    cols text;
    built integer := 0;
    result jsonb;
BEGIN
    PERFORM _wh.assert_template_exists(template_name);
    PERFORM _wh.assert_tenant_schema(target_schema);
    result := jsonb_build_object('template', template_name, 'schema', target_schema,
                                 'table', format('%I.%I', target_schema, closed), 'compacted', 0, 'created_table', false, 'busy', false);
    IF only_when_due THEN
        IF NOT pg_try_advisory_xact_lock(hashtext('_wh.compact'), hashtext(target_schema || '.' || template_name)) THEN
            RETURN result || jsonb_build_object('busy', true);
        END IF;
    ELSE
        PERFORM pg_advisory_xact_lock(hashtext('_wh.compact'), hashtext(target_schema || '.' || template_name));
    END IF;
    has_table := pg_catalog.to_regclass(format('%I.%I', target_schema, closed)) IS NOT NULL;
    -- The schema's daily names from the catalog before any join (_wh.daily_relations, not _wh.daily_views): every
    -- closed day of the schema is compacted, whether or not its tenant is registered.
    SELECT count(*) INTO candidates
    FROM _wh.daily_relations r
    JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
    WHERE n.nspname = target_schema AND r.kind = 'm' AND r.template_name = compact_closed_days.template_name
      AND r.day < _wh.tenant_today(target_schema) - 1;
    IF (candidates = 0 AND (has_table OR coalesce(planned_days, 0) <= _wh.compact_after_days()))
       OR (only_when_due AND NOT has_table AND candidates + coalesce(planned_days, 0) <= _wh.compact_after_days()) THEN
        IF has_table AND coalesce(planned_days, 0) = 0 AND build_indexes THEN
            -- A table a first window filled (below) gets the template's indexes now that its rows are in.
            built := _wh.ensure_days_indexes(template_name, target_schema, closed);
        END IF;
        IF has_table AND (analyze_table OR built > 0) THEN
            EXECUTE format('ANALYZE %I.%I', target_schema, closed);
            PERFORM _wh.summarize_days_index(target_schema, closed);
        END IF;
        RETURN result;
    END IF;

    created := _wh.ensure_closed_table(template_name, target_schema);
    SELECT string_agg(format('%I', c.column_name), ', ' ORDER BY c.ordinal) INTO cols FROM _wh.template_columns(template_name) c;
    FOR victim IN
        SELECT r.relname::text AS view_name, r.day
        FROM _wh.daily_relations r
        JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
        WHERE n.nspname = target_schema AND r.kind = 'm' AND r.template_name = compact_closed_days.template_name
          AND r.day < _wh.tenant_today(target_schema) - 1
        ORDER BY 1
    LOOP
        -- Never wait for a day lock (its holder may be waiting for us): a busy day is compacted next time.
        CONTINUE WHEN NOT _wh.try_lock_daily_view(target_schema, victim.view_name);
        CONTINUE WHEN _wh.daily_relkind(target_schema, victim.view_name) IS DISTINCT FROM 'm';
        EXECUTE format('INSERT INTO %I.%I (%s, _wh_day) SELECT %s, %L::date FROM %I.%I',
                       target_schema, closed, cols, cols, victim.day, target_schema, victim.view_name);
        moved := moved || victim.view_name;
        days := days || victim.day;
    END LOOP;

    IF cardinality(moved) > 0 THEN
        FOR i IN 1 .. cardinality(moved) LOOP
            -- No CASCADE: an unknown object depending on the day makes this fail loudly.
            EXECUTE format('DROP MATERIALIZED VIEW %I.%I', target_schema, moved[i]);
            EXECUTE format('CREATE VIEW %I.%I AS %s', target_schema, moved[i],
                           _wh.closed_day_view_sql(template_name, target_schema, days[i]));
            EXECUTE format('GRANT SELECT ON %I.%I TO phood_ro', target_schema, moved[i]);
            -- The day's rows leave <template>_recent in the transaction that put them into the table.
            PERFORM _wh.sync_recent_day(template_name, target_schema, moved[i], days[i]);
        END LOOP;
    END IF;
    IF cardinality(moved) > 0 OR (created AND _wh.does_view_exist(target_schema, template_name)) THEN
        -- The tenant view reads the table from its creation on: its definition changes once per tenant and template.
        -- A tenant without the view yet (a first window, which made the table at its start) gets it when the window
        -- ends with a day to show (finish_window), not before.
        PERFORM _wh.ensure_views_include(template_name, target_schema, NULL);
    END IF;
    IF coalesce(planned_days, 0) = 0 AND build_indexes THEN
        -- Built once the rows are in, not maintained row by row; with planned_days (or without build_indexes) the
        -- caller's days are still to come (a window, a backfill: 2 of every 3 seconds of a first load went to index
        -- upkeep, docs/performance.md), and the call that ends it (finish_window) builds them.
        built := _wh.ensure_days_indexes(template_name, target_schema, closed);
    END IF;
    IF created OR analyze_table OR built > 0 THEN
        EXECUTE format('ANALYZE %I.%I', target_schema, closed);
        PERFORM _wh.summarize_days_index(target_schema, closed);
    END IF;
    RETURN result || jsonb_build_object('compacted', cardinality(moved), 'created_table', created, 'indexes_built', built);
END
$$;

-- Drops the views of a tenant's compacted closed days that are older than day_relation_days (at most max_views per
-- call, oldest first), each under its day's lock taken without waiting (a busy day is left for the next call), and
-- marks each day table_only in the same transaction: the day stays, its rows in <template>_closed, the catalog lists
-- it (kind 't'); the tenant and public views read the table and do not change. A view another object depends on (a
-- DBA's own view) is kept. finish_window calls it, so windows, backfills and the scheduled refresh keep the horizon.
-- Returns how many views it dropped.
CREATE OR REPLACE FUNCTION _wh.retire_day_views(template_name text, target_schema text, max_views integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    horizon date := _wh.day_relation_horizon(target_schema);
    day record;
    retired integer := 0;
BEGIN
    FOR day IN
        SELECT v.relation, v.day FROM _wh.daily_views v
        WHERE v.schema_name = target_schema AND v.template_name = retire_day_views.template_name AND v.kind = 'v'
          AND v.day < horizon
        ORDER BY v.day
        LIMIT max_views
    LOOP
        CONTINUE WHEN NOT _wh.try_lock_daily_view(target_schema, day.relation);
        CONTINUE WHEN _wh.daily_relkind(target_schema, day.relation) IS DISTINCT FROM 'v';
        BEGIN
            EXECUTE format('DROP VIEW %I.%I', target_schema, day.relation);
        EXCEPTION WHEN dependent_objects_still_exist THEN
            CONTINUE;
        END;
        PERFORM _wh.set_table_only(target_schema, template_name, ARRAY[day.day], true);
        retired := retired + 1;
    END LOOP;
    RETURN retired;
END
$$;

-- The rows of one day of a tenant's template, whatever holds them (<template>_closed, <template>_recent): what its
-- daily name gives, also for a day older than day_relation_days that has no view of its own. The row type is the
-- tenant view's, passed as a typed NULL: SELECT * FROM _wh.day_rows(NULL::tenant_a.foodlogstats, '2021-03-01');
-- Runs as whadmin, like every _wh routine a session may call (phood_ro has no _wh routine: it reads the tenant view
-- with its day's condition).
CREATE OR REPLACE FUNCTION _wh.day_rows(tenant_view anyelement, target_date date)
RETURNS SETOF anyelement
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target_schema text;
    tpl text;
    cols text;
    parts text[] := '{}';
    tbl text;
BEGIN
    SELECT n.nspname::text, c.relname::text INTO target_schema, tpl
    FROM pg_catalog.pg_type t
    JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE t.oid = pg_catalog.pg_typeof(tenant_view)::oid;
    IF tpl IS NULL OR NOT EXISTS (SELECT 1 FROM _wh.tenants x WHERE x.schema_name = target_schema)
       OR NOT EXISTS (SELECT 1 FROM _wh.mv_templates m WHERE m.template_name = tpl) THEN
        RAISE EXCEPTION '_wh.day_rows: % is not a tenant view of a template', pg_catalog.pg_typeof(tenant_view)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass a typed NULL of a tenant''s view: SELECT * FROM _wh.day_rows(NULL::tenant_a.foodlogstats, ''2021-03-01'');';
    END IF;
    SELECT string_agg(format('%I', c.column_name), ', ' ORDER BY c.ordinal) INTO cols FROM _wh.template_columns(tpl) c;
    FOREACH tbl IN ARRAY ARRAY[_wh.closed_table_name(tpl), _wh.recent_table_name(tpl)] LOOP
        IF pg_catalog.to_regclass(format('%I.%I', target_schema, tbl)) IS NOT NULL THEN
            parts := parts || format('SELECT %s FROM %I.%I WHERE _wh_day = $1', cols, target_schema, tbl);
        END IF;
    END LOOP;
    IF cardinality(parts) > 0 THEN
        RETURN QUERY EXECUTE array_to_string(parts, ' UNION ALL ') USING target_date;
    END IF;
END
$$;
