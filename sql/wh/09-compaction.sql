-- sql/wh/09-compaction.sql: Closed days: one compacted table per tenant and template, the kept dblink connection, compaction.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

--
-- A day older than yesterday can no longer be refreshed (only re-created with force). Once a
-- tenant has more than _wh.compact_after_days() closed daily materialized views of a template
-- (warehouse_info 'compact_after_days', default 31), they move into ONE indexed table
-- <schema>.<template>_closed (the daily view's columns plus _wh_day date), and from then on
-- every closed day of that tenant and template lives there: a new closed day is loaded straight
-- into it (INSERT ... SELECT FROM dblink over a connection kept for the session), the daily
-- name stays queryable as a plain view (SELECT <cols> FROM <template>_closed WHERE _wh_day = day),
-- and the tenant view reads the table plus the remaining daily materialized views (today,
-- yesterday). Planning a query then locks a handful of relations instead of 4 per day.

-- Name of the compacted table of a template: <template>_closed (at most 59 bytes).
CREATE OR REPLACE FUNCTION _wh.closed_table_name(template_name text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT template_name || '_closed' $$;

-- Name of the table holding a copy of the rows of a tenant's daily materialized views of a
-- template: <template>_recent (at most 59 bytes). The tenant view reads it, not the daily views,
-- so that a new, refreshed, re-created or dropped day changes rows, never the view's definition.
CREATE OR REPLACE FUNCTION _wh.recent_table_name(template_name text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT template_name || '_recent' $$;

-- How many closed daily materialized views a tenant may have of a template before they are
-- compacted (warehouse_info 'compact_after_days'; default 31).
CREATE OR REPLACE FUNCTION _wh.compact_after_days()
RETURNS integer
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT nullif(btrim(i.value), '')::integer FROM _wh.warehouse_info i WHERE i.key = 'compact_after_days'), 31)
$$;

-- A dblink connection to server_name kept for this session (named after the server and a hash
-- of its options and of whadmin's mapping, so a changed host or password opens a new one). Saves
-- the connection set-up (SCRAM, backend start: 30-50 ms) for every closed day after the first one
-- a session loads. A session keeps at most ONE: connecting to a server first closes every other
-- kept connection of the session (whatever its server), so N workers moving from tenant to tenant
-- hold at most N connections on the source servers, not one per tenant they have visited.
-- Registers the kept connection in _wh.kept_dblinks (Get-WhHealth counts them).
CREATE OR REPLACE FUNCTION _wh.session_dblink(server_name text, reconnect boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    conn text;
    started timestamptz;
BEGIN
    SELECT left(s.srvname, 30) || '_' || md5(coalesce(s.srvoptions::text, '') || coalesce(um.umoptions::text, ''))
    INTO conn
    FROM pg_catalog.pg_foreign_server s
    LEFT JOIN pg_catalog.pg_user_mappings um ON um.srvid = s.oid AND um.usename = current_user
    WHERE s.srvname = server_name;
    IF conn IS NULL THEN
        RAISE EXCEPTION 'foreign server % does not exist', server_name USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT reconnect AND conn = ANY (coalesce(public.dblink_get_connections(), '{}')) THEN
        -- Registered again when the transaction that registered it rolled back (a failed day).
        IF NOT EXISTS (SELECT 1 FROM _wh.kept_dblinks k WHERE k.pid = pg_catalog.pg_backend_pid() AND k.connection_name = conn) THEN
            SELECT a.backend_start INTO started FROM pg_catalog.pg_stat_activity a WHERE a.pid = pg_catalog.pg_backend_pid();
            INSERT INTO _wh.kept_dblinks AS k (pid, backend_start, server_name, connection_name)
            VALUES (pg_catalog.pg_backend_pid(), started, session_dblink.server_name, conn)
            ON CONFLICT (pid) DO UPDATE SET backend_start = EXCLUDED.backend_start, server_name = EXCLUDED.server_name,
                                            connection_name = EXCLUDED.connection_name, connected_at = EXCLUDED.connected_at;
        END IF;
        RETURN conn;
    END IF;
    PERFORM _wh.close_session_dblinks();
    PERFORM public.dblink_connect(conn, server_name);
    SELECT a.backend_start INTO started FROM pg_catalog.pg_stat_activity a WHERE a.pid = pg_catalog.pg_backend_pid();
    -- Rows of ended backends; SKIP LOCKED: never wait for (or deadlock with) another session clearing them.
    DELETE FROM _wh.kept_dblinks k
    WHERE k.pid IN (SELECT s.pid FROM _wh.kept_dblinks s
                    WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.pid = s.pid
                                      AND (a.backend_start IS NULL OR s.backend_start IS NULL OR a.backend_start = s.backend_start))
                    FOR UPDATE SKIP LOCKED);
    INSERT INTO _wh.kept_dblinks AS k (pid, backend_start, server_name, connection_name)
    VALUES (pg_catalog.pg_backend_pid(), started, session_dblink.server_name, conn)
    ON CONFLICT (pid) DO UPDATE SET backend_start = EXCLUDED.backend_start, server_name = EXCLUDED.server_name,
                                    connection_name = EXCLUDED.connection_name, connected_at = EXCLUDED.connected_at;
    RETURN conn;
END
$$;

-- Closes every dblink connection this session keeps (session_dblink's, named <server>_<md5>; a
-- DBA's own named dblink connections are left alone). Called before a statement opens a dblink
-- connection of its own (creating or refreshing a daily materialized view, whose definition names
-- the server), so that a session never holds two source connections at once, and by the module
-- when a backfill worker ends. Returns how many were closed.
CREATE OR REPLACE FUNCTION _wh.close_session_dblinks()
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kept text;
    closed integer := 0;
BEGIN
    FOREACH kept IN ARRAY coalesce(public.dblink_get_connections(), '{}') LOOP
        IF kept ~ '_[0-9a-f]{32}$' THEN
            PERFORM public.dblink_disconnect(kept);
            closed := closed + 1;
        END IF;
    END LOOP;
    DELETE FROM _wh.kept_dblinks k WHERE k.pid = pg_catalog.pg_backend_pid();
    RETURN closed;
END
$$;

-- Creates table target_schema.table_name for a template's days when missing: the daily view's
-- columns plus _wh_day date, a BRIN index on _wh_day, vacuum_truncate off (truncating takes an
-- AccessExclusiveLock that a hot standby replays against its BI queries), SELECT for phood_ro.
-- The template's own indexes are ensure_days_indexes' (the caller's choice of when: after a
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
    -- BRIN: days arrive (mostly) in order, a day's rows sit together; a btree here cost ~3 ms per 2,000-row day to
    -- maintain, this costs next to nothing and still finds a day in a few pages (day views, force, retention).
    EXECUTE format('CREATE INDEX ON %I.%I USING brin (_wh_day) WITH (pages_per_range = 16, autosummarize = on)', target_schema, table_name);
    EXECUTE format('GRANT SELECT ON %I.%I TO phood_ro', target_schema, table_name);
    RETURN true;
END
$$;

-- Gives a days table the template's indexes (as plain indexes: a unique key of one day need
-- not be unique over many days) when it has none of them, i.e. no index but its BRIN on _wh_day:
-- a table just created, or one a first window filled before building them (compact_closed_days).
-- Returns how many it built (0 when they exist, or the template declares none).
CREATE OR REPLACE FUNCTION _wh.ensure_days_indexes(template_name text, target_schema text, table_name text)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    idx record;
    built integer := 0;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_index i
               JOIN pg_catalog.pg_class x ON x.oid OPERATOR(pg_catalog.=) i.indexrelid
               JOIN pg_catalog.pg_am a ON a.oid OPERATOR(pg_catalog.=) x.relam
               WHERE i.indrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(format('%I.%I', target_schema, table_name))
                 AND a.amname OPERATOR(pg_catalog.<>) 'brin') THEN
        RETURN 0;
    END IF;
    FOR idx IN SELECT * FROM _wh.parse_index_definitions((SELECT t.indexes FROM _wh.mv_templates t WHERE t.template_name = ensure_days_indexes.template_name)) ORDER BY ordinal LOOP
        EXECUTE format('CREATE INDEX ON %I.%I %s', target_schema, table_name,
                       _wh.render_template_text(idx.index_rest, target_schema, table_name, _wh.tenant_today(target_schema)));
        built := built + 1;
    END LOOP;
    RETURN built;
END
$$;

-- Creates <schema>.<template>_closed when missing (ensure_days_table), without the template's
-- indexes: compact_closed_days builds them once the rows it moves, or a window's days, are in.
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

-- The SELECT of a compacted day's view: the daily view's columns of that day.
CREATE OR REPLACE FUNCTION _wh.closed_day_view_sql(template_name text, target_schema text, target_date date)
RETURNS text
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('SELECT %s FROM %I.%I WHERE _wh_day = %L::date',
                  string_agg(format('%I', c.column_name), ', ' ORDER BY c.ordinal),
                  target_schema, _wh.closed_table_name(template_name), target_date)
    FROM _wh.template_columns(template_name) c
$$;

-- Loads one closed day straight into <schema>.<template>_closed from the tenant's source (the
-- same remote query, columns and client literal as a daily materialized view), and creates the
-- day's view when it does not exist. Callers hold the daily-view lock and have removed any
-- earlier rows of the day (in the same transaction). Returns the number of rows loaded.
CREATE OR REPLACE FUNCTION _wh.load_closed_day(template_name text, tenant_connection_name text, target_schema text,
                                               target_date date, view_name text, client_name text)
RETURNS bigint
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
    stmt text;
    query text;
    duplicate_checks text;
    duplicate text;
    n bigint;
BEGIN
    SELECT * INTO tpl FROM _wh.mv_templates t WHERE t.template_name = load_closed_day.template_name;
    srv := _wh.get_tenant_connection_string(tenant_connection_name);
    SELECT string_agg(format('%I', c.column_name), ', ' ORDER BY c.ordinal),
           string_agg(format('t.%I', c.column_name), ', ' ORDER BY c.ordinal),
           string_agg(format('%I %s', c.column_name, c.data_type), ', ' ORDER BY c.ordinal),
           bool_or(c.column_name = 'client')
    INTO insert_list, select_list, column_defs, has_client
    FROM _wh.parse_column_definitions(tpl.column_definitions) c;
    query := _wh.render_template_text(tpl.query_template, target_schema, view_name, target_date);
    -- The day's rows are inserted, and in the same statement the first key the template declares unique that they
    -- repeat is found (a hash of the day's keys, no index): the one rule of a duplicate key, as a daily materialized
    -- view's unique index applies it (docs/reliability.md).
    duplicate_checks := _wh.repeated_key_sql(template_name);
    stmt := format('WITH src AS MATERIALIZED (SELECT %s%s FROM public.dblink($1, $2) AS t(%s)), '
                   'ins AS (INSERT INTO %I.%I (%s%s, _wh_day) SELECT %s%s, $3 FROM src RETURNING 1) '
                   'SELECT (SELECT count(*) FROM ins), %s',
                   select_list, CASE WHEN has_client THEN '' ELSE ', $4::text AS client' END, column_defs,
                   target_schema, _wh.closed_table_name(template_name), insert_list,
                   CASE WHEN has_client THEN '' ELSE ', client' END,
                   insert_list, CASE WHEN has_client THEN '' ELSE ', client' END,
                   coalesce(duplicate_checks, 'NULL::text'));
    conn := _wh.session_dblink(srv);
    BEGIN
        EXECUTE stmt INTO n, duplicate USING conn, query, target_date, client_name;
    EXCEPTION WHEN datatype_mismatch THEN
        PERFORM _wh.raise_template_columns_mismatch(template_name, SQLERRM);
    WHEN OTHERS THEN
        -- The kept connection may have died (source restarted, idle timeout): once more over a new one.
        -- A real error (bad query, missing table) fails again and is raised from there.
        conn := _wh.session_dblink(srv, true);
        BEGIN
            EXECUTE stmt INTO n, duplicate USING conn, query, target_date, client_name;
        EXCEPTION WHEN datatype_mismatch THEN
            PERFORM _wh.raise_template_columns_mismatch(template_name, SQLERRM);
        END;
    END;
    IF duplicate IS NOT NULL THEN
        PERFORM _wh.raise_duplicate_key(template_name, target_date, duplicate);
    END IF;
    IF _wh.daily_relkind(target_schema, view_name) IS NULL THEN
        EXECUTE format('CREATE VIEW %I.%I AS %s', target_schema, view_name,
                       _wh.closed_day_view_sql(template_name, target_schema, target_date));
        EXECUTE format('GRANT SELECT ON %I.%I TO phood_ro', target_schema, view_name);
    END IF;
    RETURN n;
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
-- Returns {"template","schema","table","compacted","created_table","busy"}.
CREATE OR REPLACE FUNCTION _wh.compact_closed_days(template_name text, target_schema text,
                                                   only_when_due boolean DEFAULT false, analyze_table boolean DEFAULT true,
                                                   planned_days integer DEFAULT 0)
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
    SELECT count(*) INTO candidates
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = target_schema AND c.relkind = 'm'
      AND pg_catalog.left(c.relname, -11) = template_name
      AND coalesce(_wh.daily_name_day(c.relname) < _wh.tenant_today(target_schema) - 1, false);
    IF (candidates = 0 AND (has_table OR coalesce(planned_days, 0) <= _wh.compact_after_days()))
       OR (only_when_due AND NOT has_table AND candidates + coalesce(planned_days, 0) <= _wh.compact_after_days()) THEN
        IF has_table AND coalesce(planned_days, 0) = 0 THEN
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
        SELECT d.view_name, d.day
        FROM (SELECT c.relname::text AS view_name,
                     CASE WHEN pg_catalog.left(c.relname, -11) = template_name THEN _wh.daily_name_day(c.relname) END AS day
              FROM pg_catalog.pg_class c
              JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = target_schema AND c.relkind = 'm') d
        WHERE d.day < _wh.tenant_today(target_schema) - 1
        ORDER BY d.view_name
    LOOP
        -- Never wait for a day lock (its holder may be waiting for us): a busy day is compacted next time.
        CONTINUE WHEN NOT pg_try_advisory_xact_lock(hashtext('_wh.daily_view'), hashtext(target_schema || '.' || victim.view_name));
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
    IF coalesce(planned_days, 0) = 0 THEN
        -- Built once the rows are in, not maintained row by row; with planned_days the caller's days are still to
        -- come (a window, a backfill: 2 of every 3 seconds of a first load went to index upkeep, docs/performance.md),
        -- and the call that ends it (finish_window) builds them.
        built := _wh.ensure_days_indexes(template_name, target_schema, closed);
    END IF;
    IF created OR analyze_table OR built > 0 THEN
        EXECUTE format('ANALYZE %I.%I', target_schema, closed);
        PERFORM _wh.summarize_days_index(target_schema, closed);
    END IF;
    RETURN result || jsonb_build_object('compacted', cardinality(moved), 'created_table', created, 'indexes_built', built);
END
$$;
