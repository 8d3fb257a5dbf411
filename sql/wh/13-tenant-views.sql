-- sql/wh/13-tenant-views.sql: Tenant views: their SQL over their fixed members (<template>_recent, <template>_closed), rebuilds, and membership.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

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
                INTO copied USING _wh.daily_name_day(view_name);
        END IF;
        IF NOT copied THEN
            PERFORM _wh.sync_recent_day(template_name, target_schema, view_name, _wh.daily_name_day(view_name));
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
