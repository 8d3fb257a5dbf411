-- sql/wh/17-tenant-lifecycle.sql: Tenant lifecycle: creation (_wh.create_tenant), removal and client names.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Creates a tenant in one step (New-WhTenant's, and psql's): its schema (whadmin's, readable by phood_ro), its
-- registration with its connection (which must exist: a row of _wh.tenant_connections), its time zone (NULL: the
-- session's), and for each template its tenant view and its place in the public view (built once each, by
-- update_tenant_union_view_by_template). Raises, changing nothing, when the schema is already a tenant. Returns
-- {"schema", "connection", "client_name", "time_zone", "views": [...]}. Call it in the caller's transaction.
CREATE OR REPLACE FUNCTION _wh.create_tenant(target_schema text, tenant_connection_name text, client_name text DEFAULT NULL,
                                             time_zone text DEFAULT NULL, template_names text[] DEFAULT '{}')
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tpl   text;
    views text[] := '{}'::text[];
    client text;
BEGIN
    PERFORM _wh.assert_tenant_schema(target_schema);
    PERFORM pg_advisory_xact_lock(hashtext('_wh.schema'), hashtext(target_schema));
    IF EXISTS (SELECT 1 FROM _wh.tenants t WHERE t.schema_name = target_schema) THEN
        RAISE EXCEPTION 'tenant % already exists', target_schema
            USING ERRCODE = 'duplicate_object', HINT = 'Set-WhTenant changes it; Remove-WhTenant removes it.';
    END IF;
    FOREACH tpl IN ARRAY coalesce(template_names, '{}'::text[]) LOOP
        PERFORM _wh.assert_template_exists(tpl);
    END LOOP;
    IF time_zone IS NOT NULL THEN
        PERFORM _wh.assert_time_zone(time_zone);
    END IF;
    client := _wh.ensure_tenant(tenant_connection_name, target_schema, client_name);
    IF time_zone IS NOT NULL THEN
        PERFORM _wh.set_tenant_time_zone(target_schema, time_zone);
    END IF;
    FOREACH tpl IN ARRAY coalesce(template_names, '{}'::text[]) LOOP
        views := views || _wh.update_tenant_union_view_by_template(tpl, tenant_connection_name, target_schema);
    END LOOP;
    RETURN jsonb_build_object('schema', target_schema, 'connection', tenant_connection_name, 'client_name', client,
                              'time_zone', time_zone, 'views', to_jsonb(views));
END
$$;

-- Removes a tenant in the safe order: unregister it and rebuild every public view without it
-- FIRST, then DROP SCHEMA ... CASCADE, then delete its connection (the trigger drops server
-- and mapping) when no other tenant uses it. Cron jobs are the caller's business. Idempotent:
-- running it again finishes an interrupted removal. Runs with the caller's rights (a schema
-- created by postgres can only be dropped by its owner or a superuser).
-- Returns {"schema","unregistered","public_views_rebuilt":[...],"schema_dropped","connection_removed"}.
CREATE OR REPLACE FUNCTION _wh.remove_tenant(target_schema text)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout FROM CURRENT
AS $$
DECLARE
    conn text;
    unregistered boolean := false;
    rebuilt text[];
    dropped boolean := false;
    conn_removed text;
BEGIN
    PERFORM _wh.assert_tenant_schema(target_schema);
    -- Waits at most lock_timeout behind a refresh or a BI query, then fails with nothing done.
    PERFORM set_config('lock_timeout', _wh.timeout_ms('lock_timeout')::text, true);
    BEGIN
        DELETE FROM _wh.tenants t WHERE t.schema_name = target_schema RETURNING t.connection_name INTO conn;
        unregistered := FOUND;
    EXCEPTION WHEN lock_not_available THEN
        RAISE EXCEPTION 'tenant %: one of its days is being loaded (a backfill holds its registration): waited lock_timeout (%); nothing was changed',
                        target_schema, current_setting('lock_timeout')
            USING ERRCODE = 'lock_not_available',
                  HINT = 'Run it again in a moment, or stop the backfill first: the backfill loads no more of its days once it is removed.';
    END;
    DELETE FROM _wh.day_state s WHERE s.schema_name = target_schema;
    rebuilt := _wh.rebuild_public_views(target_schema);
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = target_schema) THEN
        BEGIN
            EXECUTE format('DROP SCHEMA %I CASCADE', target_schema);
        EXCEPTION WHEN insufficient_privilege THEN
            -- A schema made by hand by another role (the guide's SQL as a superuser): its owner must hand it over.
            RAISE EXCEPTION 'tenant %: schema % is owned by %, and only its owner can drop it; nothing was changed', target_schema, target_schema,
                            (SELECT pg_catalog.pg_get_userbyid(n.nspowner) FROM pg_catalog.pg_namespace n WHERE n.nspname = target_schema)
                USING ERRCODE = 'insufficient_privilege',
                      HINT = format('As its owner or the admin: ALTER SCHEMA %I OWNER TO whadmin; then remove the tenant again (Remove-WhTenant, or SELECT _wh.remove_tenant(%L)).', target_schema, target_schema);
        WHEN lock_not_available THEN
            RAISE EXCEPTION 'tenant %: its views are in use (a refresh or a long query): waited lock_timeout (%) to drop them; nothing was changed',
                            target_schema, current_setting('lock_timeout')
                USING ERRCODE = 'lock_not_available',
                      HINT = 'Run it again when they have finished (pg_stat_activity shows them), or raise _wh.warehouse_info lock_timeout.';
        END;
        dropped := true;
    END IF;
    IF conn IS NOT NULL AND NOT EXISTS (SELECT 1 FROM _wh.tenants t WHERE t.connection_name = conn) THEN
        DELETE FROM _wh.tenant_connections c WHERE c.tenant_name = conn RETURNING c.tenant_name INTO conn_removed;
    END IF;
    IF unregistered OR dropped THEN
        PERFORM _wh.log_run(target_schema, conn, NULL, NULL, 'dropped', NULL, NULL, NULL);
    END IF;
    RETURN jsonb_build_object('schema', target_schema, 'unregistered', unregistered,
                              'public_views_rebuilt', to_jsonb(rebuilt), 'schema_dropped', dropped,
                              'connection_removed', conn_removed);
END
$$;

-- Sets a tenant's client name and rebuilds its tenant views so the client column shows it
-- (the public views read the tenant views: no change needed there). Raises for an unknown
-- tenant. Returns {"schema","client_name","views":[...]}.
CREATE OR REPLACE FUNCTION _wh.set_client_name(target_schema text, client_name text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tname text;
    views text[] := '{}'::text[];
BEGIN
    IF client_name IS NULL OR btrim(client_name) = '' THEN
        RAISE EXCEPTION 'client name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE _wh.tenants t SET client_name = set_client_name.client_name WHERE t.schema_name = target_schema;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant schema % is not registered', coalesce(quote_literal(target_schema), 'NULL')
            USING ERRCODE = 'undefined_object';
    END IF;
    FOR tname IN SELECT t.template_name FROM _wh.mv_templates t ORDER BY 1 LOOP
        IF _wh.does_view_exist(target_schema, tname) THEN
            PERFORM _wh.lock_tenant_view(target_schema, tname);
            IF _wh.rebuild_tenant_view(tname, target_schema) THEN
                PERFORM _wh.update_public_view_by_template(tname);
            END IF;
            views := views || format('%I.%I', target_schema, tname);
        END IF;
    END LOOP;
    RETURN jsonb_build_object('schema', target_schema, 'client_name', client_name, 'views', to_jsonb(views));
END
$$;
