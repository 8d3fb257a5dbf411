-- sql/wh/12-days-tables.sql: The tables of a tenant's days: <template>_recent (the copy of its daily materialized views) and <template>_closed.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Creates table target_schema.table_name for a template's days when missing: the daily view's
-- columns plus _wh_day date, vacuum_truncate off (truncating takes an AccessExclusiveLock that a
-- hot standby replays against its BI queries), SELECT for phood_ro. Its indexes (the BRIN on
-- _wh_day and the template's own) are ensure_days_indexes' (the caller's choice of when: after a
-- bulk load, building them once beats maintaining them row by row). Refuses when a template has
-- that name. Returns true when it was created.
CREATE OR REPLACE FUNCTION _wh.ensure_days_table(template_name text, target_schema text, table_name text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    defs text;
BEGIN
    IF pg_catalog.to_regclass(format('%I.%I', target_schema, table_name)) IS NOT NULL THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM _wh.mv_templates t WHERE t.template_name = table_name) THEN
        RAISE EXCEPTION 'cannot keep the days of % in %: a template named % exists', template_name, table_name, table_name
            USING ERRCODE = 'duplicate_object';
    END IF;
    SELECT string_agg(format('%I %s', c.column_name, c.data_type), ', ' ORDER BY c.ordinal)
    INTO defs FROM _wh.template_columns(template_name) c;
    -- Two sessions may both have seen no table: the second waited on the first's advisory lock (the caller's), and an
    -- advisory lock does not refresh the catalog snapshot to_regclass read, so CREATE finds the table it did not see
    -- (seen in CI: "relation <template>_recent already exists"). It was made by the other session: nothing to do.
    BEGIN
        EXECUTE format('CREATE TABLE %I.%I (%s, _wh_day date NOT NULL) WITH (vacuum_truncate = off)', target_schema, table_name, defs);
    EXCEPTION WHEN duplicate_table OR unique_violation THEN
        RETURN false;
    END;
    EXECUTE format('GRANT SELECT ON %I.%I TO phood_ro', target_schema, table_name);
    RETURN true;
END
$$;

-- Gives a days table its indexes: the BRIN on _wh_day when it has none, and the template's
-- indexes (as plain indexes: a unique key of one day need not be unique over many days) when it
-- has none of them, i.e. no index but a BRIN: a table just created, or one a first window filled
-- before building them (compact_closed_days). Returns how many it built (0 when they exist).
CREATE OR REPLACE FUNCTION _wh.ensure_days_indexes(template_name text, target_schema text, table_name text)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    idx record;
    built integer := 0;
    has_brin boolean;
    has_template_indexes boolean;
BEGIN
    SELECT coalesce(bool_or(a.amname OPERATOR(pg_catalog.=) 'brin'), false),
           coalesce(bool_or(a.amname OPERATOR(pg_catalog.<>) 'brin'), false)
    INTO has_brin, has_template_indexes
    FROM pg_catalog.pg_index i
    JOIN pg_catalog.pg_class x ON x.oid OPERATOR(pg_catalog.=) i.indexrelid
    JOIN pg_catalog.pg_am a ON a.oid OPERATOR(pg_catalog.=) x.relam
    WHERE i.indrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(format('%I.%I', target_schema, table_name));
    IF NOT has_brin THEN
        -- BRIN: days arrive (mostly) in order, a day's rows sit together; a btree here cost ~3 ms per 2,000-row day to
        -- maintain, this costs next to nothing and still finds a day in a few pages (day views, force, retention).
        -- Built with the others after a first window (its ranges summarized by the build), not kept row by row.
        EXECUTE format('CREATE INDEX ON %I.%I USING brin (_wh_day) WITH (pages_per_range = 16, autosummarize = on)', target_schema, table_name);
        built := built + 1;
    END IF;
    IF has_template_indexes THEN
        RETURN built;
    END IF;
    FOR idx IN SELECT * FROM _wh.parse_index_definitions((SELECT t.indexes FROM _wh.mv_templates t WHERE t.template_name = ensure_days_indexes.template_name)) ORDER BY ordinal LOOP
        EXECUTE format('CREATE INDEX ON %I.%I %s', target_schema, table_name,
                       _wh.render_template_text(idx.index_rest, target_schema, table_name, _wh.tenant_today(target_schema)));
        built := built + 1;
    END LOOP;
    RETURN built;
END
$$;

-- Creates <schema>.<template>_closed when missing (ensure_days_table), without indexes:
-- compact_closed_days builds them once the rows it moves, or a window's days, are in.
-- Returns true when it was created. Callers hold the compaction lock.
CREATE OR REPLACE FUNCTION _wh.ensure_closed_table(template_name text, target_schema text)
RETURNS boolean
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT _wh.ensure_days_table(template_name, target_schema, _wh.closed_table_name(template_name)) $$;

