-- sql/wh/08-tenant-and-public-views.sql: Tenant and public union views: their SQL, atomic rebuilds, and membership.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Creates or replaces view target_schema.view_name AS select_sql, granting SELECT to
-- phood_ro. When the column list changed (CREATE OR REPLACE refuses), the view is dropped
-- with its dependents and created again; returns true in that case (the caller must rebuild
-- what depended on it, i.e. the public view).
CREATE OR REPLACE FUNCTION _wh.apply_view(target_schema text, view_name text, select_sql text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout FROM CURRENT
AS $$
DECLARE
    replaced boolean := false;
BEGIN
    -- A view change waits at most lock_timeout behind the queries using the view, then fails
    -- with the whole transaction, so nothing is half done (docs/security.md, finding 3).
    PERFORM set_config('lock_timeout', _wh.timeout_ms('lock_timeout', '10s')::text, true);
    BEGIN
        BEGIN
            EXECUTE format('CREATE OR REPLACE VIEW %I.%I AS %s', target_schema, view_name, select_sql);
        EXCEPTION WHEN invalid_table_definition THEN
            RAISE NOTICE 'columns of %.% changed: dropping it (and dependent views) and creating it again', target_schema, view_name;
            EXECUTE format('DROP VIEW %I.%I CASCADE', target_schema, view_name);
            EXECUTE format('CREATE VIEW %I.%I AS %s', target_schema, view_name, select_sql);
            replaced := true;
        END;
    EXCEPTION WHEN lock_not_available THEN
        RAISE EXCEPTION 'view %.% is in use: waited lock_timeout (%) for queries on it to finish; nothing was changed', target_schema, view_name,
                        current_setting('lock_timeout')
            USING ERRCODE = 'lock_not_available',
                  HINT = 'Run it again when the long queries have finished (pg_stat_activity shows them), or raise _wh.warehouse_info lock_timeout.';
    END;
    EXECUTE format('GRANT SELECT ON %I.%I TO phood_ro', target_schema, view_name);
    RETURN replaced;
END
$$;

-- The SELECT of a tenant view: the compacted table of closed days (when there is one), then
-- UNION ALL of the schema's daily materialized views of the template in date order (those
-- named in exclude_views left out), client as the given literal; a typed empty SELECT when
-- there is nothing. (Day views over the compacted table are plain views: never listed.)
CREATE OR REPLACE FUNCTION _wh.tenant_view_sql_excluding(template_name text, target_schema text, client_name text, exclude_views text[])
RETURNS text
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    select_list text;
    empty_list  text;
    parts       text[];
    closed      text := _wh.closed_table_name(template_name);
BEGIN
    SELECT string_agg(CASE WHEN c.column_name = 'client'
                           THEN format('%L::%s AS client', client_name, c.data_type)
                           ELSE format('d.%I', c.column_name) END, ', ' ORDER BY c.ordinal),
           string_agg(format('NULL::%s AS %I', c.data_type, c.column_name), ', ' ORDER BY c.ordinal)
    INTO select_list, empty_list
    FROM _wh.template_columns(template_name) c;

    SELECT array_agg(format('SELECT %s FROM %I.%I d', select_list, target_schema, c.relname) ORDER BY c.relname)
    INTO parts
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = target_schema
      AND c.relkind = 'm'
      AND c.relname ~ ('^' || template_name || '_[0-9]{4}_[0-9]{2}_[0-9]{2}$')
      AND NOT (c.relname = ANY (coalesce(exclude_views, '{}')));

    IF pg_catalog.to_regclass(format('%I.%I', target_schema, closed)) IS NOT NULL THEN
        parts := format('SELECT %s FROM %I.%I d', select_list, target_schema, closed) || coalesce(parts, '{}');
    END IF;
    IF parts IS NULL OR cardinality(parts) = 0 THEN
        RETURN format('SELECT %s WHERE false', empty_list);
    END IF;
    RETURN array_to_string(parts, E'\nUNION ALL\n');
END
$$;

-- The SELECT of a tenant view (see tenant_view_sql_excluding), exclude_view left out.
CREATE OR REPLACE FUNCTION _wh.tenant_view_sql(template_name text, target_schema text, client_name text, exclude_view text DEFAULT NULL)
RETURNS text
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _wh.tenant_view_sql_excluding(template_name, target_schema, client_name,
                                         CASE WHEN exclude_view IS NULL THEN '{}'::text[] ELSE ARRAY[exclude_view] END)
$$;

-- Rebuilds target_schema.template_name from the registered tenant's daily views (optionally
-- without exclude_view). Caller holds the tenant-view lock. Returns true when the public view
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
-- none. Never refers to a tenant that is gone. CREATE OR REPLACE keeps grants; SELECT is
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
    EXECUTE format('GRANT SELECT ON public.%I TO phood_ro, whadmin', template_name);
    RETURN format('public.%I', template_name);
END
$$;

-- Makes sure the tenant view includes view_name and the public view includes the tenant view,
-- rebuilding only what is missing. Returns true when something was rebuilt.
CREATE OR REPLACE FUNCTION _wh.ensure_views_include(template_name text, target_schema text, view_name text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rebuilt boolean := false;
    need_public boolean := false;
BEGIN
    -- A compacted day is in the tenant view when the tenant view reads the compacted table.
    IF view_name IS NULL OR NOT _wh.view_references(target_schema, template_name, target_schema,
            CASE WHEN _wh.daily_relkind(target_schema, view_name) = 'v' THEN _wh.closed_table_name(template_name) ELSE view_name END) THEN
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
