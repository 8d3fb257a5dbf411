-- sql/wh/08-tenant-and-public-views.sql: Tenant and public union views: their SQL, atomic rebuilds, and membership.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- True when view rel already has the definition select_sql: the candidate is created as a
-- temporary view and both are deparsed (pg_get_viewdef), so no lock stronger than readers'
-- AccessShareLock is taken on anything BI reads.
CREATE OR REPLACE FUNCTION _wh.view_definition_is(rel regclass, select_sql text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- The probe's DROP … IF EXISTS says "schema pg_temp does not exist, skipping" to a psql user: internal, not news.
SET client_min_messages = warning
AS $$
DECLARE
    probe text := '_wh_probe_' || pg_catalog.pg_backend_pid();
    same boolean;
BEGIN
    EXECUTE format('DROP VIEW IF EXISTS pg_temp.%I', probe);
    EXECUTE format('CREATE TEMPORARY VIEW %I AS %s', probe, select_sql);
    same := pg_catalog.pg_get_viewdef(format('pg_temp.%I', probe)::regclass) = pg_catalog.pg_get_viewdef(rel);
    EXECUTE format('DROP VIEW pg_temp.%I', probe);
    RETURN same;
END
$$;

-- Creates or replaces view target_schema.view_name AS select_sql, granting SELECT to
-- phood_ro. Nothing is re-created when the definition is unchanged (no lock on the view: BI
-- never waits for it). A change takes the view's AccessExclusiveLock in short attempts
-- (200 ms of lock_timeout each, with growing pauses between them), so that BI queries queue
-- behind it for at most one attempt, until warehouse_info 'lock_timeout' (default 10s) has
-- passed; then it fails with lock_not_available and the caller's transaction changes nothing.
-- When the column list changed (CREATE OR REPLACE refuses), the view is dropped with its
-- dependents and created again, the public view of the same name locked first (readers lock
-- the public view before the tenant view: the same order cannot deadlock); returns true in
-- that case (the caller must rebuild what depended on it, i.e. the public view).
CREATE OR REPLACE FUNCTION _wh.apply_view(target_schema text, view_name text, select_sql text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout FROM CURRENT
AS $$
DECLARE
    replaced boolean := false;
    rel regclass := pg_catalog.to_regclass(format('%I.%I', target_schema, view_name));
    budget_ms bigint := _wh.timeout_ms('lock_timeout', '10s');
    started timestamptz := clock_timestamp();
    attempts integer := 0;
    left_ms bigint;
BEGIN
    IF rel IS NULL OR NOT _wh.view_definition_is(rel, select_sql) THEN
        LOOP
            attempts := attempts + 1;
            left_ms := budget_ms - (extract(epoch FROM clock_timestamp() - started) * 1000)::bigint;
            PERFORM set_config('lock_timeout', greatest(1, least(200, left_ms))::text || 'ms', true);
            BEGIN
                BEGIN
                    EXECUTE format('CREATE OR REPLACE VIEW %I.%I AS %s', target_schema, view_name, select_sql);
                EXCEPTION WHEN invalid_table_definition THEN
                    RAISE NOTICE 'columns of %.% changed: dropping it (and dependent views) and creating it again', target_schema, view_name;
                    IF target_schema <> 'public' AND pg_catalog.to_regclass(format('public.%I', view_name)) IS NOT NULL THEN
                        EXECUTE format('LOCK TABLE public.%I IN ACCESS EXCLUSIVE MODE', view_name);
                    END IF;
                    EXECUTE format('DROP VIEW %I.%I CASCADE', target_schema, view_name);
                    EXECUTE format('CREATE VIEW %I.%I AS %s', target_schema, view_name, select_sql);
                    replaced := true;
                END;
                EXIT;
            EXCEPTION WHEN lock_not_available THEN
                IF (extract(epoch FROM clock_timestamp() - started) * 1000)::bigint >= budget_ms THEN
                    RAISE EXCEPTION 'view %.% is in use: % attempts over lock_timeout (%) found queries on it all along; nothing was changed',
                                    target_schema, view_name, attempts, budget_ms || 'ms'
                        USING ERRCODE = 'lock_not_available',
                              HINT = 'Only adding, renaming or removing a tenant or template changes a view''s definition. Run it again when the long queries have finished (pg_stat_activity shows them), or raise _wh.warehouse_info lock_timeout.';
                END IF;
                -- Step out of the lock queue so that the readers behind us go on, then try again.
                PERFORM pg_sleep(least(1.0, 0.05 * power(2, attempts)) * (0.5 + random() / 2));
            END;
        END LOOP;
    END IF;
    IF NOT pg_catalog.has_table_privilege('phood_ro', format('%I.%I', target_schema, view_name), 'SELECT') THEN
        EXECUTE format('GRANT SELECT ON %I.%I TO phood_ro', target_schema, view_name);
    END IF;
    RETURN replaced;
END
$$;

-- The SELECT of a tenant view, whose members are fixed: the table of the rows of the tenant's
-- daily materialized views (<template>_recent), then the compacted table of closed days
-- (<template>_closed) when there is one, client as the given literal. Days come and go as
-- rows, so routine work (new day, refresh, force, compaction, retention) never changes this
-- definition.
CREATE OR REPLACE FUNCTION _wh.tenant_view_members_sql(template_name text, target_schema text, client_name text)
RETURNS text
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    select_list text;
    empty_list  text;
    parts       text[] := '{}'::text[];
    member      text;
BEGIN
    SELECT string_agg(CASE WHEN c.column_name = 'client'
                           THEN format('%L::%s AS client', client_name, c.data_type)
                           ELSE format('d.%I', c.column_name) END, ', ' ORDER BY c.ordinal),
           string_agg(format('NULL::%s AS %I', c.data_type, c.column_name), ', ' ORDER BY c.ordinal)
    INTO select_list, empty_list
    FROM _wh.template_columns(template_name) c;

    FOREACH member IN ARRAY ARRAY[_wh.recent_table_name(template_name), _wh.closed_table_name(template_name)] LOOP
        IF pg_catalog.to_regclass(format('%I.%I', target_schema, member)) IS NOT NULL THEN
            parts := parts || format('SELECT %s FROM %I.%I d', select_list, target_schema, member);
        END IF;
    END LOOP;
    IF cardinality(parts) = 0 THEN
        RETURN format('SELECT %s WHERE false', empty_list);
    END IF;
    RETURN array_to_string(parts, E'\nUNION ALL\n');
END
$$;

-- The SELECT of a tenant view (tenant_view_members_sql). exclude_views is ignored since 2.1.0
-- (a day leaves the view when its rows are deleted); the argument stays so that 2.0 callers work.
CREATE OR REPLACE FUNCTION _wh.tenant_view_sql_excluding(template_name text, target_schema text, client_name text, exclude_views text[])
RETURNS text
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT _wh.tenant_view_members_sql(template_name, target_schema, client_name) $$;

-- The SELECT of a tenant view (tenant_view_members_sql); exclude_view is ignored since 2.1.0.
CREATE OR REPLACE FUNCTION _wh.tenant_view_sql(template_name text, target_schema text, client_name text, exclude_view text DEFAULT NULL)
RETURNS text
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT _wh.tenant_view_members_sql(template_name, target_schema, client_name) $$;

-- Rebuilds target_schema.template_name over its fixed members (tenant_view_sql), creating
-- <template>_recent when missing (filled from the daily materialized views) and putting it back
-- in step with them (resync_recent_days); exclude_view is ignored since 2.1.0. Nothing is re-created when unchanged. Caller holds the tenant-view lock. Returns true when the public view
-- must be rebuilt (the tenant view was new or had to be dropped and created again).
CREATE OR REPLACE FUNCTION _wh.rebuild_tenant_view(template_name text, target_schema text, exclude_view text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    client text;
    existed boolean;
BEGIN
    SELECT t.client_name INTO client FROM _wh.tenants t WHERE t.schema_name = target_schema;
    IF NOT FOUND THEN
        client := target_schema;
    END IF;
    existed := _wh.does_view_exist(target_schema, template_name);
    PERFORM _wh.ensure_recent_table(template_name, target_schema);
    PERFORM _wh.resync_recent_days(template_name, target_schema);
    RETURN _wh.apply_view(target_schema, template_name,
                          _wh.tenant_view_sql(template_name, target_schema, client, exclude_view))
           OR NOT existed;
END
$$;

-- Builds view <schema>.<template> = UNION ALL of the schema's daily views of the template, in
-- date order, with client = the tenant's current client name; a typed empty view when there
-- are no daily views. One statement (atomic for readers). Registers the tenant on first use.
-- When the tenant view is new, the public view is rebuilt too so it includes the tenant.
-- Returns the view name (schema.template).
CREATE OR REPLACE FUNCTION _wh.update_tenant_union_view_by_template(template_name text, tenant_connection_name text, target_schema text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _wh.assert_template_exists(template_name);
    PERFORM _wh.ensure_tenant(tenant_connection_name, target_schema, NULL);
    PERFORM _wh.lock_tenant_view(target_schema, template_name);
    IF _wh.rebuild_tenant_view(template_name, target_schema)
       OR NOT _wh.view_references('public', template_name, target_schema, template_name) THEN
        PERFORM _wh.update_public_view_by_template(template_name);
    END IF;
    RETURN format('%I.%I', target_schema, template_name);
END
$$;

-- Builds view public.<template> = UNION ALL of <schema>.<template> for every registered tenant
-- (_wh.tenants) whose tenant view exists, ordered by schema; a typed empty view when there is
-- none. Never refers to a tenant that is gone; unchanged, nothing is re-created (apply_view). CREATE OR REPLACE keeps grants; SELECT is
-- granted to phood_ro and whadmin. Returns 'public.<template>'.
CREATE OR REPLACE FUNCTION _wh.update_public_view_by_template(template_name text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    select_list text;
    empty_list  text;
    parts       text[];
BEGIN
    PERFORM _wh.assert_template_exists(template_name);
    PERFORM _wh.lock_public_view(template_name);

    SELECT string_agg(format('v.%I', c.column_name), ', ' ORDER BY c.ordinal),
           string_agg(format('NULL::%s AS %I', c.data_type, c.column_name), ', ' ORDER BY c.ordinal)
    INTO select_list, empty_list
    FROM _wh.template_columns(template_name) c;

    SELECT array_agg(format('SELECT %s FROM %I.%I v', select_list, t.schema_name, template_name) ORDER BY t.schema_name)
    INTO parts
    FROM _wh.tenants t
    WHERE _wh.does_view_exist(t.schema_name, template_name);

    PERFORM _wh.apply_view('public', template_name,
        CASE WHEN parts IS NULL THEN format('SELECT %s WHERE false', empty_list)
             ELSE array_to_string(parts, E'\nUNION ALL\n') END);
    IF NOT (pg_catalog.has_table_privilege('phood_ro', format('public.%I', template_name), 'SELECT')
            AND pg_catalog.has_table_privilege('whadmin', format('public.%I', template_name), 'SELECT')) THEN
        EXECUTE format('GRANT SELECT ON public.%I TO phood_ro, whadmin', template_name);
    END IF;
    RETURN format('public.%I', template_name);
END
$$;

-- Makes sure the tenant view reads its fixed members (<template>_recent, <template>_closed when
-- it exists) and the public view includes the tenant view, rebuilding only what is missing.
-- When view_name is a daily materialized view whose day has no row in <template>_recent (made
-- outside update_mv_by_template), its rows are copied there. Returns true when something was
-- rebuilt.
CREATE OR REPLACE FUNCTION _wh.ensure_views_include(template_name text, target_schema text, view_name text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rebuilt boolean := false;
    need_public boolean := false;
    closed text := _wh.closed_table_name(template_name);
    copied boolean := true;
BEGIN
    IF view_name IS NOT NULL AND _wh.daily_relkind(target_schema, view_name) = 'm' THEN
        IF pg_catalog.to_regclass(format('%I.%I', target_schema, _wh.recent_table_name(template_name))) IS NOT NULL THEN
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I WHERE _wh_day = $1)', target_schema, _wh.recent_table_name(template_name))
                INTO copied USING pg_catalog.to_date(pg_catalog.right(view_name, 10), 'YYYY_MM_DD');
        END IF;
        IF NOT copied THEN
            PERFORM _wh.sync_recent_day(template_name, target_schema, view_name, pg_catalog.to_date(pg_catalog.right(view_name, 10), 'YYYY_MM_DD'));
        END IF;
    END IF;
    IF NOT _wh.view_references(target_schema, template_name, target_schema, _wh.recent_table_name(template_name))
       OR (pg_catalog.to_regclass(format('%I.%I', target_schema, closed)) IS NOT NULL
           AND NOT _wh.view_references(target_schema, template_name, target_schema, closed)) THEN
        PERFORM _wh.lock_tenant_view(target_schema, template_name);
        need_public := _wh.rebuild_tenant_view(template_name, target_schema);
        rebuilt := true;
    END IF;
    IF need_public OR NOT _wh.view_references('public', template_name, target_schema, template_name) THEN
        PERFORM _wh.update_public_view_by_template(template_name);
        rebuilt := true;
    END IF;
    RETURN rebuilt;
END
$$;