-- Creates <schema>.<template>_recent when missing (ensure_days_table, under the tenant-view
-- lock) and copies into it the rows of every daily materialized view of the template that
-- exists already (a warehouse from before 2.1.0, days loaded before the tenant view; read from
-- the catalog _wh.daily_views, so registered tenants only). Returns true when it was created.
CREATE OR REPLACE FUNCTION _wh.ensure_recent_table(template_name text, target_schema text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    recent text := _wh.recent_table_name(template_name);
    mv record;
BEGIN
    IF pg_catalog.to_regclass(format('%I.%I', target_schema, recent)) IS NOT NULL THEN
        RETURN false;
    END IF;
    PERFORM _wh.lock_tenant_view(target_schema, template_name);
    IF NOT _wh.ensure_days_table(template_name, target_schema, recent) THEN
        RETURN false;
    END IF;
    PERFORM _wh.ensure_days_indexes(template_name, target_schema, recent);
    FOR mv IN
        SELECT v.relation AS view_name, v.day
        FROM _wh.daily_views v
        WHERE v.schema_name = target_schema AND v.template_name = ensure_recent_table.template_name AND v.kind = 'm'
        ORDER BY v.day
    LOOP
        PERFORM _wh.sync_recent_day(template_name, target_schema, mv.view_name, mv.day);
    END LOOP;
    RETURN true;
END
$$;

-- Makes <template>_recent hold exactly the rows of daily materialized view view_name for
-- target_date (none when it is not a materialized view: gone, or compacted): DELETE + INSERT in
-- the caller's transaction, so readers of the tenant view see the old rows or the new ones.
-- Called after every create, refresh, re-create, compaction and drop of a day. Callers hold
-- the daily-view lock.
CREATE OR REPLACE FUNCTION _wh.sync_recent_day(template_name text, target_schema text, view_name text, target_date date)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    recent text := _wh.recent_table_name(template_name);
    cols text;
BEGIN
    PERFORM _wh.ensure_recent_table(template_name, target_schema);
    EXECUTE format('DELETE FROM %I.%I WHERE _wh_day = $1', target_schema, recent) USING target_date;
    IF _wh.daily_relkind(target_schema, view_name) = 'm' THEN
        SELECT string_agg(format('%I', c.column_name), ', ' ORDER BY c.ordinal) INTO cols FROM _wh.template_columns(template_name) c;
        EXECUTE format('INSERT INTO %I.%I (%s, _wh_day) SELECT %s, $1 FROM %I.%I', target_schema, recent, cols, cols, target_schema, view_name)
            USING target_date;
    END IF;
END
$$;

-- Puts <template>_recent back in step with the daily materialized views (Update-WhUnionView,
-- the guide's "tenant view lost a day"): deletes the rows of days that have no materialized
-- view any more (one dropped by hand: nothing depends on a day since 2.1.0) and copies the days
-- of materialized views that have no row there. Rows only: no definition changes. Callers hold
-- the tenant-view lock. Returns how many days were put right.
CREATE OR REPLACE FUNCTION _wh.resync_recent_days(template_name text, target_schema text)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    recent text := _wh.recent_table_name(template_name);
    held date[];
    fixed integer := 0;
    d record;
BEGIN
    IF pg_catalog.to_regclass(format('%I.%I', target_schema, recent)) IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE format('SELECT coalesce(array_agg(DISTINCT r._wh_day), ''{}''::date[]) FROM %I.%I r', target_schema, recent) INTO held;
    FOR d IN
        WITH mv AS (
            SELECT v.relation AS view_name, v.day
            FROM _wh.daily_views v
            WHERE v.schema_name = target_schema AND v.template_name = resync_recent_days.template_name AND v.kind = 'm')
        SELECT mv.view_name, mv.day FROM mv WHERE NOT (mv.day = ANY (held))
        UNION ALL
        SELECT _wh.create_mv_name(template_name, h.day), h.day FROM unnest(held) h(day) WHERE NOT EXISTS (SELECT 1 FROM mv WHERE mv.day = h.day)
    LOOP
        PERFORM _wh.sync_recent_day(template_name, target_schema, d.view_name, d.day);
        fixed := fixed + 1;
    END LOOP;
    RETURN fixed;
END
$$;

-- Summarizes the new page ranges of a days table's BRIN index on _wh_day (brin_summarize_new_values), so that a day's
-- rows are found by their ranges at once after a window loaded many days: autosummarize does it later, in the
-- background, and until then every unsummarized range is read by each day's lookup (a check of 7 days read the whole
-- 730,000-row table). Returns how many ranges it summarized.
CREATE OR REPLACE FUNCTION _wh.summarize_days_index(target_schema text, table_name text)
RETURNS integer
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(sum(pg_catalog.brin_summarize_new_values(i.indexrelid::regclass)), 0)::integer
    FROM pg_catalog.pg_index i
    JOIN pg_catalog.pg_class x ON x.oid = i.indexrelid
    JOIN pg_catalog.pg_am a ON a.oid = x.relam AND a.amname = 'brin'
    WHERE i.indrelid = pg_catalog.to_regclass(format('%I.%I', target_schema, table_name))
$$;
